"""A grace period survives a `pulumi up` killed in the middle of a rotation, with the real CLI.

Each scenario rotates a key kept for its grace period (``keep_previous_for_days``), SIGKILLs the CLI and its
plugins at the point under test, runs ``pulumi up`` again, and checks that the previous key stays active until
its deadline, that the state names no revoked token, and that the key is revoked once the deadline passes.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import is_key_type
from ardent_provider.state import snake_properties

from .conftest import KINDS, Stack, destroy_and_check, make_stack
from .test_reliability_and_security import kill_tree, tree_of

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"
DAY = 86400

# keys.json holds the keys and a step number. The gate resource, which depends on every key, is updated at each
# new step; while a file named "block" lies beside the program, its update writes "gate-reached" and waits: the
# keys' steps are then recorded, and a replaced key's delete (done at the end of the run) has not started.
PROGRAM = textwrap.dedent(
    """
    import json
    from pathlib import Path

    import pulumi
    from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

    from ardent_provider import ArdentApiKey

    HERE = Path(__file__).parent


    class GateProvider(ResourceProvider):
        def create(self, props):
            return CreateResult("gate", props)

        def diff(self, _id, olds, news):
            return DiffResult(changes=olds.get("step") != news.get("step"))

        def update(self, _id, _olds, news):
            import time
            from pathlib import Path

            here = Path(news["dir"])
            if (here / "block").exists():
                (here / "gate-reached").write_text("reached")
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    time.sleep(0.1)
            return UpdateResult(news)


    class Gate(Resource):
        def __init__(self, name, props, opts=None):
            super().__init__(GateProvider(), name, props, opts)


    config = json.loads((HERE / "keys.json").read_text())
    keys = []
    for spec in config["keys"]:
        resource = spec.pop("resource")
        options = pulumi.ResourceOptions(delete_before_replace=spec.pop("delete_before_replace", False))
        key = ArdentApiKey(resource, **spec, opts=options)
        pulumi.export(f"{resource}_token", key.token)
        pulumi.export(f"{resource}_key_id", key.key_id)
        pulumi.export(f"{resource}_previous_key_id", key.previous_key_id)
        pulumi.export(f"{resource}_previous_token", key.previous_token)
        keys.append(key)
    Gate("gate", {"step": config["step"], "dir": str(HERE)}, opts=pulumi.ResourceOptions(depends_on=keys))
    """
)


@pytest.fixture(params=KINDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path, emulator: EmulatorServer) -> Iterator[Stack]:
    """A stack of ``PROGRAM``, once with each resource type."""
    made = make_stack(tmp_path, emulator, PROGRAM, kind=request.param)
    yield made
    destroy_and_check(made)


def write(stack: Stack, step: int, **key: Any) -> None:
    spec = {"resource": "rotated", "role": "Member", "keep_previous_for_days": 2, **key}
    (stack.project_dir / "keys.json").write_text(json.dumps({"step": step, "keys": [spec]}))


def kill(stack: Stack, process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the CLI and every plugin it started, as a cancelled CI job is killed, and release its lock."""
    kill_tree(process.pid)
    process.wait()
    assert tree_of(process.pid) == {}, "still running after SIGKILL"
    stack.cli.run("cancel", "--yes", check=False)


