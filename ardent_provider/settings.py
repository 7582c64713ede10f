"""Where the API URL, org id and token come from: stack config first, then the environment. No httpx."""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
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
TOKEN_MARKER = "sk-ard_"  # noqa: S105 - how every Ardent token starts, not a token

# The settings a user may set, in the order error messages list them.
SETTING_KEYS: tuple[str, ...] = (TOKEN_CONFIG_KEY, ORG_CONFIG_KEY, API_URL_CONFIG_KEY, ORGS_CONFIG_KEY)
# What an entry of ardent:orgs may hold (set with `pulumi config set --path 'ardent:orgs.<org id>.token'`).
ORG_ENTRY_KEYS: tuple[str, ...] = ("token", "apiUrl")


SETTING_DOCS: Mapping[str, str] = MappingProxyType(
    {
        TOKEN_CONFIG_KEY: "The Ardent token the provider acts with (a secret); falls back to ARDENT_TOKEN.",
        ORG_CONFIG_KEY: "The org keys are created in unless a key names another; falls back to ARDENT_ORG_ID.",
        API_URL_CONFIG_KEY: f"The Ardent API's base URL; falls back to ARDENT_API_URL, then {DEFAULT_API_URL}.",
        ORGS_CONFIG_KEY: "Credentials of further orgs by org id, each with token and optionally apiUrl.",
    }
)
"""What each setting means, for the native provider's schema and the docs; one entry per ``SETTING_KEYS``."""
ORG_ENTRY_DOCS: Mapping[str, str] = MappingProxyType(
    {
        "token": "A token of that org (a secret).",
        "apiUrl": "That org's API base URL, when it differs from ardent:apiUrl.",
    }
)
"""What each field of an ``ardent:orgs`` entry means; one entry per ``ORG_ENTRY_KEYS``."""


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings; the token never shows in ``repr``.

    ``own_credentials`` is False when the org has no credentials of its own (no ``ardent:orgs`` entry and not
    the default org), so the default token is tried against it and may well be refused.
    """

    api_url: str
    org_id: str
    token: SecretToken
    own_credentials: bool = True


def org_entries(value: object) -> dict[str, dict[str, str]]:
    """The per-org credentials of ``ardent:orgs``: ``{org id: {"token": ..., "apiUrl": ...}}``.

    The value arrives as a JSON string (the CLI's ``--path`` config, secrets decrypted) or as a mapping.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ArdentConfigurationError(
                "ardent:orgs must be a map of org ids to credentials; set it with "
                "`pulumi config set --secret --path 'ardent:orgs.<org id>.token' <token>`."
            ) from None
    if not isinstance(value, Mapping):
        raise ArdentConfigurationError("ardent:orgs must be a map of org ids to {token, apiUrl}.")
    entries: dict[str, dict[str, str]] = {}
    for org_id, entry in value.items():
        if not isinstance(entry, Mapping):
            raise ArdentConfigurationError(f"ardent:orgs.{org_id} must be a map with token and optionally apiUrl.")
        unknown = sorted(str(key) for key in entry if key not in ORG_ENTRY_KEYS)
        if unknown:
            raise ArdentConfigurationError(
                f"ardent:orgs.{org_id}.{unknown[0]} is not a setting; an org's entry holds "
                f"{' and '.join(ORG_ENTRY_KEYS)}."
            )
        entries[str(org_id)] = {str(key): str(item) for key, item in entry.items() if isinstance(item, str) and item}
    return entries


def configured_tokens(config: Mapping[str, object]) -> list[SecretToken]:
    """Every token a configuration holds: ``ardent:token`` and each ``ardent:orgs`` entry's (environment aside).

    A malformed ``ardent:orgs`` contributes none; reading the settings reports it.
    """
    values: list[object] = [config.get(TOKEN_CONFIG_KEY)]
    with contextlib.suppress(ArdentConfigurationError):
        values.extend(entry.get("token") for entry in org_entries(config.get(ORGS_CONFIG_KEY)).values())
    return [SecretToken(value.strip()) for value in values if isinstance(value, str) and value.strip()]


