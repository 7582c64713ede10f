"""A key as the provider records it: typed inputs (:class:`KeySpec`) and the state built on them (:class:`KeyState`).

This is the one place that knows the names of the resource's inputs and outputs and turns them into Pulumi's
property dicts and back. Older releases wrote fewer outputs (no ``org_id``, no ``parent_resource``, no
``pending_revoke_key_ids``); such state is read with those fields empty, never rejected. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from .models import SecretToken

REPLACING_INPUTS: Final = ("name", "role", "scopes", "expires_in_days", "rotation_triggers")
"""Inputs whose change needs a new key: Ardent cannot update a key."""
SETTING_INPUTS: Final = (
    "rotate_before_days",
    "keep_previous_for_days",
    "adopt_key_id",
    "adopt_token",
    "on_missing_token",
)
"""Inputs that only steer the provider; changing them never needs a new key."""
SINK_INPUT: Final = "sink"
"""Where the token is kept instead of the stack (:class:`SinkSpec`); ``KeyLifecycle.plan`` decides its changes."""
SINK_KINDS: Final = ("aws_secrets_manager",)
"""The kinds of sink ``sink`` can name (one today)."""
SINK_FIELDS: Final = ("secret_id", "region", "endpoint_url", "recovery_window_days")
"""The fields of an ``aws_secrets_manager`` sink."""
ORG_INPUT: Final = "org_id"
"""The declared org (None: the configured default). A different org replaces the key; see ``KeyLifecycle.plan``."""
INPUT_NAMES: Final = (*REPLACING_INPUTS, *SETTING_INPUTS, ORG_INPUT, SINK_INPUT)
"""The inputs a program declares; ``resource_name`` and ``parent_resource`` are added by ``ArdentApiKey``."""
COMPUTED_OUTPUTS: Final = (
    "key_id",
    "org_id",
    "key_prefix",
    "created_at",
    "expires_at",
    "status",
    "token",
    "token_fingerprint",
    "previous_key_id",
    "previous_token",
    "previous_revoke_after",
    "pending_revoke_key_ids",
    "sink_secret_arn",
    "sink_version_id",
)
"""What the provider adds to the recorded inputs."""
OUTPUT_NAMES: Final = ("name", "role", "scopes", *COMPUTED_OUTPUTS)
"""The attributes an ``ArdentApiKey`` exposes to the program."""
SECRET_OUTPUTS: Final = ("token", "previous_token", "adopt_token")
"""Always secret in state, whatever options the program passes."""

INPUT_DOCS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "role": "Viewer, Member, Admin or Owner (any case), or the role key such as role_org_admin; recorded as the "
        "role key. Required for a new key; the native ardent.ApiKey of an adopted or imported key may leave it out "
        "until the key has to be replaced (Ardent lists no role: the one declared later is recorded). A change "
        "replaces the key.",
        "name": "The key's name in Ardent, 1 to 100 characters without control characters; defaults to the resource "
        "name. A change replaces the key.",
        "scopes": "Dot-style permissions such as connectors.read, a subset of the role's; empty grants every "
        "permission of the role. A change replaces the key.",
        "expires_in_days": "Days from creation until the key expires, 1 to 3650; omitted, the key never expires. A "
        "change replaces the key.",
        "rotation_triggers": "Any map; a change of any value replaces the key at once.",
        "rotate_before_days": "Replace the key at the first `pulumi up` this many days before it expires; less than "
        "expires_in_days.",
        "keep_previous_for_days": "After a replacement, keep the old key valid (as previous_token) for this many days "
        "before it is revoked.",
        "adopt_key_id": "The id of an existing key to bring under management instead of creating one; its name must "
        "match name.",
        "adopt_token": "The adopted key's token (a secret), published as token; checked against the key.",
        "on_missing_token": "What to do when a key is adopted without its token: error (the default), rotate "
        "(replace it with a new key) or keep (manage it, publish no token).",
        "org_id": "The org the key lives in; omitted, ardent:orgId. Its credentials come from "
        "ardent:orgs.<org id>. A change replaces the key.",
        "sink": "Where the token is kept instead of the stack: {aws_secrets_manager: {secret_id, region, "
        "endpoint_url, recovery_window_days}}. The token is written as the secret's AWSCURRENT version (the secret "
        "is created, tagged with the key's id and org, when it does not exist) and token and previous_token are not "
        "published. AWS credentials come from AWS's own chain (environment, profile, role). Adding a sink writes "
        "the token the stack holds; removing one replaces the key (on_missing_token 'keep' keeps it without a "
        "token); another secret_id or region replaces the key. recovery_window_days (7 to 30, default 7) is how long "
        "a secret the provider created stays recoverable after destroy.",
    }
)
"""What each input means, for ``help(ArdentApiKey)`` and the README; one entry per name of ``INPUT_NAMES``."""
OUTPUT_DOCS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "key_id": "The key's id in Ardent; also the resource id.",
        "org_id": "The org the key lives in.",
        "name": "The key's name in Ardent.",
        "role": "The key's role, as its role key such as role_org_admin.",
        "scopes": "The key's scopes; empty means every permission of its role.",
        "key_prefix": "The first characters of the token, as Ardent lists them; not secret.",
        "created_at": "When Ardent created the key, ISO-8601 UTC.",
        "expires_at": "When the key expires, ISO-8601 UTC; None for a key that never expires.",
        "status": "active, expired (the next `pulumi up` replaces it), invalid_token (the stored token is not the "
        "key's any more; the next `pulumi up` replaces it), or, with a sink, sink_mismatch or sink_missing (the "
        "secret's current version was overwritten, or the secret deleted, outside Pulumi; the next `pulumi up` "
        "replaces the key).",
        "token": "The key's secret token, always a Pulumi secret; Ardent returns it only when the key is created. "
        "Not published when the key has a sink.",
        "token_fingerprint": "A short SHA-256 fingerprint of the token, to tell tokens apart without showing them.",
        "previous_key_id": "The replaced key kept valid through keep_previous_for_days, if any.",
        "previous_token": "That kept key's token, a secret; with a sink, not published (the secret's AWSPREVIOUS "
        "version holds it).",
        "previous_revoke_after": "When the kept previous key is revoked (at the first `pulumi up` after that time).",
        "pending_revoke_key_ids": "Replaced keys whose revocation failed; the next `pulumi up` retries them.",
        "sink_secret_arn": "With a sink: the ARN of the secret that holds the token.",
        "sink_version_id": "With a sink: the id of the secret's version that holds the current token.",
    }
)
"""What each output means; one entry per name of ``OUTPUT_NAMES``."""


def camel_case(name: str) -> str:
    """A property's name as Pulumi schemas and the native provider's state spell it (``expiresInDays``)."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


