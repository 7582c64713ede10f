"""Cost of N keys against the engine's own floor and the API's floor, side by side, in one run.

    scripts/bench [--sizes 10 50 200] [--rounds 3] [--latency-ms 50] [--latency-size 200]

For each N it runs `pulumi up`, `pulumi refresh` and `pulumi destroy` on N ArdentApiKey resources and on N
no-op dynamic resources (the engine floor: same CLI, same flags, a provider that returns at once),
alternating the two over several rounds, and prints medians, ratios, API requests per operation (from the
emulator's counters) and the provider process's peak RSS. A second table repeats `up` and `destroy` with
a delay injected on every emulator request and compares them with the API floor:
N x round trip / 4 (the Python dynamic provider serves at most 4 calls at once).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from ardent_provider.emulator import EmulatorServer
from ardent_provider.pulumi_cli import PulumiCLI

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "bench" / "program"
OPERATIONS = ("up", "refresh", "destroy")
PROVIDER_CONCURRENCY = 4


def measuring_virtualenv(folder: Path) -> Path:
    """A virtualenv for the projects' runtime options whose ``bin/python`` runs rss_python.py.

    Pulumi starts the program and the provider with ``<virtualenv>/bin/python``, so the provider's peak RSS is
    recorded while the projects keep the runtime block any user project has.
    """
    venv = folder / "venv"
    (venv / "bin").mkdir(parents=True)
    wrapper = venv / "bin" / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "bench" / "rss_python.py"}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return venv


def peak_rss_mb(path: Path) -> float:
    if not path.exists():
        return float("nan")
    peaks = [int(line.split()[1]) for line in path.read_text().splitlines() if line.strip()]
    path.unlink()
    return max(peaks) / 1024 if peaks else float("nan")


class Bench:
    """One emulator, and a fresh stack per (kind, size, round)."""

    def __init__(self, server: EmulatorServer, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.virtualenv = measuring_virtualenv(folder)
        self.rss_file = folder / "rss.txt"
        self.counter = 0

    def stack(self, kind: str, size: int) -> PulumiCLI:
        self.counter += 1
        project = self.folder / f"project-{self.counter}"
        project.mkdir()
        (project / "Pulumi.yaml").write_text(
            "name: bench\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
            f"    virtualenv: {json.dumps(str(self.virtualenv))}\n"
        )
        (project / "__main__.py").write_text((PROGRAM / "__main__.py").read_text())
        env = {
            "PYTHONPATH": str(ROOT),
            "ARDENT_BENCH_RSS_FILE": str(self.rss_file),
        }
        cli = PulumiCLI(project, self.folder / f"state-{self.counter}", "bench", extra_env=env)
        cli.run("stack", "init", "bench")
        for key, value in (
            ("count", str(size)),
            ("kind", kind),
            ("ardent:apiUrl", self.server.url),
            ("ardent:orgId", self.server.org_id),
        ):
            cli.set_config(f"bench:{key}" if ":" not in key else key, value)
        cli.set_config("ardent:token", self.server.token, secret=True)
        return cli

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.server.url}/_emulator/stats").json()["requests"]

    def measure(self, cli: PulumiCLI, operation: str) -> tuple[float, dict[str, int], float]:
        args = {
            "up": ("up", "--yes", "--skip-preview"),
            "refresh": ("refresh", "--yes", "--skip-preview"),
            "destroy": ("destroy", "--yes", "--skip-preview"),
        }[operation]
        httpx.post(f"{self.server.url}/_emulator/stats/reset")
        started = time.perf_counter()
        cli.run(*args)
        elapsed = time.perf_counter() - started
        return elapsed, self.stats(), peak_rss_mb(self.rss_file)


def describe_requests(stats: dict[str, int]) -> str:
    short = {"POST": "create", "DELETE": "revoke"}
    parts = []
    for route, count in sorted(stats.items()):
        method, template = route.split(" ", 1)
        name = short.get(method) or ("list" if template.endswith("api-keys") else template.rsplit("/", 1)[-1])
        parts.append(f"{count} {name}")
    return ", ".join(parts) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--latency-size", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ardent-bench-") as raw, EmulatorServer(db=Path(raw) / "e.db") as server:
        bench = Bench(server, Path(raw))
        times: dict[tuple[str, int, str], list[float]] = defaultdict(list)
        requests: dict[tuple[int, str], str] = {}
        rss: dict[tuple[str, int], float] = {}
        for size in args.sizes:
            for round_ in range(args.rounds):
                kinds = ("ardent", "noop") if round_ % 2 == 0 else ("noop", "ardent")
                for kind in kinds:
                    cli = bench.stack(kind, size)
                    for operation in OPERATIONS:
                        elapsed, stats, peak = bench.measure(cli, operation)
                        times[(kind, size, operation)].append(elapsed)
                        if kind == "ardent":
                            requests[(size, operation)] = describe_requests(stats)
                        rss[(kind, size)] = max(rss.get((kind, size), 0.0), peak)
                    print(f"  N={size} round {round_ + 1} {kind}: done", file=sys.stderr, flush=True)

        print(f"\nNo injected latency; medians of {args.rounds} rounds, A/B alternating (same CLI, same flags)\n")
        header = (
            f"{'N':>5} {'operation':<9} {'ours s':>8} {'no-op s':>8} {'ratio':>6}  "
            f"{'provider RSS MB':>15}  requests (ours)"
        )
        print(header)
        print("-" * len(header))
        for size in args.sizes:
            for operation in OPERATIONS:
                ours = statistics.median(times[("ardent", size, operation)])
                floor = statistics.median(times[("noop", size, operation)])
                print(
                    f"{size:>5} {operation:<9} {ours:>8.2f} {floor:>8.2f} {ours / floor:>6.2f}  "
                    f"{rss[('ardent', size)]:>6.1f} / {rss[('noop', size)]:>6.1f}  {requests[(size, operation)]}"
                )
        if len(args.sizes) >= 2:
            small, large = sorted(args.sizes)[-2:]
            for operation in OPERATIONS:
                ours = statistics.median(times[("ardent", large, operation)]) / statistics.median(
                    times[("ardent", small, operation)]
                )
                floor = statistics.median(times[("noop", large, operation)]) / statistics.median(
                    times[("noop", small, operation)]
                )
                print(f"growth {small}->{large} {operation}: ours x{ours:.2f}, no-op x{floor:.2f}")

        size = args.latency_size
        delay = args.latency_ms
        for route in (
            "POST /v1/orgs/{org_id}/api-keys",
            "GET /v1/orgs/{org_id}/api-keys",
            "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}",
            "GET /v1/orgs/{org_id}/roles",
        ):
            httpx.post(f"{server.url}/_emulator/faults", json={"route": route, "mode": "delay", "delay_ms": delay})
        cli = bench.stack("ardent", size)
        api_floor = size * delay / 1000 / PROVIDER_CONCURRENCY
        print(
            f"\n{delay} ms injected on every emulator request, N={size}; API floor = N x {delay} ms / "
            f"{PROVIDER_CONCURRENCY} = {api_floor:.2f} s\n"
        )
        print(
            f"{'operation':<9} {'ours s':>8} {'no-op s':>8} {'ours - no-op':>12} {'vs API floor':>12} "
            f"{'ours / (no-op + API floor)':>27}  requests"
        )
        for operation in ("up", "destroy"):
            elapsed, stats, _ = bench.measure(cli, operation)
            floor = statistics.median(times[("noop", size, operation)]) if ("noop", size, operation) in times else 0.0
            print(
                f"{operation:<9} {elapsed:>8.2f} {floor:>8.2f} {elapsed - floor:>12.2f} "
                f"{(elapsed - floor) / api_floor:>11.2f}x {elapsed / (floor + api_floor):>26.2f}x  "
                f"{describe_requests(stats)}"
            )
        httpx.delete(f"{server.url}/_emulator/faults")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    sys.exit(main())
