"""A team state backend with the real CLI: stacks kept in an S3-compatible object store (moto's server mode).

Every runner is its own checkout of one repository with its own ``PULUMI_HOME``, as CI runners are; they
share the bucket, the passphrase and one emulator org.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import KEYS_PROGRAM, PASSPHRASE, Stack, project_yaml, require_cli, token_works

pytestmark = pytest.mark.e2e

PROJECT = "ardent-team"
BUCKET = "team-state"
CREATE = "POST /v1/orgs/{org_id}/api-keys"
REVOKE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"
# The first runner's program waits for this file, so it holds the stack's lock until the test lets it go on:
# the second runner meets the lock whatever the machine's load, with no delay to race.
HOLD_PROGRAM = textwrap.dedent(
    """
    import time
    from pathlib import Path

    _go = Path(__file__).parent / "go"
    _deadline = time.monotonic() + 300
    while not _go.exists() and time.monotonic() < _deadline:
        time.sleep(0.05)
    """
)
# Dummy credentials: moto accepts any, and they keep the SDKs from looking for real ones.
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
# moto sends no response checksums; without this the CLI's AWS SDK warns about it on every read.
QUIET_CHECKSUMS = {"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}


@dataclass(frozen=True)
class ObjectStore:
    """moto's S3 on a loopback port, holding one bucket for Pulumi state."""

    endpoint: str
    bucket: str
    # One client for the whole test: polling for the lock must not load the machine the race runs on.
    s3: Any = field(repr=False)

    @property
    def backend_url(self) -> str:
        host = self.endpoint.removeprefix("http://")
        return f"s3://{self.bucket}?endpoint={host}&s3ForcePathStyle=true&disableSSL=true&region=us-east-1"

    def env(self) -> dict[str, str]:
        return {**DUMMY_AWS, **QUIET_CHECKSUMS, "PULUMI_BACKEND_URL": self.backend_url}

    def object_names(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=DUMMY_AWS["AWS_REGION"],
        aws_access_key_id=DUMMY_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS["AWS_SECRET_ACCESS_KEY"],
    )


