"""Validation of ``ArdentApiKey`` inputs: pure functions, one reason per property.

At preview an input may be unknown (computed from a resource not created yet): it is passed through
unchecked, and checked when the engine calls ``check`` again with the real value, before anything is
created. Checks that involve two inputs run only when both are known.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .models import ROLES, canonical_role
from .state import INPUT_NAMES, SINK_FIELDS, SINK_KINDS, Unknown, is_unknown, snake_keys, whole_number

ON_MISSING_TOKEN_CHOICES = ("error", "rotate", "keep")
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~-]{1,200}$")
NAME_MAX_LENGTH = 100
EXPIRES_IN_DAYS_MAX = 3650
SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_ROLE_CHOICES = ", ".join(f"{role.display_name}/{role.short_name}/{role.key}" for role in ROLES)
_ROTATE_NEEDS_ROLE = (
    "role is required with on_missing_token 'rotate': the adopted key is replaced by a new key, which needs a role, "
    f"and Ardent lists none to copy from the adopted key; declare one of: {_ROLE_CHOICES}. Nothing was changed."
)


def validate_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Normalised inputs and a list of ``(property, reason)`` problems (empty when all is well)."""
    problems: list[tuple[str, str]] = []
    inputs = {name: value for name, value in news.items() if name not in INPUT_NAMES}
    checks: dict[str, Callable[[Any], tuple[Any, str | None]]] = {
        "name": _check_name,
        "role": _check_role,
        "scopes": _check_scopes,
        "expires_in_days": functools.partial(_check_days, "expires_in_days"),
        "rotate_before_days": functools.partial(_check_days, "rotate_before_days"),
        "keep_previous_for_days": functools.partial(_check_days, "keep_previous_for_days"),
        "rotation_triggers": _check_triggers,
        "org_id": _check_org_id,
        "sink": _check_sink,
    }
    for prop, check in checks.items():
        value = news.get(prop)
        if isinstance(value, Unknown):
            inputs[prop] = value
            continue
        if prop == "role" and value is None and news.get("adopt_key_id") is not None:
            # An adopted or imported key has the role it has: Ardent lists none, so none can be demanded.
            inputs[prop] = None
            if news.get("on_missing_token") == "rotate" and not _given(news.get("adopt_token")):
                problems.append(("role", _ROTATE_NEEDS_ROLE))
            continue
        inputs[prop], reason = check(value)
        if reason:
            problems.append((prop, reason))
    reason = _check_rotation_window(inputs["rotate_before_days"], inputs["expires_in_days"])
    if reason and not any(prop == "rotate_before_days" for prop, _ in problems):
        problems.append(("rotate_before_days", reason))
    problems.extend(_check_adoption(news, inputs))
    keeps_no_token = inputs["on_missing_token"] == "keep" and not _given(news.get("adopt_token"))  # noqa: S105
    if inputs.get("sink") is not None and not is_unknown(inputs["sink"]) and keeps_no_token:
        problems.append(("sink", _SINK_KEEP_PROBLEM))
    return inputs, problems


_SINK_KEEP_PROBLEM = (
    "sink needs the key's token, and a key adopted with on_missing_token 'keep' has none: give adopt_token, or set "
    "on_missing_token to 'rotate' so that a new key's token is written to the secret"
)
_SINK_SHAPE = (
    "sink must be {aws_secrets_manager: {secret_id: <name or ARN>, region: <optional>, endpoint_url: <optional>, "
    "recovery_window_days: <optional, 7 to 30>}}"
)
RECOVERY_WINDOW_DAYS = (7, 30)


def _check_sink(value: Any) -> tuple[Any, str | None]:
    """The sink in snake case with only its set fields; unknown fields pass until known."""
    if value is None:
        return None, None
    if not isinstance(value, Mapping) or is_unknown(value):
        return value, (None if is_unknown(value) else f"{_SINK_SHAPE}, not {_kind(value)}")
    sink = snake_keys(value)
    if set(sink) != set(SINK_KINDS) or not isinstance(sink.get("aws_secrets_manager"), Mapping):
        return value, f"{_SINK_SHAPE}; got the key(s) {', '.join(sorted(map(str, value))) or 'none'}"
    inner = dict(sink["aws_secrets_manager"])
    unknown_fields = sorted(set(inner) - set(SINK_FIELDS))
    if unknown_fields:
        return value, f"{_SINK_SHAPE}; {', '.join(unknown_fields)} is not one of its fields"
    secret_id = inner.get("secret_id")
    if not isinstance(secret_id, str) or not secret_id.strip():
        return value, f"{_SINK_SHAPE}; secret_id (the secret's name or ARN) is missing"
    for name in ("region", "endpoint_url"):
        if inner.get(name) is not None and not isinstance(inner[name], str):
            return value, f"sink's {name} must be a string, not {_kind(inner[name])}"
    region, arn_parts = inner.get("region"), secret_id.split(":")
    if region and secret_id.startswith("arn:") and len(arn_parts) > 3 and arn_parts[3] and arn_parts[3] != region:
        return value, f"sink's region {region!r} is not the region of its secret_id's ARN ({arn_parts[3]!r})"
    endpoint = inner.get("endpoint_url")
    if isinstance(endpoint, str) and endpoint and not endpoint.startswith(("https://", "http://")):
        return value, f"sink's endpoint_url must be an http(s) URL, not {endpoint!r}"
    window = inner.get("recovery_window_days")
    if window is not None:
        days = whole_number(window)
        low, high = RECOVERY_WINDOW_DAYS
        if days is None or not low <= days <= high:
            shown = days if days is not None else repr(window)
            return value, f"sink's recovery_window_days must be a whole number from {low} to {high}, not {shown}"
        inner["recovery_window_days"] = days
    return {
        "aws_secrets_manager": {name: item for name, item in inner.items() if item is not None and item != ""}
    }, None


