"""Keys, roles and orgs of the emulated Ardent service, and the rules that govern them.

Everything here follows the contract in ``contract/ardent/README.md``: the documented behaviour, and where the vendor is
silent, the behaviour marked "assumed" there. Nothing in this module knows about HTTP beyond the status code
that each rule violation carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .clock import Clock
from .store import KeyRow, OrgRow, RoleRow, Store

TOKEN_PREFIX = "sk-ard_test_"  # noqa: S105 - the public prefix, not a secret
TOKEN_RANDOM_LENGTH = 40
KEY_PREFIX_LENGTH = 20
NAME_MAX_LENGTH = 100
EXPIRES_DAYS_MIN = 1
EXPIRES_DAYS_MAX = 3650
_BASE62 = string.ascii_letters + string.digits

VIEWER_PERMISSIONS = (
    "org.read",
    "projects.read",
    "connectors.read",
    "branches.read",
    "members.read",
)
MEMBER_PERMISSIONS = (
    *VIEWER_PERMISSIONS,
    "projects.write",
    "connectors.write",
    "branches.write",
)
ADMIN_PERMISSIONS = (
    *MEMBER_PERMISSIONS,
    "members.write",
    "api_keys.read",
    "api_keys.write",
    "org.write",
)
OWNER_PERMISSIONS = (*ADMIN_PERMISSIONS, "org.delete")


@dataclass(frozen=True)
class RoleDefinition:
    """A role every org has: its stable key, display name, rank and permissions."""

    key: str
    name: str
    rank: int
    permissions: tuple[str, ...]


ROLE_DEFINITIONS: tuple[RoleDefinition, ...] = (
    RoleDefinition("role_org_viewer", "Viewer", 0, VIEWER_PERMISSIONS),
    RoleDefinition("role_org_member", "Member", 1, MEMBER_PERMISSIONS),
    RoleDefinition("role_org_admin", "Admin", 2, ADMIN_PERMISSIONS),
    RoleDefinition("role_org_owner", "Owner", 3, OWNER_PERMISSIONS),
)
ALL_PERMISSIONS = frozenset(OWNER_PERMISSIONS)


class ApiError(Exception):
    """A rule violation that the HTTP layer renders as ``{"detail": ...}`` with ``status``."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(detail if isinstance(detail, str) else "validation error")
        self.status = status
        self.detail = detail


def validation_error(loc: list[str | int], msg: str, type_: str, value: Any = None) -> ApiError:
    """A 422 in the documented list shape, for one offending location."""
    entry: dict[str, Any] = {"loc": loc, "msg": msg, "type": type_}
    if value is not None:
        entry["input"] = value
    return ApiError(422, [entry])


def digest_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored; the token itself never is."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def generate_token() -> str:
    """A fresh secret: the test prefix followed by random base62 characters."""
    return TOKEN_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(TOKEN_RANDOM_LENGTH))


def generate_id(prefix: str) -> str:
    """An opaque, URL-safe identifier such as ``key_…`` or ``org_…``."""
    return f"{prefix}_{secrets.token_hex(12)}"


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC to the microsecond, with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class CreateKeyRequest:
    """A validated body of ``POST /v1/orgs/{org_id}/api-keys``."""

    name: str
    role_id: str
    scopes: tuple[str, ...]
    expires_days: int | None


