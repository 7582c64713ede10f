"""A key whose token lives in AWS Secrets Manager (the ``sink`` input), through the real engine.

moto's Secrets Manager in server mode stands in for AWS (a real HTTP endpoint); dummy credentials come from the
environment, never from Pulumi config. The projects live outside the repository (pytest's tmp_path). Both resource
types run through the ``stack`` fixture (``ArdentApiKey`` and the generated Python SDK's ``ApiKey``), and a YAML
program declares the native type.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ardent_provider.emulator import EmulatorServer
from ardent_provider.secret_sink import fingerprint

from ..secrets_store import SecretsStore, aws_env, free_port, secrets_store
from .conftest import STACK, Stack, make_stack, token_works
from .test_native_programs import yaml_stack

pytestmark = pytest.mark.e2e
__all__ = ["aws_env", "secrets_store"]  # fixtures

CREATE = "POST /v1/orgs/{org_id}/api-keys"
# An application of the team: reads AWSCURRENT with the AWS SDK and calls Ardent with it; prints the status only.
CONSUMER = textwrap.dedent(
    """
    import sys

    import boto3
    import httpx

    endpoint, secret_id, api_url, org_id = sys.argv[1:]
    client = boto3.client("secretsmanager", endpoint_url=endpoint)
    token = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
    answer = httpx.get(f"{api_url}/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {token}"})
    print(answer.status_code)
    """
)


def sink(store: SecretsStore, secret_id: str, **fields: Any) -> dict[str, Any]:
    return {"aws_secrets_manager": {"secret_id": secret_id, "endpoint_url": store.endpoint, **fields}}


def consumer_status(tmp_path: Path, store: SecretsStore, secret_id: str, emulator: EmulatorServer) -> str:
    script = tmp_path / "consumer.py"
    script.write_text(CONSUMER)
    result = subprocess.run(
        [sys.executable, str(script), store.endpoint, secret_id, emulator.url, emulator.org_id],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


class Poller:
    """Reads AWSCURRENT every 100 ms and tries each token it reads at once; records what failed."""

    def __init__(self, store: SecretsStore, secret_id: str, emulator: EmulatorServer) -> None:
        self._client = boto3.client(
            "secretsmanager",
            endpoint_url=store.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self._secret_id = secret_id
        self._emulator = emulator
        self._stop = threading.Event()
        self.seen: list[str] = []
        self.failures: list[str] = []
        self.reads = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            token = self._client.get_secret_value(SecretId=self._secret_id, VersionStage="AWSCURRENT")["SecretString"]
            if not token_works(self._emulator, token):
                self.failures.append(fingerprint(token))
            if not self.seen or self.seen[-1] != fingerprint(token):
                self.seen.append(fingerprint(token))
            self.reads += 1
            self._stop.wait(0.1)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def settle(self) -> None:
        """Wait for one more full read after the caller's change, so the last token is among those seen."""
        target = self.reads + 2
        deadline = time.monotonic() + 60
        while self.reads < target and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def leaks(token: str, stack: Stack, *texts: str) -> list[str]:
    """Where ``token`` shows: the raw state file, the export with secrets shown, and the given command outputs."""
    places = {
        "state file": stack.state_text(),
        "stack export --show-secrets": json.dumps(stack.cli.export(show_secrets=True)),
        "stack output --show-secrets": json.dumps(stack.cli.outputs(show_secrets=True)),
        **{f"output {index}": text for index, text in enumerate(texts)},
    }
    return [place for place, text in places.items() if token in text]


