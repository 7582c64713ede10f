"""Where the API URL, org id and token come from: stack config first, then the environment. No httpx."""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ArdentConfigurationError
from .models import SecretToken

DEFAULT_API_URL = "https://api.tryardent.com"

CONFIG_NAMESPACE = "ardent"
TOKEN_CONFIG_KEY = "ardent:token"  # noqa: S105 - a config key name
ORG_CONFIG_KEY = "ardent:orgId"
API_URL_CONFIG_KEY = "ardent:apiUrl"
ORGS_CONFIG_KEY = "ardent:orgs"
TOKEN_VARIABLE = "ARDENT_TOKEN"  # noqa: S105 - a variable name
ORG_VARIABLE = "ARDENT_ORG_ID"
API_URL_VARIABLE = "ARDENT_API_URL"

# The settings a user may set today, in the order error messages list them.
SETTING_KEYS: tuple[str, ...] = (TOKEN_CONFIG_KEY, ORG_CONFIG_KEY, API_URL_CONFIG_KEY)
# Accepted so that stacks written for per-org credentials are not refused, but not suggested yet.
RESERVED_KEYS: tuple[str, ...] = (ORGS_CONFIG_KEY,)


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings; the token never shows in ``repr``."""

    api_url: str
    org_id: str
    token: SecretToken = field(repr=True)


def check_config_keys(keys: Iterable[str]) -> None:
    """Refuse ``ardent:`` config keys that are not settings, naming the nearest known key.

    Keys of other namespaces (the program's own, ``pulumi:``, other providers') are not ours and pass.
    A misspelt key would otherwise be ignored silently and the token sent to the default production URL.
    """
    known = {*SETTING_KEYS, *RESERVED_KEYS}
    unknown = sorted({key for key in keys if key.split(":", 1)[0] == CONFIG_NAMESPACE and key not in known})
    if not unknown:
        return
    sentences = " ".join(f"`{key}` is not a setting{_suggestion(key)}" for key in unknown)
    removed = unknown[0] if len(unknown) == 1 else "<key>"
    raise ArdentConfigurationError(
        f"{sentences} The Ardent settings are {', '.join(SETTING_KEYS[:-1])} and {SETTING_KEYS[-1]}: move the "
        f"value with `pulumi config rm {removed}` and `pulumi config set <the right key> <value>`."
    )


def _suggestion(key: str) -> str:
    name = key.split(":", 1)[1].lower()
    # Compared without the namespace, which every key shares and which would make any name look close.
    names = {known.split(":", 1)[1].lower(): known for known in SETTING_KEYS}
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean `{names[close[0]]}`?" if close else "."


def check_api_url(url: str) -> str:
    """A usable base URL without its trailing slash; plain ``http://`` only for loopback hosts.

    The base URL is the scheme, host and optional port, such as ``https://api.tryardent.com``; the client adds
    ``/v1/...`` itself, so a path, query or fragment would only turn every call into a 404.
    """
    candidate = url.strip().rstrip("/")
    parts = urlsplit(candidate)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ArdentConfigurationError(
            f"The Ardent API URL '{url}' is not an http(s) URL; set ardent:apiUrl or ARDENT_API_URL to "
            f"the base URL, such as {DEFAULT_API_URL}."
        )
    host = parts.netloc.rsplit("@", 1)[-1]
    base = f"{parts.scheme}://{host}"
    if parts.username is not None or parts.password is not None:
        raise ArdentConfigurationError(
            f"The Ardent API URL '{base}' must not carry a user name or password; the token goes in "
            "ardent:token or ARDENT_TOKEN, and ardent:apiUrl wants the base URL only, such as "
            f"{DEFAULT_API_URL}."
        )
    try:
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        raise ArdentConfigurationError(
            f"The Ardent API URL '{base}' has a port that is not a number from 0 to 65535; give the base URL, "
            f"such as {DEFAULT_API_URL} or http://127.0.0.1:8787."
        ) from None
    # The values of a query or fragment are not echoed: they may hold something secret.
    extras = [name for name, present in (("a query", "?" in candidate), ("a fragment", "#" in candidate)) if present]
    if extras:
        raise ArdentConfigurationError(
            f"The Ardent API URL '{base}{parts.path.rstrip('/')}' must not carry {' or '.join(extras)}; set "
            f"ardent:apiUrl or ARDENT_API_URL to the base URL only, such as {DEFAULT_API_URL}."
        )
    if parts.path:
        advice = "drop /v1, which the provider adds itself," if parts.path.lower() == "/v1" else "drop the path"
        raise ArdentConfigurationError(
            f"The Ardent API URL '{candidate}' has the path '{parts.path}', but the base URL (such as "
            f"{DEFAULT_API_URL}) is wanted: {advice} and set ardent:apiUrl or ARDENT_API_URL to '{base}'."
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

    ``config`` is the whole stack configuration, keys namespaced as in ``ardent:token`` (other namespaces are
    ignored), or a lookup function. A mapping is also checked for unknown ``ardent:`` keys; a lookup function
    cannot be enumerated, so that check is skipped. Raises :class:`ArdentConfigurationError` with one
    sentence naming the missing or wrong setting.
    """
    environment = os.environ if environ is None else environ
    if callable(config):
        lookup = config
    else:
        check_config_keys(config.keys())
        lookup = config.get

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
