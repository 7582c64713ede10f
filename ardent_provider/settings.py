"""Where the API URL, org id and token come from: stack config first, then the environment. No httpx."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ArdentConfigurationError
from .models import SecretToken

DEFAULT_API_URL = "https://api.tryardent.com"

TOKEN_CONFIG_KEY = "ardent:token"  # noqa: S105 - a config key name
ORG_CONFIG_KEY = "ardent:orgId"
API_URL_CONFIG_KEY = "ardent:apiUrl"
TOKEN_VARIABLE = "ARDENT_TOKEN"  # noqa: S105 - a variable name
ORG_VARIABLE = "ARDENT_ORG_ID"
API_URL_VARIABLE = "ARDENT_API_URL"


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings; the token never shows in ``repr``."""

    api_url: str
    org_id: str
    token: SecretToken = field(repr=True)


def check_api_url(url: str) -> str:
    """A usable base URL without its trailing slash; plain ``http://`` only for loopback hosts."""
    candidate = url.strip().rstrip("/")
    parts = urlsplit(candidate)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ArdentConfigurationError(
            f"The Ardent API URL '{url}' is not an http(s) URL; set ardent:apiUrl or ARDENT_API_URL to "
            f"something like {DEFAULT_API_URL}."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ArdentConfigurationError(
            f"The Ardent API URL '{parts.scheme}://{parts.hostname}…' must not carry credentials, a query or "
            "a fragment; give only scheme, host, port and path."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ArdentConfigurationError(
            f"The Ardent API URL '{candidate}' uses plain http:// to a non-loopback host, which would send the "
            "token unencrypted; use https:// (plain http is allowed only for a local emulator on loopback)."
        )
    return candidate


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_settings(
    config: Mapping[str, object] | Callable[[str], object | None],
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the token, org id and API URL from stack config, falling back to the environment.

    ``config`` is the stack configuration, keys namespaced as in ``ardent:token``, or a lookup function.
    Raises :class:`ArdentConfigurationError` with one sentence naming the missing setting.
    """
    environment = os.environ if environ is None else environ
    lookup = config if callable(config) else config.get

    def pick(config_key: str, variable: str) -> str | None:
        value = lookup(config_key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        env_value = environment.get(variable, "")
        return env_value.strip() or None

    token = pick(TOKEN_CONFIG_KEY, TOKEN_VARIABLE)
    if token is None:
        raise ArdentConfigurationError(
            "No Ardent token is configured: run `pulumi config set --secret ardent:token <token>` or set "
            "the ARDENT_TOKEN environment variable."
        )
    org_id = pick(ORG_CONFIG_KEY, ORG_VARIABLE)
    if org_id is None:
        raise ArdentConfigurationError(
            "No Ardent org id is configured (no endpoint returns it): run `pulumi config set ardent:orgId "
            "<org id>` or set the ARDENT_ORG_ID environment variable."
        )
    api_url = check_api_url(pick(API_URL_CONFIG_KEY, API_URL_VARIABLE) or DEFAULT_API_URL)
    return Settings(api_url=api_url, org_id=org_id, token=SecretToken(token))