def test_a_key_with_a_sink_keeps_its_token_out_of_the_stack_through_rotation_an_overwrite_and_destroy(
    stack: Stack, secrets_store: SecretsStore, aws_env: dict[str, str], tmp_path: Path
) -> None:
    secret_id = secrets_store.name()
    declared = {"resource": "svc", "role": "Member", "keep_previous_for_days": 1, "rotation_triggers": {"n": "1"}}
    declared["sink"] = sink(secrets_store, secret_id)
    stack.write_keys([declared])
    first_up = stack.up("-v=9", "--logtostderr", "--logflow")
    token = secrets_store.current(secret_id)
    (key,) = stack.active_keys().values()
    assert (
        token.startswith(key.key_prefix)
        and consumer_status(tmp_path, secrets_store, secret_id, stack.emulator) == "200"
    )
    recorded = stack.resource_outputs("svc")
    assert recorded.get("token") is None and recorded.get("previous_token") is None
    assert recorded["token_fingerprint"] == fingerprint(token)
    assert recorded["sink_secret_arn"] == secrets_store.describe(secret_id)["ARN"]
    assert recorded["sink_version_id"] in secrets_store.describe(secret_id)["VersionIdsToStages"]
    assert stack.cli.outputs(show_secrets=True).get("svc_token") is None
    assert "RegisterResource" in first_up, "the verbose engine log is in the output checked"
    assert leaks(token, stack, first_up) == []

    # Rotation while an application reads AWSCURRENT every 100 ms: every token it reads works.
    declared["rotation_triggers"] = {"n": "2"}
    stack.write_keys([declared])
    with Poller(secrets_store, secret_id, stack.emulator) as poller:
        rotation = stack.up("-v=9", "--logtostderr", "--logflow")
        poller.settle()
    new_token = secrets_store.current(secret_id)
    assert poller.failures == [] and poller.seen[0] == fingerprint(token) and poller.seen[-1] == fingerprint(new_token)
    assert new_token != token and stack.token_works(new_token) and stack.token_works(token), "old kept for its grace"
    assert secrets_store.staged(secret_id, "AWSPREVIOUS") == token
    assert leaks(token, stack, rotation) == [] and leaks(new_token, stack, rotation) == []

    # Overwritten by hand: refresh marks it, drift reports it, up replaces the key and heals the secret.
    secrets_store.client.put_secret_value(SecretId=secret_id, SecretString="typed by hand")
    stack.cli.run("refresh", "--yes")
    assert stack.resource_outputs("svc")["status"] == "sink_mismatch"
    drift = stack.ardent_keys("drift", "--stack", STACK, "--json")
    assert drift.stdout, drift.stderr
    report = json.loads(drift.stdout)
    assert [(f["problem"], f["resource"]) for f in report["findings"]] == [("sink_mismatch", "svc")], drift.stdout
    stack.reset_stats()
    healing = stack.up()
    healed = secrets_store.current(secret_id)
    assert (
        stack.stats().get(CREATE) == 1
        and stack.token_works(healed)
        and stack.resource_outputs("svc")["status"] == "active"
    )
    assert consumer_status(tmp_path, secrets_store, secret_id, stack.emulator) == "200"
    assert not stack.token_works(new_token) and not stack.token_works(token)
    assert leaks(healed, stack, healing) == []
    clean = stack.ardent_keys("drift", "--stack", STACK, "--json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["findings"] == [], clean.stdout

    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}
    assert secrets_store.describe(secret_id).get("DeletedDate") is not None, "the secret it created is deleted"


def test_the_secrets_endpoint_down_during_create_leaves_no_active_key_and_the_error_names_the_secret(
    stack: Stack, aws_env: dict[str, str]
) -> None:
    down = {"aws_secrets_manager": {"secret_id": "apps/down/token", "endpoint_url": f"http://127.0.0.1:{free_port()}"}}
    stack.write_keys([{"resource": "svc", "role": "Member", "sink": down}])
    stack.reset_stats()
    output = stack.up(check=False)
    assert "'apps/down/token'" in output and "EndpointConnectionError" in output, output[-3000:]
    assert "was revoked" in output
    assert stack.stats().get(CREATE) == 1 and stack.active_keys() == {}, "the key made is revoked, none is left"
    assert "sk-ard_" not in output


