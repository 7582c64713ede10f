"""Test helpers: the vendor's OpenAPI file as a validator, and httpx transports onto the emulator."""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ardent_provider.emulator import EmulatorApp, Request

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT.parent / "shared" / "ardent-api" / "openapi.public.json"
SPEC_URI = "urn:ardent:openapi.public.json"

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
    """Ardent's published OpenAPI file, read from the shared folder beside the project."""
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(f"Ardent's OpenAPI file is expected at {SPEC_PATH} (shared/ beside the project)")
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


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

    def response_schema(self, method: str, template: str, status: int) -> dict[str, Any] | None:
        """The documented JSON schema for an answer, or None when the file documents no body."""
        operation = self.spec["paths"][template].get(method.lower())
        if operation is None:
            return None
        response = operation["responses"].get(str(status))
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
        """Raise when an answer breaks the vendor's file or the contract's error shape."""
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


class ValidatingTransport(httpx.BaseTransport):
    """Wraps a transport and validates every emulated-API answer against the vendor's OpenAPI file."""

    def __init__(self, inner: httpx.BaseTransport, validator: OpenAPIValidator) -> None:
        self.inner = inner
        self.validator = validator
        self.checked = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()

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
        return response
