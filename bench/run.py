"""The cost of scale: ArdentApiKey against the engine's floor and the API's floor, A/B in one run.

    scripts/bench [--parts floor latency big-org drift native rss] [--sizes 50 200] [--rounds 3] [--budget-minutes 45]

Parts, each printing its figures with their targets and PASS/FAIL (and all of them again at the end):

- floor: `pulumi up`, `refresh` and `destroy` on N ArdentApiKey resources and on N no-op dynamic resources
  of the same shape (same CLI, same flags, a provider that returns at once), alternating over rounds. Ratio
  to the floor at the largest N, and the marginal cost per key (slope between the two largest N), ours minus
  the floor's. Also the API requests per operation and the provider's peak RSS.
- latency: `up` and `destroy` of N keys with a delay injected on every emulator request, against the no-op
  time plus the API floor N x delay / 4 (the dynamic provider server runs 4 calls at once).
- big-org: `refresh` of a stack's keys in an org that holds many other keys (seeded through the API, many
  creates at once) against the same refresh in an org holding only the stack's keys; list calls per refresh,
  and how long the emulator takes to list the big org.
- drift: `ardent-keys drift` over many stacks of one project against the same command over one stack;
  list calls per org.
- native: the same three operations on N native ``ardent:index:ApiKey`` resources (the plugin
  pulumi-resource-ardent, the generated Python SDK) beside N ArdentApiKey and the no-op floor, alternating
  over rounds, and the plugin's start-up time (from its start to the port it prints).
- rss: how many ArdentApiKey resources one program can declare (bench/pickling.py), and the provider's peak
  RSS over `up`, `refresh` and `destroy` of many keys (the no-op's beside it).

Exit status 0 when every target is met, 1 otherwise. A time budget bounds the run: what it leaves unmeasured
is reported as not measured (FAIL). No process outlives its command.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ardent_provider.emulator import EmulatorServer

from .harness import (
    LIST_ROUTE,
    ROOT,
    Bench,
    BudgetSpentError,
    Deadline,
    Measurement,
    describe_requests,
    progress,
    run_in_session,
)
from .targets import Scorecard

OPERATIONS = ("up", "refresh", "destroy")
PROVIDER_CONCURRENCY = 4
RATIO_LIMIT = 1.15
SLOPE_LIMIT_MS = {"up": 5.0, "refresh": 1.0, "destroy": 5.0}
LATENCY_LIMIT = 1.10
BIG_ORG_REFRESH_LIMIT = 1.5
BIG_ORG_LIST_LIMIT_S = 1.0
DRIFT_LIMIT = 2.0
RSS_LIMIT_MB = 150.0
LIST_TIMINGS = 5
PLUGIN_STARTUP_LIMIT_S = 1.0
PARTS = ("floor", "latency", "big-org", "drift", "native", "rss")

Medians = dict[tuple[str, int, str], float]


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def alternating(round_: int, first: str, second: str) -> tuple[str, str]:
    return (first, second) if round_ % 2 == 0 else (second, first)


# -- floor ------------------------------------------------------------------------------------------------


def part_floor(bench: Bench, args: argparse.Namespace, card: Scorecard) -> Medians:
    sizes = sorted(set(args.sizes))
    large = sizes[-1]
    small = sizes[-2] if len(sizes) >= 2 else None
    ratio_targets = {
        op: card.declare("floor", f"{op}: ratio to the engine floor at N={large}", "<=", RATIO_LIMIT, "x")
        for op in OPERATIONS
    }
    slope_targets = {
        op: card.declare(
            "floor",
            f"{op}: marginal cost per key, ours minus the floor's, N={small}->{large}",
            "<" if op == "refresh" else "<=",
            SLOPE_LIMIT_MS[op],
            " ms",
        )
        for op in OPERATIONS
        if small is not None
    }

    times: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    requests: dict[tuple[int, str], str] = {}
    rss: dict[tuple[str, int], float] = defaultdict(float)
    for size in sizes:
        for round_ in range(args.rounds):
            for kind in alternating(round_, "ardent", "noop"):
                cli = bench.stack(kind, size)
                done = []
                for operation in OPERATIONS:
                    measured = bench.measure(cli, operation)
                    times[(kind, size, operation)].append(measured.seconds)
                    if kind == "ardent":
                        requests[(size, operation)] = describe_requests(measured.requests)
                    rss[(kind, size)] = max(rss[(kind, size)], measured.rss_mb)
                    done.append(f"{operation} {measured.seconds:.2f}s")
                progress(f"floor N={size} round {round_ + 1}/{args.rounds} {kind}: {', '.join(done)}")
    medians: Medians = {key: median_of(values) for key, values in times.items()}

    print(f"\nfloor: medians of {args.rounds} rounds, A/B alternating (same CLI, same flags), no injected latency\n")
    header = (
        f"{'N':>5} {'operation':<9} {'ours s':>8} {'no-op s':>8} {'ratio':>6}  {'provider RSS MB':>15}  requests (ours)"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        for operation in OPERATIONS:
            ours, floor = medians[("ardent", size, operation)], medians[("noop", size, operation)]
            print(
                f"{size:>5} {operation:<9} {ours:>8.2f} {floor:>8.2f} {ours / floor:>6.2f}  "
                f"{rss[('ardent', size)]:>6.1f} / {rss[('noop', size)]:>6.1f}  {requests[(size, operation)]}"
            )
    print()
    for operation in OPERATIONS:
        ours, floor = medians[("ardent", large, operation)], medians[("noop", large, operation)]
        card.record(ratio_targets[operation], ours / floor, f"ours {ours:.2f} s, no-op {floor:.2f} s")
    if small is not None:
        for operation in OPERATIONS:
            ours_slope = slope_ms(medians, "ardent", operation, small, large)
            floor_slope = slope_ms(medians, "noop", operation, small, large)
            card.record(
                slope_targets[operation],
                ours_slope - floor_slope,
                f"ours {ours_slope:.2f} ms/key, no-op {floor_slope:.2f} ms/key",
            )
        print_fixed_cost(bench, medians, small, large, requests)
    return medians


def import_seconds(python: Path, statement: str, rounds: int = 5) -> float:
    """The median wall time of a fresh runtime interpreter (as the projects run it) that runs ``statement``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([str(python), "-c", statement], check=True, cwd=ROOT, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def print_fixed_cost(
    bench: Bench, medians: Medians, small: int, large: int, requests: dict[tuple[int, str], str]
) -> None:
    """Where ours exceeds the no-op at the largest N: the per-key part (the requests each key needs, the API's own
    work) and the fixed part of one run (the line's intercept), with the provider's import and client set up
    and the org's list call measured apart."""
    print(
        f"\nfloor: ours minus the no-op at N={large}, split along the N={small}->{large} line (figures, not targets)\n"
    )
    print(
        f"{'operation':<9} {'excess s':>9} {'per-key part s':>15} {'fixed part s':>13}  requests of ours at N={large}"
    )
    for operation in OPERATIONS:
        excess = medians[("ardent", large, operation)] - medians[("noop", large, operation)]
        per_key = (
            (slope_ms(medians, "ardent", operation, small, large) - slope_ms(medians, "noop", operation, small, large))
            * large
            / 1000
        )
        print(
            f"{operation:<9} {excess:>9.2f} {per_key:>15.2f} {excess - per_key:>13.2f}  {requests[(large, operation)]}"
        )
    ours = import_seconds(bench.python, "import pulumi.dynamic, ardent_provider.provider")
    sdk = import_seconds(bench.python, "import pulumi.dynamic")
    client = import_seconds(
        bench.python,
        "import pulumi.dynamic, ardent_provider.provider, ardent_provider.client as c; c.ArdentClient('sk-ard_test_x', api_url='http://127.0.0.1:1')",
    )
    count, listed = bench.list_keys(bench.default_org)
    print(
        f"\nmeasured apart: importing the provider {ours - sdk:.3f} s beyond the SDK's own {sdk:.3f} s; setting up "
        f"its HTTP client {client - ours:.3f} s more; the org's list call {listed:.3f} s for {count} active keys. "
        "The per-key part is one API request per key (a create, a revoke), which the no-op never makes."
    )


def slope_ms(medians: Medians, kind: str, operation: str, small: int, large: int) -> float:
    return (medians[(kind, large, operation)] - medians[(kind, small, operation)]) * 1000 / (large - small)


# -- latency ----------------------------------------------------------------------------------------------


def part_latency(bench: Bench, args: argparse.Namespace, card: Scorecard, floor_medians: Medians) -> None:
    size, delay = args.latency_size, args.latency_ms
    api_floor = size * delay / 1000 / PROVIDER_CONCURRENCY
    targets = {
        op: card.declare(
            "latency",
            f"{op} with {delay} ms per request, N={size}: ours / (no-op + N x {delay} ms / {PROVIDER_CONCURRENCY})",
            "<=",
            LATENCY_LIMIT,
            "x",
        )
        for op in ("up", "destroy")
    }
    noop: dict[str, list[float]] = defaultdict(list)
    ours: dict[str, list[Measurement]] = defaultdict(list)
    measure_noop = any(("noop", size, op) not in floor_medians for op in ("up", "destroy"))
    for round_ in range(args.rounds):
        for kind in alternating(round_, "ardent", "noop") if measure_noop else ("ardent",):
            cli = bench.stack(kind, size)
            if kind == "ardent":
                bench.inject_delay(delay)
            done = []
            try:
                for operation in ("up", "destroy"):
                    measured = bench.measure(cli, operation)
                    if kind == "ardent":
                        ours[operation].append(measured)
                    else:
                        noop[operation].append(measured.seconds)
                    done.append(f"{operation} {measured.seconds:.2f}s")
            finally:
                bench.clear_faults()
            progress(f"latency N={size} round {round_ + 1}/{args.rounds} {kind}: {', '.join(done)}")

    print(
        f"\nlatency: {delay} ms injected on every emulator request, N={size}, medians of {args.rounds} rounds; "
        f"API floor = N x {delay} ms / {PROVIDER_CONCURRENCY} = {api_floor:.2f} s"
        + ("" if measure_noop else "; no-op times from the floor part")
        + "\n"
    )
    print(f"{'operation':<9} {'ours s':>8} {'no-op s':>8} {'no-op + API floor':>18} {'ratio':>6}  requests (ours)")
    for operation in ("up", "destroy"):
        elapsed = median_of([m.seconds for m in ours[operation]])
        floor = median_of(noop[operation]) if measure_noop else floor_medians[("noop", size, operation)]
        bound = floor + api_floor
        print(
            f"{operation:<9} {elapsed:>8.2f} {floor:>8.2f} {bound:>18.2f} {elapsed / bound:>6.2f}  "
            f"{describe_requests(ours[operation][-1].requests)}"
        )
    print()
    for operation in ("up", "destroy"):
        elapsed = median_of([m.seconds for m in ours[operation]])
        floor = median_of(noop[operation]) if measure_noop else floor_medians[("noop", size, operation)]
        card.record(
            targets[operation],
            elapsed / (floor + api_floor),
            f"ours {elapsed:.2f} s, no-op {floor:.2f} s + API floor {api_floor:.2f} s",
        )


# -- an org with many keys ------------------------------------------------------------------------------


def part_big_org(bench: Bench, args: argparse.Namespace, card: Scorecard) -> None:
    managed, total = args.managed_keys, args.org_keys
    calls_target = card.declare(
        "big-org", f"refresh of {managed} keys in an org of {total} keys: list calls (most in a round)", "==", 1, ""
    )
    ratio_target = card.declare(
        "big-org",
        f"refresh of {managed} keys: org of {total} keys / org of {managed} keys",
        "<=",
        BIG_ORG_REFRESH_LIMIT,
        "x",
    )
    list_target = card.declare(
        "big-org", f"emulator lists an org of {total} keys (median of {LIST_TIMINGS})", "<", BIG_ORG_LIST_LIMIT_S, " s"
    )
    big, small = bench.new_org(), bench.new_org()
    stacks = {"big": bench.stack("ardent", managed, big), "small": bench.stack("ardent", managed, small)}
    for name, cli in stacks.items():
        measured = bench.measure(cli, "up")
        progress(f"big-org: up of {managed} keys in the {name} org: {measured.seconds:.2f}s")
    filler = total - managed - 1  # the org's bootstrap owner key counts too
    progress(f"big-org: seeding {filler} keys through the API, {args.seed_clients} creates at once")
    seeded = bench.seed(big, filler, args.seed_clients, lambda done: progress(f"big-org: {done} keys created"))
    listed, _ = bench.list_keys(big)
    progress(f"big-org: seeded in {seeded:.1f}s; the org lists {listed} keys")
    list_times = [bench.list_keys(big)[1] for _ in range(LIST_TIMINGS)]

    refresh: dict[str, list[Measurement]] = defaultdict(list)
    for round_ in range(args.rounds):
        for name in alternating(round_, "big", "small"):
            refresh[name].append(bench.measure(stacks[name], "refresh"))
        progress(
            f"big-org round {round_ + 1}/{args.rounds}: refresh big {refresh['big'][-1].seconds:.2f}s, "
            f"small {refresh['small'][-1].seconds:.2f}s"
        )
    big_s = median_of([m.seconds for m in refresh["big"]])
    small_s = median_of([m.seconds for m in refresh["small"]])
    print(f"\nbig-org: refresh of {managed} managed keys, medians of {args.rounds} rounds, A/B alternating\n")
    print(f"{'org keys':>9} {'refresh s':>10} {'list calls':>11}  provider RSS MB  requests")
    for name, keys, seconds in (("small", managed + 1, small_s), ("big", listed, big_s)):
        last = refresh[name][-1]
        rss = max(m.rss_mb for m in refresh[name])
        print(f"{keys:>9} {seconds:>10.2f} {last.list_calls:>11}  {rss:>15.1f}  {describe_requests(last.requests)}")
    print(f"list of {listed} keys by the emulator: {', '.join(f'{t:.3f}' for t in list_times)} s\n")
    card.record(calls_target, max(m.list_calls for m in refresh["big"]), f"{args.rounds} rounds")
    card.record(ratio_target, big_s / small_s, f"{big_s:.2f} s / {small_s:.2f} s")
    card.record(
        list_target,
        statistics.median(list_times),
        f"{listed} keys; fastest {min(list_times):.3f} s, slowest {max(list_times):.3f} s",
    )


# -- ardent-keys drift over many stacks -------------------------------------------------------------------


def ardent_keys() -> list[str]:
    script = Path(sys.executable).parent / "ardent-keys"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ardent_provider.cli"]


def part_drift(bench: Bench, args: argparse.Namespace, card: Scorecard) -> None:
    count, keys, org_count = args.drift_stacks, args.drift_keys, args.drift_orgs
    ratio_target = card.declare(
        "drift", f"ardent-keys drift: {count} stacks of {keys} keys / one stack", "<=", DRIFT_LIMIT, "x"
    )
    calls_target = card.declare(
        "drift", f"ardent-keys drift over {count} stacks in {org_count} org(s): list calls", "==", org_count, ""
    )
    orgs = [bench.new_org() for _ in range(org_count)]
    solo_org = bench.new_org()
    cli = bench.project()
    names = [f"s{index:02d}" for index in range(count)]
    for index, name in enumerate([*names, "solo"]):
        bench.add_stack(cli, name, "ardent", keys, solo_org if name == "solo" else orgs[index % org_count])
        measured = bench.measure(cli, "up")
        progress(f"drift: stack {index + 1}/{count + 1} ({name}) up: {measured.seconds:.2f}s")
    commands = {
        "one": [*ardent_keys(), "drift", "--cwd", str(cli.project_dir), "--stack", "solo"],
        "all": [*ardent_keys(), "drift", "--cwd", str(cli.project_dir), *(f"--stack={name}" for name in names)],
    }
    env = cli.env()
    runs: dict[str, list[Measurement]] = defaultdict(list)
    for round_ in range(args.rounds):
        for which in alternating(round_, "one", "all"):
            measured, output = bench.timed(commands[which], cli.project_dir, env)
            if "No drift" not in output:
                raise RuntimeError(f"ardent-keys drift ({which}) found drift in a clean setup:\n{output[-2000:]}")
            runs[which].append(measured)
        progress(
            f"drift round {round_ + 1}/{args.rounds}: one stack {runs['one'][-1].seconds:.2f}s, "
            f"{count} stacks {runs['all'][-1].seconds:.2f}s"
        )
    one = median_of([m.seconds for m in runs["one"]])
    many = median_of([m.seconds for m in runs["all"]])
    cores = os.cpu_count() or 1
    print(f"\ndrift: `ardent-keys drift`, medians of {args.rounds} rounds, A/B alternating; {cores} CPU cores\n")
    print(f"{'stacks':>7} {'keys':>6} {'orgs':>5} {'seconds':>8} {'CPU s':>6}  requests")
    for label, stacks, total, orgs_read, seconds in (
        ("one", 1, keys, 1, one),
        ("all", count, count * keys, org_count, many),
    ):
        cpu = median_of([m.cpu_seconds for m in runs[label]])
        print(
            f"{stacks:>7} {total:>6} {orgs_read:>5} {seconds:>8.2f} {cpu:>6.2f}  "
            f"{describe_requests(runs[label][-1].requests)}"
        )
    print(
        "(CPU s: the command's and its pulumi processes'; over the cores it is a floor on the wall time that "
        "reading stacks in parallel cannot go below)\n"
    )
    card.record(ratio_target, many / one, f"{many:.2f} s / {one:.2f} s")
    card.record(calls_target, max(m.requests.get(LIST_ROUTE, 0) for m in runs["all"]), f"{args.rounds} rounds")


# -- peak RSS ---------------------------------------------------------------------------------------------


def part_native(bench: Bench, args: argparse.Namespace, card: Scorecard) -> None:
    size = max(args.sizes)
    ratio_targets = {
        op: card.declare("native", f"{op}: native ratio to the engine floor at N={size}", "<=", RATIO_LIMIT, "x")
        for op in OPERATIONS
    }
    startup_target = card.declare(
        "native", "plugin start-up (start to port printed)", "<=", PLUGIN_STARTUP_LIMIT_S, " s"
    )
    kinds = ("native", "ardent", "noop")
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    requests: dict[str, str] = {}
    for round_ in range(args.rounds):
        for kind in kinds[round_ % 3 :] + kinds[: round_ % 3]:
            cli = bench.stack(kind, size)
            done = []
            for operation in OPERATIONS:
                measured = bench.measure(cli, operation)
                times[(kind, operation)].append(measured.seconds)
                if kind == "native":
                    requests[operation] = describe_requests(measured.requests)
                done.append(f"{operation} {measured.seconds:.2f}s")
            progress(f"native N={size} round {round_ + 1}/{args.rounds} {kind}: {', '.join(done)}")
    medians = {key: median_of(values) for key, values in times.items()}
    print(f"\nnative: medians of {args.rounds} rounds at N={size}, rotating the order of the three kinds\n")
    header = (
        f"{'operation':<9} {'native s':>9} {'dynamic s':>10} {'no-op s':>8} {'native/floor':>13}  requests (native)"
    )
    print(header)
    print("-" * len(header))
    for operation in OPERATIONS:
        native, dynamic, floor = (medians[(kind, operation)] for kind in kinds)
        print(
            f"{operation:<9} {native:>9.2f} {dynamic:>10.2f} {floor:>8.2f} {native / floor:>13.2f}  "
            f"{requests[operation]}"
        )
        card.record(ratio_targets[operation], native / floor, f"native {native:.2f} s, no-op {floor:.2f} s")
    startup = plugin_startup_seconds(bench.plugins / "pulumi-resource-ardent")
    print(f"\nplugin start-up: median {startup:.3f} s over 5 starts (import, gRPC server, port printed)")
    card.record(startup_target, startup, f"median of 5 starts {startup:.3f} s")


def plugin_startup_seconds(plugin: Path, rounds: int = 5) -> float:
    """The median time from starting the plugin to the port it prints for the engine."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        with subprocess.Popen(
            [str(plugin), "127.0.0.1:1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        ) as process:
            assert process.stdout is not None
            port = process.stdout.readline().strip()
            times.append(time.perf_counter() - started)
            os.killpg(process.pid, signal.SIGKILL)
        if not port.isdigit():
            raise RuntimeError(f"pulumi-resource-ardent printed {port!r} instead of its port")
    return statistics.median(times)


def part_rss(bench: Bench, args: argparse.Namespace, card: Scorecard) -> None:
    size = args.rss_size
    declare_target = card.declare(
        "rss",
        f"ArdentApiKey resources one program can declare (pulumi's serialize_provider, up to {size})",
        ">=",
        size,
        "",
    )
    rss_target = card.declare(
        "rss", f"provider peak RSS over up, refresh, destroy at N={size}", "<", RSS_LIMIT_MB, " MB"
    )
    result, _, _ = run_in_session(
        [sys.executable, "-m", "bench.pickling", str(size)], cwd=ROOT, env=dict(os.environ), deadline=bench.deadline
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.pickling exited with {result.returncode}: {result.stderr.strip()[-300:]}")
    declarable = int(result.stdout.strip())
    card.record(
        declare_target,
        declarable,
        "" if declarable >= size else "RecursionError after that many: the SDK nests a pickle wrapper per resource",
    )
    # Without the program's reset, `up` would fail near the end; the provider process is the same either way.
    reset = declarable < size
    peaks: dict[str, float] = {}
    seconds: dict[tuple[str, str], float] = {}
    for kind in ("ardent", "noop"):
        cli = bench.stack(kind, size, reset_pickler=reset)
        peaks[kind] = 0.0
        for operation in OPERATIONS:
            measured = bench.measure(cli, operation)
            seconds[(kind, operation)] = measured.seconds
            peaks[kind] = max(peaks[kind], measured.rss_mb)
            progress(f"rss N={size} {kind} {operation}: {measured.seconds:.2f}s, peak {measured.rss_mb:.1f} MB")
    print(f"\nrss: N={size}, one round each")
    if reset:
        print(
            f"(one program cannot declare {size} ArdentApiKey resources as it stands, so the benchmark's program "
            "resets pickle's _batch_setitems before each resource, for both kinds)"
        )
    print(f"\n{'kind':<7} {'up s':>7} {'refresh s':>10} {'destroy s':>10} {'peak RSS MB':>12}")
    for kind in ("ardent", "noop"):
        times = " ".join(f"{seconds[(kind, op)]:>{w}.2f}" for op, w in zip(OPERATIONS, (7, 10, 10), strict=True))
        print(f"{'ours' if kind == 'ardent' else 'no-op':<7} {times} {peaks[kind]:>12.1f}")
    print()
    card.record(
        rss_target,
        peaks["ardent"],
        f"no-op {peaks['noop']:.1f} MB" + ("; program with the pickle reset" if reset else ""),
    )


# -- main -------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run (always in this order)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200], help="floor: N (slope: two largest)")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds of every timed comparison")
    parser.add_argument("--latency-ms", type=int, default=100, help="latency: delay on every request")
    parser.add_argument("--latency-size", type=int, default=200, help="latency: N")
    parser.add_argument("--org-keys", type=int, default=10_000, help="big-org: keys in the big org")
    parser.add_argument("--managed-keys", type=int, default=50, help="big-org: keys of the refreshed stack")
    parser.add_argument("--seed-clients", type=int, default=16, help="big-org: creates at once while seeding")
    parser.add_argument("--drift-stacks", type=int, default=20, help="drift: stacks read by one command")
    parser.add_argument("--drift-keys", type=int, default=50, help="drift: keys per stack")
    parser.add_argument("--drift-orgs", type=int, default=1, help="drift: orgs the stacks are spread over")
    parser.add_argument("--rss-size", type=int, default=1000, help="rss: N")
    parser.add_argument("--budget-minutes", type=float, default=45, help="stop measuring after this long")
    args = parser.parse_args()
    if args.rounds < 1 or min(args.sizes) < 1 or args.drift_orgs < 1 or args.drift_stacks < 1:
        parser.error("--rounds, --sizes, --drift-stacks and --drift-orgs must be positive")
    if args.org_keys <= args.managed_keys:
        parser.error("--org-keys must exceed --managed-keys")
    return args


def main() -> int:
    args = parse_args()
    deadline = Deadline(args.budget_minutes * 60)
    card = Scorecard()
    folder = Path(tempfile.mkdtemp(prefix="ardent-bench-"))
    try:
        with EmulatorServer(db=folder / "emulator.db") as server:
            bench = Bench(server, folder, deadline)
            floor_medians: Medians = {}
            steps: dict[str, Callable[[], object]] = {
                "floor": lambda: floor_medians.update(part_floor(bench, args, card)),
                "latency": lambda: part_latency(bench, args, card, floor_medians),
                "big-org": lambda: part_big_org(bench, args, card),
                "drift": lambda: part_drift(bench, args, card),
                "native": lambda: part_native(bench, args, card),
                "rss": lambda: part_rss(bench, args, card),
            }
            try:
                for part in (part for part in PARTS if part in args.parts):
                    progress(f"part {part}")
                    try:
                        deadline.remaining()
                        steps[part]()
                    except BudgetSpentError as error:
                        progress(f"part {part}: {error}")
                        card.abandon(part, str(error))
                    except Exception as error:
                        traceback.print_exc()
                        card.abandon(part, f"failed: {failure_summary(error)}")
                    finally:
                        bench.clear_faults()
            finally:
                bench.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    passed = card.summary()
    progress(f"done; {'every target met' if passed else 'some targets missed'}")
    return 0 if passed else 1


def failure_summary(error: Exception) -> str:
    """The error's first line, and the last line of its output that names an error (a command's own)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    named = [line for line in lines[1:] if re.search(r"(Error|error):", line)]
    return lines[0][:160] + (f" ... {named[-1][:160]}" if named else "")


def _stop(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through every `finally`, so the running command's session is killed and the folder goes.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _stop)
    sys.exit(main())
