"""HTTP routes of the emulator: parse the request, apply the domain rule, render the answer.

The app is transport-free: :meth:`EmulatorApp.handle` turns a :class:`Request` into a :class:`Response`,
so the socket server and an in-process test transport share every line of it.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from .clock import Clock
from .control import ControlError, FaultInjector, RequestStats, parse_fault_rule
from .credentials import write_credentials
from .domain import ApiError, ArdentService, Caller, Credentials, format_time, parse_create_request
from .store import KeyRow, OrgRow, RoleRow

MAX_BODY_BYTES = 1_048_576


@dataclass(frozen=True)
class Request:
    """An HTTP request as the app sees it; header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client_host: str | None = None


@dataclass
class Response:
    """An HTTP answer; ``drop`` asks the transport to close the connection without sending it."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    """The contract's error shape, ``{"detail": ...}``."""
    return json_response(status, {"detail": detail}, headers)


Handler = Callable[["EmulatorApp", Request, Caller, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """One emulated route: method, template as in the vendor's OpenAPI file, and its handler."""

    method: str
    template: str
    handler: Handler

    @property
    def key(self) -> str:
        """``"<METHOD> <template>"``, the name the counters and fault rules use."""
        return f"{self.method} {self.template}"

    @property
    def pattern(self) -> re.Pattern[str]:
        """The template as a regular expression with one named group per parameter."""
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


def _optional_time(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


def _render_key(key: KeyRow) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "scopes": list(key.scopes),
        "created_at": format_time(key.created_at),
        "expires_at": _optional_time(key.expires_at),
        "last_used_at": _optional_time(key.last_used_at),
        "revoked_at": _optional_time(key.revoked_at),
        "users": None,
    }


def _render_role(role: RoleRow) -> dict[str, Any]:
    return {"id": role.id, "key": role.key, "name": role.name, "permissions": list(role.permissions)}


def _render_org(org: OrgRow) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "created_at": format_time(org.created_at)}


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(
            422,
            [
                {
                    "loc": ["body"],
                    "msg": "JSON decode error: the body is not valid JSON",
                    "type": "json_invalid",
                }
            ],
        ) from None


def list_keys(app: EmulatorApp, request: Request, caller: Caller, params: dict[str, str]) -> Response:
    """List the org's active keys, newest first.

    Not emulated: the ``users`` field is always null (every emulated key is created by an API key, not a
    dashboard user), and no rate limits apply.
    """
    keys = app.service.list_keys(caller, params["org_id"])
    return json_response(200, [_render_key(key) for key in keys])


def create_key(app: EmulatorApp, request: Request, caller: Caller, params: dict[str, str]) -> Response:
    """Create a key and return its secret once.

    Not emulated: dashboard session tokens, ``sk-ard_live_`` tokens, and any per-org key quota.
    """
    create = parse_create_request(_decode_json(request.body))
    minted = app.service.create_key(caller, params["org_id"], create)
    key, role = minted.key, minted.role
    payload = {
        "api_key_id": key.id,
        "api_key": minted.token,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "scopes": list(key.scopes),
        "created_at": format_time(key.created_at),
        "expires_at": _optional_time(key.expires_at),
        "role_id": role.id,
        "role_key": role.key,
        "warning": "Store this API key now: it is shown only once and cannot be retrieved again.",
    }
    return json_response(201, payload)


def revoke_key(app: EmulatorApp, request: Request, caller: Caller, params: dict[str, str]) -> Response:
    """Revoke a key at once; its token gets 401 from the next request on.

    Not emulated: audit-log entries and notifications that the real service may emit.
    """
    app.service.revoke_key(caller, params["org_id"], params["api_key_id"])
    return Response(204)


def list_roles(app: EmulatorApp, request: Request, caller: Caller, params: dict[str, str]) -> Response:
    """List the org's four roles with their permissions (the valid scopes).

    Not emulated: custom roles and project-level roles.
    """
    roles = app.service.list_roles(caller, params["org_id"])
    return json_response(200, [_render_role(role) for role in roles])


def get_org(app: EmulatorApp, request: Request, caller: Caller, params: dict[str, str]) -> Response:
    """Return the org's details: id, name and creation time.

    Not emulated: billing, plan, member counts and the other details the real service may add.
    """
    return json_response(200, _render_org(app.service.get_org(caller, params["org_id"])))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/orgs/{org_id}/api-keys", list_keys),
    Route("POST", "/v1/orgs/{org_id}/api-keys", create_key),
    Route("DELETE", "/v1/orgs/{org_id}/api-keys/{api_key_id}", revoke_key),
    Route("GET", "/v1/orgs/{org_id}/roles", list_roles),
    Route("GET", "/v1/orgs/{org_id}", get_org),
)
ROUTE_KEYS = frozenset(route.key for route in ROUTES)
CONTROL_PREFIX = "/_emulator/"


