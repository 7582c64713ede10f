"""What every part of the benchmark shares: a time budget, commands that leave no process behind, stacks, orgs.

Pulumi starts its language host and providers in process groups of their own, so killing the CLI's group
would miss them. Each command therefore runs in a session of its own (``setsid``), and every process group
still in that session is killed when the command ends, however it ends.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import PulumiCLI, PulumiCommandError

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "bench" / "program"
LIST_ROUTE = "GET /v1/orgs/{org_id}/api-keys"
API_ROUTES = (
    LIST_ROUTE,
    "POST /v1/orgs/{org_id}/api-keys",
    "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}",
    "GET /v1/orgs/{org_id}/roles",
    "GET /v1/orgs/{org_id}",
)
OPERATION_ARGS = {
    "up": ("up", "--yes", "--skip-preview"),
    "refresh": ("refresh", "--yes", "--skip-preview"),
    "destroy": ("destroy", "--yes", "--skip-preview"),
}
STARTED = time.monotonic()


def progress(message: str) -> None:
    elapsed = int(time.monotonic() - STARTED)
    print(f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)


class BudgetSpentError(Exception):
    """The run's time budget is spent; what is left is reported as not measured."""


class Deadline:
    """The end of the run's time budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise BudgetSpentError(f"the time budget of {self.seconds / 60:g} min is spent")
        return left


def _session_members(session: int) -> list[tuple[int, int]]:
    """(pid, process group) of every live process in ``session``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as status:
                fields = status.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group, sid = fields[0], int(fields[2]), int(fields[3])
        if sid == session and state != "Z":
            members.append((int(entry.name), group))
    return members


def end_session(session: int) -> None:
    """Kill every process group of ``session``: SIGTERM, then SIGKILL for whatever is left after 3 s."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        members = _session_members(session)
        if not members:
            return
        for group in {group for _, group in members}:
            try:
                os.killpg(group, sig)
            except OSError:
                continue
        waited_until = time.monotonic() + grace
        while _session_members(session) and time.monotonic() < waited_until:
            time.sleep(0.05)


def run_in_session(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], deadline: Deadline, stdin: str | None = None
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run a command in a new session within the budget; return its result, wall time and CPU time.

    The CPU time is the command's and its descendants' that it waited for (user + system).
    """
    timeout = deadline.remaining()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
            elapsed = time.perf_counter() - started
        except subprocess.TimeoutExpired:
            raise BudgetSpentError(f"the time budget ran out during `{' '.join(argv[:2])}`") from None
        finally:
            end_session(process.pid)
            if process.poll() is None:
                process.kill()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr), elapsed, cpu


@dataclass
class BenchCLI(PulumiCLI):
    """The project's PulumiCLI, run in sessions of its own and within the run's budget."""

    deadline: Deadline = field(default_factory=lambda: Deadline(3600))
    last_elapsed: float = 0.0
    last_cpu: float = 0.0

    def run(
        self,
        *args: str,
        check: bool = True,
        stdin: str | None = None,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        result, self.last_elapsed, self.last_cpu = run_in_session(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project_dir,
            env=self.env(),
            deadline=self.deadline,
            stdin=stdin,
        )
        if check and result.returncode != 0:
            raise PulumiCommandError(args, result)
        return result


@dataclass(frozen=True)
class Org:
    org_id: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Measurement:
    seconds: float
    requests: dict[str, int]
    rss_mb: float
    cpu_seconds: float

    @property
    def list_calls(self) -> int:
        return self.requests.get(LIST_ROUTE, 0)


def runtime_interpreter(folder: Path) -> Path:
    """A virtualenv holding only what a user's project installs with the package: pulumi and httpx, at the
    versions this checkout runs with. The development tools (pytest, selenium and what they bring, trio among
    them, which httpcore imports whenever it is installed) would otherwise be paid for in every measured run.
    The package itself comes from the checkout through PYTHONPATH, for ours and the no-op alike."""
    venv = folder / "runtime-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("pulumi", "httpx")]
    # The generated SDK of the native provider, from a copy so that no build files land in the checkout.
    sdk = folder / "sdk-python"
    shutil.copytree(ROOT / "sdk" / "python", sdk, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins, sdk],
        check=True,
    )
    return venv / "bin" / "python"


