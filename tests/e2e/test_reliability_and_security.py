"""Faults, bad input, bad configuration and secret hygiene, with the real CLI and nothing lost."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import is_key_type

from .conftest import KEYS_PROGRAM, Stack, age_keys, make_stack

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"
LIST = "GET /v1/orgs/{org_id}/api-keys"
REVOKE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"
ROLES = "GET /v1/orgs/{org_id}/roles"
ORG = "GET /v1/orgs/{org_id}"
ROUTES = (CREATE, LIST, REVOKE, ROLES, ORG)


def seeded_faults(seed: int) -> list[dict[str, Any]]:
    """Fault rules for every route, drawn from ``seed``, capped so that every call can still succeed.

    The first request of each route fails, so every route is faulted whatever its traffic; more faults follow
    at random rates. Caps keep each route's faults below the attempts a call makes (the client's retries for
    reads and revokes, the lifecycle's create attempts), so one run must converge. Every random rule carries a
    seed drawn from ``seed``, so the emulator faults the same requests of each route (the n-th on that route)
    when the printed seed is given again as ARDENT_FAULT_SEED.
    """
    rng = random.Random(seed)
    rules: list[dict[str, Any]] = []
    for route in ROUTES:
        first = rng.choice([{"mode": "status", "status": rng.choice([429, 502, 503])}, {"mode": "drop"}])
        rules.append({"route": route, **first, "retry_after": 0.2, "rate": 1.0, "count": 1})
        statuses = [429, 500, 502, 503] if route == CREATE else [429, 502, 503]
        rules.append(
            {"route": route, "mode": "status", "status": rng.choice(statuses), "retry_after": 0.2, "count": 1}
            | {"rate": rng.uniform(0.05, 0.15), "seed": rng.randrange(2**31)}
        )
        if route in (CREATE, REVOKE):
            rate, rule_seed = rng.uniform(0.05, 0.15), rng.randrange(2**31)
            rules.append({"route": route, "mode": "drop_after_commit", "rate": rate, "count": 2, "seed": rule_seed})
    return rules


# The full table of bad inputs runs in-process (tests/integration/test_provider_adapter.py); these go
# through the CLI to show what a user sees.
BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"name": "x" * 101}, "name"),
    ({"role": "superuser"}, "role"),
    ({"role": "Member", "scopes": ["api_keys.write"]}, "scopes"),
    ({"expires_in_days": 3651}, "expires_in_days"),
    ({"expires_in_days": 30, "rotate_before_days": 30}, "rotate_before_days"),
    ({"adopt_key_id": "key_1", "adopt_token": "not-a-token"}, "adopt_token"),
]


def processes() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, process group, session) of every live process (zombies left out), from /proc."""
    found: dict[int, tuple[int, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return found


def tree_of(root: int) -> dict[int, int]:
    """pid -> process group of ``root``, its descendants, and every other process of its session."""
    table = processes()
    members = {pid for pid, (_, _, session) in table.items() if session == root}
    members.add(root)
    grown = True
    while grown:
        children = {pid for pid, (parent, _, _) in table.items() if parent in members} - members
        members |= children
        grown = bool(children)
    return {pid: table[pid][1] for pid in members if pid in table}


def kill_tree(root: int, within: float = 10.0) -> dict[int, int]:
    """SIGKILL ``root``'s whole tree, as a cancelled CI job is killed; returns what it found first.

    Pulumi starts its language host and plugins (the Python dynamic provider among them) in process groups
    of their own, so ``killpg`` of the CLI's group would leave them running. Every process is collected
    (children through /proc, and the session ``start_new_session`` gave the CLI) and killed, until none is left.
    """
    first = tree_of(root)
    deadline = time.monotonic() + within
    while (members := tree_of(root)) and time.monotonic() < deadline:
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        time.sleep(0.05)
    return first


def managed_ids(stack: Stack) -> set[str]:
    resources = stack.cli.export()["deployment"]["resources"]
    return {r["id"] for r in resources if is_key_type(r["type"])}


def test_bad_inputs_fail_up_beside_a_valid_key_naming_property_and_reason_and_create_nothing_bad(stack: Stack) -> None:
    stack.reset_stats()
    missed = []
    for index, (spec, prop) in enumerate(BAD_INPUTS):
        stack.write_keys(
            [{"resource": "valid", "role": "Viewer"}, {"resource": f"bad-{index}", "role": "Viewer", **spec}]
        )
        result = stack.cli.run("up", "--yes", "--skip-preview", check=False)
        text = result.stdout + result.stderr
        pattern = rf"resource 'bad-{index}': property {stack.prop(prop)} value .* has a problem: \S+"
        if result.returncode == 0 or not re.search(pattern, text, re.DOTALL) or "Traceback" in text:
            missed.append(f"bad-{index} {spec} ({prop}):\n{text[-1500:]}")
    assert missed == []
    creates = stack.stats().get(CREATE, 0)
    print(f"\nbad inputs tried through pulumi up: {len(BAD_INPUTS)}; create requests sent: {creates}")
    assert creates <= 1 and {key.name for key in stack.active_keys().values()} <= {"valid"}
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("missing-org", "pulumi config set ardent:orgId"),
        ("unknown-org", "ardent:orgId / ARDENT_ORG_ID is the token's own org"),
        ("revoked-token", "Ardent rejected the configured token (HTTP 401"),
        ("member-token", "it must be an admin or owner token of org"),
        ("malformed-url", "is not an http(s) URL"),
        ("plain-http-remote", "plain http:// to a non-loopback host"),
    ],
)
def test_bad_configuration_is_one_clear_sentence_at_preview(stack: Stack, setting: str, expected: str) -> None:
    emulator = stack.emulator
    if setting == "missing-org":
        stack.cli.run("config", "rm", "ardent:orgId")
    elif setting == "unknown-org":
        stack.cli.set_config("ardent:orgId", "org_does_not_exist")
    elif setting in ("revoked-token", "member-token"):
        with stack.owner() as owner:
            created = owner.create_key(emulator.org_id, name="weak", role="role_org_member")
            if setting == "revoked-token":
                owner.revoke_key(emulator.org_id, created.id)
        stack.cli.set_config("ardent:token", created.token.reveal(), secret=True)
    elif setting == "malformed-url":
        stack.cli.set_config("ardent:apiUrl", "api.tryardent.com")
    else:
        stack.cli.set_config("ardent:apiUrl", "http://203.0.113.10:8080")
    stack.write_keys([{"resource": "configured", "role": "Viewer"}])
    preview = stack.cli.run("preview", check=False)
    text = preview.stdout + preview.stderr
    assert preview.returncode != 0 and expected in text, text[-2000:]
    assert "Traceback" not in text