class EmulatorApp:
    """The emulated API and the control plane behind one ``handle`` entry point."""

    def __init__(
        self,
        service: ArdentService,
        clock: Clock,
        credentials_path: Path | None,
        bootstrap: Callable[[], Credentials],
    ) -> None:
        self.service = service
        self.clock = clock
        self.stats = RequestStats()
        self.faults = FaultInjector()
        self.api_url = ""
        self.credentials: Credentials | None = None
        self._credentials_path = credentials_path
        self._bootstrap = bootstrap
        self._compiled = [(route, route.pattern) for route in ROUTES]
        self._control_endpoints: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/_emulator/health": {"GET": self._health},
            "/_emulator/reset": {"POST": self._reset},
            "/_emulator/orgs": {"POST": self._add_org},
            "/_emulator/clock": {"POST": self._advance_clock, "GET": self._read_clock},
            "/_emulator/stats": {"GET": self._read_stats},
            "/_emulator/stats/reset": {"POST": self._reset_stats},
            "/_emulator/faults": {
                "POST": self._add_fault,
                "DELETE": self._clear_faults,
                "GET": self._list_faults,
            },
        }

    def control_endpoints(self) -> list[str]:
        """Every control-plane call as ``"METHOD /_emulator/..."``, sorted; docs/emulator.md lists each."""
        return sorted(f"{method} {path}" for path, methods in self._control_endpoints.items() for method in methods)

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises for anything a client can send."""
        path = request.path.split("?", 1)[0]
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            response = self._handle_control(request, path)
        else:
            response = self._handle_api(request, path)
        response.headers.setdefault("Date", format_datetime(self.clock.now(), usegmt=True))
        return response

    # -- the emulated API -----------------------------------------------------------------------

    def _handle_api(self, request: Request, path: str) -> Response:
        matched = [(route, found) for route, pattern in self._compiled if (found := pattern.match(path))]
        if not matched:
            return error_response(404, "Not Found")
        for route, found in matched:
            if route.method == request.method:
                return self._serve(route, request, found.groupdict())
        allowed = ", ".join(sorted({route.method for route, _ in matched}))
        return error_response(405, "Method Not Allowed", {"Allow": allowed})

    def _serve(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        self.stats.record(route.key)
        fault = self.faults.decide(route.key)
        if fault is not None:
            if fault.mode == "status":
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = _format_retry_after(fault.retry_after)
                return error_response(
                    fault.status, "Injected fault: the emulator was told to fail this request.", headers
                )
            if fault.mode == "drop":
                return Response(0, drop=True)
            if fault.mode == "delay":
                time.sleep(fault.delay_ms / 1000)
        response = self._run_handler(route, request, params)
        if fault is not None and fault.mode == "drop_after_commit":
            response.drop = True
        return response

    def _run_handler(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        try:
            caller = self.service.authenticate(request.headers.get("authorization"))
            return route.handler(self, request, caller, params)
        except ApiError as error:
            return error_response(error.status, error.detail)

    # -- the control plane ----------------------------------------------------------------------

    def _handle_control(self, request: Request, path: str) -> Response:
        if request.client_host is not None and not _is_loopback(request.client_host):
            return error_response(403, "The emulator's control plane answers loopback clients only.")
        methods = self._control_endpoints.get(path.rstrip("/"))
        if methods is None:
            return error_response(404, "Not Found")
        endpoint = methods.get(request.method)
        if endpoint is None:
            return error_response(405, "Method Not Allowed", {"Allow": ", ".join(sorted(methods))})
        try:
            return endpoint(request)
        except ControlError as error:
            return error_response(400, str(error))

    def _health(self, request: Request) -> Response:
        return json_response(200, {"status": "ok", "now": format_time(self.clock.now())})

    def _reset(self, request: Request) -> Response:
        self.service.reset()
        self.clock.rewind_to_real_time()
        self.stats.reset()
        self.faults.clear()
        credentials = self.publish_bootstrap()
        return json_response(200, {"api_url": self.api_url, "org_id": credentials.org_id, "token": credentials.token})

    def _add_org(self, request: Request) -> Response:
        credentials = self.service.add_org()
        return json_response(201, {"api_url": self.api_url, "org_id": credentials.org_id, "token": credentials.token})

    def publish_bootstrap(self) -> Credentials:
        """Bootstrap the store and write the credentials file, if there is one."""
        credentials = self._bootstrap()
        self.credentials = credentials
        if self._credentials_path is not None:
            write_credentials(self._credentials_path, self.api_url, credentials)
        return credentials

    def _advance_clock(self, request: Request) -> Response:
        body = _control_json(request)
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 3.2e9:
            raise ControlError("'advance_seconds' must be a non-negative number of seconds")
        return json_response(200, {"now": format_time(self.clock.advance(seconds))})

    def _read_clock(self, request: Request) -> Response:
        return json_response(200, {"now": format_time(self.clock.now())})

    def _read_stats(self, request: Request) -> Response:
        return json_response(200, {"requests": self.stats.snapshot()})

    def _reset_stats(self, request: Request) -> Response:
        self.stats.reset()
        return json_response(200, {"requests": {}})

    def _add_fault(self, request: Request) -> Response:
        self.faults.add(parse_fault_rule(_control_json(request), ROUTE_KEYS))
        return json_response(201, {"faults": self.faults.rules()})

    def _clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return json_response(200, {"faults": []})

    def _list_faults(self, request: Request) -> Response:
        return json_response(200, {"faults": self.faults.rules()})


def _control_json(request: Request) -> Any:
    try:
        return json.loads(request.body.decode("utf-8")) if request.body else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ControlError("the body is not valid JSON") from None


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"