def native_plugin(folder: Path, python: Path) -> Path:
    """A directory holding ``pulumi-resource-ardent`` run by the runtime interpreter (the package through
    PYTHONPATH, as for the dynamic provider), for the projects' ``plugins.providers``."""
    plugins = folder / "plugins"
    plugins.mkdir()
    launcher = plugins / "pulumi-resource-ardent"
    launcher.write_text(f'#!/bin/sh\nexec "{python}" -m ardent_provider.native "$@"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    return plugins


def measuring_virtualenv(folder: Path, python: Path) -> Path:
    """A virtualenv for the projects' runtime options whose ``bin/python`` runs rss_python.py.

    Pulumi starts the program and the provider with ``<virtualenv>/bin/python``, so the provider's peak RSS is
    recorded while the projects keep the runtime block any user project has. ``python`` (from
    :func:`runtime_interpreter`) is the interpreter behind it.
    """
    venv = folder / "venv"
    (venv / "bin").mkdir(parents=True)
    wrapper = venv / "bin" / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{python}" "{ROOT / "bench" / "rss_python.py"}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return venv


def describe_requests(stats: dict[str, int]) -> str:
    short = {"POST": "create", "DELETE": "revoke"}
    parts = []
    for route, count in sorted(stats.items()):
        method, template = route.split(" ", 1)
        name = short.get(method) or ("list" if template.endswith("api-keys") else template.rsplit("/", 1)[-1])
        parts.append(f"{count} {name}")
    return ", ".join(parts) or "none"


class Bench:
    """One emulator, orgs on demand, and fresh projects and stacks of N keys (or N no-op resources)."""

    def __init__(self, server: EmulatorServer, folder: Path, deadline: Deadline) -> None:
        self.server = server
        self.folder = folder
        self.deadline = deadline
        self.python = runtime_interpreter(folder)
        self.virtualenv = measuring_virtualenv(folder, self.python)
        self.plugins = native_plugin(folder, self.python)
        self.rss_file = folder / "rss.txt"
        self.counter = 0
        self.http = httpx.Client(base_url=server.url, timeout=120)

    def close(self) -> None:
        self.http.close()

    @property
    def default_org(self) -> Org:
        return Org(self.server.org_id, self.server.token)

    def new_org(self) -> Org:
        """Another org with its own owner token, through the emulator's control plane."""
        created = self.http.post("/_emulator/orgs")
        created.raise_for_status()
        body = created.json()
        return Org(body["org_id"], body["token"])

    def project(self) -> BenchCLI:
        """A new project running bench/program, with its own file backend."""
        self.counter += 1
        project = self.folder / f"project-{self.counter}"
        project.mkdir()
        (project / "Pulumi.yaml").write_text(
            "name: bench\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
            f"    virtualenv: {json.dumps(str(self.virtualenv))}\n"
            f"plugins:\n  providers:\n    - name: ardent\n      path: {json.dumps(str(self.plugins))}\n"
        )
        (project / "__main__.py").write_text((PROGRAM / "__main__.py").read_text())
        env = {"PYTHONPATH": str(ROOT), "ARDENT_BENCH_RSS_FILE": str(self.rss_file)}
        return BenchCLI(project, self.folder / f"state-{self.counter}", "bench", extra_env=env, deadline=self.deadline)

    def add_stack(
        self, cli: BenchCLI, name: str, kind: str, size: int, org: Org, *, reset_pickler: bool = False
    ) -> None:
        """Create and select a stack of ``size`` resources of ``kind`` ("ardent", "native" or "noop") in ``org``."""
        cli.run("stack", "init", name)
        cli.run(
            "config",
            "set-all",
            *("--plaintext", f"bench:count={size}"),
            *("--plaintext", f"bench:kind={kind}"),
            *("--plaintext", f"bench:resetPickler={str(reset_pickler).lower()}"),
            *("--plaintext", f"ardent:apiUrl={self.server.url}"),
            *("--plaintext", f"ardent:orgId={org.org_id}"),
        )
        cli.set_config("ardent:token", org.token, secret=True)

    def stack(self, kind: str, size: int, org: Org | None = None, *, reset_pickler: bool = False) -> BenchCLI:
        cli = self.project()
        self.add_stack(cli, "bench", kind, size, org or self.default_org, reset_pickler=reset_pickler)
        return cli

    def reset_stats(self) -> None:
        self.http.post("/_emulator/stats/reset").raise_for_status()

    def stats(self) -> dict[str, int]:
        requests: dict[str, int] = self.http.get("/_emulator/stats").json()["requests"]
        return requests

    def measure(self, cli: BenchCLI, operation: str) -> Measurement:
        """Run one operation; its wall time, the API requests it made and the provider's peak RSS."""
        self.rss_file.unlink(missing_ok=True)
        self.reset_stats()
        cli.run(*OPERATION_ARGS[operation])
        return Measurement(cli.last_elapsed, self.stats(), self._peak_rss_mb(), cli.last_cpu)

    def timed(self, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[Measurement, str]:
        """Run any command with the request counters reset first; its measurement and its stdout."""
        self.reset_stats()
        result, elapsed, cpu = run_in_session(argv, cwd=cwd, env=env, deadline=self.deadline)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(argv[:3])} …` exited with {result.returncode}:\n{tail}")
        return Measurement(elapsed, self.stats(), float("nan"), cpu), result.stdout

    def _peak_rss_mb(self) -> float:
        if not self.rss_file.exists():
            return float("nan")
        peaks = [int(line.split()[1]) for line in self.rss_file.read_text().splitlines() if line.strip()]
        self.rss_file.unlink()
        return max(peaks) / 1024 if peaks else float("nan")

    def inject_delay(self, delay_ms: int) -> None:
        for route in API_ROUTES:
            self.http.post("/_emulator/faults", json={"route": route, "mode": "delay", "delay_ms": delay_ms})

    def clear_faults(self) -> None:
        self.http.delete("/_emulator/faults").raise_for_status()

    def list_url(self, org: Org) -> str:
        return f"/v1/orgs/{org.org_id}/api-keys"

    def seed(self, org: Org, count: int, clients: int, on_progress: Callable[[int], None]) -> float:
        """Create ``count`` keys in ``org`` through the API, ``clients`` requests at a time; the time it took."""
        started = time.perf_counter()
        created = itertools.count(1)
        stopping = threading.Event()

        def create(share: range) -> None:
            with httpx.Client(base_url=self.server.url, timeout=120) as http:
                for index in share:
                    if stopping.is_set():
                        return
                    self.deadline.remaining()
                    answer = http.post(
                        self.list_url(org),
                        json={"name": f"filler-{index:05d}", "role_id": "role_org_viewer"},
                        headers={"Authorization": f"Bearer {org.token}"},
                    )
                    if answer.status_code != 201:
                        raise RuntimeError(f"seeding key {index} got HTTP {answer.status_code}: {answer.text[:200]}")
                    total = next(created)
                    if total % 2000 == 0:
                        on_progress(total)

        with ThreadPoolExecutor(max_workers=clients) as pool:
            try:
                list(pool.map(create, [range(start, count, clients) for start in range(clients)]))
            finally:
                # On a failure or a signal the other workers stop at their next key instead of finishing.
                stopping.set()
        return time.perf_counter() - started

    def list_keys(self, org: Org) -> tuple[int, float]:
        """How many active keys the org lists, and how long the emulator took to answer."""
        started = time.perf_counter()
        answer = self.http.get(self.list_url(org), headers={"Authorization": f"Bearer {org.token}"})
        elapsed = time.perf_counter() - started
        answer.raise_for_status()
        return len(answer.json()), elapsed
