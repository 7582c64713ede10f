"""Schema-driven fuzzing of the emulator over a socket with schemathesis, from the vendor's OpenAPI file, restricted
to the emulated operations.

Every answer must pass schemathesis' own checks against the file (no 5xx; only the status codes, content types,
response schemas and headers the file documents; schema-valid requests accepted, invalid ones refused with a 4xx;
405 with a truthful ``Allow`` for methods the file does not list; the bearer token enforced) and the project's
validator (the README's error shape, and its general statuses as the only ones beyond the file's). A stateful
phase then chains operations through the links schemathesis infers from the file (create keys, then revoke the
created ones) under the same checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema

from ardent_provider.emulator import EmulatorServer

from ..contract import EMULATED_OPERATIONS, SPEC_PATH, OpenAPIValidator

CREATE = "POST /v1/orgs/{org_id}/api-keys"
EXPIRES_DAYS_RANGE = 3650  # README, "Expiry" (assumed): 1 to 3650 when given
# The bearer token exists only once the emulator runs, so it is sent with each call, not generated.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"with-security-parameters": False},
        "checks": {
            # Valid requests succeed: a 2xx, or the 404 the file lists for revoking a key id that names no key
            # (the fuzzer cannot guess a live one; the stateful phase revokes real ones). Not schemathesis'
            # default leniency for 401, 403, 409, 429 and 5xx.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404"]},
            # Invalid requests get one of the 4xx the file lists for the emulated operations, nothing else.
            "negative_data_rejection": {"expected-statuses": ["400", "404", "422"]},
        },
    }
)
# Of the three methods the file lists on /v1/orgs/{org_id}, the emulator serves GET only (the README's endpoint
# table) and answers DELETE and PATCH with 405, so its truthful `Allow: GET` cannot list them all.
EXCLUDED_CHECKS = {"GET /v1/orgs/{org_id}": [schemathesis.checks.allow_header_conformance]}


def emulated_part_of_the_vendor_file() -> BaseSchema:
    """The vendor's file as schemathesis sees it, cut to the emulated operations; fresh on each call."""
    return (
        schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG)
        .include(path_regex=r"^/v1/orgs/\{org_id\}(/api-keys(/\{api_key_id\})?|/roles)?$")
        .exclude(method=["DELETE", "PATCH"], path="/v1/orgs/{org_id}")
    )


EXAMPLES_PER_OPERATION = 100
SCENARIOS = 40
STEPS_PER_SCENARIO = 10
REPRODUCIBLE = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    # One emulator per operation, shared by its examples on purpose: keys pile up as on a real org.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
}


@pytest.fixture
def published_roles(emulator: EmulatorServer) -> list[dict[str, Any]]:
    answer = httpx.get(f"{emulator.url}/v1/orgs/{emulator.org_id}/roles", headers=owner_auth(emulator))
    answer.raise_for_status()
    return answer.json()


def owner_auth(emulator: EmulatorServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.token}"}


def _pick(text: str, options: list[Any]) -> Any:
    return options[sum(map(ord, text)) % len(options)]


def aim_at_the_emulator(case: schemathesis.Case, emulator: EmulatorServer, roles: list[dict[str, Any]]) -> None:
    """Point a generated case at the emulator's org, and ground a schema-valid create body in the contract.

    The file types ``role_id`` and each scope as any string and ``expires_days`` as any integer, while the contract
    narrows them (README: an unknown role or a scope outside the role is a 400, documented for create; assumed:
    ``expires_days`` from 1 to 3650, else 422). So that "schema-valid requests are accepted" can be checked at all,
    a positive create body has its role replaced by one of the org's published roles (by id or by key), each scope
    by one of that role's permissions, and ``expires_days`` folded into range, each chosen from the generated
    value. Negative cases are sent as generated.
    """
    if "org_id" in case.path_parameters:
        case.path_parameters["org_id"] = emulator.org_id
    body = case.body
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if case.operation.label != CREATE or not positive or not isinstance(body, dict):
        return
    role = _pick(body["role_id"], roles)
    body["role_id"] = _pick(body["role_id"][::-1], [role["id"], role["key"]])
    if body.get("scopes"):
        body["scopes"] = [_pick(scope, role["permissions"]) for scope in body["scopes"]]
    if isinstance(body.get("expires_days"), int):
        body["expires_days"] = 1 + (body["expires_days"] - 1) % EXPIRES_DAYS_RANGE


def fits_the_contract(validator: OpenAPIValidator) -> Callable[[Any, Response, schemathesis.Case], None]:
    """The project's validator as a schemathesis check, for the emulated operations' own methods."""

    def fits_the_contract_readme(ctx: Any, response: Response, case: schemathesis.Case) -> None:
        method = str(response.request.method)
        if (method, case.path) in EMULATED_OPERATIONS:
            try:
                validator.check_answer(method, case.path, response.status_code, response.content)
            except jsonschema.ValidationError as error:
                raise AssertionError(f"{method} {case.path} -> {response.status_code}: {error.message}") from None

    return fits_the_contract_readme


@emulated_part_of_the_vendor_file().parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, **REPRODUCIBLE)
def test_every_answer_passes_schemathesis_checks_against_the_vendor_file(
    case: schemathesis.Case,
    emulator: EmulatorServer,
    validator: OpenAPIValidator,
    published_roles: list[dict[str, Any]],
) -> None:
    aim_at_the_emulator(case, emulator, published_roles)
    case.call_and_validate(
        base_url=emulator.url,
        headers=owner_auth(emulator),
        additional_checks=[fits_the_contract(validator)],
        excluded_checks=EXCLUDED_CHECKS.get(case.operation.label, []),
    )


def test_stateful_sequences_pass_schemathesis_checks_against_the_vendor_file(
    emulator: EmulatorServer, validator: OpenAPIValidator, published_roles: list[dict[str, Any]]
) -> None:
    steps: list[tuple[str, int]] = []

    # A schema object of its own: on the one the stateless runs had used, the stateful run varied between runs.
    class AgainstTheEmulator(emulated_part_of_the_vendor_file().as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            aim_at_the_emulator(case, emulator, published_roles)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": emulator.url, "headers": owner_auth(emulator)}

        def after_call(self, response: Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            steps.append((case.operation.label, response.status_code))

        def validate_response(
            self, response: Response, case: schemathesis.Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            checks = [*(additional_checks or []), fits_the_contract(validator)]
            super().validate_response(response, case, additional_checks=checks, **kwargs)

    AgainstTheEmulator.run(
        settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO, **REPRODUCIBLE)
    )
    revoked = [label for label, status in steps if status == 204]
    assert revoked, "the stateful phase never revoked a key it had created: " + json.dumps(steps)
