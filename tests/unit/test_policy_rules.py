"""The policy pack's decisions: each policy on its own, unknown inputs, config options, and no value ever echoed."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

# The policy pack's adapter needs the `policy` extra; the support matrix's lowest-bounds cells run without it
# (pulumi-policy 1.21 needs pulumi 3.204 or newer), so there these tests are skipped, saying why.
pytest.importorskip("pulumi_policy", reason="the policy extra (pulumi-policy) is not installed")

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from ardent_provider.policy import POLICY_NAMES, pack_directory
from ardent_provider.policy.crossguard import plain, policies, policy
from ardent_provider.policy.rules import (
    DEFAULT_AUTOMATION_PATTERN,
    DEFAULT_NAME_PATTERN,
    NATIVE_RESOURCE_TYPE,
    POLICIES,
    RESOURCE_TYPE,
    KeyInputs,
    PolicySpec,
    admin_keys_rotate,
    config_problems,
    expiry_required,
    name_pattern,
    no_owner_keys,
    scoped_automation_keys,
    sink_required,
)
from ardent_provider.state import UNKNOWN

TOKEN = "sk-ard_test_" + "Zq7" * 14
SPECS = {spec.name: spec for spec in POLICIES}
# The config the CLI sends when --policy-pack-config says nothing: the schema defaults.
DEFAULTS: dict[str, dict[str, Any]] = {
    spec.name: {option: schema["default"] for option, schema in spec.config_schema.items()} for spec in POLICIES
}


def key(**inputs: Any) -> KeyInputs:
    """A key as check() leaves it: role as a role key, numbers as floats (as they cross the wire)."""
    values: dict[str, Any] = {"role": "role_org_member", "name": "svc", "scopes": [], "expires_in_days": 30.0}
    values.update(inputs)
    return KeyInputs.from_props("res-1", values)


def test_the_pack_has_the_six_policies_with_their_default_levels_and_options() -> None:
    assert POLICY_NAMES == (
        "ardent-no-owner-keys",
        "ardent-expiry-required",
        "ardent-admin-keys-rotate",
        "ardent-scoped-automation-keys",
        "ardent-name-pattern",
        "ardent-sink-required",
    )
    assert {spec.name: spec.enforcement_level for spec in POLICIES} == {
        "ardent-no-owner-keys": "mandatory",
        "ardent-expiry-required": "advisory",
        "ardent-admin-keys-rotate": "advisory",
        "ardent-scoped-automation-keys": "disabled",
        "ardent-name-pattern": "disabled",
        "ardent-sink-required": "disabled",
    }
    assert DEFAULTS == {
        "ardent-no-owner-keys": {},
        "ardent-expiry-required": {"max_days": 365},
        "ardent-admin-keys-rotate": {},
        "ardent-scoped-automation-keys": {"pattern": DEFAULT_AUTOMATION_PATTERN},
        "ardent-name-pattern": {"pattern": DEFAULT_NAME_PATTERN},
        "ardent-sink-required": {},
    }
    assert (pack_directory() / "__main__.py").is_file()


@pytest.mark.parametrize("role", ["role_org_owner", "Owner", "owner"])
def test_owner_keys_are_refused_whatever_the_spelling(role: str) -> None:
    message = no_owner_keys(key(role=role), {})
    assert message is not None
    assert "ArdentApiKey 'res-1'" in message
    assert "ardent-no-owner-keys" in message
    assert "Change role to Admin" in message


@pytest.mark.parametrize("role", ["role_org_admin", "role_org_member", "role_org_viewer", UNKNOWN, None, "chief"])
def test_other_roles_and_unknown_roles_pass_the_owner_policy(role: Any) -> None:
    assert no_owner_keys(key(role=role), {}) is None


def test_a_key_that_never_expires_violates_the_expiry_policy_and_is_told_the_limit() -> None:
    message = expiry_required(key(expires_in_days=None), DEFAULTS["ardent-expiry-required"])
    assert message is not None
    assert "'res-1' never expires" in message
    assert "ardent-expiry-required" in message
    assert "Set expires_in_days to 365 or less" in message


@pytest.mark.parametrize(
    ("days", "config", "violates"),
    [
        (365.0, {}, False),
        (366.0, {}, True),
        (30.0, {"max_days": 30.0}, False),
        (31.0, {"max_days": 30.0}, True),
        (90, {"max_days": 90}, False),
        (UNKNOWN, {"max_days": 1}, False),
    ],
)
def test_max_days_sets_the_longest_allowed_expiry(days: Any, config: Mapping[str, Any], violates: bool) -> None:
    message = expiry_required(key(expires_in_days=days), config)
    assert (message is not None) == violates
    if message is not None:
        limit = int(config.get("max_days", 365))
        assert f"expires {int(days)} days after its creation" in message
        assert f"Set expires_in_days to {limit} or less" in message


@pytest.mark.parametrize("max_days", [0, -3, 3651, 1.5, "30", True])
def test_a_bad_max_days_is_reported_as_a_config_problem(max_days: Any) -> None:
    message = expiry_required(key(), {"max_days": max_days})
    assert message is not None
    assert "option max_days" in message
    assert "--policy-pack-config" in message


@pytest.mark.parametrize("role", ["role_org_admin", "role_org_owner"])
def test_admin_and_owner_keys_need_rotate_before_days(role: str) -> None:
    message = admin_keys_rotate(key(role=role), {})
    assert message is not None
    assert "ardent-admin-keys-rotate" in message
    assert "Set rotate_before_days" in message
    assert "(rotation needs an expiry)" not in message
    without_expiry = admin_keys_rotate(key(role=role, expires_in_days=None), {})
    assert without_expiry is not None
    assert "with expires_in_days (rotation needs an expiry)" in without_expiry


@pytest.mark.parametrize(
    "inputs",
    [
        {"role": "role_org_admin", "rotate_before_days": 7.0},
        {"role": "role_org_admin", "rotate_before_days": UNKNOWN},
        {"role": UNKNOWN},
        {"role": "role_org_member"},
        {"role": "role_org_viewer", "expires_in_days": None},
    ],
)
def test_rotating_admin_keys_and_lesser_roles_pass_the_rotation_policy(inputs: dict[str, Any]) -> None:
    assert admin_keys_rotate(key(**inputs), {}) is None


@pytest.mark.parametrize("name", ["ci-deployer", "nightly_bot", "Deploy Bot", "github.CI", "automation"])
def test_automation_keys_without_scopes_violate_the_scoped_policy(name: str) -> None:
    config = DEFAULTS["ardent-scoped-automation-keys"]
    for scopes in ([], None):
        message = scoped_automation_keys(key(name=name, scopes=scopes), config)
        assert message is not None
        assert "ardent-scoped-automation-keys" in message
        assert "role Member" in message
        assert "Set scopes" in message


@pytest.mark.parametrize(
    ("name", "scopes"),
    [
        ("ci-deployer", ["projects.read"]),
        ("ci-deployer", [UNKNOWN]),
        ("ci-deployer", UNKNOWN),
        (UNKNOWN, []),
        ("Production-Test", []),
        ("circle", []),
        ("robotics-team", []),
    ],
)
def test_scoped_or_unknown_or_non_automation_keys_pass_the_scoped_policy(name: Any, scopes: Any) -> None:
    assert scoped_automation_keys(key(name=name, scopes=scopes), DEFAULTS["ardent-scoped-automation-keys"]) is None


def test_the_scoped_policy_takes_its_own_pattern_and_searches_anywhere_in_the_name() -> None:
    config = {"pattern": "^svc-"}
    assert scoped_automation_keys(key(name="svc-billing"), config) is not None
    assert scoped_automation_keys(key(name="ci-deployer"), config) is None
    assert scoped_automation_keys(key(name="x", role=UNKNOWN), {"pattern": "x"}) is not None
    assert "every permission of its role" in str(scoped_automation_keys(key(name="x", role=UNKNOWN), {"pattern": "x"}))


@pytest.mark.parametrize(
    ("name", "config", "violates"),
    [
        ("ci-deployer", {}, False),
        ("Ci-Deployer", {}, True),
        ("ci deployer", {}, True),
        ("team-a-ci", {"pattern": "team-[a-z]+-(ci|svc)"}, False),
        ("xteam-a-ci", {"pattern": "team-[a-z]+-(ci|svc)"}, True),
        ("team-a-ci-old", {"pattern": "team-[a-z]+-(ci|svc)"}, True),
        (UNKNOWN, {"pattern": "nothing-matches-this"}, False),
    ],
)
def test_the_name_policy_matches_the_whole_name(name: Any, config: Mapping[str, Any], violates: bool) -> None:
    message = name_pattern(key(name=name), config)
    assert (message is not None) == violates
    if message is not None:
        assert "ardent-name-pattern" in message
        assert f"'{config.get('pattern', DEFAULT_NAME_PATTERN)}'" in message
        assert "Rename the key" in message


@pytest.mark.parametrize("decide", [scoped_automation_keys, name_pattern])
@pytest.mark.parametrize("pattern", ["(unclosed", "", 7])
def test_a_bad_pattern_is_reported_as_a_config_problem(decide: Any, pattern: Any) -> None:
    message = decide(key(name="ci"), {"pattern": pattern})
    assert message is not None
    assert "option pattern" in message
    assert "'res-1'" in message


SECRET_VALUES = [
    TOKEN,
    "sk-ard_live_" + "Q" * 40,
    "hidden-deployer-name-9f3a",
]


@pytest.mark.parametrize("secret", SECRET_VALUES)
def test_no_message_contains_any_input_value(secret: str) -> None:
    """Every violation, with every input holding a would-be secret: none of them is in a message."""
    inputs = {
        "role": "role_org_owner",
        "name": f"ci {secret}",
        "scopes": [],
        "expires_in_days": None,
        "adopt_key_id": secret,
        "adopt_token": secret,
        "rotation_triggers": {"t": secret},
    }
    config_sets: list[dict[str, Any]] = [DEFAULTS[name] for name in POLICY_NAMES]
    config_sets += [{"pattern": "^$"}, {"pattern": "ci"}, {"max_days": 1}]
    messages = [
        message
        for spec in POLICIES
        for config in config_sets
        for props in (inputs, {**inputs, "expires_in_days": 3650.0})
        if (message := spec.decide(KeyInputs.from_props("res-1", props), config)) is not None
    ]
    assert {name for name in POLICY_NAMES if any(name in message for message in messages)} == set(POLICY_NAMES)
    for message in messages:
        assert secret not in message
        assert secret[:16] not in message


def test_plain_reads_every_value_and_marks_the_unknown_ones() -> None:
    props = unknown_checking_proxy(
        {
            "role": UNKNOWN_STRING_VALUE,
            "name": "svc",
            "scopes": ["projects.read", UNKNOWN_STRING_VALUE],
            "expires_in_days": UNKNOWN_NUMBER_VALUE,
            "rotation_triggers": {"release": UNKNOWN_STRING_VALUE, "n": 1.0},
            "other": UNKNOWN_ARRAY_VALUE,
        }
    )
    assert plain(props) == {
        "role": UNKNOWN,
        "name": "svc",
        "scopes": ["projects.read", UNKNOWN],
        "expires_in_days": UNKNOWN,
        "rotation_triggers": {"release": UNKNOWN, "n": 1.0},
        "other": UNKNOWN,
    }


def run_policy(
    spec: PolicySpec, props: dict[str, Any], config: Mapping[str, Any] | None = None, **kw: str
) -> list[str]:
    """Run one CrossGuard policy the way the SDK's analyzer does: proxied props, the config the CLI sent."""
    reported: list[str] = []
    args = ResourceValidationArgs(
        kw.get("resource_type", RESOURCE_TYPE),
        unknown_checking_proxy(props),
        f"urn:pulumi:dev::proj::{RESOURCE_TYPE}::res-1",
        "res-1",
        None,  # type: ignore[arg-type]
        None,
        dict(config if config is not None else DEFAULTS[spec.name]),
    )
    validated = policy(spec)
    assert isinstance(validated, ResourceValidationPolicy)
    validated.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_the_crossguard_policies_carry_names_levels_and_schemas() -> None:
    made = {item.name: item for item in policies()}
    assert list(made) == list(POLICY_NAMES)
    assert made["ardent-no-owner-keys"].enforcement_level == EnforcementLevel.MANDATORY
    assert made["ardent-expiry-required"].enforcement_level == EnforcementLevel.ADVISORY
    assert made["ardent-admin-keys-rotate"].enforcement_level == EnforcementLevel.ADVISORY
    assert made["ardent-scoped-automation-keys"].enforcement_level == EnforcementLevel.DISABLED
    assert made["ardent-name-pattern"].enforcement_level == EnforcementLevel.DISABLED
    assert made["ardent-sink-required"].enforcement_level == EnforcementLevel.DISABLED
    schema = made["ardent-expiry-required"].config_schema
    assert schema is not None
    assert schema.properties["max_days"]["default"] == 365
    assert made["ardent-no-owner-keys"].config_schema is None


