"""ArdentApiKey end to end: the real Pulumi CLI, the emulator, and the stack's raw state."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import dill
import httpx
import pytest

from ardent_provider.emulator import EmulatorServer

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
    resource = next(r for r in outputs if r["type"].endswith("ardent:ApiKey"))
    assert resource["id"] == key.id
    assert resource["outputs"]["token"][SECRET_SIG] == "1b47061264138c4ac30d75fd1eb44270"
    assert resource["outputs"]["token"]["ciphertext"].startswith("v1:")
    assert resource["outputs"]["status"] == "active" and resource["outputs"]["role"] == "role_org_admin"


def test_the_serialized_provider_in_state_holds_no_credential(stack: Stack) -> None:
    stack.write_keys([{"resource": "audited", "role": "Viewer"}])
    stack.up()
    exported = stack.cli.export(show_secrets=True)
    resource = next(r for r in exported["deployment"]["resources"] if r["type"].endswith("ardent:ApiKey"))
    blob = resource["inputs"]["__provider"]
    if isinstance(blob, dict):
        blob = blob.get("plaintext", blob.get("value"))
        blob = json.loads(blob) if isinstance(blob, str) and blob.startswith('"') else blob
    raw = base64.b64decode(blob)
    for secret in (stack.emulator.token, stack.emulator.org_id, stack.emulator.url):
        assert secret.encode() not in raw
    assert b"sk-ard_" not in raw
    assert dill.loads(raw).__dict__ == {}


def test_a_second_up_changes_nothing_and_preview_expects_no_changes(stack: Stack) -> None:
    stack.write_keys([{"resource": "steady", "role": "member", "scopes": ["projects.read"]}])
    stack.up()
    before = stack.active_keys()
    output = stack.up()
    assert "unchanged" in output and stack.active_keys().keys() == before.keys()
    preview = stack.cli.run("preview", "--expect-no-changes", check=False)
    assert preview.returncode == 0, preview.stdout + preview.stderr


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


def test_refresh_drops_a_key_revoked_out_of_band_and_up_recreates_it(stack: Stack) -> None:
    stack.write_keys([{"resource": "fragile", "role": "Member"}])
    stack.up()
    (key_id,) = stack.active_keys()
    with stack.owner() as owner:
        owner.revoke_key(stack.emulator.org_id, key_id)
    stack.cli.run("refresh", "--yes")
    state = json.loads(stack.state_text())["checkpoint"]["latest"]["resources"]
    assert not any(r["type"].endswith("ardent:ApiKey") for r in state)
    stack.up()
    (recreated,) = stack.active_keys()
    assert recreated != key_id


def test_destroy_leaves_no_active_key(stack: Stack) -> None:
    stack.write_keys([{"resource": f"k{i}", "role": "Viewer"} for i in range(3)])
    stack.up()
    assert len(stack.active_keys()) == 3
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}


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


def test_the_quickstart_example_runs(tmp_path: Path, emulator: EmulatorServer) -> None:
    program = (ROOT / "examples" / "quickstart" / "__main__.py").read_text()
    stack = make_stack(tmp_path, emulator, program, project="ardent-quickstart")
    stack.up()
    outputs = stack.cli.outputs()
    assert outputs["production_test_token"] == "[secret]"
    assert outputs["production_test_role"] == "role_org_admin"
    assert [key.name for key in stack.active_keys().values()] == ["Production-Test"]
    assert httpx.get(f"{emulator.url}/_emulator/health").status_code == 200


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
