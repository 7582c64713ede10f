"""ArdentApiKey end to end: the real Pulumi CLI, the emulator, and the stack's raw state.

Some tests drive the CLI through `make_stack`; others use the testing kit's `ardent_stack` and
`ardent_emulator` fixtures, the ones users get, so the kit runs on every e2e run.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import dill
import httpx
import pulumi
import pytest

from ardent_provider import ArdentApiKey, ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import is_key_type
from ardent_provider.testing import ArdentEmulator, StackFactory

from ..conftest import FAST_RETRY
from .conftest import ROOT, Stack, make_stack

pytestmark = pytest.mark.e2e

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def test_up_creates_the_key_with_its_token_encrypted_everywhere(stack: Stack) -> None:
    stack.write_keys([{"resource": "Production-Test", "role": "Admin"}])
    output = stack.up()
    keys = stack.active_keys()
    assert len(keys) == 1
    key = next(iter(keys.values()))
    assert key.name == "Production-Test"

    plain = stack.cli.outputs()
    assert plain["Production-Test_token"] == "[secret]"
    assert plain["Production-Test_key_id"] == key.id
    token = stack.cli.outputs(show_secrets=True)["Production-Test_token"]
    assert token.startswith("sk-ard_test_") and stack.token_works(token)

    state = stack.state_text()
    assert token not in state and token[20:] not in state
    assert token not in output
    outputs = json.loads(state)["checkpoint"]["latest"]["resources"]
    resource = next(r for r in outputs if is_key_type(r["type"]))
    assert resource["id"] == key.id
    assert resource["outputs"]["token"][SECRET_SIG] == "1b47061264138c4ac30d75fd1eb44270"
    assert resource["outputs"]["token"]["ciphertext"].startswith("v1:")
    assert resource["outputs"]["status"] == "active" and resource["outputs"]["role"] == "role_org_admin"


def test_the_serialized_provider_in_state_holds_no_credential(stack: Stack) -> None:
    stack.write_keys([{"resource": "audited", "role": "Viewer"}])
    stack.up()
    exported = stack.cli.export(show_secrets=True)
    resource = next(r for r in exported["deployment"]["resources"] if is_key_type(r["type"]))
    if stack.kind == "native":
        # No provider code in a native key's state: the settings live on the provider resource, the token encrypted.
        assert "__provider" not in resource["inputs"] and resource["provider"].startswith("urn:pulumi:")
        encrypted = stack.cli.export()["deployment"]["resources"]
        provider = next(r for r in encrypted if r["urn"] == resource["provider"].rsplit("::", 1)[0])
        assert provider["inputs"]["token"][SECRET_SIG] and stack.emulator.token not in json.dumps(encrypted)
        return
    blob = resource["inputs"]["__provider"]
    if isinstance(blob, dict):
        blob = blob.get("plaintext", blob.get("value"))
        blob = json.loads(blob) if isinstance(blob, str) and blob.startswith('"') else blob
    raw = base64.b64decode(blob)
    for secret in (stack.emulator.token, stack.emulator.org_id, stack.emulator.url):
        assert secret.encode() not in raw
    assert b"sk-ard_" not in raw
    assert dill.loads(raw).__dict__ == {}


def steady() -> None:
    key = ArdentApiKey("steady", role="member", scopes=["projects.read"])
    pulumi.export("key_id", key.key_id)


def three_viewers() -> None:
    for i in range(3):
        ArdentApiKey(f"k{i}", role="Viewer")


def fragile() -> None:
    key = ArdentApiKey("fragile", role="Member")
    pulumi.export("key_id", key.key_id)


def test_a_second_up_changes_nothing_and_preview_expects_no_changes(
    ardent_stack: StackFactory, ardent_emulator: ArdentEmulator
) -> None:
    stack = ardent_stack(steady)
    first = stack.up()
    assert stack.up() == first
    assert [key["id"] for key in ardent_emulator.active_keys()] == [first["key_id"]]
    assert stack.preview() == {"same": 1}


def test_changing_the_role_replaces_the_key_new_one_first(stack: Stack) -> None:
    stack.write_keys([{"resource": "rotating", "role": "Viewer"}])
    stack.up()
    (old_id,) = stack.active_keys()
    old_token = stack.cli.outputs(show_secrets=True)["rotating_token"]

    stack.write_keys([{"resource": "rotating", "role": "role_org_admin"}])
    stack.up()
    (new_id,) = stack.active_keys()
    new_token = stack.cli.outputs(show_secrets=True)["rotating_token"]
    assert new_id != old_id and new_token != old_token
    assert stack.token_works(new_token) and not stack.token_works(old_token)
    old_row = next(k for k in stack.emulator.store.keys_by_digest(_digest(old_token)))
    new_row = next(k for k in stack.emulator.store.keys_by_digest(_digest(new_token)))
    assert old_row.revoked_at is not None and new_row.created_at < old_row.revoked_at, "create before delete"


def test_refresh_drops_a_key_revoked_out_of_band_and_up_recreates_it(
    ardent_stack: StackFactory, ardent_emulator: ArdentEmulator
) -> None:
    stack = ardent_stack(fragile)
    key_id = stack.up()["key_id"]
    with ArdentClient(ardent_emulator.token, api_url=ardent_emulator.api_url, retry=FAST_RETRY) as owner:
        owner.revoke_key(ardent_emulator.org_id, key_id)
    assert stack.refresh() == {"delete": 1}
    assert stack.outputs() == {"key_id": None}, "not known until the next up"
    assert stack.preview() == {"create": 1}
    recreated = stack.up()["key_id"]
    assert recreated != key_id
    assert [key["id"] for key in ardent_emulator.active_keys()] == [recreated]


def test_destroy_leaves_no_active_key(ardent_stack: StackFactory, ardent_emulator: ArdentEmulator) -> None:
    stack = ardent_stack(three_viewers)
    stack.up()
    assert len(ardent_emulator.active_keys()) == 3
    assert stack.destroy() == {"delete": 3}
    assert ardent_emulator.active_keys() == []


def test_a_missing_token_is_one_clear_sentence_at_preview(tmp_path: Path, emulator: EmulatorServer) -> None:
    from .conftest import KEYS_PROGRAM

    stack = make_stack(tmp_path, emulator, KEYS_PROGRAM)
    stack.cli.run("config", "rm", "ardent:token")
    stack.write_keys([{"resource": "orphan", "role": "Admin"}])
    preview = stack.cli.run(
        "preview",
        check=False,
    )
    text = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "pulumi config set --secret ardent:token" in text and "ARDENT_TOKEN" in text


def test_refreshing_fifty_keys_costs_a_few_list_calls(stack: Stack) -> None:
    stack.write_keys([{"resource": f"bulk{i:02d}", "role": "Viewer"} for i in range(50)])
    stack.up()
    stack.reset_stats()
    stack.cli.run("refresh", "--yes")
    lists = stack.stats().get("GET /v1/orgs/{org_id}/api-keys", 0)
    assert 1 <= lists <= 5, lists
    assert len(stack.active_keys()) == 50


def test_the_quickstart_example_runs(ardent_stack: StackFactory, ardent_emulator: ArdentEmulator) -> None:
    """The repository's own root project (its Pulumi.yaml and .venv), as a project directory."""
    stack = ardent_stack(ROOT)
    assert stack.preview() == {"create": 1}
    stack.up()
    outputs = stack.outputs()
    assert outputs["production_test_token"] == "[secret]"
    assert outputs["production_test_role"] == "role_org_admin"
    assert [key["name"] for key in ardent_emulator.active_keys()] == ["Production-Test"]
    assert httpx.get(f"{ardent_emulator.api_url}/_emulator/health").status_code == 200


def _digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def test_a_provider_token_scoped_to_key_management_is_enough(stack: Stack) -> None:
    with stack.owner() as owner:
        scoped = owner.create_key(
            stack.emulator.org_id, name="pipeline", role="role_org_admin", scopes=["api_keys.read", "api_keys.write"]
        )
    stack.cli.set_config("ardent:token", scoped.token.reveal(), secret=True)
    stack.write_keys([{"resource": "minted", "role": "Member", "scopes": ["projects.read"]}])
    stack.up()
    assert [key.name for key in stack.active_keys().values() if key.name != "pipeline"] == ["minted"]
    stack.cli.run("destroy", "--yes")