def test_thirty_keys_converge_in_one_run_with_faults_on_every_route_and_every_leftover_reported(stack: Stack) -> None:
    seed = int(os.environ.get("ARDENT_FAULT_SEED") or time.time_ns() % 1_000_000)
    url = f"{stack.emulator.url}/_emulator/faults"
    with stack.owner() as owner:
        handmade = [owner.create_key(stack.emulator.org_id, name=f"adopted{i}", role="role_org_member") for i in (0, 1)]
    keys: list[dict[str, Any]] = [{"resource": f"svc{index:02d}", "role": "Viewer"} for index in range(28)]
    keys += [
        {"resource": f"adopted{i}", "role": "Member", "adopt_key_id": key.id, "adopt_token": key.token.reveal()}
        for i, key in enumerate(handmade)
    ]
    stack.write_keys(keys)
    for rule in seeded_faults(seed):
        assert httpx.post(url, json=rule).status_code == 201

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = stack.cli.run(*args, "--yes", check=False)
        assert result.returncode == 0, (
            f"seed {seed}: pulumi {' '.join(args)}\n" + (result.stdout + result.stderr)[-3000:]
        )
        return result

    def faulted() -> Counter[str]:
        hits: Counter[str] = Counter()
        for rule in httpx.get(url).json()["faults"]:
            hits[rule["route"]] += rule["hits"]
        httpx.delete(url)
        return hits

    up = run("up", "--skip-preview")
    in_state = managed_ids(stack)
    outputs = stack.cli.outputs(show_secrets=True)
    tokens = [value for name, value in outputs.items() if name.endswith("_token")]
    refresh = run("refresh")
    hits = faulted()

    assert len(in_state) == 30 and len(tokens) == 30
    assert all(stack.token_works(token) for token in tokens)
    leftovers = set(stack.active_keys()) - in_state
    warned = up.stdout + up.stderr + refresh.stdout + refresh.stderr
    assert all(key_id in warned for key_id in leftovers), "every key a failed create may have left is named"
    report = stack.ardent_keys("drift", "--unmanaged", "--all-stacks", "--json")
    findings = json.loads(report.stdout)["findings"]
    assert {item["key_id"] for item in findings if item["problem"] == "unmanaged"} == leftovers

    for rule in seeded_faults(seed):
        httpx.post(url, json=rule)
    run("destroy")
    hits += faulted()
    print(f"\nfault seed {seed}; faults per route over up, refresh and destroy: {dict(hits)}")
    print(f"keys left by commit-then-drop creates, named and reported as unmanaged: {len(leftovers)}")
    assert all(hits[route] > 0 for route in ROUTES), f"seed {seed}: a route was never faulted: {dict(hits)}"
    assert set(stack.active_keys()) == leftovers
    if leftovers:
        age_keys(stack.emulator)
        assert stack.ardent_keys("revoke", "--yes", "--all-stacks", *sorted(leftovers)).returncode == 0
    assert stack.active_keys() == {}


