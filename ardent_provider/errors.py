"""Every error the Ardent client raises, and the one table that maps HTTP statuses to them.

::

    ArdentError
    ├── ArdentConfigurationError      settings missing or unusable (no request was made)
    ├── ArdentTransportError          no HTTP answer at all
    │   ├── ArdentConnectionError     could not connect, or the connection dropped
    │   └── ArdentTimeoutError        no answer in time
    └── ArdentAPIError                an HTTP answer with an error status
        ├── BadRequestError           400
        ├── AuthenticationError       401
        ├── PermissionDeniedError     403
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── ValidationError           422
        ├── RateLimitedError          429
        └── ServerError               500, 502, 503, 504 (and any other 5xx)

Messages carry the status, the server's ``detail`` and the key involved, and say what to check. They never
carry a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class ArdentError(Exception):
    """Base of every error this package raises."""

    def report(self) -> str:
        """What a user is shown: the message and its notes, no stack (either provider's engine prints this)."""
        return "\n".join([str(self), *getattr(self, "__notes__", [])])


class ArdentConfigurationError(ArdentError):
    """A setting is missing or unusable; raised before any request is made."""


class ArdentTransportError(ArdentError):
    """The request got no HTTP answer; it may or may not have reached the server."""

    def __init__(self, message: str, *, method: str, path: str, sent: bool) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.sent = sent


class ArdentConnectionError(ArdentTransportError):
    """The connection could not be made, or closed before an answer arrived."""


class ArdentTimeoutError(ArdentTransportError):
    """No answer arrived within the timeout."""


class ArdentAPIError(ArdentError):
    """The server answered with an error status."""

    hint = ""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        method: str,
        path: str,
        key_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        self.key_id = key_id
        self.retry_after = retry_after
        super().__init__(self._compose())

    def _compose(self) -> str:
        subject = f" for key {self.key_id}" if self.key_id else ""
        message = f"Ardent API {self.method} {self.path} failed{subject} with HTTP {self.status}: {self.detail}"
        return f"{message} ({self.hint})" if self.hint else message


class BadRequestError(ArdentAPIError):
    """400: the request's data was refused (unknown role, scope outside the role)."""

    hint = "check the role and scopes against the org's roles"


class AuthenticationError(ArdentAPIError):
    """401: the token is missing, unknown, revoked or expired."""

    hint = "check that ardent:token / ARDENT_TOKEN holds a valid, unrevoked, unexpired Ardent token"


class PermissionDeniedError(ArdentAPIError):
    """403: the token is valid but may not do this, or belongs to another org."""

    hint = (
        "check that ardent:orgId / ARDENT_ORG_ID is the token's own org and that the token's role "
        "(admin or owner) allows managing API keys of that role"
    )


class NotFoundError(ArdentAPIError):
    """404: the thing does not exist, is already revoked, or lies outside the token's scope."""

    hint = "check the org id and key id; a revoked key counts as not found"


class ConflictError(ArdentAPIError):
    """409: the request conflicts with the current state."""


class ValidationError(ArdentAPIError):
    """422: the request failed the server's validation."""

    hint = "check the names and values of the key's properties"


class RateLimitedError(ArdentAPIError):
    """429: too many requests; retry after a pause."""

    hint = "too many requests; retry later"


class ServerError(ArdentAPIError):
    """5xx: the server or one of its dependencies failed."""

    hint = "the Ardent service failed; retry later"


STATUS_ERRORS: Mapping[int, type[ArdentAPIError]] = MappingProxyType(
    {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        422: ValidationError,
        429: RateLimitedError,
        500: ServerError,
        502: ServerError,
        503: ServerError,
        504: ServerError,
    }
)


def error_class_for(status: int) -> type[ArdentAPIError]:
    """The exception class for an error status (any unlisted 5xx is a server error)."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return ServerError if status >= 500 else ArdentAPIError


def describe_detail(payload: Any, fallback: str) -> str:
    """A one-line reading of an error body: ``{"detail": "..."}`` or the 422 list shape."""
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for entry in detail:
            if isinstance(entry, dict):
                location = ".".join(str(part) for part in entry.get("loc", []) if part != "body")
                parts.append(f"{location}: {entry.get('msg', 'invalid')}" if location else str(entry.get("msg")))
        if parts:
            return "; ".join(parts)
    return fallback
