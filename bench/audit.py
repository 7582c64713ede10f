"""How long `ardent-keys audit` takes on an org with 2,000 keys: one list call, target under 2 s.

    scripts/bench audit [--keys 2000] [--rounds 5] [--target 2.0]
    .venv/bin/python -m bench.audit [same options]

Starts the emulator in a process of its own, seeds the org through the emulated API (many creates at once:
keys with and without expiry and scopes, some used, the clock moved on between batches so that every kind
of finding occurs), then times the real console command as a user runs it (a fresh process, credentials from
ARDENT_*): `audit --json`, and `audit --json --html FILE`, each the median of the rounds. It checks that every
run made exactly one list call and reported every key, and prints where the time goes inside one run
(list call, judging, JSON, page). Exit status 0 when both medians are under the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ardent_provider import ArdentClient
from ardent_provider.platform.audit import AuditPolicy, build_report
from ardent_provider.platform.audit_html import render_page
from ardent_provider.platform.orgs import read_environment_org
from ardent_provider.testing import ArdentEmulator

LIST_ROUTE = "GET /v1/orgs/{org_id}/api-keys"
SEED_WORKERS = 16
EXPIRIES: tuple[int | None, ...] = (None, 1, 7, 30, 90, 365, 3650)
SCOPES: tuple[tuple[str, ...], ...] = ((), ("org.read",), ("org.read", "projects.read"))
T = TypeVar("T")


def seed(emulator: ArdentEmulator, total: int) -> dict[str, int]:
    """Fill the org up to ``total`` active keys (the owner key included) in two batches 100 days apart.

    A quarter of each batch is used right after it is made, so the first batch's users are stale by the end;
    expiries cycle through 1 day to 10 years and none, scopes through none, one and two.
    """
    wanted = total - 1
    first, second = wanted // 2, wanted - wanted // 2
    with ArdentClient(emulator.token, api_url=emulator.api_url) as owner:

        def create(index: int) -> str:
            created = owner.create_key(
                emulator.org_id,
                name=f"svc-{index:05d}-{('ci', 'deploy', 'reporting', 'backup')[index % 4]}",
                role="role_org_viewer",
                scopes=SCOPES[index % len(SCOPES)],
                expires_days=EXPIRIES[index % len(EXPIRIES)],
            )
            return created.token.reveal()

        def use(token: str) -> None:
            with owner.with_token(token) as client:
                client.get_org(emulator.org_id)

        started = time.perf_counter()
        tokens = _parallel(create, range(first))
        _parallel(use, tokens[::4])
        emulator.advance_clock(days=100)
        tokens = _parallel(create, range(first, first + second))
        _parallel(use, tokens[::4])
        emulator.advance_clock(days=5)
        seconds = time.perf_counter() - started
    return {
        "keys": wanted + 1,
        "creates": wanted,
        "uses": len(range(0, first, 4)) + len(tokens[::4]),
        "ms": int(seconds * 1000),
    }


def _parallel(work: Callable[[Any], T], items: Sequence[Any] | range) -> list[T]:
    with ThreadPoolExecutor(max_workers=SEED_WORKERS) as pool:
        return list(pool.map(work, items))


def ardent_keys_command() -> list[str]:
    """The console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("ardent-keys")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ardent_provider.cli import main; sys.exit(main())"]


def time_command(
    emulator: ArdentEmulator, args: Sequence[str], rounds: int, expected_keys: int
) -> tuple[list[float], dict[str, Any]]:
    """Wall seconds of each round of ``ardent-keys ARGS`` in a fresh process, and the last JSON report."""
    env = {
        **os.environ,
        "ARDENT_TOKEN": emulator.token,
        "ARDENT_ORG_ID": emulator.org_id,
        "ARDENT_API_URL": emulator.api_url,
    }
    times: list[float] = []
    report: dict[str, Any] = {}
    for _ in range(rounds):
        emulator.reset_request_counts()
        started = time.perf_counter()
        result = subprocess.run(
            [*ardent_keys_command(), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        times.append(time.perf_counter() - started)
        if result.returncode not in (0, 1):
            raise SystemExit(f"ardent-keys {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        if emulator.token in result.stdout + result.stderr:
            raise SystemExit("ardent-keys printed the token")
        report = json.loads(result.stdout)
        lists = emulator.request_counts().get(LIST_ROUTE, 0)
        if lists != 1 or report["org_keys"] != expected_keys:
            raise SystemExit(f"expected 1 list call and {expected_keys} keys, got {lists} and {report['org_keys']}")
    return times, report


def breakdown(emulator: ArdentEmulator) -> dict[str, float]:
    """Milliseconds of each step of one audit, in this process."""
    environ = {"ARDENT_TOKEN": emulator.token, "ARDENT_ORG_ID": emulator.org_id, "ARDENT_API_URL": emulator.api_url}
    steps: dict[str, float] = {}
    started = time.perf_counter()
    reading = read_environment_org(environ)
    steps["list call (HTTP + parsing)"] = time.perf_counter() - started
    started = time.perf_counter()
    report = build_report([], [reading], AuditPolicy())
    steps["judging every key"] = time.perf_counter() - started
    started = time.perf_counter()
    json.dumps(report.as_json(), indent=2)
    steps["JSON report"] = time.perf_counter() - started
    started = time.perf_counter()
    page = render_page(report)
    steps[f"HTML page ({len(page) // 1024} KiB)"] = time.perf_counter() - started
    return {step: seconds * 1000 for step, seconds in steps.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2000, help="active keys in the org, the owner key included")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", type=float, default=2.0, help="seconds the median may take")
    args = parser.parse_args(argv)
    with ArdentEmulator() as emulator, tempfile.TemporaryDirectory() as folder:
        seeded = seed(emulator, args.keys)
        print(
            f"seeded {seeded['keys']} keys ({seeded['creates']} creates and {seeded['uses']} uses, "
            f"{SEED_WORKERS} at a time) in {seeded['ms'] / 1000:.1f} s"
        )
        page = Path(folder) / "audit.html"
        runs = {
            "ardent-keys audit --json": ["audit", "--json"],
            "ardent-keys audit --json --html FILE": ["audit", "--json", "--html", str(page)],
        }
        verdicts: list[bool] = []
        print(f"\n{'command (fresh process, one list call)':<40}{'median':>9}{'min':>9}{'max':>9}  target")
        for label, command in runs.items():
            times, report = time_command(emulator, command, args.rounds, args.keys)
            median = statistics.median(times)
            verdicts.append(median < args.target)
            verdict = "PASS" if verdicts[-1] else "FAIL"
            print(f"{label:<40}{median:>8.2f}s{min(times):>8.2f}s{max(times):>8.2f}s  < {args.target:g} s {verdict}")
        print(f"\npage: {page.stat().st_size // 1024} KiB; findings: {json.dumps(report['summary'])}")
        print("\none audit in this process, by step:")
        for step, milliseconds in breakdown(emulator).items():
            print(f"  {step:<32}{milliseconds:>8.0f} ms")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
