"""Drift checks, expiry, rotation without downtime and adoption, with the real CLI and the emulator's clock."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from ardent_provider.emulator import EmulatorServer

from .conftest import ROOT, Stack, make_stack

pytestmark = pytest.mark.e2e

DAY = 86400


def advance(emulator: EmulatorServer, days: float) -> None:
    assert httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": days * DAY}).status_code == 200


def drift(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.ardent_keys("drift", "--stack", "e2e", "--cwd", str(stack.project_dir), *args)


def gate(stack: Stack) -> int:
    return stack.cli.run("preview", "--refresh", "--expect-no-changes", check=False).returncode


def test_drift_gate_and_report_catch_a_key_revoked_out_of_band(stack: Stack) -> None:
    stack.write_keys([{"resource": "svc", "role": "Member"}, {"resource": "other", "role": "Viewer"}])
    stack.up()
    assert gate(stack) == 0
    clean = drift(stack)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    key_id = stack.cli.outputs()["svc_key_id"]
    with stack.owner() as owner:
        owner.revoke_key(stack.emulator.org_id, key_id)
    assert gate(stack) != 0
    report = drift(stack, "--json")
    assert report.returncode == 1
    findings = json.loads(report.stdout)["findings"]
    assert [(f["problem"], f["key_id"], f["resource"]) for f in findings] == [("missing", key_id, "svc")]
    refreshed = stack.cli.run("refresh", "--yes")
    assert f"Ardent key {key_id} ('svc') is no longer active" in refreshed.stdout
    stack.up()
    assert gate(stack) == 0 and drift(stack).returncode == 0


def test_unmanaged_and_expiring_keys_are_reported_and_no_token_printed(stack: Stack) -> None:
    stack.write_keys([{"resource": "soon", "role": "Viewer", "expires_in_days": 10}])
    stack.up()
    with stack.owner() as owner:
        by_hand = owner.create_key(stack.emulator.org_id, name="made-by-hand", role="role_org_viewer")
    gate = drift(stack)
    assert gate.returncode == 0, "a key made by hand is not the stack's business in the gate"
    report = drift(stack, "--unmanaged", "--expiring-within", "30")
    assert report.returncode == 1
    assert "unmanaged" in report.stdout and by_hand.id in report.stdout and "made-by-hand" in report.stdout
    assert "expiring" in report.stdout
    tokens = [by_hand.token.reveal(), stack.cli.outputs(show_secrets=True)["soon_token"], stack.emulator.token]
    assert not any(token in report.stdout + report.stderr for token in tokens)
    # Expiring in 10 days is not within 5: the gate passes, the nightly check still lists the hand-made key.
    assert drift(stack, "--expiring-within", "5", "--json").returncode == 0
    assert drift(stack, "--unmanaged", "--expiring-within", "5", "--json").returncode == 1


def test_drift_cannot_check_without_credentials(stack: Stack) -> None:
    stack.write_keys([])
    stack.up()
    stack.cli.run("config", "rm", "ardent:token")
    env = {k: v for k, v in stack.cli.env().items() if k != "ARDENT_TOKEN"}
    result = stack.ardent_keys("drift", "--stack", "e2e", env=env)
    assert result.returncode == 2 and "ardent:token" in result.stderr


def test_an_expired_key_is_found_by_refresh_and_replaced_by_the_next_up(stack: Stack) -> None:
    stack.write_keys([{"resource": "aging", "role": "Member", "expires_in_days": 30}])
    stack.up()
    old_id = stack.cli.outputs()["aging_key_id"]
    advance(stack.emulator, 31)
    assert gate(stack) != 0
    report = drift(stack, "--json")
    assert report.returncode == 1 and json.loads(report.stdout)["findings"][0]["problem"] == "expired"
    refreshed = stack.cli.run("refresh", "--yes")
    assert f"Ardent key {old_id} ('aging') expired at" in refreshed.stdout
    assert stack.resource_outputs("aging")["status"] == "expired"
    stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs["aging_key_id"] != old_id and outputs["aging_status"] == "active"
    assert stack.token_works(outputs["aging_token"])
    assert old_id not in stack.active_keys()


def test_rotate_before_days_replaces_the_key_inside_the_window_by_the_services_clock(stack: Stack) -> None:
    stack.write_keys([{"resource": "rotating", "role": "Viewer", "expires_in_days": 30, "rotate_before_days": 7}])
    stack.up()
    first = stack.cli.outputs()["rotating_key_id"]
    advance(stack.emulator, 20)
    assert "unchanged" in stack.up()
    assert stack.cli.outputs()["rotating_key_id"] == first
    advance(stack.emulator, 4)
    stack.up()
    second = stack.cli.outputs(show_secrets=True)
    assert second["rotating_key_id"] != first and stack.token_works(second["rotating_token"])
    assert set(stack.active_keys()) == {second["rotating_key_id"]}


def test_rotation_triggers_and_grace_period_keep_both_tokens_valid_until_it_ends(stack: Stack) -> None:
    spec = {"resource": "graceful", "role": "Admin", "keep_previous_for_days": 3, "rotation_triggers": {"v": "1"}}
    stack.write_keys([spec])
    stack.up()
    first = stack.cli.outputs(show_secrets=True)
    stack.write_keys([{**spec, "rotation_triggers": {"v": "2"}}])
    stack.up()
    second = stack.cli.outputs(show_secrets=True)
    outputs = stack.resource_outputs("graceful")
    assert second["graceful_key_id"] != first["graceful_key_id"]
    assert outputs["previous_key_id"] == first["graceful_key_id"]
    assert "ciphertext" in json.dumps(outputs["previous_token"])
    assert outputs["token_fingerprint"] == hashlib.sha256(second["graceful_token"].encode()).hexdigest()[:16]
    assert stack.token_works(first["graceful_token"]) and stack.token_works(second["graceful_token"])
    assert drift(stack).returncode == 0, "the kept previous key is managed, not unmanaged"

    advance(stack.emulator, 1)
    stack.up()
    assert stack.token_works(first["graceful_token"])
    advance(stack.emulator, 3)
    stack.up()
    assert not stack.token_works(first["graceful_token"]) and stack.token_works(second["graceful_token"])
    assert set(stack.active_keys()) == {second["graceful_key_id"]}


def test_destroy_after_rotation_revokes_the_kept_previous_key_too(stack: Stack) -> None:
    spec = {"resource": "both", "role": "Member", "keep_previous_for_days": 5, "rotation_triggers": {"n": 1}}
    stack.write_keys([spec])
    stack.up()
    stack.write_keys([{**spec, "rotation_triggers": {"n": 2}}])
    stack.up()
    assert len(stack.active_keys()) == 2
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}


def test_adopting_a_key_with_its_token(stack: Stack) -> None:
    with stack.owner() as owner:
        existing = owner.create_key(stack.emulator.org_id, name="legacy", role="role_org_member")
    token = existing.token.reveal()
    (stack.project_dir / "adopt_token").write_text(token)
    stack.write_keys([{"resource": "legacy", "role": "Member", "adopt_key_id": existing.id}])
    program = (
        (stack.project_dir / "__main__.py")
        .read_text()
        .replace(
            "key = ArdentApiKey(resource, **spec)",
            "key = ArdentApiKey(resource, adopt_token=(Path(__file__).parent / 'adopt_token').read_text(), **spec)",
        )
    )
    (stack.project_dir / "__main__.py").write_text(program)
    output = stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs["legacy_key_id"] == existing.id and outputs["legacy_token"] == token
    assert token not in output and token not in stack.state_text()
    assert "unchanged" in stack.up()


@pytest.mark.parametrize("choice", [None, "rotate", "keep"])
def test_adopting_a_key_without_its_token(stack: Stack, choice: str | None) -> None:
    with stack.owner() as owner:
        existing = owner.create_key(stack.emulator.org_id, name="handmade", role="role_org_viewer")
    spec: dict[str, object] = {"resource": "handmade", "role": "Viewer", "adopt_key_id": existing.id}
    if choice:
        spec["on_missing_token"] = choice
    stack.write_keys([spec])
    result = stack.cli.run("up", "--yes", "--skip-preview", check=False)
    text = result.stdout + result.stderr
    if choice is None:
        assert result.returncode != 0 and "adopt_token" in text and "on_missing_token" in text
        assert set(stack.active_keys()) == {existing.id}
    elif choice == "rotate":
        assert result.returncode == 0, text
        outputs = stack.cli.outputs(show_secrets=True)
        assert outputs["handmade_key_id"] != existing.id and stack.token_works(outputs["handmade_token"])
        assert set(stack.active_keys()) == {outputs["handmade_key_id"]}
    else:
        assert result.returncode == 0, text
        assert "without its token" in text
        outputs = stack.cli.outputs(show_secrets=True)
        assert outputs["handmade_key_id"] == existing.id and not outputs.get("handmade_token")
        assert set(stack.active_keys()) == {existing.id}


@pytest.mark.parametrize("target", ["key_doesnotexist", "revoked"])
def test_adopting_a_missing_or_revoked_key_fails_with_nothing_changed(stack: Stack, target: str) -> None:
    key_id = target
    if target == "revoked":
        with stack.owner() as owner:
            gone = owner.create_key(stack.emulator.org_id, name="gone", role="role_org_viewer")
            owner.revoke_key(stack.emulator.org_id, gone.id)
        key_id = gone.id
    stack.write_keys([{"resource": "gone", "role": "Viewer", "adopt_key_id": key_id, "on_missing_token": "keep"}])
    result = stack.cli.run("up", "--yes", "--skip-preview", check=False)
    assert result.returncode != 0 and f"Cannot adopt key '{key_id}'" in result.stdout + result.stderr
    assert stack.active_keys() == {}


@pytest.mark.parametrize("example", ["rotation", "adoption"])
def test_the_lifecycle_examples_run(tmp_path: Path, emulator: EmulatorServer, example: str) -> None:
    program = (ROOT / "examples" / example / "__main__.py").read_text()
    stack = make_stack(tmp_path, emulator, program, project=f"ardent-{example}")
    if example == "adoption":
        with stack.owner() as owner:
            existing = owner.create_key(emulator.org_id, name="dashboard-key", role="role_org_member")
        stack.cli.set_config("adopt_key_id", existing.id)
    stack.up()
    outputs = stack.cli.outputs()
    assert all(value == "[secret]" for key, value in outputs.items() if key.endswith("token"))
    assert stack.active_keys()


def test_a_stored_token_that_is_no_longer_the_keys_is_found_and_replaced(stack: Stack) -> None:
    stack.write_keys([{"resource": "mixed-up", "role": "Viewer"}])
    stack.up()
    key_id = stack.cli.outputs()["mixed-up_key_id"]
    with stack.owner() as owner:
        stranger = owner.create_key(stack.emulator.org_id, name="stranger", role="role_org_viewer")
    deployment = stack.cli.export(show_secrets=True)
    for resource in deployment["deployment"]["resources"]:
        if resource.get("id") == key_id:
            resource["outputs"]["token"] = stranger.token.reveal()
    exported = stack.project_dir / "tampered.json"
    exported.write_text(json.dumps(deployment))
    stack.cli.run("stack", "import", "--file", str(exported))
    exported.unlink()

    refreshed = stack.cli.run("refresh", "--yes")
    assert f"The token stored for Ardent key {key_id}" in refreshed.stdout
    assert stack.resource_outputs("mixed-up")["status"] == "invalid_token"
    assert gate(stack) != 0
    stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs["mixed-up_key_id"] != key_id and stack.token_works(outputs["mixed-up_token"])
    assert outputs["mixed-up_token"].startswith(stack.resource_outputs("mixed-up")["key_prefix"])


def test_replacing_an_adopted_key_creates_a_new_one(stack: Stack) -> None:
    with stack.owner() as owner:
        existing = owner.create_key(stack.emulator.org_id, name="adopted", role="role_org_viewer")
    spec = {"resource": "adopted", "role": "Viewer", "adopt_key_id": existing.id, "on_missing_token": "keep"}
    stack.write_keys([spec])
    stack.up()
    assert stack.cli.outputs()["adopted_key_id"] == existing.id
    stack.write_keys([{**spec, "role": "Member"}])
    stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs["adopted_key_id"] != existing.id and stack.token_works(outputs["adopted_token"])
    assert set(stack.active_keys()) == {outputs["adopted_key_id"]}
