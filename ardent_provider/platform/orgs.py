"""Every org the stacks use: which credentials read it, its active keys (one list call), and the service's time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
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
from .render import table
from .stacks import MAX_PARALLEL_READS, CheckError, CredentialSource, StackView, provider_label

# The label of the credentials read from the environment when no stack is given.
ENVIRONMENT_SOURCE = TOKEN_VARIABLE


@dataclass(frozen=True)
class OrgReading:
    """One org as a run read it: the settings used (and whose stack's provider they are), its active keys, the time.

    ``credentials`` maps the ids of listed keys whose tokens the stacks' providers run with to their labels
    (``project/stack``, with ``(provider resource NAME)`` for an explicit provider).
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


@dataclass(frozen=True)
class OrgFailure:
    """An org that could not be read, whose credentials were tried, and why (with what to change).

    ``project``/``stack`` and ``provider`` (the explicit provider resource; "" for the stack's default provider)
    name the credentials tried, or the first stack working in the org when none could be chosen.
    """

    org_id: str
    reason: str
    project: str = ""
    stack: str = ""
    provider: str = ""

    @property
    def source(self) -> str:
        """The credentials tried, as :func:`provider_label` names them."""
        return provider_label(f"{self.project}/{self.stack}" if self.project else self.stack, self.provider)


class UnreadableOrgError(CheckError):
    """An org that cannot be read, and the provider whose credentials were tried or could not be read."""

    def __init__(self, message: str, source: CredentialSource) -> None:
        super().__init__(message)
        self.source = source


def render_failures(failures: Sequence[OrgFailure]) -> list[str]:
    """The orgs that could not be read, as error rows: org, stack, provider resource, why and what to do."""
    if not failures:
        return []
    rows = [
        ("error", f.org_id, f.source.split(" (", 1)[0] or "-", f.provider or ("default" if f.stack else "-"), f.reason)
        for f in failures
    ]
    return [*table(("PROBLEM", "ORG", "STACK", "PROVIDER", "DETAIL"), rows), "", f"{len(failures)} org(s) not read."]


def failures_json(failures: Sequence[OrgFailure]) -> list[dict[str, str | None]]:
    """The orgs that could not be read, for a ``--json`` document."""
    return [
        {
            "org_id": f.org_id,
            "project": f.project or None,
            "stack": f.stack or None,
            "provider": f.provider or None,
            "reason": f.reason,
        }
        for f in failures
    ]


def org_ids(views: Sequence[StackView]) -> list[str]:
    """Every org the stacks use (default orgs and the orgs their keys live in), sorted."""
    return sorted({org for view in views for org in view.orgs})


def org_credentials(org_id: str, views: Sequence[StackView]) -> tuple[Settings, CredentialSource]:
    """The settings to read ``org_id`` with, and the stack's provider they come from.

    Each stack offers its default provider's credentials (stack config) and each of its explicit providers', by
    the provider's rule (an ``orgs`` entry for the org, else the provider's own token). Chosen: the first provider
    that works in the org with credentials of the org's own, else the first with the org's own credentials, else
    the first working in the org, which lends its default token (the org may well refuse it). The providers that
    work in the org must agree on its API URL. When no provider has the org's own credentials and a provider
    working in the org could not have its settings read, the org is not read: :class:`UnreadableOrgError` names it.
    """
    resolved: list[tuple[CredentialSource, Settings]] = []
    problems: list[str] = []
    for source in (source for view in views for source in view.sources()):
        try:
            resolved.append((source, source.settings_for(org_id)))
        except ArdentConfigurationError as error:
            if source.uses(org_id):
                problems.append(f"stack {source.label}: {error}")
    urls: dict[str, list[str]] = {}
    for source, settings in resolved:
        if source.uses(org_id):
            urls.setdefault(settings.api_url, []).append(source.label)
    if len(urls) > 1:
        described = "; ".join(f"{url}: {', '.join(labels)}" for url, labels in urls.items())
        raise CheckError(
            f"the stacks reach org {org_id} at different API URLs ({described}); set the same "
            f"ardent:apiUrl (or ardent:orgs.{org_id}.apiUrl, or the provider resource's apiUrl) in each, or check "
            "them in separate runs"
        )
    candidates = [(source, settings) for source, settings in resolved if not urls or settings.api_url in urls]
    chosen = next(
        ((src, settings) for src, settings in candidates if settings.own_credentials and src.uses(org_id)), None
    ) or next(((src, settings) for src, settings in candidates if settings.own_credentials), None)
    unread = next((src for view in views for src in view.sources() if src.problem and src.uses(org_id)), None)
    if chosen is None and unread is not None:
        # Lending another provider's default token would only hide why this provider's org is not read.
        raise UnreadableOrgError(unread.problem, unread)
    chosen = chosen or next(((src, settings) for src, settings in candidates if src.uses(org_id)), None)
    if chosen is None:
        # Every provider working in the org failed to resolve it, so each failure says what that one lacks.
        raise CheckError(f"org {org_id} cannot be read: {'; '.join(problems)}")
    return chosen[1], chosen[0]


def stack_tokens(views: Sequence[StackView]) -> list[tuple[str, SecretToken]]:
    """Every token the stacks' providers hold or run with, labelled by stack and provider resource."""
    return [(source.label, token) for view in views for source in view.sources() for token in source.tokens()]


def read_org(org_id: str, views: Sequence[StackView], settings: Settings, source: CredentialSource) -> OrgReading:
    """List one org's keys with ``settings`` (one call) and learn the service's time; failures say what to set."""
    try:
        with ArdentClient(settings.token, api_url=settings.api_url) as client:
            listed = tuple(client.list_keys(org_id))
            now = client.server_now()
    except ArdentError as error:
        raise UnreadableOrgError(unreadable_org(org_id, settings, source, error), source) from None
    credentials = credential_key_ids(listed, stack_tokens(views))
    return OrgReading(org_id, settings, source.label, listed, credentials, now)


def unreadable_org(org_id: str, settings: Settings, source: CredentialSource, error: ArdentError) -> str:
    """Why an org could not be read, naming the stack, its provider resource and what to set (never the token)."""
    ref = source.ref
    if source.provider:
        whose = f"provider resource {source.provider} of stack {ref.label}"
        org_setting = f"the orgId and apiUrl inputs of {whose}, and its keys' orgId"
        org_token_setting = f"its `orgs.{org_id}.token` input (a secret), then `pulumi up` there"
    else:
        whose = f"stack {ref.label}"
        org_setting = f"the org ids in {whose}'s {ORG_CONFIG_KEY} and {ORGS_CONFIG_KEY}, and its keys' org_id"
        org_token_setting = org_token_command(org_id, ref.name, str(ref.project.directory))
    place = CredentialPlace(
        token=f"{whose}'s token for it" if settings.own_credentials else f"{whose}'s default token",
        token_setting=source.token_setting(org_id),
        org_setting=org_setting,
        org_token_setting=org_token_setting,
        own_credentials=settings.own_credentials,
        without_own="no given stack has credentials of its own for it",
    )
    return explain_refusal(error, org_id, settings.api_url, place, action="list its keys")


def read_each_org(views: Sequence[StackView]) -> tuple[list[OrgReading], list[OrgFailure]]:
    """Read every org the stacks use, a few at a time (one list call each): the orgs read, and those not.

    Both sorted by org id. One org that cannot be read does not keep the others from being read.
    """

    def read(org_id: str) -> OrgReading | OrgFailure:
        source = next((found for view in views for found in view.sources() if found.uses(org_id)), None)
        try:
            settings, source = org_credentials(org_id, views)
            return read_org(org_id, views, settings, source)
        except CheckError as error:
            if isinstance(error, UnreadableOrgError):
                source = error.source
            if source is None:
                return OrgFailure(org_id, str(error))
            return OrgFailure(org_id, str(error), source.ref.project.name, source.ref.stack, source.provider)

    orgs = org_ids(views)
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_READS, len(orgs)))) as pool:
        results = list(pool.map(read, orgs))
    return (
        [result for result in results if isinstance(result, OrgReading)],
        [result for result in results if isinstance(result, OrgFailure)],
    )


def read_orgs(views: Sequence[StackView]) -> list[OrgReading]:
    """Read every org the stacks use, a few at a time: one list call each. Sorted by org id.

    Every org's credentials are chosen before any request, so a configuration mistake costs no call; the first
    org that cannot be read stops the whole read.
    """
    plans = [(org, *org_credentials(org, views)) for org in org_ids(views)]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(plans))) as pool:
        return list(pool.map(lambda plan: read_org(plan[0], views, plan[1], plan[2]), plans))


def with_credentials(readings: Sequence[OrgReading], tokens: Iterable[tuple[str, SecretToken]]) -> list[OrgReading]:
    """The readings with the keys of further ``tokens`` (labelled) counted among their credentials."""
    given = list(tokens)
    updated = []
    for reading in readings:
        merged = {key_id: list(labels) for key_id, labels in reading.credentials.items()}
        for key_id, labels in credential_key_ids(reading.listed, given).items():
            merged.setdefault(key_id, []).extend(label for label in labels if label not in merged[key_id])
        updated.append(replace(reading, credentials=merged))
    return updated


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
