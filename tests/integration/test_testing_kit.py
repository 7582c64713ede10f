"""The testing kit without the Pulumi CLI: ArdentEmulator as a process, and the fixtures in a user's pytest run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

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
    with pytest.raises(EmulatorError, match=r"did not start(.|\n)*No module named ardent_provider(.|\n)*installed"):
        ArdentEmulator(python=fake, startup_timeout=10).start()
    with pytest.raises(EmulatorError, match="Could not start"):
        ArdentEmulator(python=tmp_path / "missing").start()


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
