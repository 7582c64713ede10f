"""``ardent-keys``: console commands for platform teams, built on the client.

``ardent-keys drift`` compares the keys that Pulumi stacks manage with the keys their Ardent orgs really
have; ``ardent-keys revoke`` revokes keys that none of the given stacks manages (orphans of a killed run, keys
made by hand). Both take one or more project directories (``--cwd``, repeatable) and stacks of them
(``--stack NAME`` or ``--stack org/project/stack``, repeatable, or ``--all-stacks``). They read each stack
through the CLI's own ``pulumi stack export`` and ``pulumi config``, take credentials the way the provider
does (``ardent:orgs.<org>`` entries, then the stack's default settings, then the environment), and need no
change to the Pulumi program. Every org the stacks use is read, one list call per org. They never print a
token.

Exit codes of ``drift``: 0 no drift, 1 drift found, 2 could not check.
Exit codes of ``revoke``: 0 every key revoked, 1 some key refused or not revoked, 2 could not check (nothing
revoked).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .client import ArdentClient
from .errors import (
    ArdentConfigurationError,
    ArdentError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from .files import project_file
from .models import ApiKey, SecretToken
from .policy.launcher import add_policy_pack_parser
from .settings import CONFIG_NAMESPACE, ORGS_CONFIG_KEY, TOKEN_CONFIG_KEY, Settings, org_entries, resolve_settings

PENDING_REVOKE = "pending-revoke"
RESOURCE_TYPE_SUFFIX = "dynamic/ardent:ApiKey"
EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_REVOKED, EXIT_REFUSED = 0, 1
MAX_EXPIRING_WITHIN_DAYS = 36500
# Each stack costs two pulumi processes and each org one list call; a few at a time is plenty on a runner.
MAX_PARALLEL_READS = 4


class CheckError(Exception):
    """The check could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory and the name its ``Pulumi.yaml`` gives."""

    name: str
    directory: Path


@dataclass(frozen=True)
class StackRef:
    """A stack of a project, named as ``pulumi --stack`` should be given it."""

    project: Project
    name: str

    @property
    def stack(self) -> str:
        """The stack's own name, without organization and project."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def label(self) -> str:
        """``project/stack``, unique among the stacks of one run."""
        return f"{self.project.name}/{self.stack}"


@dataclass(frozen=True)
class ManagedKey:
    """A key that a stack's state says it manages, and the org it lives in ("" until known)."""

    stack: str
    resource: str
    key_id: str
    name: str | None
    kind: str
    project: str = ""
    org_id: str = ""

    @property
    def label(self) -> str:
        """``project/stack`` of the managing stack."""
        return f"{self.project}/{self.stack}" if self.project else self.stack


@dataclass(frozen=True)
class StackView:
    """What one stack says: its default settings, the keys its state records, and its ``ardent:`` config.

    ``config`` holds decrypted secrets, so it stays out of ``repr``.
    """

    ref: StackRef
    settings: Settings
    managed: tuple[ManagedKey, ...]
    config: Mapping[str, object] = field(default_factory=dict, repr=False)

    @property
    def orgs(self) -> list[str]:
        """The orgs this stack uses: its default org and every org its keys live in, each once."""
        return list(dict.fromkeys([self.settings.org_id, *(item.org_id for item in self.managed if item.org_id)]))

    def uses(self, org_id: str) -> bool:
        """Whether the stack's default org is ``org_id`` or one of its keys lives there."""
        return org_id in self.orgs

    def settings_for(self, org_id: str) -> Settings:
        """The settings the provider would take for ``org_id`` in this stack."""
        if org_id == self.settings.org_id:
            return self.settings
        return resolve_settings(self.config, org_id=org_id)

    def token_setting(self, org_id: str) -> str:
        """Where this stack's token for ``org_id`` comes from, as a user would set it."""
        if org_entries(self.config.get(ORGS_CONFIG_KEY)).get(org_id, {}).get("token"):
            return f"`pulumi config set --secret --path '{ORGS_CONFIG_KEY}.{org_id}.token' <token>`"
        if self.config.get(TOKEN_CONFIG_KEY):
            return f"`pulumi config set --secret {TOKEN_CONFIG_KEY} <token>`"
        return "the ARDENT_TOKEN environment variable"


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


