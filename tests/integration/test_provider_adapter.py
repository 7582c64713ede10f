"""The provider as the engine calls it, in-process: Pulumi dicts in, Pulumi results out, the emulator behind it."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.output import Unknown

from ardent_provider.client import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.lifecycle import KeyLifecycle
from ardent_provider.provider import ArdentApiKeyProvider
from ardent_provider.settings import resolve_settings

CREATE = "POST /v1/orgs/{org_id}/api-keys"


def configured(config: dict[str, Any]) -> ArdentApiKeyProvider:
    provider = ArdentApiKeyProvider()
    provider.configure(ConfigureRequest(Config(raw_config=config, project_name="proj")))
    return provider


@pytest.fixture
def provider(emulator: EmulatorServer) -> Iterator[ArdentApiKeyProvider]:
    yield configured({"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": emulator.token})


def inputs(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "svc", "role": "Member", "resource_name": "svc", "__provider": "blob"}
    base.update(values)
    return base


def creates(emulator: EmulatorServer) -> int:
    counts: dict[str, int] = httpx.get(f"{emulator.url}/_emulator/stats").json()["requests"]
    return counts.get(CREATE, 0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(
    "unknown",
    [
        {"name": Unknown()},
        {"role": Unknown()},
        {"scopes": Unknown()},
        {"scopes": ["projects.read", Unknown()]},
        {"expires_in_days": Unknown()},
        {"expires_in_days": 30, "rotate_before_days": Unknown()},
        {"expires_in_days": Unknown(), "rotate_before_days": 5},
        {"keep_previous_for_days": Unknown()},
        {"rotation_triggers": Unknown()},
        {"rotation_triggers": {"release": Unknown()}},
        {"adopt_key_id": Unknown()},
        {"adopt_key_id": "key_x", "adopt_token": Unknown()},
        {"adopt_key_id": "key_x", "on_missing_token": Unknown()},
        {"adopt_key_id": Unknown(), "adopt_token": Unknown(), "on_missing_token": Unknown()},
    ],
)
def test_check_passes_inputs_unknown_at_preview_and_keeps_them_unknown(
    provider: ArdentApiKeyProvider, unknown: dict[str, Any]
) -> None:
    result = provider.check({}, inputs(**unknown))
    assert result.failures == []
    for name, value in unknown.items():
        if isinstance(value, Unknown):
            assert isinstance(result.inputs[name], Unknown), name
        elif isinstance(value, list):
            assert any(isinstance(item, Unknown) for item in result.inputs[name])
        elif isinstance(value, dict):
            assert any(isinstance(item, Unknown) for item in result.inputs[name].values())


def test_a_known_bad_value_still_fails_at_preview_beside_unknown_ones(provider: ArdentApiKeyProvider) -> None:
    result = provider.check({}, inputs(name=Unknown(), role="superuser", expires_in_days=Unknown()))
    assert [failure.property for failure in result.failures] == ["role"]
    result = provider.check({}, inputs(scopes=[Unknown(), "Not A Scope"]))
    assert [failure.property for failure in result.failures] == ["scopes"]


def test_cross_checks_wait_until_both_sides_are_known(provider: ArdentApiKeyProvider) -> None:
    assert provider.check({}, inputs(role=Unknown(), scopes=["api_keys.write"])).failures == []
    assert provider.check({}, inputs(scopes=["api_keys.write"])).failures[0].property == "scopes"
    assert provider.check({}, inputs(expires_in_days=Unknown(), rotate_before_days=400)).failures == []
    failures = provider.check({}, inputs(expires_in_days=30, rotate_before_days=30)).failures
    assert [failure.property for failure in failures] == ["rotate_before_days"]


BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "line\nbreak"}, "name"),
    ({"name": "tab\there"}, "name"),
    ({"name": "nul\u0000"}, "name"),
    ({"name": "lone \udc80 surrogate"}, "name"),
    ({"name": 42}, "name"),
    ({"name": None}, "name"),
    ({"name": {"a": 1}}, "name"),
    ({"name": ["a"]}, "name"),
    ({"role": "superuser"}, "role"),
    ({"role": ""}, "role"),
    ({"role": "role_project_admin"}, "role"),
    ({"role": 3}, "role"),
    ({"role": None}, "role"),
    ({"scopes": "all"}, "scopes"),
    ({"scopes": ["Connectors Read"]}, "scopes"),
    ({"scopes": [1]}, "scopes"),
    ({"scopes": ["connectors"]}, "scopes"),
    ({"scopes": {"projects.read": True}}, "scopes"),
    ({"role": "Member", "scopes": ["api_keys.write"]}, "scopes"),
    ({"role": "Admin", "scopes": ["org.delete"]}, "scopes"),
    ({"expires_in_days": 0}, "expires_in_days"),
    ({"expires_in_days": -1}, "expires_in_days"),
    ({"expires_in_days": 1.5}, "expires_in_days"),
    ({"expires_in_days": "30"}, "expires_in_days"),
    ({"expires_in_days": 3651}, "expires_in_days"),
    ({"expires_in_days": True}, "expires_in_days"),
    ({"expires_in_days": math.nan}, "expires_in_days"),
    ({"expires_in_days": math.inf}, "expires_in_days"),
    ({"expires_in_days": 30, "rotate_before_days": 30}, "rotate_before_days"),
    ({"rotate_before_days": 5}, "rotate_before_days"),
    ({"expires_in_days": 10, "rotate_before_days": 0}, "rotate_before_days"),
    ({"keep_previous_for_days": 0}, "keep_previous_for_days"),
    ({"keep_previous_for_days": "2"}, "keep_previous_for_days"),
    ({"rotation_triggers": ["a"]}, "rotation_triggers"),
    ({"rotation_triggers": {"a": [1]}}, "rotation_triggers"),
    ({"adopt_token": "sk-ard_test_abc"}, "adopt_token"),
    ({"on_missing_token": "rotate"}, "on_missing_token"),
    ({"adopt_key_id": "key_1", "on_missing_token": "maybe"}, "on_missing_token"),
    ({"adopt_key_id": "key with spaces"}, "adopt_key_id"),
    ({"adopt_key_id": "key_1", "adopt_token": "not-a-token"}, "adopt_token"),
    ({"adopt_key_id": "key_1", "adopt_token": "sk-ard_test_abc", "on_missing_token": "rotate"}, "on_missing_token"),
]
GOOD_EDGES: list[dict[str, Any]] = [
    {"name": "x" * 100},
    {"name": "Déploiement 🚀 ключ"},
    {"expires_in_days": 3650},
    {"expires_in_days": 1},
    {"expires_in_days": 30.0},
]


@pytest.mark.parametrize(("bad", "prop"), BAD_INPUTS)
def test_each_bad_input_is_reported_against_its_property_and_nothing_is_created(
    provider: ArdentApiKeyProvider, emulator: EmulatorServer, bad: dict[str, Any], prop: str
) -> None:
    result = provider.check({}, inputs(**bad))
    assert [failure.property for failure in result.failures] == [prop]
    reason = result.failures[0].reason
    assert reason and "\n" not in reason and "Traceback" not in reason
    assert creates(emulator) == 0


@pytest.mark.parametrize("good", GOOD_EDGES)
def test_edge_values_just_inside_the_limits_are_accepted(provider: ArdentApiKeyProvider, good: dict[str, Any]) -> None:
    assert provider.check({}, inputs(**good)).failures == []


def test_a_full_lifecycle_through_the_adapter_returns_every_output(
    provider: ArdentApiKeyProvider, emulator: EmulatorServer
) -> None:
    checked = provider.check({}, inputs(scopes=["projects.read"], expires_in_days=30.0)).inputs
    created = provider.create(checked)
    outs = created.outs or {}
    assert created.id == outs["key_id"] and outs["token"].startswith(outs["key_prefix"])
    assert outs["org_id"] == emulator.org_id and outs["role"] == "role_org_member"
    assert outs["expires_in_days"] == 30 and outs["pending_revoke_key_ids"] == []
    diff = provider.diff(created.id, {**outs, "__provider": "blob"}, checked)
    assert diff.changes is False and diff.replaces == []
    diff = provider.diff(created.id, outs, {**checked, "role": "role_org_admin"})
    assert diff.changes is True and diff.replaces == ["role"] and diff.delete_before_replace is False
    read = provider.read(created.id, outs)
    assert read.id == created.id and read.outs["token"] == outs["token"]
    updated = provider.update(created.id, outs, {**checked, "keep_previous_for_days": 2})
    assert updated.outs is not None and updated.outs["keep_previous_for_days"] == 2
    provider.delete(created.id, outs)
    gone = provider.read(created.id, outs)
    assert gone.id is None and gone.outs == {}


def test_configuration_problems_fail_check_once_with_one_sentence(emulator: EmulatorServer) -> None:
    cases = {
        "no token": ({"ardent:orgId": emulator.org_id, "ardent:apiUrl": emulator.url}, "No Ardent token"),
        "misspelt key": (
            {
                "ardent:orgId": emulator.org_id,
                "ardent:apiURL": emulator.url,
                "ardent:token": emulator.token,
            },
            "did you mean `ardent:apiUrl`",
        ),
        "api url with /v1": (
            {"ardent:orgId": emulator.org_id, "ardent:apiUrl": f"{emulator.url}/v1", "ardent:token": emulator.token},
            "drop /v1",
        ),
        "wrong org": (
            {"ardent:orgId": "org_nope", "ardent:apiUrl": emulator.url, "ardent:token": emulator.token},
            "ardent:orgId / ARDENT_ORG_ID is the token's own org",
        ),
        "nothing listening": (
            {
                "ardent:orgId": emulator.org_id,
                "ardent:apiUrl": f"http://127.0.0.1:{free_port()}",
                "ardent:token": emulator.token,
            },
            "cannot be reached",
        ),
        "https to a plain server": (
            {
                "ardent:orgId": emulator.org_id,
                "ardent:apiUrl": emulator.url.replace("http://", "https://"),
                "ardent:token": emulator.token,
            },
            "cannot be reached",
        ),
    }
    for label, (config, expected) in cases.items():
        result = configured(config).check({}, inputs())
        assert len(result.failures) == 1, label
        failure = result.failures[0]
        assert failure.property == "" and expected in failure.reason, (label, failure.reason)
        assert emulator.token not in failure.reason and "\n" not in failure.reason


def test_a_passing_fault_at_preview_is_not_a_failure(provider: ArdentApiKeyProvider, emulator: EmulatorServer) -> None:
    httpx.post(
        f"{emulator.url}/_emulator/faults",
        json={"route": "GET /v1/orgs/{org_id}/api-keys", "mode": "status", "status": 503},
    )
    assert provider.check({}, inputs()).failures == []


@pytest.fixture
def two_orgs(emulator: EmulatorServer) -> tuple[ArdentApiKeyProvider, dict[str, str]]:
    other = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    provider = configured(
        {
            "ardent:apiUrl": emulator.url,
            "ardent:orgId": emulator.org_id,
            "ardent:token": emulator.token,
            "ardent:orgs": json.dumps({other["org_id"]: {"token": other["token"]}}),
        }
    )
    return provider, other


def org_keys(emulator: EmulatorServer, org_id: str, token: str) -> set[str]:
    answer = httpx.get(f"{emulator.url}/v1/orgs/{org_id}/api-keys", headers={"Authorization": f"Bearer {token}"})
    return {key["id"] for key in answer.json() if key["name"] != "emulator-bootstrap-owner"}


def test_keys_of_two_orgs_in_one_program_each_use_their_orgs_credentials(
    two_orgs: tuple[ArdentApiKeyProvider, dict[str, str]], emulator: EmulatorServer
) -> None:
    provider, other = two_orgs
    home = provider.check({}, inputs(resource_name="home")).inputs
    away_inputs = provider.check({}, inputs(resource_name="away", org_id=other["org_id"]))
    assert away_inputs.failures == []
    home_key = provider.create(home)
    away_key = provider.create(away_inputs.inputs)
    assert (home_key.outs or {})["org_id"] == emulator.org_id
    assert (away_key.outs or {})["org_id"] == other["org_id"]
    assert org_keys(emulator, other["org_id"], other["token"]) == {away_key.id}
    assert org_keys(emulator, emulator.org_id, emulator.token) == {home_key.id}

    httpx.post(f"{emulator.url}/_emulator/stats/reset")
    fresh = configured(provider._config)  # type: ignore[arg-type]
    for created in (home_key, away_key):
        assert fresh.read(created.id, created.outs or {}).id == created.id
    stats = httpx.get(f"{emulator.url}/_emulator/stats").json()["requests"]
    assert stats == {"GET /v1/orgs/{org_id}/api-keys": 2}, "one list call per org"


def test_changing_org_id_replaces_the_key_in_the_new_org_then_revokes_the_old_one(
    two_orgs: tuple[ArdentApiKeyProvider, dict[str, str]], emulator: EmulatorServer
) -> None:
    provider, other = two_orgs
    checked = provider.check({}, inputs()).inputs
    first = provider.create(checked)
    moved = {**checked, "org_id": other["org_id"]}
    diff = provider.diff(first.id, first.outs or {}, moved)
    assert diff.replaces == ["org_id"] and diff.delete_before_replace is False
    assert provider.diff(first.id, first.outs or {}, {**checked, "org_id": Unknown()}).replaces == ["org_id"]
    second = provider.create(moved)
    assert org_keys(emulator, other["org_id"], other["token"]) == {second.id}
    assert first.id in org_keys(emulator, emulator.org_id, emulator.token), "created before the old is revoked"
    provider.delete(first.id, first.outs or {})
    assert org_keys(emulator, emulator.org_id, emulator.token) == set()
    assert provider.diff(second.id, second.outs or {}, moved).changes is False


def test_an_org_without_usable_credentials_fails_preview_on_org_id(
    two_orgs: tuple[ArdentApiKeyProvider, dict[str, str]], emulator: EmulatorServer
) -> None:
    provider, other = two_orgs
    third = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    failures = provider.check({}, inputs(org_id=third["org_id"])).failures
    assert [failure.property for failure in failures] == ["org_id"]
    assert third["org_id"] in failures[0].reason and f"ardent:orgs.{third['org_id']}.token" in failures[0].reason
    revoked = configured(
        {
            **provider._config,  # type: ignore[dict-item]
            "ardent:orgs": json.dumps({other["org_id"]: {"token": "sk-ard_test_" + "0" * 40}}),
        }
    )
    failures = revoked.check({}, inputs(org_id=other["org_id"])).failures
    assert [failure.property for failure in failures] == ["org_id"] and "HTTP 401" in failures[0].reason
    assert provider.check({}, inputs(org_id="not an org")).failures[0].property == "org_id"


def test_a_key_kept_by_one_provider_instance_is_not_revoked_by_another_of_the_same_run(
    emulator: EmulatorServer,
) -> None:
    config = {"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": emulator.token}
    # The engine may hold two instances in one run: one unpickled from the program, one from an older state.
    from_program, from_old_state = configured(config), configured(dict(config))
    checked = from_program.check({}, inputs(keep_previous_for_days=2, expires_in_days=30)).inputs
    first = from_program.create(checked)
    rotated = {**checked, "rotation_triggers": {"r": "2"}}
    assert from_program.diff(first.id, first.outs or {}, rotated).replaces == ["rotation_triggers"]
    second = from_program.create(rotated)
    assert (second.outs or {})["previous_key_id"] == first.id
    from_old_state.delete(first.id, first.outs or {})
    assert first.id in org_keys(emulator, emulator.org_id, emulator.token), "the kept key stays for its grace"


def test_state_without_an_org_is_in_the_default_org_and_moves_when_another_is_declared(
    two_orgs: tuple[ArdentApiKeyProvider, dict[str, str]], emulator: EmulatorServer
) -> None:
    provider, other = two_orgs
    checked = provider.check({}, inputs()).inputs
    created = provider.create(checked)
    legacy = {key: value for key, value in (created.outs or {}).items() if key != "org_id"}
    assert provider.diff(created.id, legacy, checked).changes is False
    assert provider.diff(created.id, legacy, {**checked, "org_id": other["org_id"]}).replaces == ["org_id"]
    updated = provider.update(created.id, legacy, {**checked, "keep_previous_for_days": 1})
    assert (updated.outs or {})["org_id"] == emulator.org_id, "the first update records the org"


def test_a_token_given_where_an_org_id_or_url_belongs_is_refused_without_being_shown(
    emulator: EmulatorServer,
) -> None:
    token = emulator.token
    cases = [
        {"ardent:apiUrl": token, "ardent:orgId": emulator.org_id, "ardent:token": token},
        {"ardent:apiUrl": emulator.url, "ardent:orgId": token, "ardent:token": token},
        {"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:orgs": json.dumps({token: {}})},
    ]
    for config in cases:
        failures = configured({"ardent:token": token, **config}).check({}, inputs()).failures
        assert (
            len(failures) == 1
            and token not in failures[0].reason
            and "looks like an Ardent token" in (failures[0].reason)
        )
    provider = configured({"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": token})
    failures = provider.check({}, inputs(org_id=token)).failures
    assert [failure.property for failure in failures] == ["org_id"] and token not in failures[0].reason


class LookupOnlyConfig:
    """A stack config that offers only ``get`` (as older SDKs hand it over): a new bound method per instance."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def get(self, key: str) -> Any:
        return self._values.get(key)