def wait_for_endpoint(process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> str:
    """The URL moto reports once it listens (it binds port 0, so the kernel picks a free port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"moto's server did not start (exit code {process.poll()}):\n{log.read_text()[-2000:]}")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left of it (the leader too if it did not stop)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def object_store(tmp_path: Path) -> Iterator[ObjectStore]:
    log = tmp_path / "moto.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MOTO_"))}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        endpoint = wait_for_endpoint(process, log)
        store = ObjectStore(endpoint, BUCKET, s3_client(endpoint))
        store.s3.create_bucket(Bucket=store.bucket)
        yield store
    finally:
        stop_process_group(process)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


def make_repository(tmp_path: Path, store: ObjectStore, emulator: EmulatorServer, stacks: list[str]) -> Path:
    """The team's repository: the program, and each stack created on the object store with its config."""
    require_cli()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Pulumi.yaml").write_text(project_yaml(PROJECT, Path(sys.prefix)))
    (repo / "__main__.py").write_text(KEYS_PROGRAM)
    (repo / "keys.json").write_text(json.dumps([{"resource": "deployer", "role": "Viewer"}]))
    cli = PulumiCLI(repo, tmp_path / "maintainer", PASSPHRASE, extra_env=store.env())
    login = cli.run("login", store.backend_url)
    assert store.backend_url in login.stdout, login.stdout + login.stderr
    for stack in stacks:
        cli.run("stack", "init", stack)
        cli.set_config("ardent:apiUrl", emulator.url)
        cli.set_config("ardent:orgId", emulator.org_id)
        cli.set_config("ardent:token", emulator.token, secret=True)
    return repo


def runner(repo: Path, tmp_path: Path, name: str, stack: str, store: ObjectStore, emulator: EmulatorServer) -> Stack:
    """A pipeline runner: a fresh checkout and PULUMI_HOME, on the shared backend, with ``stack`` selected."""
    checkout = tmp_path / name / "checkout"
    shutil.copytree(repo, checkout, ignore=shutil.ignore_patterns("__pycache__"))
    cli = PulumiCLI(checkout, tmp_path / name / "pulumi", PASSPHRASE, extra_env=store.env())
    cli.run("stack", "select", stack)
    return Stack(cli, emulator, checkout, PROJECT)


def up(stack: Stack) -> subprocess.CompletedProcess[str]:
    return stack.cli.run("up", "--yes", "--skip-preview", check=False)


def output_text(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def summary(output: str) -> dict[str, int]:
    block = output.rsplit("Resources:", 1)[-1].split("Duration:", 1)[0]
    return {
        kind: int(count) for count, kind in re.findall(r"(\d+) (created|updated|deleted|replaced|unchanged)", block)
    }


def state_tokens(stack: Stack) -> dict[str, str]:
    """Key id to token, for every key the runner's stack records."""
    outputs = stack.cli.outputs(show_secrets=True)
    return {
        outputs[name.removesuffix("_token") + "_key_id"]: value
        for name, value in outputs.items()
        if name.endswith("_token")
    }


def locks(store: ObjectStore, stack: str) -> list[str]:
    return [name for name in store.object_names(".pulumi/locks/") if f"/{PROJECT}/{stack}/" in name]


def test_runners_share_an_s3_backend_its_lock_refuses_a_second_up_of_one_stack_and_drift_reads_it(
    tmp_path: Path, emulator: EmulatorServer, object_store: ObjectStore
) -> None:
    repo = make_repository(tmp_path, object_store, emulator, ["staging", "production"])
    staging = runner(repo, tmp_path, "runner-1", "staging", object_store, emulator)
    production = runner(repo, tmp_path, "runner-2", "production", object_store, emulator)

    # Two stacks at once: each holds its own lock, both succeed.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(up, [staging, production]))
    for result in results:
        assert result.returncode == 0, output_text(result)[-3000:]
        assert summary(output_text(result)) == {"created": 2}, output_text(result)
    tokens = state_tokens(staging) | state_tokens(production)
    assert len(tokens) == 2 and all(token_works(emulator, token) for token in tokens.values())
    assert set(staging.active_keys()) == set(tokens)
    assert {f".pulumi/stacks/{PROJECT}/staging.json", f".pulumi/stacks/{PROJECT}/production.json"} <= set(
        object_store.object_names(".pulumi/stacks/")
    )
    assert not any(staging.cli.backend_dir.iterdir()), "nothing went to the private file backend"

    # One stack from two runners at once: a new commit adds a key; the first runner's program waits (holding the
    # stack's lock) until the second runner has been refused.
    other = runner(repo, tmp_path, "runner-3", "production", object_store, emulator)
    new_keys = [{"resource": "deployer", "role": "Viewer"}, {"resource": "reporting", "role": "Viewer"}]
    production.write_keys(new_keys)
    other.write_keys(new_keys)
    (production.project_dir / "__main__.py").write_text(HOLD_PROGRAM + KEYS_PROGRAM)
    production.reset_stats()
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(up, production)
        deadline = time.monotonic() + 120
        try:
            while not locks(object_store, "production"):
                assert not first.done(), "the first runner finished before it was seen holding the lock"
                assert time.monotonic() < deadline, "the first runner never took the lock"
                time.sleep(0.05)
            refused = up(other)
        finally:
            (production.project_dir / "go").touch()
        first_result = first.result()
    refusal = output_text(refused)
    print(f"\nsecond runner's output:\n{refusal}")
    assert refused.returncode != 0, refusal
    assert "the stack is currently locked" in refusal, refusal
    assert first_result.returncode == 0, output_text(first_result)[-3000:]
    assert summary(output_text(first_result)) == {"created": 1, "unchanged": 2}, output_text(first_result)
    assert production.stats().get(CREATE) == 1, "the refused runner created nothing"
    assert locks(object_store, "production") == [], "the first runner released its lock"

    # Nothing lost: every token in either state authenticates, and the org's keys are exactly the states'.
    tokens = state_tokens(staging) | state_tokens(production)
    assert len(tokens) == 3 and all(token_works(emulator, token) for token in tokens.values())
    assert set(staging.active_keys()) == set(tokens)
    assert state_tokens(other) == state_tokens(production), "both runners read the same state"

    # The refused runner retries once the first is done: nothing left to do, no create or revoke.
    production.reset_stats()
    retry = up(other)
    assert retry.returncode == 0, output_text(retry)[-3000:]
    assert summary(output_text(retry)) == {"unchanged": 3}, output_text(retry)
    assert (production.stats().get(CREATE, 0), production.stats().get(REVOKE, 0)) == (0, 0)

    # ardent-keys reads both stacks from the object store.
    env = {**staging.cli.env(), "PULUMI_BACKEND_URL": object_store.backend_url}
    drift = staging.ardent_keys("drift", "--stack", "staging", "--stack", "production", "--json", env=env)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    report = json.loads(drift.stdout)
    assert [(item["project"], item["stack"]) for item in report["stacks"]] == [
        (PROJECT, "staging"),
        (PROJECT, "production"),
    ]
    assert report["managed_keys"] == 3 and report["drift"] is False and report["findings"] == []

    with ThreadPoolExecutor(max_workers=2) as pool:
        destroyed = list(pool.map(lambda stack: stack.cli.run("destroy", "--yes", check=False), [staging, other]))
    for result in destroyed:
        assert result.returncode == 0, output_text(result)[-3000:]
    assert staging.active_keys() == {}
    assert all(not token_works(emulator, token) for token in tokens.values())