@dataclass(frozen=True)
class Finding:
    """One line of the drift report; the field order is the JSON order the README documents."""

    problem: str
    org_id: str
    project: str | None
    stack: str | None
    resource: str | None
    kind: str | None
    key_id: str
    name: str | None
    expires_at: str | None
    detail: str


@dataclass(frozen=True)
class Decision:
    """What ``revoke`` does with one requested key id, in which org, and why."""

    key_id: str
    name: str | None
    revoke: bool
    reason: str
    org_id: str | None = None


# -- reading projects and stacks ----------------------------------------------------------------------


def run_pulumi(args: Sequence[str], cwd: Path) -> str:
    """Run the user's ``pulumi`` with their environment; raise :class:`CheckError` on failure."""
    try:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
    except FileNotFoundError:
        raise CheckError("the pulumi CLI is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise CheckError(f"`pulumi {' '.join(args)}` in {cwd} did not finish within 300 s") from None
    except OSError as error:
        # A pulumi on PATH that is not executable, or not a program at all (a broken download, a text file).
        raise CheckError(
            f"the pulumi CLI on PATH could not be run ({error.strerror or error}); check that `pulumi` on PATH is "
            "the Pulumi CLI and executable (`ls -l $(command -v pulumi)`)"
        ) from None
    if result.returncode != 0:
        # Only stderr: stdout may hold what was asked for, such as `config --show-secrets`' decrypted secrets.
        reason = result.stderr.strip().splitlines()
        said = reason[-1] if reason else f"exit code {result.returncode}, nothing on stderr"
        raise CheckError(f"`pulumi {' '.join(args)}` in {cwd} failed: {said}")
    return result.stdout


def project_name(directory: Path) -> str:
    """The ``name`` of the project whose ``Pulumi.yaml`` (or ``.yml`` / ``.json``) lies in ``directory``."""
    path = project_file(directory)
    if path is None:
        raise CheckError(f"{directory} holds no Pulumi.yaml; give the Pulumi project directory with --cwd")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise CheckError(f"{path} is not valid JSON ({error}), so its project cannot be named") from None
        name = document.get("name") if isinstance(document, dict) else None
        if isinstance(name, str) and name.strip():
            return name.strip()
        raise CheckError(f"{path} has no top-level `name`, so its project cannot be named")
    for line in text.splitlines():
        # Only an unindented `name:` is the project's; indented ones belong to nested maps.
        match = re.match(r"name\s*:\s*(.*)$", line)
        if match:
            value = re.sub(r"\s+#.*$", "", match.group(1)).strip().strip("\"'")
            if value:
                return value
    raise CheckError(f"{path} has no top-level `name:`, so its project cannot be named")


def load_projects(directories: Iterable[str]) -> list[Project]:
    """The projects of the ``--cwd`` directories, each once; two directories of one project are refused."""
    projects: list[Project] = []
    for raw in directories:
        directory = Path(raw).expanduser().resolve()
        if not directory.is_dir():
            raise CheckError(f"--cwd {raw}: no such directory")
        if any(project.directory == directory for project in projects):
            continue
        project = Project(project_name(directory), directory)
        twin = next((known for known in projects if known.name == project.name), None)
        if twin is not None:
            raise CheckError(
                f"{twin.directory} and {directory} are both project {project.name}; give one of them with --cwd"
            )
        projects.append(project)
    return projects


def resolve_targets(
    projects: Sequence[Project],
    stacks: Sequence[str],
    all_stacks: bool,
    list_stacks: Callable[[Project], list[str]],
) -> list[StackRef]:
    """The stacks a run reads: the ``--stack`` arguments placed in their projects, or every stack of each.

    ``--stack org/project/stack`` picks the project by name; a bare ``--stack NAME`` needs exactly one project.
    """
    refs: list[StackRef] = []
    if all_stacks:
        for project in projects:
            names = list_stacks(project)
            if not names:
                raise CheckError(f"project {project.name} in {project.directory} has no stacks")
            refs.extend(StackRef(project, name) for name in names)
    for value in stacks:
        refs.append(StackRef(_project_for(value, projects), value))
    unique: list[StackRef] = []
    for ref in refs:
        if all((ref.project, ref.stack) != (known.project, known.stack) for known in unique):
            unique.append(ref)
    return unique


def _project_for(value: str, projects: Sequence[Project]) -> Project:
    parts = value.split("/")
    if not all(parts) or len(parts) > 3:
        raise CheckError(f"--stack {value!r} is not a stack name; write NAME or org/project/stack")
    if len(parts) == 3:
        for project in projects:
            if project.name == parts[1]:
                return project
        known = ", ".join(f"{project.name} ({project.directory})" for project in projects)
        raise CheckError(
            f"--stack {value}: no --cwd directory holds project {parts[1]} (given: {known}); add --cwd "
            f"<the directory of {parts[1]}>"
        )
    if len(projects) > 1:
        names = ", ".join(project.name for project in projects)
        raise CheckError(
            f"--stack {value} is ambiguous with several projects ({names}); write org/project/stack, for "
            f"example organization/{projects[0].name}/{value}, or use --all-stacks"
        )
    return projects[0]


def list_project_stacks(project: Project) -> list[str]:
    """The names of the project's stacks, as ``pulumi stack ls --json`` gives them."""
    listing = json.loads(run_pulumi(["stack", "ls", "--json"], project.directory) or "[]")
    return [str(item["name"]) for item in listing if isinstance(item, dict) and item.get("name")]


def managed_keys(ref: StackRef) -> list[ManagedKey]:
    """Every key (current and kept previous) that the stack's state records."""
    deployment = json.loads(run_pulumi(["stack", "export", "--stack", ref.name], ref.project.directory))
    return keys_in_deployment(deployment, ref.stack, ref.project.name)


def keys_in_deployment(deployment: Mapping[str, Any], stack: str, project: str = "") -> list[ManagedKey]:
    """The keys recorded in a ``pulumi stack export`` document."""
    found: list[ManagedKey] = []
    for resource in deployment.get("deployment", {}).get("resources", []) or []:
        if not str(resource.get("type", "")).endswith(RESOURCE_TYPE_SUFFIX) or resource.get("delete"):
            continue
        outputs = resource.get("outputs", {}) or {}
        name = str(resource.get("urn", "")).rsplit("::", 1)[-1]
        # A resource's kept previous and pending keys live in its org; state of older releases names none.
        recorded_org = outputs.get("org_id")
        org = recorded_org if isinstance(recorded_org, str) else ""
        key_id = resource.get("id") or outputs.get("key_id")
        if isinstance(key_id, str) and key_id:
            key_name = outputs.get("name")
            key_name = key_name if isinstance(key_name, str) else None
            found.append(ManagedKey(stack, name, key_id, key_name, "current", project, org))
        previous = outputs.get("previous_key_id")
        if isinstance(previous, str) and previous:
            found.append(ManagedKey(stack, name, previous, None, "previous", project, org))
        pending = outputs.get("pending_revoke_key_ids")
        for old_id in pending if isinstance(pending, list) else []:
            if isinstance(old_id, str) and old_id:
                found.append(ManagedKey(stack, name, old_id, None, PENDING_REVOKE, project, org))
    return found


def stack_config(ref: StackRef) -> dict[str, object]:
    """The stack's ``ardent:`` config, secrets decrypted (``ardent:orgs`` as the CLI prints it: JSON text)."""
    output = run_pulumi(["config", "--stack", ref.name, "--show-secrets", "--json"], ref.project.directory)
    config = json.loads(output or "{}")
    return {
        key: entry.get("value")
        for key, entry in config.items()
        if isinstance(entry, dict) and key.split(":", 1)[0] == CONFIG_NAMESPACE
    }


def read_stack(ref: StackRef) -> StackView:
    """One stack's default settings (its config first, then the environment) and the keys its state records.

    A key whose state names no org (written by an older release) lives in the stack's default org.
    """
    config = stack_config(ref)
    try:
        settings = resolve_settings(config)
    except ArdentError as error:
        raise CheckError(f"stack {ref.label}: {error}") from None
    managed = tuple(item if item.org_id else replace(item, org_id=settings.org_id) for item in managed_keys(ref))
    return StackView(ref, settings, managed, config)


def read_stacks(args: argparse.Namespace) -> list[StackView]:
    """Resolve ``--cwd``/``--stack``/``--all-stacks`` and read every stack, a few at a time, in the given order."""
    projects = load_projects(args.cwd or ["."])
    refs = resolve_targets(projects, args.stack or [], args.all_stacks, list_project_stacks)
    if not refs:
        raise CheckError("no stack to read; give --stack NAME or --all-stacks")
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_READS, len(refs))) as pool:
        # map() hands back results, and raises the first failure, in the order of the stacks given.
        return list(pool.map(read_stack, refs))


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
    label = source.ref.label
    status = getattr(error, "status", None)
    if not settings.own_credentials and isinstance(error, AuthenticationError | PermissionDeniedError | NotFoundError):
        return (
            f"org {org_id} could not be read: no given stack has credentials of its own for it, and stack {label}'s "
            f"default token was refused there (HTTP {status}; an Ardent token belongs to one org). Give the org an "
            f"admin or owner token: `pulumi config set --secret --path '{ORGS_CONFIG_KEY}.{org_id}.token' <token> "
            f"--stack {source.ref.name}` in {source.ref.project.directory} (and {ORGS_CONFIG_KEY}.{org_id}.apiUrl "
            "if it lives at another URL)"
        )
    where = source.token_setting(org_id)
    if isinstance(error, AuthenticationError):
        return (
            f"org {org_id} could not be read: Ardent rejected stack {label}'s token for it (HTTP 401: unknown, "
            f"revoked or expired); set a valid admin or owner token of org {org_id} with {where}"
        )
    if isinstance(error, PermissionDeniedError):
        return (
            f"org {org_id} could not be read: stack {label}'s token for it may not list its keys (HTTP 403); it "
            f"must be an admin or owner token of org {org_id}, set with {where}"
        )
    if isinstance(error, NotFoundError):
        return (
            f"org {org_id} was not found at {settings.api_url} (HTTP 404); check the org ids in stack {label}'s "
            f"ardent:orgId and {ORGS_CONFIG_KEY}, and its keys' org_id"
        )
    return f"org {org_id} could not be read at {settings.api_url}: {error}"


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