def test_a_yaml_program_keeps_the_token_in_the_secret(
    tmp_path: Path, emulator: EmulatorServer, secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    stack = yaml_stack(tmp_path, emulator)
    secret_id = secrets_store.name()
    program_file = stack.project_dir / "Pulumi.yaml"
    program = yaml.safe_load(program_file.read_text())
    program["resources"]["productionTest"]["properties"]["sink"] = {
        "awsSecretsManager": {"secretId": secret_id, "endpointUrl": secrets_store.endpoint, "recoveryWindowDays": 10}
    }
    program["outputs"] = {
        "productionTestToken": "${productionTest.token}",
        "secretArn": "${productionTest.sinkSecretArn}",
        "versionId": "${productionTest.sinkVersionId}",
    }
    program_file.write_text(yaml.safe_dump(program, sort_keys=False))
    up = stack.cli.run("up", "--yes", "-v=9", "--logtostderr", "--logflow")
    token = secrets_store.current(secret_id)
    assert stack.token_works(token) and consumer_status(tmp_path, secrets_store, secret_id, emulator) == "200"
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs.get("productionTestToken") is None
    assert outputs["secretArn"] == secrets_store.describe(secret_id)["ARN"]
    assert secrets_store.describe(secret_id)["VersionIdsToStages"][outputs["versionId"]] == ["AWSCURRENT"]
    assert leaks(token, stack, up.stdout + up.stderr) == []
    stack.cli.run("refresh", "--yes")
    stack.cli.run("preview", "--expect-no-changes")
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {} and secrets_store.describe(secret_id).get("DeletedDate") is not None


def test_adding_a_sink_moves_the_held_token_without_a_new_key_and_removing_it_replaces_the_key(
    stack: Stack, secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    secret_id = secrets_store.name()
    declared: dict[str, Any] = {"resource": "svc", "role": "Member"}
    stack.write_keys([declared])
    stack.up()
    token = stack.cli.outputs(show_secrets=True)["svc_token"]
    (key_id,) = stack.active_keys()

    declared["sink"] = sink(secrets_store, secret_id)
    stack.write_keys([declared])
    stack.reset_stats()
    stack.up()
    assert stack.stats().get(CREATE, 0) == 0 and set(stack.active_keys()) == {key_id}, "the same key"
    assert secrets_store.current(secret_id) == token and stack.token_works(token)
    assert stack.resource_outputs("svc").get("token") is None
    assert leaks(token, stack) == []

    del declared["sink"]
    stack.write_keys([declared])
    stack.up()
    new_token = stack.cli.outputs(show_secrets=True)["svc_token"]
    assert stack.token_works(new_token) and not stack.token_works(token) and key_id not in stack.active_keys()
    # The secret the provider created held only the replaced key's token, now revoked: it is deleted.
    assert secrets_store.describe(secret_id).get("DeletedDate") is not None


RETAINED_PROGRAM = textwrap.dedent(
    """
    import pulumi

    from ardent_provider import ArdentApiKey

    config = pulumi.Config()
    ArdentApiKey(
        "kept",
        role="Member",
        sink={"aws_secrets_manager": {"secret_id": config.require("holder"), "endpoint_url": config.require("aws")}},
        opts=pulumi.ResourceOptions(retain_on_delete=True),
    )
    """
)


@pytest.mark.parametrize("kind", ["dynamic", "native"])
def test_retain_on_delete_keeps_both_the_key_and_its_secret(
    kind: str, tmp_path: Path, emulator: EmulatorServer, secrets_store: SecretsStore, aws_env: dict[str, str]
) -> None:
    stack = make_stack(tmp_path, emulator, RETAINED_PROGRAM, project="ardent-retained", kind=kind)
    secret_id = secrets_store.name()
    stack.cli.set_config("holder", secret_id)
    stack.cli.set_config("aws", secrets_store.endpoint)
    stack.up()
    token = secrets_store.current(secret_id)
    stack.cli.run("destroy", "--yes")
    assert stack.token_works(token) and len(stack.active_keys()) == 1
    assert secrets_store.current(secret_id) == token and secrets_store.describe(secret_id).get("DeletedDate") is None