def parse_create_request(body: Any) -> CreateKeyRequest:
    """Validate a decoded JSON body, raising a 422 that names the first offending field."""
    if not isinstance(body, dict):
        raise validation_error(["body"], "Input should be a valid dictionary", "dict_type")
    name = body.get("name")
    if "name" not in body:
        raise validation_error(["body", "name"], "Field required", "missing")
    if not isinstance(name, str):
        raise validation_error(["body", "name"], "Input should be a valid string", "string_type")
    if len(name) < 1:
        raise validation_error(["body", "name"], "String should have at least 1 character", "string_too_short")
    if len(name) > NAME_MAX_LENGTH:
        raise validation_error(
            ["body", "name"],
            f"String should have at most {NAME_MAX_LENGTH} characters",
            "string_too_long",
        )
    _require_encodable(name, ["body", "name"])
    if "role_id" not in body:
        raise validation_error(["body", "role_id"], "Field required", "missing")
    role_id = body["role_id"]
    if not isinstance(role_id, str):
        raise validation_error(["body", "role_id"], "Input should be a valid string", "string_type")
    _require_encodable(role_id, ["body", "role_id"])
    scopes_value = body.get("scopes", [])
    if scopes_value is None:
        scopes_value = []
    if not isinstance(scopes_value, list):
        raise validation_error(["body", "scopes"], "Input should be a valid list", "list_type")
    scopes: list[str] = []
    for index, scope in enumerate(scopes_value):
        if not isinstance(scope, str):
            raise validation_error(["body", "scopes", index], "Input should be a valid string", "string_type")
        _require_encodable(scope, ["body", "scopes", index])
        if scope not in scopes:
            scopes.append(scope)
    expires_days = body.get("expires_days")
    if expires_days is not None:
        if isinstance(expires_days, bool) or not isinstance(expires_days, int):
            raise validation_error(["body", "expires_days"], "Input should be a valid integer", "int_type")
        if not EXPIRES_DAYS_MIN <= expires_days <= EXPIRES_DAYS_MAX:
            raise validation_error(
                ["body", "expires_days"],
                f"Input should be between {EXPIRES_DAYS_MIN} and {EXPIRES_DAYS_MAX}",
                "range",
            )
    return CreateKeyRequest(name, role_id, tuple(scopes), expires_days)


def _require_encodable(value: str, loc: list[str | int]) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise validation_error(
            loc, "String should be valid UTF-8 (it holds an unpaired surrogate)", "string_unicode"
        ) from None


@dataclass(frozen=True)
class Caller:
    """The key that authenticated a request, with the permissions it holds."""

    key: KeyRow
    role: RoleRow

    @property
    def permissions(self) -> frozenset[str]:
        """The key's scopes, or all of its role's permissions when it has none."""
        return frozenset(self.key.scopes) if self.key.scopes else frozenset(self.role.permissions)


@dataclass(frozen=True)
class MintedKey:
    """A key just created, with its role and the token that exists only in this answer."""

    key: KeyRow
    role: RoleRow
    token: str = field(repr=False)


@dataclass(frozen=True)
class Credentials:
    """What bootstrap hands to the person running the emulator."""

    org_id: str
    token: str = field(repr=False)