PROPERTY_NAMES: Final[tuple[str, ...]] = tuple(dict.fromkeys((*INPUT_NAMES, *OUTPUT_NAMES)))
"""Every property of a key, once each: the inputs, then the outputs that are not inputs."""
CAMEL_NAMES: Final[Mapping[str, str]] = MappingProxyType({name: camel_case(name) for name in PROPERTY_NAMES})
"""The native resource's name of each property."""
_SNAKE_NAMES: Final[Mapping[str, str]] = MappingProxyType({camel: name for name, camel in CAMEL_NAMES.items()})


TEXT_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {**CAMEL_NAMES, **{name: camel_case(name) for name in (*SINK_KINDS, *SINK_FIELDS)}}
)
"""Every name a message or description may hold, properties and the sink's fields, as a native program spells it."""
_SNAKE_NAME_IN_TEXT: Final = re.compile(
    r"(?<![\w.:])("
    + "|".join(sorted((re.escape(name) for name, camel in TEXT_NAMES.items() if name != camel), key=len, reverse=True))
    + r")(?!\w)"
)


def camel_case_names_in(text: str) -> str:
    """``text`` with every property name written as a native program declares it (``expiresInDays``).

    Messages about a key are written once, with this module's names, which ``ArdentApiKey`` users see as they
    are; the native provider's face and the policy pack reword them for programs of the native type.
    """
    return _SNAKE_NAME_IN_TEXT.sub(lambda match: TEXT_NAMES[match.group(1)], text)


