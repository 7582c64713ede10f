"""Schema-driven fuzzing of the emulator with schemathesis, from the vendor's OpenAPI file, restricted to
the emulated routes: no answer may be a 5xx, and every answer must fit the file (or the error shape)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ardent_provider.emulator import EmulatorServer

from ..contract import SPEC_PATH, OpenAPIValidator

schema = (
    schemathesis.openapi.from_path(SPEC_PATH)
    .include(path_regex=r"^/v1/orgs/\{org_id\}(/api-keys(/\{api_key_id\})?|/roles)?$")
    .exclude(method=["DELETE", "PATCH"], path="/v1/orgs/{org_id}")
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    with EmulatorServer(db=folder / "emulator.db", credentials=folder / "credentials.json") as server:
        yield server


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_answer_fits_the_vendor_file(
    case: schemathesis.Case, fuzzed: EmulatorServer, validator: OpenAPIValidator
) -> None:
    if "org_id" in (case.path_parameters or {}):
        case.path_parameters["org_id"] = fuzzed.org_id
    response = case.call(base_url=fuzzed.url, headers={"Authorization": f"Bearer {fuzzed.token}"})
    assert response.status_code < 500, response.text
    validator.check_answer(case.method, case.path, response.status_code, response.content)
