"""``ardent-keys revoke`` beside pipelines that are running, with the real CLI: young keys, a create left pending
by a killed ``pulumi up`` in another project, and stacks that change while the plan waits for its answer."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer

from ..conftest import FAST_RETRY
from .conftest import KEYS_PROGRAM, STACK, Stack, age_keys, make_stack
from .test_cleanup_commands import sibling_project
from .test_reliability_and_security import CREATE, kill_tree

pytestmark = pytest.mark.e2e

PROMPT = "[y/N] "


def verdicts(stdout: str) -> dict[str, str]:
    """The revoke report's outcome lines, by key id."""
    found = (re.match(r"(revoked|refused|skipped|gone|failed) +([^\s:]+)", line) for line in stdout.splitlines())
    return {match.group(2): match.string for match in found if match}


def hand_made_key(stack: Stack, name: str) -> tuple[str, str]:
    """A key made outside Pulumi (id, token), with the Viewer role."""
    with stack.owner() as owner:
        created = owner.create_key(stack.emulator.org_id, name=name, role="role_org_viewer")
    return created.id, created.token.reveal()


def test_revoke_refuses_a_key_made_a_minute_ago_and_revokes_it_once_old_enough(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, KEYS_PROGRAM)
    fresh, token = hand_made_key(stack, "made-a-minute-ago")
    age_keys(emulator, minutes=1.5)

    refused = stack.ardent_keys("revoke", "--yes", "--stack", STACK, fresh)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    line = verdicts(refused.stdout)[fresh]
    assert line.startswith("refused") and "it was created 1 min ago, less than --min-age 15 min" in line
    assert "used" not in line.split(": ", 1)[1].split(";")[0], line
    assert fresh in stack.active_keys()

    age_keys(emulator, minutes=15)
    revoked = stack.ardent_keys("revoke", "--yes", "--stack", STACK, fresh)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert "created 16 min ago, never used" in verdicts(revoked.stdout)[fresh]
    assert fresh not in stack.active_keys()
    assert token not in refused.stdout + revoked.stdout + refused.stderr + revoked.stderr


