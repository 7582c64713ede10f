"""Pipelines that run at once, and creates that must be all or nothing, under faults, with the real CLI."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import is_key_type

from .conftest import KEYS_PROGRAM, KINDS, Stack, age_keys, make_stack
from .test_cleanup_commands import sibling_project

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"
REVOKE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"
SHARED_NAMES = [
    {"resource": f"svc{index:02d}", "name": f"deployer-{index:02d}", "role": "Viewer"} for index in range(15)
]


def managed_ids(stack: Stack) -> set[str]:
    return {item["id"] for item in stack.cli.export()["deployment"]["resources"] if is_key_type(item["type"])}


def stored_tokens(stack: Stack) -> list[str]:
    return [value for name, value in stack.cli.outputs(show_secrets=True).items() if name.endswith("_token")]


@pytest.mark.parametrize("kind", KINDS)
def test_two_stacks_with_the_same_key_names_applied_at_once_under_commit_then_drop_keep_every_stored_token(
    tmp_path: Path, emulator: EmulatorServer, kind: str
) -> None:
    first = make_stack(tmp_path / "a", emulator, KEYS_PROGRAM, project="env-a", kind=kind)
    # One backend for both, as pipelines of one team share it, so ardent-keys sees both stacks.
    stacks = [first, sibling_project(first, tmp_path, "env-b")]
    for stack in stacks:
        stack.write_keys(SHARED_NAMES)
    # The first create is always dropped after its commit, then a seeded share of the rest: at least one fault
    # fires on every run. Capped together below the create attempts, so every key converges.
    for fault in (
        {"route": CREATE, "mode": "drop_after_commit", "count": 1},
        {"route": CREATE, "mode": "drop_after_commit", "rate": 0.2, "count": 3, "seed": 20261206},
    ):
        assert httpx.post(f"{emulator.url}/_emulator/faults", json=fault).status_code == 201

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda stack: stack.cli.run("up", "--yes", "--skip-preview", check=False), stacks))
    hits = sum(rule["hits"] for rule in httpx.get(f"{emulator.url}/_emulator/faults").json()["faults"])
    httpx.delete(f"{emulator.url}/_emulator/faults")
    for result in results:
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    tokens = stored_tokens(stacks[0]) + stored_tokens(stacks[1])
    assert len(tokens) == 30 and all(stacks[0].token_works(token) for token in tokens)
    assert stacks[0].stats().get(REVOKE, 0) == 0, "no pipeline revoked anything"
    in_state = managed_ids(stacks[0]) | managed_ids(stacks[1])
    leftovers = set(stacks[0].active_keys()) - in_state
    print(f"\ncommit-then-drop faults hit: {hits}; keys left behind and reported: {len(leftovers)}")
    assert hits > 0 and len(leftovers) == hits
    warned = "\n".join(result.stdout + result.stderr for result in results)
    assert all(key_id in warned for key_id in leftovers), "every leftover is named in a warning"

    both = ["--cwd", str(stacks[0].project_dir), "--cwd", str(stacks[1].project_dir), "--all-stacks"]
    report = stacks[0].ardent_keys("drift", "--unmanaged", *both, "--json")
    findings = json.loads(report.stdout)["findings"]
    assert {item["key_id"] for item in findings if item["problem"] == "unmanaged"} == leftovers
    assert {item["problem"] for item in findings} <= {"unmanaged"}
    if leftovers:
        age_keys(emulator)
        assert stacks[0].ardent_keys("revoke", "--yes", *both, *sorted(leftovers)).returncode == 0
    for stack in stacks:
        stack.cli.run("destroy", "--yes")
    assert stacks[0].active_keys() == {}


def test_a_failed_revoke_inside_create_keeps_the_new_key_and_is_retried_on_the_next_up(stack: Stack) -> None:
    with stack.owner() as owner:
        handmade = owner.create_key(stack.emulator.org_id, name="handmade", role="role_org_member")
    rotating = {"resource": "rotating", "role": "Viewer", "keep_previous_for_days": 1, "expires_in_days": 30}
    stack.write_keys(
        [
            {"resource": "handmade", "role": "Member", "adopt_key_id": handmade.id, "on_missing_token": "rotate"},
            {**rotating, "rotation_triggers": {"r": "1"}},
        ]
    )
    revoke_fault = {"route": REVOKE, "mode": "status", "status": 503}
    assert httpx.post(f"{stack.emulator.url}/_emulator/faults", json=revoke_fault).status_code == 201
    stack.up()
    first_rotating = stack.cli.outputs(show_secrets=True)["rotating_token"]
    stack.write_keys(
        [
            {"resource": "handmade", "role": "Member", "adopt_key_id": handmade.id, "on_missing_token": "rotate"},
            {**rotating, "rotation_triggers": {"r": "2"}},
        ]
    )
    stack.up()
    stack.write_keys(
        [
            {"resource": "handmade", "role": "Member", "adopt_key_id": handmade.id, "on_missing_token": "rotate"},
            {**rotating, "rotation_triggers": {"r": "3"}},
        ]
    )
    output = stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    assert stack.token_works(outputs["handmade_token"]) and stack.token_works(outputs["rotating_token"])
    assert stack.resource_outputs("handmade")["pending_revoke_key_ids"] == [handmade.id]
    assert stack.resource_outputs("rotating")["pending_revoke_key_ids"] != []
    assert handmade.id in output and "next `pulumi up`" in output
    assert stack.token_works(handmade.token.reveal()) and stack.token_works(first_rotating)

    httpx.delete(f"{stack.emulator.url}/_emulator/faults")
    stack.up()
    assert not stack.token_works(handmade.token.reveal()) and not stack.token_works(first_rotating)
    assert stack.resource_outputs("handmade")["pending_revoke_key_ids"] == []
    assert stack.resource_outputs("rotating")["pending_revoke_key_ids"] == []
    assert stack.cli.run("preview", "--expect-no-changes", check=False).returncode == 0
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}