def snake_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """Properties with the native resource's names (``keyId``) read as this module's (``key_id``).

    State and inputs of both resource types are read alike: a name already in snake case stays as it is.
    """
    return {_SNAKE_NAMES.get(name, name): value for name, value in props.items()}


PROPERTY_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "name": "string",
        "role": "string",
        "scopes": "string list",
        "expires_in_days": "integer",
        "rotation_triggers": "map",
        "rotate_before_days": "integer",
        "keep_previous_for_days": "integer",
        "adopt_key_id": "string",
        "adopt_token": "string",
        "on_missing_token": "string",
        "org_id": "string",
        "key_id": "string",
        "key_prefix": "string",
        "created_at": "string",
        "expires_at": "string",
        "status": "string",
        "token": "string",
        "token_fingerprint": "string",
        "previous_key_id": "string",
        "previous_token": "string",
        "previous_revoke_after": "string",
        "pending_revoke_key_ids": "string list",
        "sink": "sink",
        "sink_secret_arn": "string",
        "sink_version_id": "string",
    }
)
"""The kind of value each property holds (string, integer, string list, map); one entry per property."""
ALWAYS_SET_OUTPUTS: Final = (
    "name",
    "role",
    "scopes",
    "key_id",
    "org_id",
    "key_prefix",
    "status",
    "pending_revoke_key_ids",
)
"""Outputs every recorded key has (an imported key has no token and, until declared, an empty role)."""

ACTIVE: Final = "active"
EXPIRED: Final = "expired"
INVALID_TOKEN: Final = "invalid_token"  # noqa: S105 - a status name, not a password
SINK_MISMATCH: Final = "sink_mismatch"
"""The sink's current version is not the key's token any more (overwritten outside Pulumi)."""
SINK_MISSING: Final = "sink_missing"
"""The sink's secret is gone (deleted, or scheduled for deletion, outside Pulumi)."""
TOKEN_LOST: Final = (INVALID_TOKEN, SINK_MISMATCH, SINK_MISSING)
"""Statuses of a key whose token no holder has any more: the next ``up`` replaces it."""


class Unknown:
    """A value the engine does not know yet (an input computed from a resource not created at preview)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        """The one instance."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = Unknown()


def is_unknown(value: Any) -> bool:
    """Whether ``value`` is, or (for lists and maps) holds, a value unknown at preview."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, list | tuple):
        return any(is_unknown(item) for item in value)
    if isinstance(value, Mapping):
        return any(is_unknown(item) for item in value.values())
    return False


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def whole_number(value: Any) -> int | None:
    """A whole number as an int (Pulumi carries every number as a float: 30.0 is 30); None for anything else.

    1.5, a bool, a string or None is not a whole number: the policy pack and the state read numbers alike.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def kept_by_update(recorded: Mapping[str, Any], declared: Mapping[str, Any], default_org: Any) -> dict[str, Any]:
    """The name, role and org an in-place update records, from the recorded outputs and the declared inputs.

    An update never changes the key itself: it keeps its name and org (``default_org``, the configured org, when
    a state of an earlier release recorded none), and its role once one is recorded (an imported key records
    none until the program declares it). Both providers' updates, and the native provider's preview of one,
    record these values.
    """
    return {
        "name": recorded.get("name") or declared.get("name"),
        "role": recorded.get("role") or declared.get("role"),
        "org_id": recorded.get("org_id") or default_org,
    }


SINK_FIELD_DOCS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "secret_id": "The secret's name or ARN; created (tagged with the key's id and org) when it does not exist.",
        "region": "The secret's AWS region; omitted, the region of an ARN, else AWS's own configuration.",
        "endpoint_url": "Another Secrets Manager endpoint than AWS's (a VPC endpoint, or a local emulator).",
        "recovery_window_days": "Days a secret the provider created stays recoverable after destroy, 7 to 30; "
        "default 7.",
    }
)
"""What each field of an ``aws_secrets_manager`` sink means."""