def test_revoke_refuses_a_key_another_projects_killed_up_was_creating_until_that_stack_is_settled(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    web = make_stack(tmp_path, emulator, KEYS_PROGRAM, project="ardent-web")
    batch = sibling_project(web, tmp_path, "ardent-batch")
    batch.write_keys([{"resource": "batchjob", "role": "Viewer"}])
    # The create is answered late, so that the run can be killed while the engine waits for it.
    fault = {"route": CREATE, "mode": "delay", "delay_ms": 3000}
    httpx.post(f"{emulator.url}/_emulator/faults", json=fault).raise_for_status()
    process = batch.start_up()
    deadline = time.monotonic() + 120
    while batch.stats().get(CREATE, 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    # Killed well inside the create's delay, not while the engine may still be writing a checkpoint.
    time.sleep(0.5)
    kill_tree(process.pid)
    process.wait()
    while not any(key.name == "batchjob" for key in batch.active_keys().values()) and time.monotonic() < deadline:
        time.sleep(0.1)  # the emulator commits the create after its delay, as a service would
    httpx.delete(f"{emulator.url}/_emulator/faults").raise_for_status()
    made = next(key.id for key in batch.active_keys().values() if key.name == "batchjob")
    operations = batch.cli.export()["deployment"].get("pending_operations") or []
    assert [(item["type"], item["resource"]["urn"].rsplit("::", 1)[-1]) for item in operations] == [
        ("creating", "batchjob")
    ], "the killed run left its create pending"

    # From the web project, with no age limit: the batch stack's pending create still stops it, named.
    refused = web.ardent_keys("revoke", "--yes", "--min-age", "0", "--stack", STACK, made)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    line = verdicts(refused.stdout)[made]
    assert line.startswith("refused")
    assert "stack ardent-batch/e2e has a `creating` operation pending for resource batchjob" in line
    assert "named 'batchjob' like this key" in line and made in web.active_keys()

    # The documented way out: settle the batch stack; the key is then nobody's and may go.
    batch.cli.run("cancel", "--yes", check=False)
    batch.cli.run("refresh", "--yes", "--clear-pending-creates")
    revoked = web.ardent_keys("revoke", "--yes", "--min-age", "0", "--stack", STACK, made)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert made not in web.active_keys()


def run_until_prompt(stack: Stack, *args: str) -> tuple[subprocess.Popen[bytes], int, str]:
    """Start ``ardent-keys ARGS`` with a terminal as its input, and read its output up to the question."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ardent-keys"), *args],
        cwd=stack.project_dir,
        env=stack.cli.env(),
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    os.close(slave)
    assert process.stdout is not None
    shown = b""
    deadline = time.monotonic() + 120
    while PROMPT.encode() not in shown and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            shown += chunk
    return process, master, shown.decode()


def test_revoke_skips_keys_that_a_stack_recorded_or_a_service_used_while_the_plan_waited(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    web = make_stack(tmp_path, emulator, KEYS_PROGRAM, project="ardent-web")
    batch = sibling_project(web, tmp_path, "ardent-batch")
    adopted, _ = hand_made_key(web, "adopted")
    used, used_token = hand_made_key(web, "used")
    untouched, _ = hand_made_key(web, "untouched")
    age_keys(emulator)

    process, master, plan = run_until_prompt(web, "revoke", "--stack", STACK, adopted, used, untouched)
    try:
        assert PROMPT in plan and "Plan: 3 to revoke, 0 refused." in plan, plan
        # While the question waits: the batch team's pipeline adopts one key, and a service uses another.
        batch.write_keys(
            [{"resource": "adopted", "role": "Viewer", "adopt_key_id": adopted, "on_missing_token": "keep"}]
        )
        batch.up()
        with ArdentClient(used_token, api_url=emulator.url, retry=FAST_RETRY) as client:
            client.get_org(emulator.org_id)
        os.write(master, b"y\n")
        rest, _ = process.communicate(timeout=300)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    report = rest.decode()

    assert process.returncode == 1, plan + report
    lines = verdicts(report)
    assert lines[adopted].startswith("skipped")
    assert (
        "changed since the plan, now refused: it is the key of resource adopted in stack ardent-batch/e2e"
        in (lines[adopted])
    )
    assert lines[used].startswith("skipped") and "it was used 0 min ago" in lines[used]
    assert lines[untouched].startswith("revoked")
    assert report.rstrip().endswith("1 revoked, 2 not revoked.")
    assert {adopted, used} <= set(web.active_keys()) and untouched not in web.active_keys()
    assert used_token not in plan + report
    batch.cli.run("destroy", "--yes", "--skip-preview")


@pytest.mark.parametrize("broken", ["state", "api"])
def test_every_command_exits_2_with_one_line_for_a_broken_state_or_an_unreachable_api(
    tmp_path: Path, emulator: EmulatorServer, broken: str
) -> None:
    stack = make_stack(tmp_path, emulator, KEYS_PROGRAM)
    if broken == "state":
        stack.cli.state_file(stack.project, STACK).write_text('{"version": 3, "deployment": {"resources": [')
    else:
        stack.cli.set_config("ardent:apiUrl", "http://127.0.0.1:9")  # nothing listens on the discard port here

    for command in (["drift"], ["revoke", "--yes", "key_anything"], ["audit"]):
        result = stack.ardent_keys(command[0], "--stack", STACK, *command[1:])
        lines = result.stderr.splitlines()
        assert result.returncode == 2, result.stdout + result.stderr
        assert len(lines) == 1 and lines[0].startswith(f"ardent-keys {command[0]}: could not check"), lines
        assert ("failed to load checkpoint" if broken == "state" else "127.0.0.1:9") in lines[0]
        assert result.stdout == ""
