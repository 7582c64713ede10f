"""The frozen plugin's archive and start-up, beside the virtualenv plugin's start-up: target 0.4 s or less.

    scripts/bench plugin [--archive PATH] [--rounds 15] [--target 0.4]
    .venv/bin/python -m bench.frozen_plugin [same options]

Builds the archive with scripts/plugin-archive (or takes PATH), unpacks it as the engine does, and prints its size,
the unpacked folder's size and file count, then the start-up time of each plugin: from starting the process to
the port it prints for the engine (imports, the gRPC server). The frozen executable and the repository's
virtualenv plugin (``python -m ardent_provider.native``, as the console script runs it) start in turns, so a busy
machine weighs on both alike; their CPU time (median) is printed too, the steadier figure on a busy machine.
Exit status 0 when the frozen plugin's median is at or under the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .harness import ROOT

ENGINE_ADDRESS = "127.0.0.1:1"
"""Where the plugin is told its engine is: nothing listens there, and nothing is asked of it before the port."""
PYTHON_VARIABLES = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")


def build_archive(out: Path) -> tuple[Path, float]:
    """Run scripts/plugin-archive into ``out``: the archive and how long the build took."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(ROOT / "scripts" / "plugin-archive"), str(out)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"scripts/plugin-archive failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_seconds(command: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """The wall time from starting ``command`` to the port it prints, and the CPU time it used until then (it is
    killed then): on a busy machine the CPU time says more than the wall time."""
    cpu = _children_cpu()
    started = time.perf_counter()
    with subprocess.Popen(
        [*command, ENGINE_ADDRESS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        port = process.stdout.readline().strip()
        elapsed = time.perf_counter() - started
        os.killpg(process.pid, signal.SIGKILL)
        errors = process.stderr.read().decode(errors="replace")
    if not port.isdigit():
        sys.exit(f"{command[0]} printed {port!r} instead of its port:\n{errors[-2000:]}")
    return elapsed, _children_cpu() - cpu


def folder_size(folder: Path) -> tuple[int, int]:
    """The bytes and the number of files under ``folder``."""
    files = [path for path in folder.rglob("*") if path.is_file() and not path.is_symlink()]
    return sum(path.stat().st_size for path in files), len(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, help="an archive scripts/plugin-archive built (default: build one)")
    parser.add_argument("--rounds", type=int, default=15, help="starts of each plugin (default: 15)")
    parser.add_argument("--target", type=float, default=0.4, help="the frozen plugin's start-up target, seconds")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ardent-frozen-plugin-") as scratch:
        work = Path(scratch)
        if args.archive is not None:
            archive, built = args.archive.resolve(), None
        else:
            print("building the archive with scripts/plugin-archive ...", flush=True)
            archive, built = build_archive(work / "dist")
        unpacked = work / "plugin"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        executable = unpacked / ("pulumi-resource-ardent.exe" if os.name == "nt" else "pulumi-resource-ardent")
        size, count = folder_size(unpacked)
        print(f"\narchive: {archive.name}: {archive.stat().st_size / 1e6:.1f} MB")
        print(f"unpacked: {size / 1e6:.1f} MB in {count} files")
        if built is not None:
            print(f"build: {built:.0f} s (scripts/plugin-archive, the project's virtualenv already made)")

        frozen_env = {name: value for name, value in os.environ.items() if name not in PYTHON_VARIABLES}
        venv_env = {**frozen_env, "PYTHONPATH": str(ROOT)}
        virtualenv_plugin = [sys.executable, "-m", "ardent_provider.native"]
        plugins = {
            "frozen (pulumi-resource-ardent from the archive)": ([str(executable)], frozen_env),
            "virtualenv (python -m ardent_provider.native)": (virtualenv_plugin, venv_env),
        }
        times: dict[str, list[float]] = {label: [] for label in plugins}
        cpu: dict[str, list[float]] = {label: [] for label in plugins}
        for round_ in range(args.rounds):
            order = list(plugins) if round_ % 2 == 0 else list(reversed(plugins))
            for label in order:
                command, env = plugins[label]
                wall, used = start_seconds(command, env)
                times[label].append(wall)
                cpu[label].append(used)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nstart-up, start to port printed, {args.rounds} starts each in turns (load average {load:.1f})\n")
    header = f"{'plugin':<50} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s':>7}"
    print(header)
    print("-" * len(header))
    for label, values in times.items():
        print(
            f"{label:<50} {statistics.median(values):>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
            f"{statistics.median(cpu[label]):>7.3f}"
        )
    frozen = statistics.median(next(iter(times.values())))
    passed = frozen <= args.target
    print(f"\n{'PASS' if passed else 'FAIL'}  frozen plugin start-up: {frozen:.3f} s, target <= {args.target} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