def snake_case(name: str) -> str:
    """A name as this module spells it (``secret_id``), from either spelling (``secretId``)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda match: "_" + match.group(1).lower(), name)


def snake_keys(value: Any) -> Any:
    """A nested map (``sink``) with every key in snake case, whichever spelling it came in."""
    if isinstance(value, Mapping):
        return {snake_case(str(key)): snake_keys(item) for key, item in value.items()}
    return value


def camel_keys(value: Any) -> Any:
    """A nested map (``sink``) with every key as a native program spells it (``secretId``)."""
    if isinstance(value, Mapping):
        return {camel_case(str(key)): camel_keys(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class SinkSpec:
    """An AWS Secrets Manager secret that holds the key's token instead of the stack."""

    secret_id: str
    region: str | None = None
    endpoint_url: str | None = None
    recovery_window_days: int | None = None

    @classmethod
    def from_input(cls, value: Any) -> SinkSpec | None:
        """The sink an input (or recorded state) declares, of either resource type; None without one."""
        if not isinstance(value, Mapping):
            return None
        inner = snake_keys(value).get("aws_secrets_manager")
        if not isinstance(inner, Mapping) or not _text(inner.get("secret_id")):
            return None
        return cls(
            secret_id=str(inner["secret_id"]),
            region=_text(inner.get("region")),
            endpoint_url=_text(inner.get("endpoint_url")),
            recovery_window_days=whole_number(inner.get("recovery_window_days")),
        )

    def to_input(self) -> dict[str, Any]:
        """The sink as a recorded input (only the fields that are set)."""
        fields = {
            "secret_id": self.secret_id,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "recovery_window_days": self.recovery_window_days,
        }
        return {"aws_secrets_manager": {name: value for name, value in fields.items() if value is not None}}

    def same_secret(self, other: SinkSpec | None) -> bool:
        """Whether ``other`` names the same secret (the endpoint and the recovery window may differ)."""
        return other is not None and (self.secret_id, self.region) == (other.secret_id, other.region)


@dataclass(frozen=True)
class KeySpec:
    """The checked inputs of one key: what the program declares."""

    name: str
    role: str
    scopes: tuple[str, ...] = ()
    expires_in_days: int | None = None
    rotation_triggers: Mapping[str, Any] | None = None
    rotate_before_days: int | None = None
    keep_previous_for_days: int | None = None
    adopt_key_id: str | None = None
    adopt_token: str | None = field(default=None, repr=False)
    on_missing_token: str | None = None
    resource_name: str | None = None
    parent_resource: str | None = None
    org_id: str | None = None
    sink: SinkSpec | None = None

    @classmethod
    def from_inputs(cls, props: Mapping[str, Any]) -> KeySpec:
        """Read checked inputs (or the inputs recorded in an older state), of either resource type."""
        props = snake_properties(props)
        scopes = props.get("scopes")
        triggers = props.get("rotation_triggers")
        return cls(
            name=str(props.get("name") or ""),
            role=str(props.get("role") or ""),
            scopes=tuple(sorted(str(scope) for scope in scopes)) if isinstance(scopes, list | tuple) else (),
            expires_in_days=whole_number(props.get("expires_in_days")),
            rotation_triggers=dict(triggers) if isinstance(triggers, Mapping) else None,
            rotate_before_days=whole_number(props.get("rotate_before_days")),
            keep_previous_for_days=whole_number(props.get("keep_previous_for_days")),
            adopt_key_id=_text(props.get("adopt_key_id")),
            adopt_token=_text(props.get("adopt_token")),
            on_missing_token=_text(props.get("on_missing_token")),
            resource_name=_text(props.get("resource_name")),
            parent_resource=_text(props.get("parent_resource")),
            org_id=_text(props.get("org_id")),
            sink=SinkSpec.from_input(props.get("sink")),
        )

    def to_inputs(self) -> dict[str, Any]:
        """The recorded inputs, as Pulumi properties."""
        return {
            "name": self.name,
            "role": self.role,
            "scopes": list(self.scopes),
            "expires_in_days": self.expires_in_days,
            "rotation_triggers": dict(self.rotation_triggers) if self.rotation_triggers is not None else None,
            "rotate_before_days": self.rotate_before_days,
            "keep_previous_for_days": self.keep_previous_for_days,
            "adopt_key_id": self.adopt_key_id,
            "adopt_token": self.adopt_token,
            "on_missing_token": self.on_missing_token,
            "resource_name": self.resource_name,
            "parent_resource": self.parent_resource,
            "org_id": self.org_id,
            "sink": self.sink.to_input() if self.sink is not None else None,
        }

    @property
    def identity(self) -> tuple[str | None, str]:
        """Where the resource sits: its parent (type::name) and its name."""
        return (self.parent_resource, self.resource_name or self.name)


