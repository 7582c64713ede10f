"""Test helpers: the vendor's OpenAPI file as a validator, and httpx transports onto the emulator."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ardent_provider.emulator import EmulatorApp, Request

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT / "contract" / "ardent"
SPEC_PATH = CONTRACT_DIR / "openapi.public.json"
SPEC_URI = "urn:ardent:openapi.public.json"

# Statuses the contract documents for every endpoint, accepted even where the vendor's file does not list them
# for the operation (contract/ardent/README.md, "Tokens, roles, errors (documented)"): 401 (token missing,
# invalid, expired or revoked; every request carries a bearer token), 403 (no access to that org or action;
# every emulated path names an org), 429 (retry later) and 500/502/503 (server or dependency error). Not 400,
# 404 or 409: bad data, a missing resource and a conflict depend on the operation, so they count only where the
# file lists them (400 on create, 404 on revoke, as in the README's table). Nothing else, not 504, not 405: the
# file lists a single 2xx per operation, and any other status, success or not, breaks the contract.
GENERAL_STATUSES = frozenset({401, 403, 429, 500, 502, 503})

# The contract's error shape ({"detail": "<message>"}); the vendor documents it in prose, not in the file.
ERROR_BODY_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "minLength": 1}},
}
EMULATED_OPERATIONS = {
    ("GET", "/v1/orgs/{org_id}/api-keys"),
    ("POST", "/v1/orgs/{org_id}/api-keys"),
    ("DELETE", "/v1/orgs/{org_id}/api-keys/{api_key_id}"),
    ("GET", "/v1/orgs/{org_id}/roles"),
    ("GET", "/v1/orgs/{org_id}"),
}


def load_spec() -> dict[str, Any]:
    """Ardent's published OpenAPI file, the project's unchanged copy (``contract/ardent/``)."""
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(f"Ardent's OpenAPI file is missing from the checkout: expected at {SPEC_PATH}")
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


class ContractViolationError(AssertionError):
    """An answer that the vendor's file and the contract README do not allow."""


class OpenAPIValidator:
    """Validates emulator answers against the vendor's schemas with ``jsonschema`` (Draft 2020-12)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)

    @cached_property
    def templates(self) -> list[tuple[str, str]]:
        return [(method.upper(), path) for path, ops in self.spec["paths"].items() for method in ops]

    def component(self, name: str) -> dict[str, Any]:
        return {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}

    def _operation(self, method: str, template: str) -> dict[str, Any]:
        operation = self.spec["paths"].get(template, {}).get(method.lower())
        if operation is None:
            raise ContractViolationError(f"the vendor's file has no operation {method} {template}")
        return operation

    def listed_statuses(self, method: str, template: str) -> frozenset[int]:
        """The statuses the vendor's file lists for an operation (it uses no ranges and no ``default``)."""
        responses = self._operation(method, template)["responses"]
        unsupported = [code for code in responses if not code.isdigit()]
        if unsupported:
            raise ContractViolationError(f"{method} {template} lists {unsupported}; only exact statuses are understood")
        return frozenset(int(code) for code in responses)

    def accepted_statuses(self, method: str, template: str) -> frozenset[int]:
        """What an answer to the operation may carry: the file's statuses plus the README's general ones."""
        return self.listed_statuses(method, template) | GENERAL_STATUSES

    def response_schema(self, method: str, template: str, status: int) -> dict[str, Any] | None:
        """The documented JSON schema for an answer, or None when the file documents no body."""
        response = self._operation(method, template)["responses"].get(str(status))
        if response is None or "content" not in response:
            return None
        schema = response["content"]["application/json"]["schema"]
        return self._rebased(schema)

    def _rebased(self, schema: Any) -> Any:
        if isinstance(schema, dict):
            return {
                key: (f"{SPEC_URI}{value}" if key == "$ref" and value.startswith("#") else self._rebased(value))
                for key, value in schema.items()
            }
        if isinstance(schema, list):
            return [self._rebased(item) for item in schema]
        return schema

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        jsonschema.Draft202012Validator(schema, registry=self.registry).validate(instance)

    def check_answer(self, method: str, template: str, status: int, body: bytes) -> None:
        """Raise when an answer breaks the vendor's file or the contract's error shape.

        A status the file does not list for the operation breaks the contract, unless the README documents it
        for every endpoint (:data:`GENERAL_STATUSES`); so does a body that does not fit the listed schema.
        """
        accepted = self.accepted_statuses(method, template)
        if status not in accepted:
            raise ContractViolationError(
                f"{method} {template} answered {status}, which neither the vendor's file lists for the operation "
                f"nor the README documents for every endpoint (accepted: {', '.join(map(str, sorted(accepted)))})"
            )
        if status == 204:
            assert body == b"", "a 204 must have no body"
            return
        payload = json.loads(body)
        schema = self.response_schema(method, template, status)
        if schema is not None:
            self.validate(payload, schema)
        elif status == 422:
            self.validate(payload, self.component("HTTPValidationError"))
        elif status >= 400:
            self.validate(payload, ERROR_BODY_SCHEMA)


TEMPLATES_BY_SHAPE = {
    ("v1", "orgs", "*"): "/v1/orgs/{org_id}",
    ("v1", "orgs", "*", "api-keys"): "/v1/orgs/{org_id}/api-keys",
    ("v1", "orgs", "*", "roles"): "/v1/orgs/{org_id}/roles",
    ("v1", "orgs", "*", "api-keys", "*"): "/v1/orgs/{org_id}/api-keys/{api_key_id}",
}


def route_template(path: str) -> str | None:
    """The OpenAPI template an emulated path belongs to."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    shape = tuple("*" if index in (2, 4) else part for index, part in enumerate(parts))
    return TEMPLATES_BY_SHAPE.get(shape)


class InProcessTransport(httpx.BaseTransport):
    """Hands httpx requests straight to the emulator app; a dropped answer becomes a protocol error."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.app.handle(
            Request(
                method=request.method,
                path=request.url.raw_path.decode("ascii"),
                headers={name.decode().lower(): value.decode() for name, value in request.headers.raw},
                body=request.read(),
                client_host=None,
            )
        )
        if answer.drop:
            raise httpx.RemoteProtocolError("the server closed the connection without answering", request=request)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)


@dataclass(frozen=True)
class Answer:
    """One emulated-API answer as the validating transport saw it."""

    method: str
    template: str
    status: int


class ValidatingTransport(httpx.BaseTransport):
    """Wraps a transport and validates every emulated-API answer against the vendor's OpenAPI file.

    Every such answer is also recorded (:attr:`answers`), so tests can assert the exact status of calls that
    the client reports only as success or failure.
    """

    def __init__(self, inner: httpx.BaseTransport, validator: OpenAPIValidator) -> None:
        self.inner = inner
        self.validator = validator
        self.checked = 0
        self.failures: list[str] = []
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    def statuses(self, method: str, template: str) -> list[int]:
        """The statuses of every answer seen so far for one operation, oldest first."""
        with self._lock:
            return [answer.status for answer in self.answers if (answer.method, answer.template) == (method, template)]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        template = route_template(request.url.path)
        if template is not None and (request.method, template) in EMULATED_OPERATIONS:
            body = response.read()
            try:
                self.validator.check_answer(request.method, template, response.status_code, body)
            except Exception as error:
                with self._lock:
                    self.failures.append(f"{request.method} {template} -> {response.status_code}: {error}")
            with self._lock:
                self.checked += 1
                self.answers.append(Answer(request.method, template, response.status_code))
        return response
