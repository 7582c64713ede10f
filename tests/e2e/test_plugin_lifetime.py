"""The native plugin ends with the CLI that started it, and a create it was making is not lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from ardent_provider.emulator import EmulatorServer

from .conftest import KEYS_PROGRAM, STACK, age_keys, destroy_and_check, make_stack
from .test_reliability_and_security import CREATE, kill_tree, managed_ids, processes

pytestmark = pytest.mark.e2e

PLUGIN = "pulumi-resource-ardent"


def plugin_pids(session: int) -> set[int]:
    """The ``pulumi-resource-ardent`` processes of a session (the CLI's, which its children keep)."""
    found = set()
    for pid, (_, _, sid) in processes().items():
        if sid != session:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if PLUGIN in command:
            found.add(pid)
    return found


def test_the_plugin_exits_within_seconds_of_a_killed_cli_and_its_create_is_recovered(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, KEYS_PROGRAM, kind="native")
    httpx.post(f"{emulator.url}/_emulator/faults", json={"route": CREATE, "mode": "delay", "delay_ms": 1500})
    stack.write_keys([{"resource": f"k{index}", "role": "Viewer"} for index in range(6)])
    process = stack.start_up()
    try:
        deadline = time.monotonic() + 120
        while (stack.stats().get(CREATE, 0) < 1 or not plugin_pids(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        plugins = plugin_pids(process.pid)
        assert plugins, "the plugin never started"
        process.kill()  # the CLI alone, as when its own process is killed; its children are left to themselves
        process.wait()
        killed_at = time.monotonic()
        while plugin_pids(process.pid) and time.monotonic() - killed_at < 10:
            time.sleep(0.1)
        survivors = plugin_pids(process.pid)
        gone_after = time.monotonic() - killed_at
        print(f"\nplugin processes {sorted(plugins)} gone {gone_after:.1f} s after SIGKILL of the CLI")
        assert survivors == set(), f"{PLUGIN} still running 10 s after the CLI was killed: {sorted(survivors)}"
    finally:
        kill_tree(process.pid)  # the language host and the program, whatever they do on their own
        httpx.delete(f"{emulator.url}/_emulator/faults")

    # The creates under way are pending in the state: the gate names them and the command that settles them.
    gate = stack.ardent_keys("drift", "--stack", STACK, "--json")
    findings = json.loads(gate.stdout).get("findings")
    assert findings is not None, gate.stdout[-3000:] + gate.stderr[-3000:]
    assert gate.returncode == 1 and {finding["problem"] for finding in findings} == {"pending_operation"}, gate.stdout

    stack.cli.run("cancel", "--yes", check=False)  # the killed CLI's lock, as the README's troubleshooting says
    stack.cli.run("refresh", "--yes", "--clear-pending-creates")
    stack.up()
    report = stack.ardent_keys("drift", "--unmanaged", "--all-stacks", "--json")
    orphans = {finding["key_id"] for finding in json.loads(report.stdout)["findings"]}
    assert set(stack.active_keys()) == managed_ids(stack) | orphans, "every key made is managed or reported"
    assert len(managed_ids(stack)) == 6
    if orphans:
        age_keys(emulator)  # past revoke's minimum age: the run that made them is over
        assert stack.ardent_keys("revoke", "--yes", "--all-stacks", *sorted(orphans)).returncode == 0
    destroy_and_check(stack)
    assert stack.active_keys() == {}