def test_a_crossguard_policy_reports_a_violation_and_passes_unknown_inputs_without_error() -> None:
    owner = {"role": "role_org_owner", "name": "svc", "scopes": []}
    assert len(run_policy(SPECS["ardent-no-owner-keys"], owner)) == 1
    unknown = {"role": UNKNOWN_STRING_VALUE, "name": UNKNOWN_STRING_VALUE, "scopes": UNKNOWN_ARRAY_VALUE}
    unknown["expires_in_days"] = UNKNOWN_NUMBER_VALUE
    unknown["rotate_before_days"] = UNKNOWN_NUMBER_VALUE
    unknown["sink"] = UNKNOWN_STRING_VALUE
    for spec in POLICIES:
        assert run_policy(spec, unknown) == []
    assert run_policy(SPECS["ardent-expiry-required"], {"role": "role_org_viewer"}, {"max_days": 30.0}) != []


def test_the_policies_apply_to_the_native_resource_type_and_its_camel_case_inputs() -> None:
    owner = {"role": "role_org_owner", "name": "svc", "scopes": []}
    assert len(run_policy(SPECS["ardent-no-owner-keys"], owner, resource_type=NATIVE_RESOURCE_TYPE)) == 1
    admin = {"role": "role_org_admin", "name": "svc", "scopes": [], "expiresInDays": 90.0}
    assert run_policy(SPECS["ardent-admin-keys-rotate"], admin, resource_type=NATIVE_RESOURCE_TYPE) != []
    rotating = {**admin, "rotateBeforeDays": 14.0}
    assert run_policy(SPECS["ardent-admin-keys-rotate"], rotating, resource_type=NATIVE_RESOURCE_TYPE) == []
    assert run_policy(SPECS["ardent-expiry-required"], admin, {"max_days": 30.0}, resource_type=NATIVE_RESOURCE_TYPE)


