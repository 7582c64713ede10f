"""Frozen dataclasses for Ardent's wire objects, the secret token type, and the four roles. No I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TOKEN_DISPLAY_PREFIX_LENGTH = 12


class SecretToken:
    """An Ardent token that shows only its prefix in ``repr``/``str``; ``reveal()`` gives the secret."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The token itself, for the Authorization header or an encrypted output only."""
        return self._value

    @property
    def display_prefix(self) -> str:
        """The token's harmless leading characters, such as ``sk-ard_test_``."""
        return self._value[:TOKEN_DISPLAY_PREFIX_LENGTH]

    @property
    def fingerprint(self) -> str:
        """A short SHA-256 prefix that identifies the token without revealing it."""
        return hashlib.sha256(self._value.encode("utf-8")).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SecretToken('{self.display_prefix}…')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("SecretToken refuses to be pickled, so that no token lands in a serialized object")


@dataclass(frozen=True)
class RoleSpec:
    """One of Ardent's four org roles: its stable key, the short name users write, and its rank."""

    key: str
    short_name: str
    display_name: str
    rank: int


ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("role_org_viewer", "viewer", "Viewer", 0),
    RoleSpec("role_org_member", "member", "Member", 1),
    RoleSpec("role_org_admin", "admin", "Admin", 2),
    RoleSpec("role_org_owner", "owner", "Owner", 3),
)


def canonical_role(value: str) -> RoleSpec | None:
    """The role that ``Admin``, ``admin`` or ``role_org_admin`` (and so on) names, or None."""
    wanted = value.strip().lower()
    for role in ROLES:
        if wanted in (role.key, role.short_name):
            return role
    return None


def format_time(moment: datetime | None) -> str | None:
    """An aware datetime as ISO-8601 UTC with a ``Z``, the way the API writes it; None stays None."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp from the API as an aware datetime; None for null or unreadable values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


@dataclass(frozen=True)
class ApiKey:
    """A key as the list endpoint shows it; the list never includes the secret or the role."""

    id: str
    name: str
    key_prefix: str
    scopes: tuple[str, ...]
    created_at: datetime | None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> ApiKey:
        """Read a list item, tolerating unknown fields and missing optional ones."""
        return cls(
            id=str(payload["id"]),
            name=str(payload.get("name", "")),
            key_prefix=str(payload.get("key_prefix", "")),
            scopes=_string_list(payload.get("scopes")),
            created_at=parse_time(payload.get("created_at")),
            expires_at=parse_time(payload.get("expires_at")),
            last_used_at=parse_time(payload.get("last_used_at")),
            revoked_at=parse_time(payload.get("revoked_at")),
        )

    def is_expired(self, now: datetime) -> bool:
        """Whether the key's expiry has passed at ``now``."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class CreatedKey:
    """The create response: the key, its role as the server named it, and its token (shown once)."""

    id: str
    name: str
    key_prefix: str
    scopes: tuple[str, ...]
    created_at: datetime | None
    expires_at: datetime | None
    role_id: str
    role_key: str
    token: SecretToken = field(repr=True)

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> CreatedKey:
        """Read a create response, tolerating unknown fields."""
        return cls(
            id=str(payload["api_key_id"]),
            name=str(payload.get("name", "")),
            key_prefix=str(payload.get("key_prefix", "")),
            scopes=_string_list(payload.get("scopes")),
            created_at=parse_time(payload.get("created_at")),
            expires_at=parse_time(payload.get("expires_at")),
            role_id=str(payload.get("role_id", "")),
            role_key=str(payload.get("role_key", "")),
            token=SecretToken(str(payload["api_key"])),
        )


@dataclass(frozen=True)
class Role:
    """A role from ``GET /v1/orgs/{org_id}/roles``; ``id`` is opaque, ``key`` is stable."""

    id: str
    key: str
    name: str
    permissions: tuple[str, ...]

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> Role:
        """Read a role object, tolerating unknown fields."""
        return cls(
            id=str(payload.get("id", "")),
            key=str(payload.get("key", "")),
            name=str(payload.get("name", "")),
            permissions=_string_list(payload.get("permissions")),
        )


@dataclass(frozen=True)
class Org:
    """An org's details; only the id is relied upon, the rest is kept as received."""

    id: str
    name: str | None
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any], org_id: str) -> Org:
        """Read an org object, which the vendor documents only as 'an object'."""
        name = payload.get("name")
        return cls(
            id=str(payload.get("id", org_id)),
            name=name if isinstance(name, str) else None,
            details=dict(payload),
        )
