"""Preview-time validation of ``ArdentApiKey`` inputs: pure functions, one reason per property."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .models import ROLES, canonical_role

INPUT_NAMES = ("name", "role", "scopes", "expires_in_days")
NAME_MAX_LENGTH = 100
EXPIRES_IN_DAYS_MAX = 3650
SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_ROLE_CHOICES = ", ".join(f"{role.display_name}/{role.short_name}/{role.key}" for role in ROLES)


def validate_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Normalised inputs and a list of ``(property, reason)`` problems (empty when all is well)."""
    problems: list[tuple[str, str]] = []
    inputs = {name: value for name, value in news.items() if name not in INPUT_NAMES}

    name, reason = _check_name(news.get("name"))
    inputs["name"] = name
    if reason:
        problems.append(("name", reason))

    role, reason = _check_role(news.get("role"))
    inputs["role"] = role
    if reason:
        problems.append(("role", reason))

    scopes, reason = _check_scopes(news.get("scopes"))
    inputs["scopes"] = scopes
    if reason:
        problems.append(("scopes", reason))

    days, reason = _check_expires_in_days(news.get("expires_in_days"))
    inputs["expires_in_days"] = days
    if reason:
        problems.append(("expires_in_days", reason))
    return inputs, problems


def _check_name(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return value, f"name must be a string, not {_kind(value)}"
    if not value.strip():
        return value, "name must not be empty or only whitespace"
    if len(value) > NAME_MAX_LENGTH:
        return value, f"name is {len(value)} characters long; Ardent allows at most {NAME_MAX_LENGTH}"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return value, "name must not contain control characters such as newlines or tabs"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value, "name must be valid Unicode text (it holds an unpaired surrogate)"
    return value, None


def _check_role(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return value, f"role must be a string naming one of: {_ROLE_CHOICES}; got {_kind(value)}"
    role = canonical_role(value)
    if role is None:
        return value, f"role '{value}' is not an Ardent org role; use one of: {_ROLE_CHOICES}"
    return role.key, None


def _check_scopes(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return [], None
    if not isinstance(value, list | tuple):
        return value, f"scopes must be a list of permission strings, not {_kind(value)}"
    malformed = [item for item in value if not isinstance(item, str) or not SCOPE_PATTERN.match(item)]
    if malformed:
        shown = ", ".join(repr(item) for item in malformed[:3])
        return value, (f"scopes must be dot-style permission keys such as 'connectors.read'; malformed: {shown}")
    return sorted(set(value)), None


def _check_expires_in_days(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value, f"expires_in_days must be a whole number of days, not {_kind(value)}"
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return value, f"expires_in_days must be a whole number of days, not {value}"
    days = int(value)
    if days < 1:
        return value, f"expires_in_days must be at least 1 (got {days}); omit it for a key that never expires"
    if days > EXPIRES_IN_DAYS_MAX:
        return value, f"expires_in_days must be at most {EXPIRES_IN_DAYS_MAX} (got {days})"
    return days, None


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
