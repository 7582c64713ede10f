"""Why Ardent refused a set of credentials, and what to set instead: one explanation for every place.

The provider's ``check`` (at preview), ``ardent-keys`` reading stacks and ``ardent-keys audit`` reading the
environment all meet the same refusals (401, 403, 404, a token of another org); each describes where its
credentials came from with a :class:`CredentialPlace`, and :func:`explain_refusal` words the rest. No token is
ever part of a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ArdentError, AuthenticationError, NotFoundError, PermissionDeniedError
from .settings import (
    API_URL_CONFIG_KEY,
    API_URL_VARIABLE,
    ORG_CONFIG_KEY,
    ORG_VARIABLE,
    ORGS_CONFIG_KEY,
    TOKEN_CONFIG_KEY,
    TOKEN_VARIABLE,
)


@dataclass(frozen=True)
class CredentialPlace:
    """Where refused credentials came from, in the words a user needs to replace them.

    ``token`` names the token (``"the configured token"``, ``"stack web/prod's token"``); ``token_setting``
    says how to set another; ``org_setting`` where the org id and URL come from (to check on a 404);
    ``org_id_setting`` the setting that must name the token's own org (to check on a 403, when there is one);
    ``org_token_setting`` how to give the org a token of its own; ``own_credentials`` is False when the token
    was only lent by the default settings to an org without an ``ardent:orgs`` entry, which ``without_own``
    says in the place's words.
    """

    token: str
    token_setting: str
    org_setting: str
    org_token_setting: str
    org_id_setting: str = ""
    own_credentials: bool = True
    without_own: str = "it has no credentials of its own"


def org_token_command(org_id: str, stack: str = "", directory: str = "") -> str:
    """The command that gives ``org_id`` a token of its own, for ``stack`` in ``directory`` when given."""
    extra = f" --stack {stack}" if stack else ""
    where = f" in {directory}" if directory else ""
    return (
        f"`pulumi config set --secret --path '{ORGS_CONFIG_KEY}.{org_id}.token' <token>{extra}`{where} (and "
        f"{ORGS_CONFIG_KEY}.{org_id}.apiUrl if it lives at another URL)"
    )


def config_place(org_id: str, *, own_credentials: bool = True) -> CredentialPlace:
    """Credentials from a stack's config or the ``ARDENT_*`` variables, as the provider reads them."""
    return CredentialPlace(
        token="the configured token" if own_credentials else "the default token (ardent:token)",
        token_setting=f"`pulumi config set --secret {TOKEN_CONFIG_KEY} <token>` or {TOKEN_VARIABLE}",
        org_setting=f"{ORG_CONFIG_KEY} / {ORG_VARIABLE} and {API_URL_CONFIG_KEY} / {API_URL_VARIABLE}",
        org_token_setting=org_token_command(org_id),
        org_id_setting=f"{ORG_CONFIG_KEY} / {ORG_VARIABLE}",
        own_credentials=own_credentials,
        without_own=f"the program puts a key in it, but {ORGS_CONFIG_KEY} has no token for it",
    )


def environment_place() -> CredentialPlace:
    """Credentials from ``ARDENT_TOKEN``, ``ARDENT_ORG_ID`` and ``ARDENT_API_URL`` only."""
    return CredentialPlace(
        token=TOKEN_VARIABLE,
        token_setting=TOKEN_VARIABLE,
        org_setting=f"{ORG_VARIABLE} and {API_URL_VARIABLE}",
        org_token_setting=TOKEN_VARIABLE,
        org_id_setting=ORG_VARIABLE,
    )


def explain_refusal(
    error: ArdentError, org_id: str, api_url: str, place: CredentialPlace, *, doing: str = "read", action: str = ""
) -> str:
    """One sentence: which org could not be ``doing`` (read, used), why, and what to set; never the token.

    ``action`` is what the token was refused for on a 403, such as ``list its keys``.
    """
    status = getattr(error, "status", None)
    refused = isinstance(error, AuthenticationError | PermissionDeniedError | NotFoundError)
    lead = f"org {org_id} could not be {doing}"
    if refused and not place.own_credentials:
        return (
            f"{lead}: {place.without_own}, and {place.token} was refused there (HTTP {status}; an "
            f"Ardent token belongs to one org). Give the org an admin or owner token: {place.org_token_setting}"
        )
    if isinstance(error, AuthenticationError):
        return (
            f"{lead}: Ardent rejected {place.token} (HTTP 401: unknown, revoked or expired); set a valid admin or "
            f"owner token of org {org_id} with {place.token_setting}"
        )
    if isinstance(error, PermissionDeniedError):
        return (
            f"{lead}: {place.token} may not {action or 'manage its API keys'} (HTTP 403); it must be an admin or "
            f"owner token of org {org_id}, set with {place.token_setting}"
            + (f"; check that {place.org_id_setting} is the token's own org" if place.org_id_setting else "")
        )
    if isinstance(error, NotFoundError):
        return f"{lead}: it was not found at {api_url} (HTTP 404); check {place.org_setting}"
    return f"{lead} at {api_url}: {error}"