class ArdentService:
    """The emulated service: every rule of the contract, over a :class:`Store`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        token_factory: Callable[[], str] = generate_token,
        id_factory: Callable[[str], str] = generate_id,
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_token = token_factory
        self._new_id = id_factory

    # -- authentication and authorization -------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an ``Authorization: Bearer`` header; 401 for anything else."""
        if not authorization:
            raise ApiError(401, "Missing bearer token: send 'Authorization: Bearer <token>'.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Malformed Authorization header: expected 'Bearer <token>'.")
        now = self._clock.now()
        presented = digest_token(token)
        for key in self._store.keys_by_digest(presented):
            if not hmac.compare_digest(key.token_digest, presented):
                continue
            if key.revoked_at is not None:
                continue
            if key.expires_at is not None and key.expires_at <= now:
                raise ApiError(401, "API key has expired.")
            role = self._store.role_by_key(key.org_id, key.role_key)
            self._store.touch_key(key.id, now)
            return Caller(key, role)
        raise ApiError(401, "Invalid or revoked API key.")

    def _authorize(self, caller: Caller, org_id: str, permission: str) -> None:
        if caller.key.org_id != org_id:
            raise ApiError(403, "This API key does not have access to that organization.")
        if permission not in caller.permissions:
            raise ApiError(403, f"This API key lacks the '{permission}' permission.")

    # -- emulated operations --------------------------------------------------------------------

    def get_org(self, caller: Caller, org_id: str) -> OrgRow:
        """The org itself; needs ``org.read``."""
        self._authorize(caller, org_id, "org.read")
        return self._store.org(org_id)

    def list_roles(self, caller: Caller, org_id: str) -> list[RoleRow]:
        """The org's four roles, lowest rank first; needs ``org.read``."""
        self._authorize(caller, org_id, "org.read")
        return self._store.roles(org_id)

    def list_keys(self, caller: Caller, org_id: str) -> list[KeyRow]:
        """Active (unrevoked) keys, expired ones included, newest first; needs ``api_keys.read``."""
        self._authorize(caller, org_id, "api_keys.read")
        return self._store.active_keys(org_id)

    def create_key(self, caller: Caller, org_id: str, request: CreateKeyRequest) -> MintedKey:
        """Mint a key and return it with its role and token, which is not kept; needs ``api_keys.write``."""
        self._authorize(caller, org_id, "api_keys.write")
        role = self._resolve_role(org_id, request.role_id)
        if role.rank > caller.role.rank:
            raise ApiError(403, f"This API key cannot create a key with role '{role.key}', which ranks above its own.")
        outside = [scope for scope in request.scopes if scope not in role.permissions]
        if outside:
            raise ApiError(400, f"Scopes outside the permissions of role '{role.key}': {', '.join(outside)}.")
        token = self._new_token()
        created_at = self._clock.now()
        expires_at = created_at + timedelta(days=request.expires_days) if request.expires_days else None
        key = KeyRow(
            id=self._new_id("key"),
            org_id=org_id,
            name=request.name,
            role_key=role.key,
            scopes=request.scopes,
            token_digest=digest_token(token),
            key_prefix=token[:KEY_PREFIX_LENGTH],
            created_at=created_at,
            expires_at=expires_at,
            revoked_at=None,
            last_used_at=None,
        )
        self._store.insert_key(key)
        return MintedKey(key, role, token)

    def revoke_key(self, caller: Caller, org_id: str, key_id: str) -> None:
        """Revoke at once; 404 for a key that is unknown, already revoked or in another org."""
        self._authorize(caller, org_id, "api_keys.write")
        if not self._store.revoke_key(org_id, key_id, self._clock.now()):
            raise ApiError(404, f"API key '{key_id}' not found or already revoked.")

    def _resolve_role(self, org_id: str, role_id: str) -> RoleRow:
        for role in self._store.roles(org_id):
            if role_id in (role.id, role.key):
                return role
        if role_id.startswith("role_org_"):
            raise ApiError(400, f"Unknown role '{role_id}'.")
        raise ApiError(400, f"Unknown or non-organization role '{role_id}'.")

    # -- bootstrap ------------------------------------------------------------------------------

    def bootstrap(self, known: Mapping[str, Any] | None, fixed_token: str | None) -> Credentials:
        """Make sure an org and a working owner token exist, and say what they are.

        The first start creates the org. Later starts keep it, and keep the token the caller already
        holds (``known``) while it still authenticates; otherwise they mint a new owner token, because
        no token's plaintext is ever stored. ``fixed_token`` pins the owner token instead.
        """
        org = self._store.first_org() or self._create_org()
        if fixed_token is not None:
            if not self._token_works(org.id, fixed_token):
                self._insert_owner_key(org.id, fixed_token)
            return Credentials(org.id, fixed_token)
        if known is not None:
            token = known.get("token")
            if known.get("org_id") == org.id and isinstance(token, str) and self._token_works(org.id, token):
                return Credentials(org.id, token)
        token = self._new_token()
        self._insert_owner_key(org.id, token)
        return Credentials(org.id, token)

    def add_org(self) -> Credentials:
        """Create another org with its own owner token (for programs that manage several orgs)."""
        org = self._create_org()
        token = self._new_token()
        self._insert_owner_key(org.id, token)
        return Credentials(org.id, token)

    def _token_works(self, org_id: str, token: str) -> bool:
        try:
            caller = self.authenticate(f"Bearer {token}")
        except ApiError:
            return False
        return caller.key.org_id == org_id and caller.role.key == "role_org_owner"

    def _create_org(self) -> OrgRow:
        org = OrgRow(id=self._new_id("org"), name="Emulated organization", created_at=self._clock.now())
        roles = [
            RoleRow(
                id=self._new_id("rol"),
                org_id=org.id,
                key=definition.key,
                name=definition.name,
                rank=definition.rank,
                permissions=definition.permissions,
            )
            for definition in ROLE_DEFINITIONS
        ]
        self._store.insert_org(org, roles)
        return org

    def _insert_owner_key(self, org_id: str, token: str) -> None:
        self._store.insert_key(
            KeyRow(
                id=self._new_id("key"),
                org_id=org_id,
                name="emulator-bootstrap-owner",
                role_key="role_org_owner",
                scopes=(),
                token_digest=digest_token(token),
                key_prefix=token[:KEY_PREFIX_LENGTH],
                created_at=self._clock.now(),
                expires_at=None,
                revoked_at=None,
                last_used_at=None,
            )
        )

    def reset(self) -> None:
        """Forget every org, role and key."""
        self._store.clear()
