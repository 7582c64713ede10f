"""A representative part of the ``stack`` fixture's scenarios, from a TypeScript program: replacement before
revocation, a fault on create, a run killed mid-``up``, and resource options.

The provider-side scenarios all run from Python through the ``stack`` fixture; every language meets the same
plugin, so these check what the Node.js language host and SDK add: names, options and dependencies travel
from a TypeScript program to the engine as declared, and a killed run is recovered the same way.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider.emulator import EmulatorServer

from .conftest import Stack, age_keys, destroy_and_check
from .language_programs import LANGUAGES, language_stack
from .test_reliability_and_security import kill_tree, managed_ids
from .test_resource_options import api_calls, key_row, resources, summary

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"

# The keys come from keys.json beside the program (as the ``stack`` fixture's Python program has them), with
# the SDK's own input names and, under "options", the resource options to give each key.
KEYS_PROGRAM = """\
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as ardent from "pulumi-ardent";

interface Options {
    protect?: boolean;
    retainOnDelete?: boolean;
    ignoreChanges?: string[];
    dependsOn?: string[];
}
interface Spec extends ardent.ApiKeyArgs {
    resource: string;
    options?: Options;
}

const specs: Spec[] = JSON.parse(fs.readFileSync(path.join(__dirname, "keys.json"), "utf8"));
const keys: Record<string, ardent.ApiKey> = {};
const outputs: Record<string, pulumi.Output<unknown>> = {};
for (const { resource, options, ...inputs } of specs) {
    const key = new ardent.ApiKey(resource, inputs, {
        protect: options?.protect,
        retainOnDelete: options?.retainOnDelete,
        ignoreChanges: options?.ignoreChanges,
        dependsOn: (options?.dependsOn ?? []).map((name) => keys[name]),
    });
    keys[resource] = key;
    outputs[`${resource}_token`] = key.token;
    outputs[`${resource}_key_id`] = key.keyId;
}
export = outputs;
"""


@pytest.fixture
def ts_stack(tmp_path: Path, emulator: EmulatorServer) -> Iterator[Stack]:
    """The TypeScript example's project running ``KEYS_PROGRAM``; destroyed and checked afterwards."""
    stack = language_stack(tmp_path, emulator, LANGUAGES["typescript"])
    (stack.project_dir / "index.ts").write_text(KEYS_PROGRAM)
    yield stack
    destroy_and_check(stack)


def write_keys(stack: Stack, keys: list[dict[str, Any]]) -> None:
    (stack.project_dir / "keys.json").write_text(json.dumps(keys))


def test_changing_the_role_replaces_the_key_new_one_first(ts_stack: Stack) -> None:
    write_keys(ts_stack, [{"resource": "rotating", "role": "Viewer"}])
    ts_stack.up()
    old_token = ts_stack.cli.outputs(show_secrets=True)["rotating_token"]

    write_keys(ts_stack, [{"resource": "rotating", "role": "role_org_admin"}])
    ts_stack.up()
    new_token = ts_stack.cli.outputs(show_secrets=True)["rotating_token"]
    assert new_token != old_token and ts_stack.token_works(new_token) and not ts_stack.token_works(old_token)
    old_row, new_row = key_row(ts_stack, old_token), key_row(ts_stack, new_token)
    assert old_row.revoked_at is not None and new_row.created_at < old_row.revoked_at, "create before revoke"
    assert list(ts_stack.active_keys()) == [new_row.id]


def test_a_create_whose_answer_is_lost_is_retried_and_the_key_it_may_have_left_is_named_and_reported(
    ts_stack: Stack,
) -> None:
    fault = {"route": CREATE, "mode": "drop_after_commit", "count": 1}
    assert httpx.post(f"{ts_stack.emulator.url}/_emulator/faults", json=fault).status_code in (200, 201)
    write_keys(ts_stack, [{"resource": "faulted", "role": "Member"}])
    output = ts_stack.up()
    outputs = ts_stack.cli.outputs(show_secrets=True)
    assert managed_ids(ts_stack) == {outputs["faulted_key_id"]} and ts_stack.token_works(outputs["faulted_token"])
    leftovers = set(ts_stack.active_keys()) - managed_ids(ts_stack)
    assert len(leftovers) == 1 and all(key_id in output for key_id in leftovers), output[-3000:]
    report = ts_stack.ardent_keys("drift", "--unmanaged", "--all-stacks", "--json")
    findings = json.loads(report.stdout)["findings"]
    assert {item["key_id"] for item in findings if item["problem"] == "unmanaged"} == leftovers
    age_keys(ts_stack.emulator)  # past revoke's minimum age: the run that made the key is over
    assert ts_stack.ardent_keys("revoke", "--yes", "--all-stacks", *sorted(leftovers)).returncode == 0
    ts_stack.cli.run("preview", "--expect-no-changes")
    assert set(ts_stack.active_keys()) == managed_ids(ts_stack)