@pytest.mark.parametrize(("runtime", "names"), [("yaml", "camel"), ("nodejs", "camel"), ("python", "snake")])
def test_a_crossguard_violation_of_a_native_key_is_worded_as_its_program_declares_it(
    runtime: str, names: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine runs a policy pack in the program's directory: its project's runtime says which names it uses.
    (tmp_path / "Pulumi.yaml").write_text(f"name: keys\nruntime:\n  name: {runtime}\n")
    monkeypatch.chdir(tmp_path)
    admin = {"role": "role_org_admin", "name": "svc", "scopes": []}
    [message] = run_policy(SPECS["ardent-admin-keys-rotate"], admin, resource_type=NATIVE_RESOURCE_TYPE)
    assert message.startswith("ardent:index:ApiKey 'res-1'")
    if names == "camel":
        assert "Set rotateBeforeDays" in message and "expiresInDays" in message and "_days" not in message
    else:
        assert "Set rotate_before_days" in message and "expires_in_days" in message
    [dynamic] = run_policy(SPECS["ardent-admin-keys-rotate"], admin)
    assert dynamic.startswith("ArdentApiKey 'res-1'") and "Set rotate_before_days" in dynamic


def test_a_crossguard_policy_ignores_other_resource_types() -> None:
    provider_props = {"ardent:token": TOKEN, "role": "role_org_owner"}
    for spec in POLICIES:
        assert run_policy(spec, provider_props, resource_type="pulumi:providers:pulumi-python") == []


def test_only_the_crossguard_adapter_and_the_pack_need_pulumi_policy() -> None:
    """ardent-keys (which registers policy-pack) and the rules work without the policy extra."""
    folder = pack_directory().parent
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        needs = any(name.split(".")[0] == "pulumi_policy" for name in names)
        assert needs == (path.name == "crossguard.py"), path


def test_a_policy_name_or_option_the_pack_lacks_is_a_problem_naming_the_nearest_known_one() -> None:
    assert config_problems({}) == []
    assert (
        config_problems({"all": {}, "ardent-expiry-required": {"max_days": 30, "enforcementLevel": "mandatory"}}) == []
    )
    (unknown_policy,) = config_problems({"ardent-no-owner-key": {}})
    assert unknown_policy.startswith(
        "`ardent-no-owner-key` is not a policy of this pack; did you mean `ardent-no-owner-keys`?"
    )
    (unknown_option,) = config_problems({"ardent-expiry-required": {"max_day": 30}})
    assert "`max_day` is not an option of ardent-expiry-required; did you mean `max_days`?" in unknown_option
    (no_options,) = config_problems({"ardent-no-owner-keys": {"pattern": "x"}})
    assert "Its options: none" in no_options
    (far,) = config_problems({"completely-else": {}})
    assert "did you mean" not in far and "ardent-name-pattern" in far


def test_violations_name_the_type_and_properties_a_native_program_declared() -> None:
    native = KeyInputs.from_props("ownerKey", {"role": "role_org_admin", "expiresInDays": None}, NATIVE_RESOURCE_TYPE)
    message = admin_keys_rotate(native, {})
    assert message is not None
    worded = native.in_program_words(message)
    assert worded.startswith("ardent:index:ApiKey 'ownerKey' has role Admin but no rotateBeforeDays")
    assert "with expiresInDays (rotation needs an expiry)" in worded
    assert "_days" not in worded and "ArdentApiKey" not in worded
    dynamic = key(role="role_org_admin", expires_in_days=None)
    dynamic_message = admin_keys_rotate(dynamic, {})
    assert dynamic_message is not None and dynamic.in_program_words(dynamic_message) == dynamic_message
    assert dynamic_message.startswith("ArdentApiKey 'res-1'") and "rotate_before_days" in dynamic_message


def test_a_key_without_a_sink_violates_the_sink_policy_and_one_with_a_sink_or_an_unknown_one_passes() -> None:
    message = sink_required(key(), {})
    assert message is not None and "'res-1' has no sink" in message and "ardent-sink-required" in message
    native = KeyInputs.from_props("res-1", {"role": "role_org_member"}, NATIVE_RESOURCE_TYPE)
    assert "secretId" in native.in_program_words(sink_required(native, {}) or "")
    assert sink_required(key(sink={"aws_secrets_manager": {"secret_id": "app/x"}}), {}) is None
    assert sink_required(key(sink=UNKNOWN), {}) is None
