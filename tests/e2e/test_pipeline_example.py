"""examples/pipeline/deploy.py as a CI job runs it: hand the token on unprinted, exit codes, the drift step."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ardent_provider import ArdentClient
from ardent_provider.testing import ArdentEmulator, find_pulumi

from ..conftest import FAST_RETRY
from .conftest import PASSPHRASE, ROOT

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "examples" / "pipeline"
CREATE = "POST /v1/orgs/{org_id}/api-keys"


class Job:
    """The example copied into a repository of its own, run with the environment a CI runner gives it."""

    def __init__(self, tmp_path: Path, emulator: ArdentEmulator) -> None:
        self.tmp = tmp_path / "tmp"  # TMPDIR: where the default outputs file's private directory goes
        self.tmp.mkdir()
        self.project = tmp_path / "repo"
        self.project.mkdir()
        for name in ("Pulumi.yaml", "__main__.py", "deploy.py"):
            shutil.copy(EXAMPLE / name, self.project / name)
        # Pulumi.yaml names `venv`, as a user's repository would have it; here it is the test's interpreter.
        (self.project / "venv").symlink_to(Path(sys.prefix), target_is_directory=True)
        self.emulator = emulator
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("GITHUB_", "ARDENT_", "PULUMI_", "RUNNER_")) and key not in {"VIRTUAL_ENV", "CI"}
        }
        (tmp_path / "backend").mkdir()
        self.env.update(
            PATH=f"{find_pulumi()}{os.pathsep}{os.environ['PATH']}",
            PULUMI_BACKEND_URL=(tmp_path / "backend").as_uri(),
            PULUMI_HOME=str(tmp_path / "pulumi-home"),
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            ARDENT_API_URL=emulator.api_url,
            ARDENT_ORG_ID=emulator.org_id,
            ARDENT_TOKEN=emulator.token,
            TMPDIR=str(self.tmp),
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "deploy.py", *args],
            cwd=self.project,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def key_ids(self) -> list[str]:
        return [key["id"] for key in self.emulator.active_keys()]

    def outputs_files(self) -> list[Path]:
        """Every outputs file written: in the workspace (never), under TMPDIR, or wherever the log said."""
        return sorted([*self.project.rglob("ardent-outputs*"), *self.tmp.rglob("ardent-outputs.json")])


def written_to(result: subprocess.CompletedProcess[str]) -> Path:
    """The path the log line names; the only thing printed about the file."""
    (path,) = re.findall(r"wrote ci_deployer_token to (\S+) \(mode 0600\)", result.stderr)
    return Path(path)


@pytest.fixture
def job(tmp_path: Path, ardent_emulator: ArdentEmulator) -> Job:
    return Job(tmp_path, ardent_emulator)


def test_on_github_actions_the_token_is_masked_then_handed_on_through_github_output(job: Job, tmp_path: Path) -> None:
    github_output = tmp_path / "github_output"
    github_output.write_text("earlier=step\n")

    first = job.run(
        "up", "--stack", "ci", "--output", "ci_deployer_token", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(github_output)
    )

    assert first.returncode == 0, first.stdout + first.stderr
    earlier, handed = github_output.read_text().splitlines()
    name, token = handed.split("=", 1)
    assert earlier == "earlier=step" and name == "ci_deployer_token" and token.startswith("sk-ard_test_")
    assert [line for line in first.stdout.splitlines() if token in line] == [f"::add-mask::{token}"]
    assert token not in first.stderr and "[secret]" in first.stdout
    (key_id,) = job.key_ids()

    # The next run selects the stack it created; with no --output it hands on every secret output.
    again = job.run("up", "--stack", "ci", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(github_output))
    assert again.returncode == 0, again.stdout + again.stderr
    assert github_output.read_text().splitlines()[2:] == [f"ci_deployer_token={token}"]
    assert [line for line in again.stdout.splitlines() if token in line] == [f"::add-mask::{token}"]
    assert job.key_ids() == [key_id]


def test_elsewhere_the_outputs_go_to_a_private_temporary_file_outside_the_workspace(job: Job) -> None:
    result = job.run("up", "--stack", "ci")

    assert result.returncode == 0, result.stdout + result.stderr
    handed = written_to(result)
    assert job.outputs_files() == [handed] and handed.parent.parent == job.tmp
    assert handed.name == "ardent-outputs.json" and handed.parent.name.startswith("ardent-outputs-")
    assert stat.S_IMODE(handed.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(handed.stat().st_mode) == 0o600
    token = json.loads(handed.read_text())["ci_deployer_token"]
    assert token.startswith("sk-ard_test_") and token not in result.stdout + result.stderr
    (key,) = job.emulator.active_keys()
    assert token.startswith(key["key_prefix"]) and key["name"] == "ci-deployer"

    # Each run its own directory, so no later job reads an earlier one's file.
    again = job.run("up", "--stack", "ci")
    assert again.returncode == 0, again.stdout + again.stderr
    assert written_to(again).parent != handed.parent and len(job.outputs_files()) == 2


def test_on_a_runner_with_runner_temp_the_outputs_go_there(job: Job, tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()

    result = job.run("up", "--stack", "ci", RUNNER_TEMP=str(runner_temp))

    assert result.returncode == 0, result.stdout + result.stderr
    handed = runner_temp / "ardent-outputs.json"
    assert written_to(result) == handed and job.outputs_files() == []
    assert stat.S_IMODE(handed.stat().st_mode) == 0o600
    token = json.loads(handed.read_text())["ci_deployer_token"]
    assert token.startswith("sk-ard_test_") and token not in result.stdout + result.stderr


def test_exit_codes_tell_a_failed_deploy_from_a_misconfigured_job(job: Job, tmp_path: Path) -> None:
    assert job.run("up", "--stack", "ci", GITHUB_ACTIONS="true").returncode == 2
    assert job.run("up", "--stack", "ci", "--cwd", str(tmp_path)).returncode == 2
    assert job.run("drift", "--stack", "never-deployed").returncode == 2

    job.emulator.inject_fault(CREATE, "status", status=403)
    refused = job.run("up", "--stack", "ci")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "HTTP 403" in refused.stdout and "`pulumi up` failed on stack ci" in refused.stderr
    assert job.key_ids() == [] and job.outputs_files() == []

    job.emulator.clear_faults()
    unknown = job.run("up", "--stack", "ci", "--output", "ci_deployer_tokn")
    assert unknown.returncode == 2
    assert "no output ci_deployer_tokn; it exports: ci_deployer_expires_at, ci_deployer_key_id" in unknown.stderr


def test_the_drift_step_passes_on_a_clean_stack_and_fails_once_the_key_is_revoked(job: Job) -> None:
    deployed = job.run("up", "--stack", "ci")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    clean = job.run("drift", "--stack", "ci", "--expiring-within", "14")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "the preview proposes no change" in clean.stderr

    (key_id,) = job.key_ids()
    with ArdentClient(job.emulator.token, api_url=job.emulator.api_url, retry=FAST_RETRY) as owner:
        owner.revoke_key(job.emulator.org_id, key_id)
    drifted = job.run("drift", "--stack", "ci")
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "the preview proposes 1 create" in drifted.stderr and key_id in drifted.stdout
    token = json.loads(written_to(deployed).read_text())["ci_deployer_token"]
    assert token not in drifted.stdout + drifted.stderr