def _check_rotation_window(rotate: Any, days: Any) -> str | None:
    if not isinstance(rotate, int) or isinstance(days, Unknown):
        return None
    if days is None:
        return "rotate_before_days needs expires_in_days: a key that never expires is never rotated for age"
    if isinstance(days, int) and rotate >= days:
        return f"rotate_before_days ({rotate}) must be less than expires_in_days ({days})"
    return None


def _check_triggers(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        return value, f"rotation_triggers must be a map of names to values, not {_kind(value)}"
    bad = [str(key) for key, item in value.items() if not isinstance(item, str | int | float | bool | Unknown)]
    if bad:
        return value, f"rotation_triggers values must be strings, numbers or booleans; not so for: {', '.join(bad)}"
    return {str(key): value[key] for key in sorted(value)}, None


def _check_adoption(news: Mapping[str, Any], inputs: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    key_id = news.get("adopt_key_id")
    token = news.get("adopt_token")
    choice = news.get("on_missing_token")
    inputs["adopt_key_id"], inputs["adopt_token"] = key_id, token
    inputs["on_missing_token"] = choice if choice is not None else ("error" if key_id is not None else None)
    if _given(key_id) and (not isinstance(key_id, str) or not KEY_ID_PATTERN.match(key_id)):
        problems.append(("adopt_key_id", "adopt_key_id must be an Ardent key id such as 'key_…'"))
    if _given(token) and (not isinstance(token, str) or not token.startswith("sk-ard_")):
        problems.append(("adopt_token", "adopt_token must be an Ardent token (it starts with 'sk-ard_')"))
    if _given(choice) and choice not in ON_MISSING_TOKEN_CHOICES:
        problems.append(
            (
                "on_missing_token",
                f"on_missing_token must be one of {', '.join(ON_MISSING_TOKEN_CHOICES)}, not {choice!r}",
            )
        )
    if key_id is None:
        for name in ("adopt_token", "on_missing_token"):
            if news.get(name) is not None:
                problems.append((name, f"{name} applies only when adopting a key: set adopt_key_id as well"))
    elif _given(token) and _known(choice) and choice not in (None, "error"):
        problems.append(("on_missing_token", "on_missing_token applies only when adopt_token is not given"))
    return problems


def _check_org_id(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str) and value.startswith("sk-ard_"):
        return value, "org_id holds an Ardent token (not shown), not an org id; give the org id such as 'org_…'"
    if not isinstance(value, str) or not KEY_ID_PATTERN.match(value):
        return value, f"org_id must be an Ardent org id such as 'org_…' (or omitted for ardent:orgId), not {value!r}"
    return value, None


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
    known = [item for item in value if not isinstance(item, Unknown)]
    malformed = [item for item in known if not isinstance(item, str) or not SCOPE_PATTERN.match(item)]
    if malformed:
        shown = ", ".join(repr(item) for item in malformed[:3])
        return value, (f"scopes must be dot-style permission keys such as 'connectors.read'; malformed: {shown}")
    if is_unknown(value):
        return list(value), None
    return sorted(set(known)), None


def _check_days(prop: str, value: Any, minimum: int = 1) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value, f"{prop} must be a whole number of days, not {_kind(value)}"
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return value, f"{prop} must be a whole number of days, not {value}"
    days = int(value)
    if days < minimum:
        return value, f"{prop} must be at least {minimum} (got {days}); omit it instead"
    if days > EXPIRES_IN_DAYS_MAX:
        return value, f"{prop} must be at most {EXPIRES_IN_DAYS_MAX} (got {days})"
    return days, None


def _known(value: Any) -> bool:
    return not is_unknown(value)


def _given(value: Any) -> bool:
    return value is not None and not is_unknown(value)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