@dataclass(frozen=True)
class KeyState:
    """One managed key as the stack's state records it. Tokens never show in ``repr``."""

    spec: KeySpec
    key_id: str
    org_id: str | None = None
    key_prefix: str = ""
    created_at: str | None = None
    expires_at: str | None = None
    status: str = ACTIVE
    token: str | None = field(default=None, repr=False)
    previous_key_id: str | None = None
    previous_token: str | None = field(default=None, repr=False)
    previous_revoke_after: str | None = None
    pending_revoke_key_ids: tuple[str, ...] = ()
    stored_fingerprint: str | None = None
    """The token's fingerprint when the state holds no token (a key with a sink)."""
    sink_secret_arn: str | None = None
    sink_version_id: str | None = None

    @classmethod
    def from_outputs(cls, key_id: str, props: Mapping[str, Any]) -> KeyState:
        """Read a resource's recorded outputs, of either resource type, tolerating any earlier release's shape."""
        props = snake_properties(props)
        pending = props.get("pending_revoke_key_ids")
        return cls(
            spec=KeySpec.from_inputs(props),
            key_id=_text(props.get("key_id")) or key_id,
            org_id=_text(props.get("org_id")),
            key_prefix=str(props.get("key_prefix") or ""),
            created_at=_text(props.get("created_at")),
            expires_at=_text(props.get("expires_at")),
            status=_text(props.get("status")) or ACTIVE,
            token=_text(props.get("token")),
            previous_key_id=_text(props.get("previous_key_id")),
            previous_token=_text(props.get("previous_token")),
            previous_revoke_after=_text(props.get("previous_revoke_after")),
            pending_revoke_key_ids=tuple(str(item) for item in pending if isinstance(item, str) and item)
            if isinstance(pending, list | tuple)
            else (),
            stored_fingerprint=_text(props.get("token_fingerprint")),
            sink_secret_arn=_text(props.get("sink_secret_arn")),
            sink_version_id=_text(props.get("sink_version_id")),
        )

    def to_outputs(self) -> dict[str, Any]:
        """Every output, in one place: the recorded inputs plus what the provider learnt.

        ``org_id`` is the org the key lives in, whether the program declared it or the config chose it.
        """
        outputs = self.spec.to_inputs()
        outputs.update(
            key_id=self.key_id,
            org_id=self.org_id,
            key_prefix=self.key_prefix,
            created_at=self.created_at,
            expires_at=self.expires_at,
            status=self.status,
            token=self.token,
            token_fingerprint=self.fingerprint,
            previous_key_id=self.previous_key_id,
            previous_token=self.previous_token,
            previous_revoke_after=self.previous_revoke_after,
            pending_revoke_key_ids=list(self.pending_revoke_key_ids),
            sink_secret_arn=self.sink_secret_arn,
            sink_version_id=self.sink_version_id,
        )
        if self.spec.sink is not None:
            # The sink holds the tokens; the stack never publishes them, whatever this object carries.
            outputs.update(token=None, previous_token=None)
        return outputs

    @property
    def fingerprint(self) -> str | None:
        """The token's fingerprint: of the token held, or as recorded when the sink holds it."""
        return SecretToken(self.token).fingerprint if self.token else self.stored_fingerprint

    def without_previous(self) -> KeyState:
        """The same key with no kept previous key."""
        return replace(self, previous_key_id=None, previous_token=None, previous_revoke_after=None)