def wait_for(condition: Any, what: str, within: float = 120.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def key_records(stack: Stack) -> list[dict[str, Any]]:
    """The key resources of the state, secrets shown, with ``ArdentApiKey``'s property names."""
    resources = stack.cli.export(show_secrets=True)["deployment"]["resources"]
    keys = [item for item in resources if is_key_type(item["type"])]
    return [{**item, "outputs": snake_properties(item.get("outputs", {}))} for item in keys]


def revoked_tokens_named(stack: Stack) -> list[str]:
    """Which outputs of the state's keys (token, previous_token) hold a token that no longer authenticates."""
    dead = []
    for record in key_records(stack):
        if record.get("delete") or record.get("pendingReplacement"):
            continue  # the engine's record of a replaced key, not an output the program publishes
        for name in ("token", "previous_token"):
            value = record["outputs"].get(name)
            if isinstance(value, dict):  # a secret, shown: {"<secret sig>": ..., "plaintext": "<JSON>"}
                value = json.loads(value["plaintext"])
            if value and not stack.token_works(value):
                dead.append(f"{record['urn']} {name}")
    return dead


def first_key(stack: Stack) -> tuple[str, str]:
    outputs = stack.cli.outputs(show_secrets=True)
    return outputs["rotated_key_id"], outputs["rotated_token"]


def check_kept_until_deadline(stack: Stack, old_id: str, old_token: str) -> None:
    """After the run that follows the kill: the old key is the previous key, active, until its deadline."""
    assert stack.token_works(old_token), "the previous key was revoked before its deadline"
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs["rotated_key_id"] != old_id
    assert outputs["rotated_previous_key_id"] == old_id and outputs["rotated_previous_token"] == old_token
    assert stack.token_works(outputs["rotated_token"])
    assert revoked_tokens_named(stack) == []
    assert [record["outputs"]["key_id"] for record in key_records(stack)] == [outputs["rotated_key_id"]]

    httpx.post(f"{stack.emulator.url}/_emulator/clock", json={"advance_seconds": 3 * DAY}).raise_for_status()
    stack.up()
    assert not stack.token_works(old_token), "the previous key outlived its deadline"
    after = stack.cli.outputs(show_secrets=True)
    assert after.get("rotated_previous_key_id") is None and after.get("rotated_previous_token") is None
    assert stack.token_works(after["rotated_token"]) and revoked_tokens_named(stack) == []


def kill_between_create_and_delete(stack: Stack) -> tuple[str, str]:
    """Rotate the key and SIGKILL the run after the new key is recorded, before the old one's delete."""
    write(stack, 1, rotation_triggers={"v": 1})
    stack.up()
    old_id, old_token = first_key(stack)

    write(stack, 2, rotation_triggers={"v": 2})
    (stack.project_dir / "block").touch()
    process = stack.start_up()
    wait_for((stack.project_dir / "gate-reached").exists, "the run to record the new key")
    kill(stack, process)
    (stack.project_dir / "block").unlink()
    records = key_records(stack)
    assert sorted(bool(record.get("delete")) for record in records) == [False, True], "killed at the wrong point"
    assert stack.token_works(old_token)
    return old_id, old_token


def test_a_run_killed_between_the_new_keys_create_and_the_old_keys_delete_keeps_the_grace_period(stack: Stack) -> None:
    old_id, old_token = kill_between_create_and_delete(stack)
    output = stack.up()
    assert "Traceback" not in output
    check_kept_until_deadline(stack, old_id, old_token)


def test_a_destroy_after_such_a_kill_revokes_the_new_and_the_kept_key(stack: Stack) -> None:
    old_id, old_token = kill_between_create_and_delete(stack)
    new_id = next(record["id"] for record in key_records(stack) if not record.get("delete"))
    stack.cli.run("destroy", "--yes", "--skip-preview")
    assert not stack.token_works(old_token)
    assert {old_id, new_id} & set(stack.active_keys()) == set()


def test_delete_before_replace_killed_before_the_new_keys_create_keeps_the_grace_period(stack: Stack) -> None:
    write(stack, 1, rotation_triggers={"v": 1}, delete_before_replace=True)
    stack.up()
    old_id, old_token = first_key(stack)

    write(stack, 2, rotation_triggers={"v": 2}, delete_before_replace=True)
    faults = f"{stack.emulator.url}/_emulator/faults"
    httpx.post(faults, json={"route": CREATE, "mode": "delay", "delay_ms": 3000, "count": 1}).raise_for_status()
    process = stack.start_up()
    wait_for(lambda: any(rule["hits"] for rule in httpx.get(faults).json()["faults"]), "the new key's create")
    kill(stack, process)
    # The delayed create still completes on the server: a key whose token never arrived, as after any kill
    # mid-create (`ardent-keys drift --unmanaged` lists such keys). It is revoked here so that it does not count.
    orphan = wait_for(lambda: set(stack.active_keys()) - {old_id}, "the interrupted create to land", within=30)
    httpx.delete(faults)
    records = key_records(stack)
    assert [bool(record.get("pendingReplacement")) for record in records] == [True], "killed at the wrong point"
    assert stack.token_works(old_token), "the delete before the replacement kept the old key for its grace period"
    with stack.owner() as owner:
        for key_id in orphan:
            owner.revoke_key(stack.emulator.org_id, key_id)

    output = stack.up()
    assert "Traceback" not in output
    check_kept_until_deadline(stack, old_id, old_token)