def service_timespec(listed: Iterable[ApiKey]) -> str:
    """The finest resolution the service's timestamps show, so that none is printed finer than it came."""
    timespec = "seconds"
    for key in listed:
        for moment in (key.created_at, key.expires_at, key.last_used_at):
            if moment is None or not moment.microsecond:
                continue
            if moment.microsecond % 1000:
                return "microseconds"
            timespec = "milliseconds"
    return timespec


def wire_time(moment: datetime | None, timespec: str = "seconds") -> str | None:
    """An aware datetime as ISO-8601 UTC with a ``Z`` at the given resolution; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def find_drift(
    managed: Sequence[ManagedKey],
    listed: Sequence[ApiKey],
    now: datetime,
    expiring_within: float | None,
    credentials: Collection[str] = (),
    org_id: str = "",
) -> list[Finding]:
    """Compare what stacks manage with what the org has; findings in the order of :func:`finding_order`.

    ``credentials`` are the ids of keys that the stacks run with: in use, so not reported as unmanaged.
    """
    timespec = service_timespec(listed)
    by_id = {key.id: key for key in listed}
    findings: list[Finding] = []

    def add(problem: str, key_id: str, item: ManagedKey | None, key: ApiKey | None, detail: str) -> None:
        findings.append(
            Finding(
                problem=problem,
                org_id=org_id,
                project=item.project if item is not None else None,
                stack=item.stack if item is not None else None,
                resource=item.resource if item is not None else None,
                kind=item.kind if item is not None else None,
                key_id=key_id,
                name=key.name if key is not None else (item.name if item is not None else None),
                expires_at=wire_time(key.expires_at, timespec) if key is not None else None,
                detail=detail,
            )
        )

    for item in managed:
        key = by_id.get(item.key_id)
        label = "kept previous key" if item.kind == "previous" else "key"
        if item.kind == PENDING_REVOKE:
            if key is not None:
                add(
                    "revoke_pending",
                    key.id,
                    item,
                    key,
                    "a key the stack replaced; revoking it failed and the next `pulumi up` tries again",
                )
            continue
        if key is None:
            add(
                "missing",
                item.key_id,
                item,
                None,
                f"the stack's {label} is not active in the org: revoked or deleted outside Pulumi",
            )
        elif key.expires_at is not None and key.expires_at <= now:
            add("expired", key.id, item, key, f"the stack's {label} has expired")
        elif (
            expiring_within is not None
            and key.expires_at is not None
            and key.expires_at - now <= timedelta(days=expiring_within)
        ):
            left = key.expires_at - now
            add("expiring", key.id, item, key, f"expires in {left.days} d {left.seconds // 3600} h")
    managed_ids = {item.key_id for item in managed}
    for key in listed:
        if key.id not in managed_ids and key.id not in credentials:
            add("unmanaged", key.id, None, key, "active in the org, managed by none of the given stacks")
    return sorted(findings, key=finding_order)


def finding_order(finding: Finding) -> tuple[str, bool, str, str, str, str]:
    """Org, then stack (project and name; unmanaged keys, which have none, last), resource and key id."""
    return (
        finding.org_id,
        finding.stack is None,
        finding.project or "",
        finding.stack or "",
        finding.resource or "",
        finding.key_id,
    )


def plan_revocations(
    requested: Sequence[str], readings: Sequence[OrgReading], managed: Sequence[ManagedKey]
) -> list[Decision]:
    """Decide, for each requested id once, whether to revoke it (in the org that lists it) or refuse and why.

    Refused: ids that are not active keys of any org read, the key whose token reads its org (that org's
    ``source`` stack's), any other given stack's credential, and every key a given stack manages.
    """
    managers: dict[str, list[ManagedKey]] = {}
    for item in managed:
        managers.setdefault(item.key_id, []).append(item)
    orgs = [reading.org_id for reading in readings]
    listed: dict[str, tuple[OrgReading, ApiKey]] = {}
    for reading in readings:
        for key in reading.listed:
            listed.setdefault(key.id, (reading, key))
    decisions: list[Decision] = []
    for key_id in dict.fromkeys(requested):
        found = listed.get(key_id)
        if found is None:
            reason = (
                f"not an active key of org{'s' if len(orgs) > 1 else ''} {', '.join(orgs)}: already revoked, "
                "never existed, or an org that none of the given stacks uses"
            )
            if key_id in managers:
                item = managers[key_id][0]
                reason += f"; stack {item.label} still records it in org {item.org_id}, so run `pulumi refresh` there"
            decisions.append(Decision(key_id, None, False, reason))
            continue
        reading, key = found
        users = reading.credentials.get(key_id, [])
        if reading.source in users:
            reason = (
                f"it is the key this command runs with in org {reading.org_id} (the token of stack "
                f"{reading.source}); revoking it would make every later command there fail with 401"
            )
        elif users:
            reason = (
                f"it is the Ardent token that stack {users[0]} runs with in org {reading.org_id}; give that stack "
                "another token for the org first"
            )
        elif key_id in managers:
            item = managers[key_id][0]
            what = "kept previous key" if item.kind == "previous" else "key"
            reason = (
                f"it is the {what} of resource {item.resource} in stack {item.label}; remove the resource from "
                "that program and run `pulumi up` instead, so that the state stays true"
            )
        else:
            decisions.append(Decision(key_id, key.name, True, "managed by none of the given stacks", reading.org_id))
            continue
        decisions.append(Decision(key_id, key.name, False, reason, reading.org_id))
    return decisions


# -- output -------------------------------------------------------------------------------------------


def render_table(findings: Sequence[Finding], stacks: Sequence[str], orgs: Sequence[str] = ()) -> str:
    """A readable report; with more than one org, an ORG column first (findings come sorted by org)."""
    if not findings:
        where = (
            "the org has no unmanaged key" if len(orgs) < 2 else f"none of orgs {', '.join(orgs)} has an unmanaged key"
        )
        return f"No drift: every key of {', '.join(stacks)} is active, and {where}."
    several = len({*orgs, *(f.org_id for f in findings)}) > 1
    headers = (*(("ORG",) if several else ()), "PROBLEM", "KEY ID", "NAME", "STACK", "RESOURCE", "EXPIRES", "DETAIL")
    rows = [
        (
            *((f.org_id,) if several else ()),
            f.problem,
            f.key_id,
            f.name or "-",
            (f"{f.project}/{f.stack}" if f.project else f.stack) or "-",
            f.resource or "-",
            f.expires_at or "-",
            f.detail,
        )
        for f in findings
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (headers, *rows)
    ]
    return "\n".join([*lines, "", f"{len(findings)} finding(s)."])


def render_decision(decision: Decision, outcome: str, reason: str) -> str:
    """One line of the revoke report: outcome, key id, the key's name and org when known, and why."""
    name = f" ({decision.name!r})" if decision.name else ""
    org = f" in org {decision.org_id}" if decision.org_id else ""
    return f"{outcome:<8} {decision.key_id}{name}{org}: {reason}"


# -- commands -----------------------------------------------------------------------------------------


def drift_findings(
    views: Sequence[StackView], readings: Sequence[OrgReading], expiring_within: float | None
) -> list[Finding]:
    """Every org's findings, each org compared only with the keys the stacks manage in it; in report order."""
    managed = [item for view in views for item in view.managed]
    findings = [
        finding
        for reading in readings
        for finding in find_drift(
            [item for item in managed if item.org_id == reading.org_id],
            reading.listed,
            reading.checked_at,
            expiring_within,
            reading.credentials,
            reading.org_id,
        )
    ]
    return sorted(findings, key=finding_order)


def drift_report(
    views: Sequence[StackView], readings: Sequence[OrgReading], findings: Sequence[Finding]
) -> dict[str, Any]:
    """The ``--json`` document; ``org_id``, ``api_url`` and ``checked_at`` are those of the first stack's org."""
    first = next(reading for reading in readings if reading.org_id == views[0].settings.org_id)
    return {
        "org_id": first.org_id,
        "api_url": first.api_url,
        "stacks": [
            {"project": view.ref.project.name, "stack": view.ref.stack, "directory": str(view.ref.project.directory)}
            for view in views
        ],
        # The service's Date header has whole seconds; finer digits would be invented.
        "checked_at": wire_time(first.checked_at.replace(microsecond=0)),
        "managed_keys": sum(len(view.managed) for view in views),
        "org_keys": sum(len(reading.listed) for reading in readings),
        "credential_key_ids": sorted({key_id for reading in readings for key_id in reading.credentials}),
        "drift": bool(findings),
        "findings": [asdict(finding) for finding in findings],
        "orgs": [
            {"org_id": reading.org_id, "api_url": reading.api_url, "org_keys": len(reading.listed)}
            for reading in readings
        ],
    }


def drift(args: argparse.Namespace) -> int:
    """The ``drift`` command."""
    within = args.expiring_within
    if within is not None and not (0 <= within <= MAX_EXPIRING_WITHIN_DAYS):
        # Refused before any stack is read, without the "could not check" of a check that was tried.
        reason = f"--expiring-within must be a number of days from 0 to {MAX_EXPIRING_WITHIN_DAYS}"
        if args.json:
            print(json.dumps({"error": reason}))
        print(f"ardent-keys drift: {reason}", file=sys.stderr)
        return EXIT_ERROR
    try:
        views = read_stacks(args)
        readings = read_orgs(views)
        findings = drift_findings(views, readings, args.expiring_within)
    except (CheckError, ArdentError, ValueError) as error:
        return could_not_check("drift", str(error), as_json=args.json)
    if args.json:
        print(json.dumps(drift_report(views, readings, findings), indent=2))
    else:
        orgs = [reading.org_id for reading in readings]
        print(render_table(findings, [view.ref.label for view in views], orgs))
    return EXIT_DRIFT if findings else EXIT_CLEAN


def could_not_check(command: str, reason: str, *, as_json: bool = False) -> int:
    """Report that the check could not be made (also as ``{"error": ...}`` on stdout for ``--json``)."""
    if as_json:
        print(json.dumps({"error": reason}))
    print(f"ardent-keys {command}: could not check: {reason}", file=sys.stderr)
    return EXIT_ERROR


def revoke(args: argparse.Namespace) -> int:
    """The ``revoke`` command: revoke keys that no given stack manages, such as orphans of a killed run.

    Each key is revoked in the org that lists it, with the credentials that org was read with.
    """
    try:
        views = read_stacks(args)
        readings = read_orgs(views)
    except (CheckError, ArdentError, ValueError) as error:
        print(f"ardent-keys revoke: could not check, nothing revoked: {error}", file=sys.stderr)
        return EXIT_ERROR
    managed = [item for view in views for item in view.managed]
    decisions = plan_revocations(args.key_id, readings, managed)
    settings = {reading.org_id: reading.settings for reading in readings}
    revoked = 0
    with ExitStack() as clients:
        opened: dict[str, ArdentClient] = {}
        for decision in decisions:
            if decision.revoke and decision.org_id is not None:
                org = settings[decision.org_id]
                if decision.org_id not in opened:
                    opened[decision.org_id] = clients.enter_context(ArdentClient(org.token, api_url=org.api_url))
                outcome, reason = _revoke_one(opened[decision.org_id], decision.org_id, decision)
            else:
                outcome, reason = "refused", decision.reason
            if outcome == "revoked":
                revoked += 1
            print(render_decision(decision, outcome, reason))
    print(f"{revoked} revoked, {len(decisions) - revoked} not revoked.")
    return EXIT_REVOKED if revoked == len(decisions) else EXIT_REFUSED


def _revoke_one(client: ArdentClient, org_id: str, decision: Decision) -> tuple[str, str]:
    try:
        client.revoke_key(org_id, decision.key_id)
    except NotFoundError:
        return "gone", "revoked meanwhile by someone else"
    except ArdentError as error:
        return "failed", str(error)
    return "revoked", decision.reason


def add_stack_options(parser: argparse.ArgumentParser, *, stacks_required: bool = True) -> None:
    """``--cwd DIR`` (repeatable) and one of ``--stack NAME`` (repeatable) or ``--all-stacks``.

    ``stacks_required=False`` lets a command run without stacks (``audit`` then reads ``ARDENT_*`` only).
    """
    parser.add_argument(
        "--cwd",
        action="append",
        metavar="DIR",
        help="a Pulumi project directory (repeat for several; default: the current directory)",
    )
    which = parser.add_mutually_exclusive_group(required=stacks_required)
    which.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="a stack to read, NAME or org/project/stack (the project picks the --cwd directory); repeatable"
        + ("" if stacks_required else " (without it: ARDENT_* only)"),
    )
    which.add_argument("--all-stacks", action="store_true", help="every stack of every given project")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``ardent-keys``."""
    parser = argparse.ArgumentParser(prog="ardent-keys", description="Tools for managing Ardent API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "drift",
        help="compare the keys that Pulumi stacks manage with the keys of their orgs",
        description="Report managed keys that are missing (revoked or deleted), expired or expiring, and "
        "unmanaged keys (managed by none of the given stacks) in every org the stacks use, grouped by org. "
        "Exit 0: no drift; 1: drift; 2: could not check.",
    )
    add_stack_options(check)
    check.add_argument("--expiring-within", type=float, metavar="DAYS", help="also report keys expiring that soon")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(handler=drift)
    revoker = commands.add_parser(
        "revoke",
        help="revoke keys that no given stack manages (for example orphans that drift reported)",
        description="Revoke each given key in the org that lists it, among the orgs the stacks use, with that "
        "org's credentials from the stacks. Refused: keys active in none of those orgs, the keys this command "
        "runs with, any given stack's token, and keys that any given stack manages. Exit 0: all revoked; 1: "
        "something refused or not revoked; 2: could not check (nothing revoked).",
    )
    add_stack_options(revoker)
    revoker.add_argument("key_id", nargs="+", help="ids of the keys to revoke")
    revoker.set_defaults(handler=revoke)
    add_policy_pack_parser(commands)
    # Imported here: audit builds on this module's stack and org reading.
    from .audit import add_audit_parser

    add_audit_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ardent-keys``."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
