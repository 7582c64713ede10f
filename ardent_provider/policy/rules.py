"""The policies of the Ardent policy pack as pure decisions: a key's inputs and a config in, a message or None out.

Nothing here imports ``pulumi_policy``; :mod:`ardent_provider.policy.crossguard` turns these into CrossGuard
policies. Inputs arrive as the provider's ``check`` left them (roles as role keys, numbers as floats), with
:data:`~ardent_provider.state.UNKNOWN` for a value the engine does not know yet: such a value is never a
violation (the policy runs again at ``pulumi up``, when it is known).

Policies see secret inputs in plaintext, so no message here contains an input's value: a message names the
resource (its name is already in its URN), the policy, the role as Ardent names it, whole numbers of days, and
the pattern from the policy's own configuration, never ``name``, ``scopes``, ``adopt_key_id`` or ``adopt_token``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..models import RoleSpec, canonical_role
from ..resource_types import DYNAMIC_KEY_TYPE, NATIVE_KEY_TYPE
from ..state import Unknown, camel_case_names_in, snake_properties, whole_number

RESOURCE_TYPE: Final = DYNAMIC_KEY_TYPE
"""The dynamic ``ArdentApiKey``'s type; the policies apply to :data:`NATIVE_RESOURCE_TYPE` alike."""
NATIVE_RESOURCE_TYPE: Final = NATIVE_KEY_TYPE

NO_OWNER_KEYS: Final = "ardent-no-owner-keys"
EXPIRY_REQUIRED: Final = "ardent-expiry-required"
ADMIN_KEYS_ROTATE: Final = "ardent-admin-keys-rotate"
SCOPED_AUTOMATION_KEYS: Final = "ardent-scoped-automation-keys"
NAME_PATTERN: Final = "ardent-name-pattern"
SINK_REQUIRED: Final = "ardent-sink-required"

DEFAULT_MAX_DAYS: Final = 365
MAX_DAYS_LIMIT: Final = 3650
# Names with a word such as ci, bot or deployer in them, separated by -, _, . or a space.
DEFAULT_AUTOMATION_PATTERN: Final = r"(?i)(^|[-_. ])(ci|cd|bot|automation|pipeline|deploy|deployer|robot)([-_. ]|$)"
# Lower-case words joined by hyphens, such as ci-deployer.
DEFAULT_NAME_PATTERN: Final = r"[a-z0-9]+(-[a-z0-9]+)*"

EnforcementLevel = Literal["advisory", "mandatory", "disabled"]
_ADMIN_RANK: Final = 2


@dataclass(frozen=True)
class KeyInputs:
    """The inputs of one ``ArdentApiKey`` that the policies read; any of them may be ``UNKNOWN``."""

    resource: str
    role: Any = None
    name: Any = None
    scopes: Any = None
    expires_in_days: Any = None
    rotate_before_days: Any = None
    resource_type: str = RESOURCE_TYPE
    sink: Any = None

    @classmethod
    def from_props(cls, resource: str, props: Mapping[str, Any], resource_type: str = RESOURCE_TYPE) -> KeyInputs:
        """The inputs from a property map such as a policy's ``args.props`` made plain, of either resource type."""
        props = snake_properties(props)
        return cls(
            resource=resource,
            resource_type=resource_type,
            role=props.get("role"),
            name=props.get("name"),
            scopes=props.get("scopes"),
            expires_in_days=props.get("expires_in_days"),
            rotate_before_days=props.get("rotate_before_days"),
            sink=props.get("sink"),
        )

    @property
    def label(self) -> str:
        """How a message names the resource: by the type its program declared it with."""
        declared = NATIVE_RESOURCE_TYPE if self.resource_type == NATIVE_RESOURCE_TYPE else "ArdentApiKey"
        return f"{declared} '{self.resource}'"

    def in_program_words(self, message: str, words: Callable[[str], str] = camel_case_names_in) -> str:
        """``message`` with the property names the key's program uses: ``words`` rewords it for the native type.

        ``ArdentApiKey`` is declared with this package's names; the native type with its SDK's (``words``).
        """
        return words(message) if self.resource_type == NATIVE_RESOURCE_TYPE else message


