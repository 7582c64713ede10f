"""Every org the stacks use: which credentials read it, its active keys (one list call), and the service's time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from ..client import ArdentClient
from ..credential_refusals import CredentialPlace, environment_place, explain_refusal, org_token_command
from ..errors import ArdentConfigurationError, ArdentError
from ..models import ApiKey, SecretToken
from ..settings import (
    API_URL_VARIABLE,
    ORG_CONFIG_KEY,
    ORG_VARIABLE,
    ORGS_CONFIG_KEY,
    TOKEN_VARIABLE,
    Settings,
    resolve_settings,
)
from .stacks import MAX_PARALLEL_READS, CheckError, StackView

# The label of the credentials read from the environment when no stack is given.
ENVIRONMENT_SOURCE = TOKEN_VARIABLE


@dataclass(frozen=True)
class OrgReading:
    """One org as a run read it: the settings used (and whose stack they are), its active keys, the time.

    ``credentials`` maps the ids of listed keys whose tokens the given stacks run with to those stacks' labels.
    """

    org_id: str
    settings: Settings
    source: str
    listed: tuple[ApiKey, ...]
    credentials: Mapping[str, Sequence[str]]
    checked_at: datetime

    @property
    def api_url(self) -> str:
        """The API the org was reached at."""
        return self.settings.api_url


def org_ids(views: Sequence[StackView]) -> list[str]:
    """Every org the stacks use (default orgs and the orgs their keys live in), sorted."""
    return sorted({org for view in views for org in view.orgs})


def org_credentials(org_id: str, views: Sequence[StackView]) -> tuple[Settings, StackView]:
    """The settings to read ``org_id`` with, and the stack they come from.

    The provider's rule per stack (``ardent:orgs.<org>`` entry, else the default token and URL); among the
    stacks, the first whose credentials are the org's own wins, else the first stack using the org lends its
    default token, which the org may well refuse. The stacks that use the org must agree on its API URL.
    """
    resolved: list[tuple[StackView, Settings]] = []
    problems: list[str] = []
    for view in views:
        try:
            resolved.append((view, view.settings_for(org_id)))
        except ArdentConfigurationError as error:
            if view.uses(org_id):
                problems.append(f"stack {view.ref.label}: {error}")
    urls: dict[str, list[str]] = {}
    for view, settings in resolved:
        if view.uses(org_id):
            urls.setdefault(settings.api_url, []).append(view.ref.label)
    if len(urls) > 1:
        described = "; ".join(f"{url}: {', '.join(labels)}" for url, labels in urls.items())
        raise CheckError(
            f"the stacks reach org {org_id} at different API URLs ({described}); set the same "
            f"ardent:apiUrl (or ardent:orgs.{org_id}.apiUrl) in each, or check them in separate runs"
        )
    candidates = [(view, settings) for view, settings in resolved if not urls or settings.api_url in urls]
    own = next(((view, settings) for view, settings in candidates if settings.own_credentials), None)
    chosen = own or next(((view, settings) for view, settings in candidates if view.uses(org_id)), None)
    if chosen is None:
        # Every stack using the org failed to resolve it, so each failure says what that stack lacks.
        raise CheckError(f"org {org_id} cannot be read: {'; '.join(problems)}")
    return chosen[1], chosen[0]


def org_tokens(org_id: str, views: Sequence[StackView]) -> list[tuple[str, SecretToken]]:
    """The token each stack would run with in ``org_id``, labelled by stack; stacks without one are left out."""
    tokens: list[tuple[str, SecretToken]] = []
    for view in views:
        try:
            tokens.append((view.ref.label, view.settings_for(org_id).token))
        except ArdentConfigurationError:
            continue
    return tokens


def read_org(org_id: str, views: Sequence[StackView], settings: Settings, source: StackView) -> OrgReading:
    """List one org's keys with ``settings`` (one call) and learn the service's time; failures say what to set."""
    try:
        with ArdentClient(settings.token, api_url=settings.api_url) as client:
            listed = tuple(client.list_keys(org_id))
            now = client.server_now()
    except ArdentError as error:
        raise CheckError(unreadable_org(org_id, settings, source, error)) from None
    credentials = credential_key_ids(listed, org_tokens(org_id, views))
    return OrgReading(org_id, settings, source.ref.label, listed, credentials, now)


def unreadable_org(org_id: str, settings: Settings, source: StackView, error: ArdentError) -> str:
    """Why an org could not be read, naming it and what to configure (never the token)."""
    ref = source.ref
    place = CredentialPlace(
        token=f"stack {ref.label}'s token for it" if settings.own_credentials else f"stack {ref.label}'s default token",
        token_setting=source.token_setting(org_id),
        org_setting=f"the org ids in stack {ref.label}'s {ORG_CONFIG_KEY} and {ORGS_CONFIG_KEY}, and its keys' org_id",
        org_token_setting=org_token_command(org_id, ref.name, str(ref.project.directory)),
        own_credentials=settings.own_credentials,
        without_own="no given stack has credentials of its own for it",
    )
    return explain_refusal(error, org_id, settings.api_url, place, action="list its keys")


def read_orgs(views: Sequence[StackView]) -> list[OrgReading]:
    """Read every org the stacks use, a few at a time: one list call each. Sorted by org id.

    Every org's credentials are chosen before any request, so a configuration mistake costs no call.
    """
    plans = [(org, *org_credentials(org, views)) for org in org_ids(views)]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(plans))) as pool:
        return list(pool.map(lambda plan: read_org(plan[0], views, plan[1], plan[2]), plans))


# -- deciding -----------------------------------------------------------------------------------------


def credential_key_ids(listed: Sequence[ApiKey], tokens: Iterable[tuple[str, SecretToken]]) -> dict[str, list[str]]:
    """Which listed keys are the stacks' own credentials: key id -> labels of the stacks using its token.

    A key is a token's when its non-empty ``key_prefix`` begins the token; the prefix length is the service's
    business, so when several keys match, the longest prefixes win and, still tied, all of them count, which
    errs towards never touching a key that might be in use.
    """
    owners: dict[str, list[str]] = {}
    for label, token in tokens:
        secret = token.reveal()
        matches = [key for key in listed if key.key_prefix and secret.startswith(key.key_prefix)]
        longest = max((len(key.key_prefix) for key in matches), default=0)
        for key in matches:
            if len(key.key_prefix) == longest and label not in owners.setdefault(key.id, []):
                owners[key.id].append(label)
    return owners


def read_environment_org(environ: Mapping[str, str] | None = None) -> OrgReading:
    """The org of ``ARDENT_ORG_ID``, listed with ``ARDENT_TOKEN`` at ``ARDENT_API_URL`` (one call)."""
    try:
        settings = resolve_settings({}, environ)
    except ArdentError as error:
        raise CheckError(
            f"with no --stack, the org and token come from {ORG_VARIABLE}, {TOKEN_VARIABLE} and "
            f"{API_URL_VARIABLE}: {error}"
        ) from None
    try:
        with ArdentClient(settings.token, api_url=settings.api_url) as client:
            listed = tuple(client.list_keys(settings.org_id))
            now = client.server_now()
    except ArdentError as error:
        raise CheckError(environment_unreadable(settings.org_id, settings.api_url, error)) from None
    credentials = credential_key_ids(listed, [(ENVIRONMENT_SOURCE, settings.token)])
    return OrgReading(settings.org_id, settings, ENVIRONMENT_SOURCE, listed, credentials, now)


def environment_unreadable(org_id: str, api_url: str, error: ArdentError) -> str:
    """Why the environment's org could not be read, and which variable to fix (never the token)."""
    return explain_refusal(error, org_id, api_url, environment_place(), action="list its keys")
