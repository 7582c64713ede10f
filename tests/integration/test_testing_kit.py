"""The testing kit without the Pulumi CLI: ArdentEmulator as a process, and the fixtures in a user's pytest run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi.automation import ConfigValue

from ardent_provider import ArdentClient, AuthenticationError, RetryPolicy
from ardent_provider.testing import ArdentEmulator, EmulatorError, StackFactory

from ..conftest import FAST_RETRY

ROOT = Path(__file__).resolve().parents[2]
CREATE = "POST /v1/orgs/{org_id}/api-keys"
NO_RETRY = RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.01, total_seconds=2)


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether no process has the id ``pid`` (reaped or never a child of ours) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def client(api: ArdentEmulator, token: str | None = None, retry: RetryPolicy = FAST_RETRY) -> ArdentClient:
    return ArdentClient(token or api.token, api_url=api.api_url, retry=retry)


def test_the_emulator_runs_in_its_own_process_group_and_stops_with_it() -> None:
    with ArdentEmulator() as api:
        pid = api.pid
        assert pid is not None and os.getpgid(pid) == pid != os.getpgid(0)
        assert api.api_url.startswith("http://127.0.0.1:") and api.org_id.startswith("org_")
        assert api.token.startswith("sk-ard_test_") and api.token not in repr(api)
        assert httpx.get(f"{api.api_url}/_emulator/health").status_code == 200
    assert gone(pid)
    assert repr(api) == "ArdentEmulator(stopped)"
    with pytest.raises(EmulatorError, match="not running"):
        _ = api.api_url
    api.stop()


def test_keys_counts_clock_and_faults_through_the_control_plane() -> None:
    with ArdentEmulator() as api:
        assert api.active_keys() == [] and api.request_counts() == {}
        with client(api) as owner:
            created = owner.create_key(api.org_id, name="svc", role="role_org_member", expires_days=1)
        (listed,) = api.active_keys()
        assert listed["id"] == created.id and listed["name"] == "svc" and set(listed) >= {"key_prefix", "expires_at"}
        assert api.request_counts() == {CREATE: 1}, "the kit's own list calls are not counted"
        # keys_of agrees with active_keys on the owner key: left out, unless asked for.
        assert api.keys_of(api.org_id, api.token) == api.active_keys()
        with_owner = api.keys_of(api.org_id, api.token, include_own=True)
        assert [key["name"] for key in with_owner] == ["svc", "emulator-bootstrap-owner"]
        partner = api.add_org()
        assert api.keys_of(partner["org_id"], partner["token"]) == []
        assert len(api.keys_of(partner["org_id"], partner["token"], include_own=True)) == 1

        before = datetime.now(UTC)
        now = api.advance_clock(days=2, seconds=30)
        assert timedelta(days=2) < now - before < timedelta(days=2, minutes=5)
        with pytest.raises(AuthenticationError):
            client(api, created.token.reveal()).get_org(api.org_id)

        api.inject_fault("GET /v1/orgs/{org_id}", "status", status=503, count=1)
        assert (
            httpx.get(
                f"{api.api_url}/v1/orgs/{api.org_id}", headers={"Authorization": f"Bearer {api.token}"}
            ).status_code
            == 503
        )
        api.inject_fault(CREATE, "status", status=500)
        api.clear_faults()
        with client(api, retry=NO_RETRY) as owner:
            owner.create_key(api.org_id, name="after", role="role_org_viewer")
        assert api.request_counts() == {"GET /v1/orgs/{org_id}": 2, CREATE: 2}
        api.reset_request_counts()
        assert api.request_counts() == {}


def test_bad_control_requests_fail_with_the_reason() -> None:
    with ArdentEmulator() as api:
        with pytest.raises(TypeError, match=r"unknown option.*retries.*the options are: count, delay_ms"):
            api.inject_fault(CREATE, "status", retries=3)
        with pytest.raises(ValueError, match="'route' must be one of"):
            api.inject_fault("POST /v2/keys", "status")
        with pytest.raises(ValueError, match="'mode' must be one of"):
            api.inject_fault(CREATE, "explode")
        with pytest.raises(ValueError, match="forward"):
            api.advance_clock(days=-1)


def test_reset_starts_over_with_a_new_org_and_token() -> None:
    with ArdentEmulator() as api:
        old_org, old_token = api.org_id, api.token
        with client(api) as owner:
            owner.create_key(api.org_id, name="svc", role="role_org_member")
        api.advance_clock(days=30)
        api.inject_fault(CREATE, "drop")
        api.reset()
        assert (api.org_id, api.token) != (old_org, old_token)
        assert api.active_keys() == [] and api.request_counts() == {}
        with pytest.raises(AuthenticationError):
            client(api, old_token).get_org(old_org)
        with client(api, retry=NO_RETRY) as owner:
            owner.create_key(api.org_id, name="no-fault-left", role="role_org_viewer")
        assert abs(datetime.now(UTC) - datetime.fromisoformat(api.active_keys()[0]["created_at"])) < timedelta(
            minutes=5
        )


def test_a_failed_start_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named ardent_provider' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(
        EmulatorError, match=r"exited with code 1:(.|\n)*No module named ardent_provider(.|\n)*installed"
    ):
        ArdentEmulator(python=fake, startup_timeout=10).start()
    with pytest.raises(EmulatorError, match="Could not start"):
        ArdentEmulator(python=tmp_path / "missing").start()
    # A process that starts but never answers: after the timeout it is stopped, with what it started.
    pids = tmp_path / "pids"
    hanging = tmp_path / "hanging-python"
    hanging.write_text(f"#!/bin/sh\necho $$ >> {pids}\nsleep 120 &\necho $! >> {pids}\nwait\n")
    hanging.chmod(0o755)
    with pytest.raises(EmulatorError):
        ArdentEmulator(python=hanging, startup_timeout=2).start()
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2 and all(gone(pid, within=10) for pid in started), started


def test_the_emulator_stops_when_the_process_that_started_it_is_killed() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom ardent_provider.testing import ArdentEmulator\n"
            "api = ArdentEmulator().start()\nprint(api.pid, flush=True)\ntime.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not gone(child, within=0.2)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert gone(child), "the emulator outlived the process that started it"


def run_pytest(
    directory: Path, test_file: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """pytest in a directory of a user's with no conftest: the fixtures can only come from the entry point."""
    (directory / "test_user.py").write_text(textwrap.dedent(test_file))
    environment = dict(env if env is not None else os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_PLUGINS"):
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args, "test_user.py"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_fixture_is_registered_by_the_entry_point_and_resets_for_each_test(tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    result = run_pytest(
        tmp_path,
        f"""
        from ardent_provider import ArdentClient
        from ardent_provider.testing import ArdentEmulator

        RECORD = {str(record)!r}

        def test_first(ardent_emulator):
            assert isinstance(ardent_emulator, ArdentEmulator)
            with ArdentClient(ardent_emulator.token, api_url=ardent_emulator.api_url) as owner:
                owner.create_key(ardent_emulator.org_id, name="svc", role="role_org_member")
            ardent_emulator.advance_clock(days=10)
            ardent_emulator.inject_fault("POST /v1/orgs/{{org_id}}/api-keys", "status", status=503)
            with open(RECORD, "w") as handle:
                handle.write(f"{{ardent_emulator.pid}} {{ardent_emulator.org_id}}")

        def test_second(ardent_emulator):
            pid, org = open(RECORD).read().split()
            assert ardent_emulator.pid == int(pid) and ardent_emulator.org_id != org
            assert ardent_emulator.active_keys() == [] and ardent_emulator.request_counts() == {{}}
            with ArdentClient(ardent_emulator.token, api_url=ardent_emulator.api_url) as owner:
                owner.create_key(ardent_emulator.org_id, name="fault-cleared", role="role_org_member")
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert gone(int(record.read_text().split()[0])), "the session's emulator outlived the session"


def test_without_a_pulumi_cli_ardent_stack_says_exactly_what_is_missing(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ARDENT_PULUMI_BIN_DIR"}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    if any((Path(entry) / "pulumi").exists() for entry in env["PATH"].split(os.pathsep)):
        pytest.skip("a pulumi is installed system-wide, so it cannot be made to be missing")
    result = run_pytest(
        tmp_path,
        """
        def test_uses_a_stack(ardent_stack):
            raise AssertionError("never reached")
        """,
        env=env,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout and "never reached" not in result.stdout
    assert (
        "ardent_stack needs the Pulumi CLI. The Pulumi CLI was not found: there is no `pulumi` on PATH" in result.stdout
    )
    assert str(tmp_path / "cache" / "ardent-provider" / "pulumi") in result.stdout
    assert "scripts/setup-pulumi" in result.stdout and "Traceback" not in result.stdout


def test_the_factory_refuses_what_is_not_a_project_before_running_anything(tmp_path: Path) -> None:
    with ArdentEmulator() as api:
        factory = StackFactory(api, tmp_path / "work", bin_dir=tmp_path)
        (tmp_path / "file.py").write_text("")
        with pytest.raises(FileNotFoundError, match="is not a directory"):
            factory(tmp_path / "file.py")
        with pytest.raises(FileNotFoundError, match=r"holds no Pulumi\.yaml"):
            factory(tmp_path)
        assert factory.stacks == [] and factory.close() == []


FAKE_PULUMI = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
if args == ["version"]:
    print("v3.200.0")  # before 3.205, so the Automation API reads engine events from the --event-log file
    sys.exit(0)
stdin = sys.stdin.read() if "--secret" in args else None
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    seen = {{name: os.environ.get(name) for name in ("PULUMI_BACKEND_URL", "PULUMI_HOME", "PULUMI_PYTHON_CMD")}}
    log.write(json.dumps({{"args": args, "stdin": stdin, "cwd": os.getcwd(), **seen}}) + "\\n")
words = [arg for arg in args if not arg.startswith("-")]
path = os.environ.get("FAKE_PULUMI_SCENARIO", "")
step = (json.load(open(path)) if os.path.exists(path) else {{}}).get(words[0] if words else "", {{}})
if "--event-log" in args:
    with open(args[args.index("--event-log") + 1], "a") as events:
        for item in step.get("events", []) + [{{"cancelEvent": {{}}}}]:
            events.write(json.dumps(item) + "\\n")
    print(step.get("stderr", ""), file=sys.stderr)
    sys.exit(step.get("exit", 0))
if words[:2] == ["stack", "output"]:
    print("{{}}")
elif words[:2] == ["stack", "history"]:
    when = "2026-01-01T00:00:00.000Z"
    print(json.dumps([{{"kind": "update", "startTime": when, "endTime": when, "message": "", "environment": {{}},
                       "config": {{}}, "result": "succeeded", "resourceChanges": {{}}}}]))
"""


class FakeCLI:
    """A stand-in `pulumi` that records every call (arguments, stdin, directory, environment) and succeeds."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = tmp_path / "fake-pulumi" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "pulumi").write_text(FAKE_PULUMI.format(python=sys.executable))
        for name in ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python"):
            (self.bin / name).touch()
            (self.bin / name).chmod(0o755)
        self.log = tmp_path / "fake-pulumi.log"
        self.scenario_file = tmp_path / "fake-pulumi-scenario.json"
        monkeypatch.setenv("FAKE_PULUMI_LOG", str(self.log))
        monkeypatch.setenv("FAKE_PULUMI_SCENARIO", str(self.scenario_file))
        monkeypatch.setenv("ARDENT_PULUMI_BIN_DIR", str(self.bin))
        monkeypatch.delenv("PULUMI_PYTHON_CMD", raising=False)

    def scenario(self, steps: dict[str, Any]) -> None:
        """What `up`, `destroy`, ... do: the engine events they emit, their stderr and exit code."""
        self.scenario_file.write_text(json.dumps(steps))

    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCLI:
    return FakeCLI(tmp_path, monkeypatch)


def test_stacks_are_configured_against_the_emulator_with_secrets_on_stdin_only(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    def billing() -> None:
        pass

    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: team-keys\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    with ArdentEmulator() as api:
        factory = StackFactory(api, tmp_path / "work")
        inline = factory(
            billing,
            config={
                "app:size": 3,
                "app:label": "blue",
                "app:password": ConfigValue("hunter2", secret=True),
                "ardent:orgId": None,
            },
        )
        directory = factory(project, stack="dev")
        assert (inline.project, inline.name, directory.project, directory.name) == (
            "billing",
            "test",
            "team-keys",
            "dev",
        )
        with pytest.raises(ValueError, match="already made stack 'test' of project 'billing'"):
            factory(billing)

        calls = fake_cli.calls()
        assert all(
            api.token not in " ".join(call["args"]) and "hunter2" not in " ".join(call["args"]) for call in calls
        )
        secrets = [(call["args"][-1], call["stdin"]) for call in calls if "--secret" in call["args"]]
        assert secrets == [("ardent:token", api.token), ("app:password", "hunter2"), ("ardent:token", api.token)]
        (plain,) = [call["args"] for call in calls if "set-all" in call["args"] and "test" in call["args"]]
        assert f"ardent:apiUrl={api.api_url}" in plain and "app:size=3" in plain and "app:label=blue" in plain
        assert not any(arg.startswith("ardent:orgId") for arg in plain)

        inline_calls = [call for call in calls if call["cwd"].startswith(str(tmp_path / "work" / "inline-billing"))]
        directory_calls = [call for call in calls if call["cwd"].startswith(str(tmp_path / "work" / "project-project"))]
        assert inline_calls and directory_calls and len(inline_calls) + len(directory_calls) == len(calls)
        assert {call["PULUMI_PYTHON_CMD"] for call in inline_calls} == {sys.executable}
        assert {call["PULUMI_PYTHON_CMD"] for call in directory_calls} == {None}
        assert {call["PULUMI_BACKEND_URL"] for call in calls} == {(tmp_path / "work" / "backend").resolve().as_uri()}
        assert {call["PULUMI_HOME"] for call in calls} == {str(tmp_path / "work" / "pulumi-home")}
        mirror = Path(directory_calls[0]["cwd"])
        assert (mirror / "Pulumi.yaml").is_symlink() and not (mirror / "Pulumi.dev.yaml").exists()

        assert factory.stacks == [inline, directory]
        assert factory.close() == [], "nothing was deployed, so nothing is destroyed or left"


def test_the_fixtures_of_this_session_are_the_reset_emulator_and_a_factory_on_it(
    fake_cli: FakeCLI, ardent_emulator: ArdentEmulator, ardent_stack: StackFactory
) -> None:
    assert isinstance(ardent_emulator, ArdentEmulator) and isinstance(ardent_stack, StackFactory)
    assert ardent_emulator.active_keys() == [] and ardent_emulator.request_counts() == {}
    stack = ardent_stack(lambda: None, stack="fixture")
    assert (stack.project, stack.name) == ("lambda", "fixture")
    (plain,) = [call["args"] for call in fake_cli.calls() if "set-all" in call["args"]]
    assert f"ardent:orgId={ardent_emulator.org_id}" in plain


def key_event(key_id: str, org_id: str) -> dict[str, Any]:
    key_type = "pulumi-python:dynamic/ardent:ApiKey"
    urn = f"urn:pulumi:test::program::{key_type}::{key_id}"
    new = {"type": key_type, "urn": urn, "outputs": {"key_id": key_id, "org_id": org_id}}
    return {"resOutputsEvent": {"metadata": {"op": "create", "urn": urn, "type": key_type, "new": new}}}


def test_closing_destroys_what_was_deployed_and_names_the_keys_still_active(fake_cli: FakeCLI, tmp_path: Path) -> None:
    with ArdentEmulator() as api:
        with client(api) as owner:
            kept = owner.create_key(api.org_id, name="kept", role="role_org_viewer")
            revoked = owner.create_key(api.org_id, name="revoked", role="role_org_viewer")
            owner.revoke_key(api.org_id, revoked.id)
        fake_cli.scenario(
            {
                "up": {"events": [key_event(kept.id, api.org_id), key_event(revoked.id, api.org_id)]},
                "destroy": {"exit": 255, "stderr": "error: the destroy went wrong"},
            }
        )
        stacks = StackFactory(api, tmp_path / "work")

        def program() -> None:
            pass

        stack = stacks(program)
        assert stack.up() == {}
        assert stack.recorded_keys == {kept.id: api.org_id, revoked.id: api.org_id}
        api.inject_fault("GET /v1/orgs/{org_id}/api-keys", "status", status=503)

        problems = stacks.close()

        assert len(problems) == 2, problems
        assert problems[0].startswith("ardent_stack could not destroy stack program/test:")
        assert "the destroy went wrong" in problems[0]
        assert (
            f"left 1 key(s) it created active after its destroy: {kept.id} ('kept') in org {api.org_id}" in problems[1]
        )
        assert revoked.id not in problems[1] and api.token not in "".join(problems)
        # The operation word, wherever the Automation API of the installed SDK puts it among the flags.
        operations = {"up", "destroy", "refresh", "preview"}
        logged = [call["args"] for call in fake_cli.calls() if "--event-log" in call["args"]]
        assert [next(arg for arg in args if arg in operations) for args in logged] == ["up", "destroy"]

        api.stop()
        (unreachable,) = stacks.close()
        assert unreachable.startswith("ardent_stack could not reach the emulator to clean up")


def test_the_child_entry_point_announces_itself_once_and_ends_with_its_input() -> None:
    from ardent_provider.testing import serve

    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    ended: list[str] = []

    def stop(server: Any) -> None:
        ended.append(server.url)
        server.stop()

    with os.fdopen(read_in, "rb") as stdin, os.fdopen(write_out, "w") as stdout, os.fdopen(read_out) as announced:
        runner = threading.Thread(target=serve.main, args=(stdin, stdout, stop))
        runner.start()
        ready = json.loads(announced.readline())
        assert httpx.get(f"{ready['api_url']}/_emulator/health").status_code == 200
        with ArdentClient(ready["token"], api_url=ready["api_url"], retry=FAST_RETRY) as owner:
            assert owner.get_org(ready["org_id"]).id == ready["org_id"]
        os.close(write_in)
        runner.join(timeout=10)
    assert not runner.is_alive() and ended == [ready["api_url"]]