Decision = Callable[[KeyInputs, Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class PolicySpec:
    """One policy: its name, what it asks, its default enforcement level, its options and its decision."""

    name: str
    description: str
    enforcement_level: EnforcementLevel
    config_schema: Mapping[str, Mapping[str, Any]]
    decide: Decision


def no_owner_keys(key: KeyInputs, config: Mapping[str, Any]) -> str | None:
    """A violation when the key has the Owner role."""
    role = _role(key.role)
    if role is None or role.key != "role_org_owner":
        return None
    return (
        f"{key.label} has role Owner, which {NO_OWNER_KEYS} forbids: an owner key can do everything in the org, "
        "managing its keys and owners included. Change role to Admin, or to a narrower role with scopes; "
        "create owner keys by hand, outside programs and pipelines."
    )


def expiry_required(key: KeyInputs, config: Mapping[str, Any]) -> str | None:
    """A violation when the key never expires, or expires later than ``max_days`` days after its creation."""
    max_days = whole_number(config.get("max_days", DEFAULT_MAX_DAYS))
    if max_days is None or not 1 <= max_days <= MAX_DAYS_LIMIT:
        return (
            f"{EXPIRY_REQUIRED} cannot check {key.label}: its option max_days must be a whole number of days from 1 "
            f"to {MAX_DAYS_LIMIT}. Fix it in --policy-pack-config."
        )
    if isinstance(key.expires_in_days, Unknown):
        return None
    if key.expires_in_days is None:
        return (
            f"{key.label} never expires, but {EXPIRY_REQUIRED} wants every key to expire within {max_days} days. "
            f"Set expires_in_days to {max_days} or less (and rotate_before_days, so that `pulumi up` replaces "
            "the key before it expires)."
        )
    days = whole_number(key.expires_in_days)
    if days is None or days <= max_days:
        return None
    return (
        f"{key.label} expires {days} days after its creation, later than the {max_days} days that "
        f"{EXPIRY_REQUIRED} allows. Set expires_in_days to {max_days} or less."
    )


def admin_keys_rotate(key: KeyInputs, config: Mapping[str, Any]) -> str | None:
    """A violation when an Admin or Owner key has no ``rotate_before_days``."""
    role = _role(key.role)
    if role is None or role.rank < _ADMIN_RANK or key.rotate_before_days is not None:
        return None
    expiry = "" if key.expires_in_days is not None else " with expires_in_days (rotation needs an expiry)"
    return (
        f"{key.label} has role {role.display_name} but no rotate_before_days, and {ADMIN_KEYS_ROTATE} wants admin "
        f"and owner keys replaced before they expire. Set rotate_before_days (for example 14){expiry}, so that "
        "`pulumi up` in that window creates a new key and revokes the old one."
    )


def scoped_automation_keys(key: KeyInputs, config: Mapping[str, Any]) -> str | None:
    """A violation when a key whose name matches ``pattern`` (anywhere in it) has no scopes."""
    pattern, problem = _pattern(config, DEFAULT_AUTOMATION_PATTERN, SCOPED_AUTOMATION_KEYS, key)
    if pattern is None:
        return problem
    unscoped = key.scopes is None or (isinstance(key.scopes, Sequence) and len(key.scopes) == 0)
    if not isinstance(key.name, str) or not unscoped or not pattern.search(key.name):
        return None
    role = _role(key.role)
    holds = f"role {role.display_name}" if role is not None else "its role"
    return (
        f"{key.label} has a name that matches the automation-key pattern '{pattern.pattern}' of "
        f"{SCOPED_AUTOMATION_KEYS} but no scopes, so it holds every permission of {holds}. Set scopes to the "
        "permissions it needs, such as scopes=['projects.read', 'connectors.read']."
    )


def name_pattern(key: KeyInputs, config: Mapping[str, Any]) -> str | None:
    """A violation when the key's whole name does not match ``pattern``."""
    pattern, problem = _pattern(config, DEFAULT_NAME_PATTERN, NAME_PATTERN, key)
    if pattern is None:
        return problem
    if not isinstance(key.name, str) or pattern.fullmatch(key.name):
        return None
    return (
        f"{key.label} has a name that does not match the pattern '{pattern.pattern}' that {NAME_PATTERN} "
        "requires of the whole name. Rename the key: set name (it defaults to the resource name) to a name "
        "that matches; a new name replaces the key."
    )


def sink_required(key: KeyInputs, config: Mapping[str, Any]) -> str | None:
    """A violation when the key has no sink: its token is then an output of the stack."""
    if key.sink is not None:
        return None
    return (
        f"{key.label} has no sink, so its token is a stack output that anyone who can decrypt the stack reads, and "
        f"{SINK_REQUIRED} wants tokens kept out of the stack. Set sink to an AWS Secrets Manager secret, such as "
        "sink={'aws_secrets_manager': {'secret_id': 'apps/<name>/ardent-token'}}; the key keeps its token "
        "(no new key)."
    )


def _pattern_schema(default: str) -> Mapping[str, Mapping[str, Any]]:
    return {"pattern": {"type": "string", "minLength": 1, "default": default}}


POLICIES: Final[tuple[PolicySpec, ...]] = (
    PolicySpec(
        NO_OWNER_KEYS,
        "Ardent API keys must not have the Owner role.",
        "mandatory",
        {},
        no_owner_keys,
    ),
    PolicySpec(
        EXPIRY_REQUIRED,
        "Ardent API keys must expire, within max_days (default 365) days of their creation.",
        "advisory",
        {"max_days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS_LIMIT, "default": DEFAULT_MAX_DAYS}},
        expiry_required,
    ),
    PolicySpec(
        ADMIN_KEYS_ROTATE,
        "Admin and owner Ardent API keys must be rotated before they expire (a rotation window in days).",
        "advisory",
        {},
        admin_keys_rotate,
    ),
    PolicySpec(
        SCOPED_AUTOMATION_KEYS,
        "Ardent API keys whose name matches the pattern option must set scopes.",
        "disabled",
        _pattern_schema(DEFAULT_AUTOMATION_PATTERN),
        scoped_automation_keys,
    ),
    PolicySpec(
        NAME_PATTERN,
        "Ardent API key names must match the pattern option.",
        "disabled",
        _pattern_schema(DEFAULT_NAME_PATTERN),
        name_pattern,
    ),
    PolicySpec(
        SINK_REQUIRED,
        "Ardent API keys should keep their token in a sink (an AWS Secrets Manager secret), not in the stack.",
        "disabled",
        {},
        sink_required,
    ),
)


def _pattern(
    config: Mapping[str, Any], default: str, policy: str, key: KeyInputs
) -> tuple[re.Pattern[str] | None, str | None]:
    """The compiled ``pattern`` option, or None and the message that says what is wrong with it."""
    text = config.get("pattern", default)
    if not isinstance(text, str) or not text:
        return None, f"{policy} cannot check {key.label}: its option pattern must be a non-empty string."
    try:
        return re.compile(text), None
    except re.error as error:
        return None, (
            f"{policy} cannot check {key.label}: its option pattern '{text}' is not a valid regular expression "
            f"({error}). Fix it in --policy-pack-config."
        )


def _role(value: Any) -> RoleSpec | None:
    return canonical_role(value) if isinstance(value, str) else None


# The engine's own key for "every policy" in --policy-pack-config.
ALL_POLICIES: Final = "all"


def config_problems(policy_config: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What is wrong with a pack configuration as the engine hands it over: policy name -> its options.

    The engine passes on every name of ``--policy-pack-config``, known or not, and every option, so a policy
    name or an option this pack does not have would otherwise be ignored while the pack keeps its defaults.
    Each problem names the nearest known name. Option values are the engine's to check against the schemas.
    """
    known = {spec.name: spec for spec in POLICIES}
    problems: list[str] = []
    for name in sorted(policy_config):
        if name == ALL_POLICIES:
            continue
        spec = known.get(name)
        if spec is None:
            problems.append(
                f"`{name}` is not a policy of this pack{_nearest(name, known)} Its policies are "
                f"{', '.join(known)} (and `all`)."
            )
            continue
        options = policy_config.get(name) or {}
        for option in sorted(options):
            if option in spec.config_schema or option == "enforcementLevel":
                continue
            offered = ", ".join(spec.config_schema) or "none"
            problems.append(
                f"`{option}` is not an option of {name}{_nearest(option, spec.config_schema)} Its options: "
                f"{offered}; its enforcement level is set as the policy's value or as `enforcementLevel`."
            )
    return problems


def _nearest(name: str, candidates: Sequence[str] | Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else "."