def test_two_provider_instances_of_one_run_share_its_lifecycles_even_with_only_a_config_lookup(
    emulator: EmulatorServer,
) -> None:
    from ardent_provider.run_registry import process_runs

    values = {"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": emulator.token}
    first, second = configured(values), configured(values)
    assert first.lifecycle() is second.lifecycle()
    looked_up = []
    for _ in range(2):
        provider = ArdentApiKeyProvider()
        provider.configure(ConfigureRequest(LookupOnlyConfig(values)))  # type: ignore[arg-type]
        looked_up.append(provider)
    assert looked_up[0].lifecycle() is looked_up[1].lifecycle(), "a lookup is a new object per instance"
    assert process_runs().run_count() >= 2


def test_closing_the_registry_closes_every_client_it_opened(emulator: EmulatorServer) -> None:
    from ardent_provider.run_registry import RunRegistry

    registry = RunRegistry()
    settings = resolve_settings(
        {"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": emulator.token}
    )
    client = ArdentClient(emulator.token, api_url=emulator.url)
    made = registry.lifecycle("run", settings, lambda ledger: KeyLifecycle(client, emulator.org_id, ledger=ledger))
    assert registry.lifecycle("run", settings, lambda ledger: pytest.fail("made twice")) is made
    made.client.list_keys(emulator.org_id)
    registry.close()
    assert registry.run_count() == 0
    with pytest.raises(RuntimeError, match="closed"):
        registry.lifecycle("run", settings, lambda ledger: made)
    with pytest.raises(Exception, match=r"(?i)closed"):
        made.client.list_keys(emulator.org_id)


