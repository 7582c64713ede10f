"""The Ardent HTTP client: the only code that talks to Ardent. One method per endpoint, no Pulumi.

One pooled, thread-safe ``httpx.Client`` serves every call. Idempotent calls (list, revoke, roles, org) are
retried on 429, 502, 503, 504 and connection failures with exponential backoff and jitter, honouring
``Retry-After``, within a bounded total time. Create is retried only when the request certainly did not
reach the server (the connection could not be made, or a 429 refused it): Ardent has no idempotency key, so
any other retry could mint a duplicate key. The caller reconciles after an ambiguous failure.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from . import __version__
from .errors import (
    ArdentAPIError,
    ArdentConnectionError,
    ArdentTimeoutError,
    ArdentTransportError,
    describe_detail,
    error_class_for,
)
from .models import ApiKey, CreatedKey, Org, Role, SecretToken
from .settings import DEFAULT_API_URL, check_api_url

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
USER_AGENT = f"ardent-provider/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: attempts, backoff bounds and the total time allowed for one call."""

    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0
    total_seconds: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``: ``Retry-After`` when given, else jittered."""
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling: float = min(self.max_delay, self.base_delay * (2**attempt))
        return ceiling * (0.5 + rng.random() / 2)


@dataclass(frozen=True)
class _Outcome:
    response: httpx.Response | None
    error: ArdentTransportError | None


class ArdentClient:
    """A client for Ardent's API-key endpoints, bound to one token and one base URL."""

    def __init__(
        self,
        token: str | SecretToken,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token if isinstance(token, SecretToken) else SecretToken(token)
        self.api_url = check_api_url(api_url)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._timeout = timeout
        self._transport = transport
        self._rng = random.Random()  # noqa: S311 - jitter, not security
        self._server_clock = _ServerClock()
        self._http = httpx.Client(
            base_url=self.api_url,
            # A plain-http base URL (allowed for a loopback emulator only) never speaks TLS, since redirects are
            # not followed: building a certificate store for it would cost every run about 0.1 s for nothing.
            verify=self.api_url.startswith("https://"),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    # -- endpoints ------------------------------------------------------------------------------

    def list_keys(self, org_id: str) -> list[ApiKey]:
        """Every active (unrevoked) key of the org, expired ones included, newest first."""
        payload = self._call("GET", f"/v1/orgs/{_segment(org_id)}/api-keys", retry=self.retry)
        if not isinstance(payload, list):
            raise _unexpected("GET", "/v1/orgs/{org_id}/api-keys", "a JSON array")
        return [ApiKey.from_wire(item) for item in payload if isinstance(item, dict) and "id" in item]

    def create_key(
        self,
        org_id: str,
        *,
        name: str,
        role: str,
        scopes: Iterable[str] = (),
        expires_days: int | None = None,
    ) -> CreatedKey:
        """Create a key; the returned token exists nowhere else, so store it at once."""
        body: dict[str, Any] = {"name": name, "role_id": role, "scopes": list(scopes)}
        if expires_days is not None:
            body["expires_days"] = expires_days
        payload = self._call(
            "POST", f"/v1/orgs/{_segment(org_id)}/api-keys", body=body, retry=self.retry, unsent_only=True
        )
        if not isinstance(payload, dict) or "api_key_id" not in payload or "api_key" not in payload:
            raise _unexpected("POST", "/v1/orgs/{org_id}/api-keys", "a created key with its token")
        return CreatedKey.from_wire(payload)

    def revoke_key(self, org_id: str, key_id: str) -> None:
        """Revoke a key at once. Raises :class:`~ardent_provider.errors.NotFoundError` when it is gone."""
        self._call(
            "DELETE",
            f"/v1/orgs/{_segment(org_id)}/api-keys/{_segment(key_id)}",
            retry=self.retry,
            key_id=key_id,
        )

    def list_roles(self, org_id: str) -> list[Role]:
        """The org's roles; each role's permissions are the valid scopes for keys of that role."""
        payload = self._call("GET", f"/v1/orgs/{_segment(org_id)}/roles", retry=self.retry)
        if not isinstance(payload, list):
            raise _unexpected("GET", "/v1/orgs/{org_id}/roles", "a JSON array")
        return [Role.from_wire(item) for item in payload if isinstance(item, dict)]

    def get_org(self, org_id: str) -> Org:
        """The org's details."""
        payload = self._call("GET", f"/v1/orgs/{_segment(org_id)}", retry=self.retry)
        if not isinstance(payload, dict):
            raise _unexpected("GET", "/v1/orgs/{org_id}", "a JSON object")
        return Org.from_wire(payload, org_id)

    def with_token(self, token: str | SecretToken) -> ArdentClient:
        """A client for the same API with another token: same transport, timeouts and retry policy."""
        return ArdentClient(
            token,
            api_url=self.api_url,
            timeout=self._timeout,
            transport=self._transport,
            retry=self.retry,
            sleep=self._sleep,
        )

    def server_now(self) -> datetime:
        """The service's current time, from the ``Date`` header of its latest answer (local time before any)."""
        return self._server_clock.now()

    # -- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        retry: RetryPolicy,
        body: Any = None,
        key_id: str | None = None,
        unsent_only: bool = False,
    ) -> Any:
        started = time.monotonic()
        attempt = 0
        while True:
            outcome = self._attempt(method, path, body)
            response = outcome.response
            if response is not None and response.status_code < 400:
                return _json_body(response)
            failure = outcome.error or self._api_error(response, method, path, key_id)
            attempt += 1
            if not self._should_retry(failure, retry, unsent_only) or attempt >= retry.max_attempts:
                raise self._gave_up(failure, attempt, started)
            retry_after = failure.retry_after if isinstance(failure, ArdentAPIError) else None
            pause = retry.backoff(attempt - 1, retry_after, self._rng)
            if time.monotonic() - started + pause > retry.total_seconds:
                raise self._gave_up(failure, attempt, started)
            self._sleep(pause)

    def _attempt(self, method: str, path: str, body: Any) -> _Outcome:
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        content = None
        if body is not None:
            # ASCII-escaped so that any string, even one holding a lone surrogate, reaches the server,
            # which then names the offending field instead of the client failing to encode it.
            content = json.dumps(body).encode("ascii")
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, path, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            return _Outcome(
                None,
                ArdentConnectionError(
                    f"Could not connect to the Ardent API at {self.api_url} for {method} {path}: {_reason(error)}",
                    method=method,
                    path=path,
                    sent=False,
                ),
            )
        except httpx.TimeoutException as error:
            return _Outcome(
                None,
                ArdentTimeoutError(
                    f"The Ardent API at {self.api_url} did not answer {method} {path} in time: {_reason(error)}",
                    method=method,
                    path=path,
                    sent=True,
                ),
            )
        except httpx.TransportError as error:
            return _Outcome(
                None,
                ArdentConnectionError(
                    f"The connection to the Ardent API at {self.api_url} failed during {method} {path}: "
                    f"{_reason(error)}",
                    method=method,
                    path=path,
                    sent=True,
                ),
            )
        self._server_clock.observe(response.headers.get("Date"))
        return _Outcome(response, None)

    @staticmethod
    def _api_error(response: httpx.Response | None, method: str, path: str, key_id: str | None) -> ArdentAPIError:
        assert response is not None
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        detail = describe_detail(payload, response.reason_phrase or f"HTTP {status}")
        return error_class_for(status)(
            status,
            detail,
            method=method,
            path=path,
            key_id=key_id,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )

    @staticmethod
    def _should_retry(failure: Exception, retry: RetryPolicy, unsent_only: bool) -> bool:
        if isinstance(failure, ArdentTransportError):
            return not (unsent_only and failure.sent)
        if isinstance(failure, ArdentAPIError):
            if unsent_only:
                return failure.status == 429
            return failure.status in retry.retry_statuses
        return False

    @staticmethod
    def _gave_up(failure: Exception, attempts: int, started: float) -> Exception:
        if attempts > 1:
            elapsed = time.monotonic() - started
            if isinstance(failure, ArdentAPIError | ArdentTransportError):
                failure.args = (f"{failure.args[0]} (gave up after {attempts} attempts over {elapsed:.1f} s)",)
        return failure

    def close(self) -> None:
        """Close the pooled connections; a transport the caller passed in stays the caller's to close."""
        if self._transport is None:
            self._http.close()

    def __enter__(self) -> ArdentClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ArdentClient(api_url={self.api_url!r}, token={self._token!r})"

    def __reduce__(self) -> Any:
        raise TypeError("ArdentClient holds a token and refuses to be pickled")


class _ServerClock:
    """The service's time, estimated from ``Date`` headers and advanced with the local monotonic clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._anchor: tuple[datetime, float] | None = None

    def observe(self, header: str | None) -> None:
        if not header:
            return
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with self._lock:
            self._anchor = (moment, time.monotonic())

    def now(self) -> datetime:
        with self._lock:
            anchor = self._anchor
        if anchor is None:
            return datetime.now(UTC)
        moment, seen_at = anchor
        return moment + timedelta(seconds=time.monotonic() - seen_at)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json_body(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise _unexpected(response.request.method, response.request.url.path, "a JSON body") from None


def _unexpected(method: str, path: str, expected: str) -> ArdentAPIError:
    return ArdentAPIError(200, f"the answer was not {expected}; is the API URL right?", method=method, path=path)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _reason(error: Exception) -> str:
    text = str(error).strip()
    return text or type(error).__name__
