"""Fixtures shared by every layer of tests: the emulator, the vendor's OpenAPI file, clients onto both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider import ArdentClient, AuthenticationError, PermissionDeniedError, RetryPolicy
from ardent_provider.emulator import EmulatorServer

from .contract import InProcessTransport, OpenAPIValidator, ValidatingTransport, load_spec

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, total_seconds=5)


def token_authenticates(owner: ArdentClient, org_id: str, token: str | None) -> bool:
    """Whether ``token`` authenticates to the org's API (a token that may not read the org still does)."""
    if not token:
        return False
    with owner.with_token(token) as probe:
        try:
            probe.get_org(org_id)
        except AuthenticationError:
            return False
        except PermissionDeniedError:
            return True  # authenticated, just not allowed to read the org
    return True


@pytest.fixture(scope="session")
def validator() -> OpenAPIValidator:
    return OpenAPIValidator(load_spec())


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(db=tmp_path / "emulator.db", credentials=tmp_path / "credentials.json") as server:
        yield server


@dataclass
class Api:
    """A client onto the emulator, through either transport, plus the emulator itself."""

    client: ArdentClient
    emulator: EmulatorServer
    transport: ValidatingTransport
    inner: httpx.BaseTransport

    @property
    def org_id(self) -> str:
        return self.emulator.org_id

    def client_for(self, token: str) -> ArdentClient:
        """Another client on the same transport, with another token."""
        return ArdentClient(token, api_url=self.emulator.url, transport=self.transport, retry=FAST_RETRY)

    def control(self, method: str, path: str, payload: Any = None) -> httpx.Response:
        """Call the emulator's control plane through the same transport."""
        with httpx.Client(base_url=self.emulator.url, transport=self.inner) as http:
            return http.request(method, path, json=payload)


@pytest.fixture(params=["in-process", "socket"])
def api(request: pytest.FixtureRequest, emulator: EmulatorServer, validator: OpenAPIValidator) -> Iterator[Api]:
    inner: httpx.BaseTransport = (
        InProcessTransport(emulator.app) if request.param == "in-process" else httpx.HTTPTransport()
    )
    transport = ValidatingTransport(inner, validator)
    client = ArdentClient(emulator.token, api_url=emulator.url, transport=transport, retry=FAST_RETRY)
    yield Api(client, emulator, transport, inner)
    client.close()
    assert transport.failures == [], "answers that break the vendor's OpenAPI file:\n" + "\n".join(transport.failures)