def check_config_keys(keys: Iterable[str]) -> None:
    """Refuse ``ardent:`` config keys that are not settings, naming the nearest known key.

    Keys of other namespaces (the program's own, ``pulumi:``, other providers') are not ours and pass.
    A misspelt key would otherwise be ignored silently and the token sent to the default production URL.
    """
    known = set(SETTING_KEYS)
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
    # ardent:orgs is never suggested: a short misspelling such as ardent:org almost always means ardent:orgId.
    names = {known.split(":", 1)[1].lower(): known for known in SETTING_KEYS if known != ORGS_CONFIG_KEY}
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean `{names[close[0]]}`?" if close else "."


def looks_like_token(value: str) -> bool:
    """Whether a setting holds an Ardent token by mistake; such a value is never echoed in a message."""
    return TOKEN_MARKER in value


def check_api_url(url: str) -> str:
    """A usable base URL without its trailing slash; plain ``http://`` only for loopback hosts.

    The base URL is the scheme, host and optional port, such as ``https://api.tryardent.com``; the client adds
    ``/v1/...`` itself, so a path, query or fragment would only turn every call into a 404.
    """
    candidate = url.strip().rstrip("/")
    if looks_like_token(candidate):
        raise ArdentConfigurationError(
            "The Ardent API URL holds what looks like an Ardent token (it contains 'sk-ard_'); it is not shown. "
            f"Put the token in ardent:token and set ardent:apiUrl to the base URL, such as {DEFAULT_API_URL}."
        )
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
    *,
    org_id: str | None = None,
) -> Settings:
    """Read the token, org id and API URL from stack config, falling back to the environment.

    ``config`` is the whole stack configuration, keys namespaced as in ``ardent:token`` (other namespaces are
    ignored), or a lookup function. A mapping is also checked for unknown ``ardent:`` keys; a lookup function
    cannot be enumerated, so that check is skipped. Raises :class:`ArdentConfigurationError` with one
    sentence naming the missing or wrong setting.

    ``org_id`` asks for the settings of that org: its ``ardent:orgs`` entry (token, apiUrl) where there is
    one, the default token and URL otherwise.
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

    entries = org_entries(lookup(ORGS_CONFIG_KEY))
    default_org = pick(ORG_CONFIG_KEY, ORG_VARIABLE)
    default_token = pick(TOKEN_CONFIG_KEY, TOKEN_VARIABLE)
    org = org_id or default_org
    mistaken = [key for key in (org or "", *entries) if looks_like_token(key)]
    if mistaken:
        raise ArdentConfigurationError(
            "An Ardent org id (ardent:orgId, ARDENT_ORG_ID, a key of ardent:orgs or an org_id input) holds what "
            "looks like an Ardent token; it is not shown. Give the org id (org_…), and keep tokens in "
            "ardent:token or `ardent:orgs.<org id>.token`."
        )
    if org is None and default_token is None:
        raise ArdentConfigurationError(
            "No Ardent token is configured: run `pulumi config set --secret ardent:token <token>` or set "
            "the ARDENT_TOKEN environment variable."
        )
    if org is None:
        raise ArdentConfigurationError(
            "No Ardent org id is configured (no endpoint returns it): run `pulumi config set ardent:orgId "
            "<org id>` or set the ARDENT_ORG_ID environment variable."
        )
    entry = entries.get(org, {})
    token = entry.get("token") or default_token
    if token is None:
        where = (
            f"`pulumi config set --secret --path 'ardent:orgs.{org}.token' <token>` or `pulumi config set --secret "
            "ardent:token <token>`"
            if org_id
            else "`pulumi config set --secret ardent:token <token>`"
        )
        raise ArdentConfigurationError(
            f"No Ardent token is configured for org {org}: run {where}, or set the ARDENT_TOKEN environment variable."
        )
    api_url = check_api_url(entry.get("apiUrl") or pick(API_URL_CONFIG_KEY, API_URL_VARIABLE) or DEFAULT_API_URL)
    return Settings(
        api_url=api_url,
        org_id=org,
        token=SecretToken(token),
        own_credentials=bool(entry.get("token")) or org == default_org,
    )
