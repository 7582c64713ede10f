"""Infrastructure as code for Ardent API keys.

``ArdentApiKey`` declares a key in a Pulumi program; ``ArdentClient`` talks to Ardent's API directly; the
local emulator lives in :mod:`ardent_provider.emulator`.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
"""The release of this package; the one place that names it (the wheel's metadata reads it from here)."""

if TYPE_CHECKING:
    from .client import ArdentClient, RetryPolicy
    from .errors import (
        ArdentAPIError,
        ArdentConfigurationError,
        ArdentConnectionError,
        ArdentError,
        ArdentTimeoutError,
        ArdentTransportError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitedError,
        ServerError,
        ValidationError,
    )
    from .models import ApiKey, CreatedKey, Org, Role, SecretToken
    from .resource import ArdentApiKey, ArdentApiKeyArgs

# Imported on first use, so that ``python -m ardent_provider.emulator`` loads neither Pulumi nor httpx.
_EXPORTS = MappingProxyType(
    {
        "ArdentClient": "client",
        "RetryPolicy": "client",
        "ApiKey": "models",
        "CreatedKey": "models",
        "Org": "models",
        "Role": "models",
        "SecretToken": "models",
        "ArdentApiKey": "resource",
        "ArdentApiKeyArgs": "resource",
    }
)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name, "errors" if name in __all__ else None)
    if module is None:
        raise AttributeError(f"module 'ardent_provider' has no attribute '{name}'")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "ApiKey",
    "ArdentAPIError",
    "ArdentApiKey",
    "ArdentApiKeyArgs",
    "ArdentClient",
    "ArdentConfigurationError",
    "ArdentConnectionError",
    "ArdentError",
    "ArdentTimeoutError",
    "ArdentTransportError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "CreatedKey",
    "NotFoundError",
    "Org",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryPolicy",
    "Role",
    "SecretToken",
    "ServerError",
    "ValidationError",
]