def settle(stack: Stack, within: float = 30.0) -> None:
    """Wait until the emulator's keys stop changing: creates the killed run had sent finish on the server's
    side (each is delayed), however loaded the machine is."""
    deadline = time.monotonic() + within
    seen = set(stack.active_keys())
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = set(stack.active_keys())
        if now == seen:
            return
        seen = now


def test_a_run_killed_mid_up_is_recovered_with_the_readme_commands(ts_stack: Stack) -> None:
    stack = ts_stack
    httpx.post(f"{stack.emulator.url}/_emulator/faults", json={"route": CREATE, "mode": "delay", "delay_ms": 400})
    write_keys(stack, [{"resource": f"k{index:02d}", "role": "Viewer"} for index in range(10)])
    process = stack.start_up()
    deadline = time.monotonic() + 180
    while stack.stats().get(CREATE, 0) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    kill_tree(process.pid)
    process.wait()
    settle(stack)
    httpx.delete(f"{stack.emulator.url}/_emulator/faults")

    stack.cli.run("cancel", "--yes", check=False)
    stack.cli.run("refresh", "--yes", "--clear-pending-creates")
    stack.up()
    report = stack.ardent_keys("drift", "--unmanaged", "--all-stacks", "--json")
    findings = json.loads(report.stdout)["findings"] if report.stdout.strip() else []
    orphans = [finding["key_id"] for finding in findings if finding["problem"] == "unmanaged"]
    assert {finding["problem"] for finding in findings} <= {"unmanaged"}
    assert set(stack.active_keys()) == managed_ids(stack) | set(orphans), "every untracked key is reported"
    if orphans:
        age_keys(stack.emulator)  # past revoke's minimum age: the killed run is over
        revoke = stack.ardent_keys("revoke", "--yes", "--all-stacks", *orphans)
        assert revoke.returncode == 0, revoke.stderr
    assert set(stack.active_keys()) == managed_ids(stack) and len(managed_ids(stack)) == 10


def test_protect_retain_on_delete_ignore_changes_and_depends_on_behave_as_declared(ts_stack: Stack) -> None:
    stack = ts_stack
    keys: list[dict[str, Any]] = [
        {"resource": "guarded", "role": "Admin", "options": {"protect": True}},
        {"resource": "steady", "name": "steady-v1", "role": "Viewer", "options": {"ignoreChanges": ["name"]}},
        {"resource": "base", "role": "Member"},
        {"resource": "dependent", "role": "Member", "options": {"dependsOn": ["base"]}},
        {"resource": "kept", "role": "Viewer", "options": {"retainOnDelete": True}},
    ]
    write_keys(stack, keys)
    stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    ids = {spec["resource"]: outputs[f"{spec['resource']}_key_id"] for spec in keys}
    assert stack.active_keys().keys() == set(ids.values())
    state = resources(stack.cli)
    assert state["base"]["urn"] in state["dependent"]["dependencies"]
    assert state["guarded"]["protect"] is True and state["kept"]["retainOnDelete"] is True

    # ignoreChanges: a new name changes nothing; retainOnDelete: a key left out of the program stays active.
    keys[1]["name"] = "steady-v2"
    write_keys(stack, keys[:4])
    stack.reset_stats()
    output = stack.up()
    assert api_calls(stack) == (0, 0)
    assert summary(output) == {"deleted": 1, "unchanged": 5}, output
    assert re.search(r"ApiKey kept deleted .*\[retain\]", output), output
    assert stack.active_keys()[ids["steady"]].name == "steady-v1"
    assert stack.token_works(outputs["kept_token"])

    # protect: destroy refuses and revokes nothing, until the key is unprotected.
    stack.reset_stats()
    refused = stack.cli.run("destroy", "--yes", check=False)
    assert refused.returncode != 0 and "because it is protected" in refused.stdout + refused.stderr
    assert api_calls(stack) == (0, 0) and stack.active_keys().keys() == set(ids.values())
    stack.cli.run("state", "unprotect", state["guarded"]["urn"], "--yes")
    stack.cli.run("destroy", "--yes", "--skip-preview")
    assert stack.active_keys().keys() == {ids["kept"]}
    assert key_row(stack, outputs["dependent_token"]).revoked_at is not None
    with stack.owner() as owner:
        owner.revoke_key(stack.emulator.org_id, ids["kept"])
