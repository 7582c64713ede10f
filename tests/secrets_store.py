"""moto's Secrets Manager in server mode on a loopback port: the AWS side of the ``sink`` tests.

A real HTTP endpoint in a thread of the test process (``ThreadedMotoServer``), so the provider (in-process, or a
Pulumi plugin the CLI starts) reaches it exactly as it would reach AWS. Credentials are dummies in the
environment, never in Pulumi config.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Keep a developer's own AWS files out of the tests.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SecretsStore:
    """The endpoint, a client onto it, and a fresh secret name per call of :meth:`name`."""

    endpoint: str
    client: Any = field(repr=False)

    def name(self, prefix: str = "ardent") -> str:
        return f"{prefix}/{uuid.uuid4().hex[:12]}"

    def current(self, secret_id: str) -> str:
        # By its label: moto's UpdateSecretVersionStage moves the label but not what an unlabelled read returns.
        return self.staged(secret_id, "AWSCURRENT")

    def staged(self, secret_id: str, stage: str) -> str:
        value: str = self.client.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"]
        return value

    def describe(self, secret_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.describe_secret(SecretId=secret_id)
        return found


@pytest.fixture(scope="session")
def secrets_store() -> Iterator[SecretsStore]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        yield SecretsStore(endpoint, client)
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy AWS credentials in this process's environment (moto accepts any)."""
    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    return dict(DUMMY_AWS)