PROVIDER_PROCESS = """
import json, sys
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from ardent_provider.provider import ArdentApiKeyProvider

config = json.loads(sys.argv[1])
provider = ArdentApiKeyProvider()
provider.configure(ConfigureRequest(Config(raw_config=config, project_name="proj")))
inputs = {"name": "svc", "role": "Member", "resource_name": "svc", "__provider": "blob"}
checked = provider.check({}, inputs)
assert not checked.failures, [failure.reason for failure in checked.failures]
created = provider.create(checked.inputs)
read = provider.read(created.id, created.outs)
assert read.id == created.id
provider.delete(created.id, created.outs)
roots = ("ardent_provider", "httpx", "pulumi_policy")
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in roots)))
"""


def test_a_provider_process_imports_only_what_a_run_needs(emulator: EmulatorServer) -> None:
    import subprocess
    import sys

    config = {"ardent:apiUrl": emulator.url, "ardent:orgId": emulator.org_id, "ardent:token": emulator.token}
    result = subprocess.run(
        [sys.executable, "-c", PROVIDER_PROCESS, json.dumps(config)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    ours = {name for name in loaded if name.startswith("ardent_provider")}
    assert {"ardent_provider.provider", "ardent_provider.lifecycle", "ardent_provider.client"} <= ours
    needless = ("ardent_provider.platform", "ardent_provider.cli", "ardent_provider.policy", "ardent_provider.testing")
    assert not {name for name in ours if name in needless or name.startswith(tuple(f"{n}." for n in needless))}, ours
    assert "ardent_provider.emulator" not in ours and "pulumi_policy" not in loaded
    print(f"\nmodules of the package loaded by a provider run: {len(ours)}: {', '.join(sorted(ours))}")