def test_a_run_killed_mid_up_is_recovered_with_the_readme_commands(stack: Stack) -> None:
    httpx.post(f"{stack.emulator.url}/_emulator/faults", json={"route": CREATE, "mode": "delay", "delay_ms": 400})
    stack.write_keys([{"resource": f"k{index:02d}", "role": "Viewer"} for index in range(16)])
    process = stack.start_up()
    deadline = time.monotonic() + 120
    while stack.stats().get(CREATE, 0) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = kill_tree(process.pid)
    process.wait()
    assert len(set(killed.values())) > 1, f"the plugins run in process groups of their own: {killed}"
    survivors = [pid for pid in killed if pid in processes()]
    assert survivors == [] and tree_of(process.pid) == {}, f"still running after SIGKILL: {survivors}"
    time.sleep(1.5)
    httpx.delete(f"{stack.emulator.url}/_emulator/faults")

    # The README's troubleshooting section, step by step.
    stack.cli.run("cancel", "--yes", check=False)
    stack.cli.run("refresh", "--yes", "--clear-pending-creates")
    stack.up()
    report = stack.ardent_keys("drift", "--unmanaged", "--all-stacks", "--json")
    findings = json.loads(report.stdout)["findings"] if report.stdout.strip() else []
    orphans = [finding["key_id"] for finding in findings if finding["problem"] == "unmanaged"]
    print(f"\nafter SIGKILL: {len(managed_ids(stack))} keys in state, untracked keys reported by drift: {orphans}")
    assert {finding["problem"] for finding in findings} <= {"unmanaged"}
    assert set(stack.active_keys()) == managed_ids(stack) | set(orphans), "every untracked key is reported"
    if orphans:
        age_keys(stack.emulator)  # revoke refuses keys younger than --min-age: a pipeline may be recording them
        revoke = stack.ardent_keys("revoke", "--yes", "--all-stacks", *orphans)
        assert revoke.returncode == 0, revoke.stderr
    assert set(stack.active_keys()) == managed_ids(stack) and len(managed_ids(stack)) == 16
    final = stack.ardent_keys("drift", "--stack", "e2e")
    assert final.returncode == 0, final.stdout + final.stderr


def test_no_token_leaks_into_state_output_logs_or_the_emulators_log(
    tmp_path: Path, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ardent_provider.emulator")
    stack = make_stack(tmp_path, emulator, KEYS_PROGRAM)
    verbose = ("-v=9", "--logtostderr", "--logflow", "--diff")
    transcripts: list[str] = []
    engine_logs: list[str] = []
    tokens: set[str] = {emulator.token}

    def run(*args: str) -> None:
        result = stack.cli.run(*args, *verbose)
        transcripts.append(result.stdout)
        engine_logs.append(result.stderr)

    stack.write_keys(
        [{"resource": "hygiene", "role": "Admin", "keep_previous_for_days": 1, "rotation_triggers": {"r": 1}}]
    )
    run("up", "--yes")
    tokens.add(stack.cli.outputs(show_secrets=True)["hygiene_token"])
    stack.write_keys(
        [{"resource": "hygiene", "role": "Admin", "keep_previous_for_days": 1, "rotation_triggers": {"r": 2}}]
    )
    run("preview")
    run("up", "--yes")
    tokens.add(stack.cli.outputs(show_secrets=True)["hygiene_token"])
    run("refresh", "--yes")
    with stack.owner() as owner:
        owner.revoke_key(emulator.org_id, stack.cli.outputs()["hygiene_key_id"])
    run("refresh", "--yes")
    run("destroy", "--yes")

    places = {
        "CLI output": "\n".join(transcripts),
        "state and backups": "\n".join(
            path.read_text(errors="replace") for path in stack.cli.backend_dir.rglob("*") if path.is_file()
        ),
        "engine logs (-v=9)": "\n".join(engine_logs),
        "PULUMI_HOME": "\n".join(
            path.read_text(errors="replace")
            for path in (stack.cli.state_dir / "home").rglob("*")
            if path.is_file() and path.stat().st_size < 5_000_000 and "plugins" not in path.parts
        ),
        "emulator log": caplog.text,
    }
    assert len(places["engine logs (-v=9)"]) > 100_000, "the engine logged at high verbosity"
    leaks = [(place, token[:12]) for place, text in places.items() for token in tokens if token in text]
    print(f"\ntokens checked: {len(tokens)}; places: {', '.join(places)}; leaks: {len(leaks)}")
    assert leaks == []
