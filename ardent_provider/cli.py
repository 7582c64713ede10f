"""``ardent-keys``: console commands for platform teams, built on the client.

``ardent-keys drift`` compares the keys that Pulumi stacks manage with the keys the Ardent org really has;
``ardent-keys revoke`` revokes keys that none of the given stacks manages (orphans of a killed run, keys
made by hand). Both take one or more project directories (``--cwd``, repeatable) and stacks of them
(``--stack NAME`` or ``--stack org/project/stack``, repeatable, or ``--all-stacks``). They read each stack
through the CLI's own ``pulumi stack export`` and ``pulumi config``, take credentials the way the provider
does (stack config, then the environment), and need no change to the Pulumi program. They never print a
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .client import ArdentClient
from .errors import ArdentError, NotFoundError
from .models import ApiKey, SecretToken
from .settings import Settings, resolve_settings

PENDING_REVOKE = "pending-revoke"
RESOURCE_TYPE_SUFFIX = "dynamic/ardent:ApiKey"
EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_REVOKED, EXIT_REFUSED = 0, 1
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
MAX_EXPIRING_WITHIN_DAYS = 36500


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
    """A key that a stack's state says it manages."""

    stack: str
    resource: str
    key_id: str
    name: str | None
    kind: str
    project: str = ""

    @property
    def label(self) -> str:
        """``project/stack`` of the managing stack."""
        return f"{self.project}/{self.stack}" if self.project else self.stack


@dataclass(frozen=True)
class StackView:
    """What one stack says: its settings and the keys its state records."""

    ref: StackRef
    settings: Settings
    managed: tuple[ManagedKey, ...]


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
    """What ``revoke`` does with one requested key id, and why."""

    key_id: str
    name: str | None
    revoke: bool
    reason: str


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
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise CheckError(f"`pulumi {' '.join(args)}` in {cwd} failed: {reason[-1] if reason else 'no output'}")
    return result.stdout


def project_name(directory: Path) -> str:
    """The ``name:`` of the project whose ``Pulumi.yaml`` lies in ``directory``."""
    path = next((directory / name for name in PROJECT_FILES if (directory / name).is_file()), None)
    if path is None:
        raise CheckError(f"{directory} holds no Pulumi.yaml; give the Pulumi project directory with --cwd")
    for line in path.read_text(encoding="utf-8").splitlines():
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
        key_id = resource.get("id") or outputs.get("key_id")
        if isinstance(key_id, str) and key_id:
            key_name = outputs.get("name")
            key_name = key_name if isinstance(key_name, str) else None
            found.append(ManagedKey(stack, name, key_id, key_name, "current", project))
        previous = outputs.get("previous_key_id")
        if isinstance(previous, str) and previous:
            found.append(ManagedKey(stack, name, previous, None, "previous", project))
        pending = outputs.get("pending_revoke_key_ids")
        for old_id in pending if isinstance(pending, list) else []:
            if isinstance(old_id, str) and old_id:
                found.append(ManagedKey(stack, name, old_id, None, PENDING_REVOKE, project))
    return found


def stack_settings(ref: StackRef) -> Settings:
    """The stack's Ardent settings: its config first (secrets decrypted), then the environment."""
    output = run_pulumi(["config", "--stack", ref.name, "--show-secrets", "--json"], ref.project.directory)
    config = json.loads(output or "{}")
    values = {key: entry.get("value") for key, entry in config.items() if isinstance(entry, dict)}
    try:
        return resolve_settings(values)
    except ArdentError as error:
        raise CheckError(f"stack {ref.label}: {error}") from None


def read_stacks(args: argparse.Namespace) -> list[StackView]:
    """Resolve ``--cwd``/``--stack``/``--all-stacks`` and read every stack's settings and managed keys."""
    projects = load_projects(args.cwd or ["."])
    refs = resolve_targets(projects, args.stack or [], args.all_stacks, list_project_stacks)
    return [StackView(ref, stack_settings(ref), tuple(managed_keys(ref))) for ref in refs]


def common_settings(views: Sequence[StackView]) -> Settings:
    """The settings to call Ardent with: the first stack's, once every stack is shown to use the same org."""
    if not views:
        raise CheckError("no stack to read; give --stack NAME or --all-stacks")
    groups: dict[tuple[str, str], list[str]] = {}
    for view in views:
        groups.setdefault((view.settings.org_id, view.settings.api_url), []).append(view.ref.label)
    if len(groups) > 1:
        described = "; ".join(f"{org} at {url}: {', '.join(labels)}" for (org, url), labels in groups.items())
        raise CheckError(
            f"the stacks use different Ardent orgs or API URLs ({described}); run once per org, giving only "
            "the stacks of that org"
        )
    return views[0].settings


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
    requested: Sequence[str],
    listed: Sequence[ApiKey],
    managed: Sequence[ManagedKey],
    credentials: Mapping[str, Sequence[str]],
    running: str,
    org_id: str,
) -> list[Decision]:
    """Decide, for each requested id once, whether to revoke it or refuse and why.

    Refused: ids that are not active keys of the org, the key whose token this command runs with (the
    ``running`` stack's), any other given stack's credential, and every key a given stack manages.
    """
    by_id = {key.id: key for key in listed}
    managers: dict[str, list[ManagedKey]] = {}
    for item in managed:
        managers.setdefault(item.key_id, []).append(item)
    decisions: list[Decision] = []
    for key_id in dict.fromkeys(requested):
        key = by_id.get(key_id)
        if key is None:
            reason = f"not an active key of org {org_id}: already revoked, never existed, or another org's"
            if key_id in managers:
                reason += f"; stack {managers[key_id][0].label} still records it, so run `pulumi refresh` there"
            decisions.append(Decision(key_id, None, False, reason))
            continue
        users = credentials.get(key_id, [])
        if running in users:
            reason = (
                f"it is the key this command runs with (the token of stack {running}); revoking it would make "
                "every later command fail with 401"
            )
        elif users:
            reason = f"it is the Ardent token that stack {users[0]} runs with; change that stack's ardent:token first"
        elif key_id in managers:
            item = managers[key_id][0]
            what = "kept previous key" if item.kind == "previous" else "key"
            reason = (
                f"it is the {what} of resource {item.resource} in stack {item.label}; remove the resource from "
                "that program and run `pulumi up` instead, so that the state stays true"
            )
        else:
            decisions.append(Decision(key_id, key.name, True, "managed by none of the given stacks"))
            continue
        decisions.append(Decision(key_id, key.name, False, reason))
    return decisions


# -- output -------------------------------------------------------------------------------------------


def render_table(findings: Sequence[Finding], stacks: Sequence[str]) -> str:
    """A readable report."""
    if not findings:
        return f"No drift: every key of {', '.join(stacks)} is active, and the org has no unmanaged key."
    headers = ("PROBLEM", "KEY ID", "NAME", "STACK", "RESOURCE", "EXPIRES", "DETAIL")
    rows = [
        (
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
    """One line of the revoke report: outcome, key id, the key's name when known, and why."""
    name = f" ({decision.name!r})" if decision.name else ""
    return f"{outcome:<8} {decision.key_id}{name}: {reason}"


# -- commands -----------------------------------------------------------------------------------------


def drift(args: argparse.Namespace) -> int:
    """The ``drift`` command."""
    try:
        views = read_stacks(args)
        settings = common_settings(views)
        with ArdentClient(settings.token, api_url=settings.api_url) as client:
            listed = client.list_keys(settings.org_id)
            now = client.server_now()
        credentials = credential_key_ids(listed, ((view.ref.label, view.settings.token) for view in views))
        managed = [item for view in views for item in view.managed]
        findings = find_drift(managed, listed, now, args.expiring_within, credentials, settings.org_id)
    except (CheckError, ArdentError, ValueError) as error:
        if args.json:
            print(json.dumps({"error": str(error)}))
        print(f"ardent-keys drift: could not check: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        payload: dict[str, Any] = {
            "org_id": settings.org_id,
            "api_url": settings.api_url,
            "stacks": [
                {
                    "project": view.ref.project.name,
                    "stack": view.ref.stack,
                    "directory": str(view.ref.project.directory),
                }
                for view in views
            ],
            # The service's Date header has whole seconds; finer digits would be invented.
            "checked_at": wire_time(now.replace(microsecond=0)),
            "managed_keys": len(managed),
            "org_keys": len(listed),
            "credential_key_ids": sorted(credentials),
            "drift": bool(findings),
            "findings": [asdict(finding) for finding in findings],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(render_table(findings, [view.ref.label for view in views]))
    return EXIT_DRIFT if findings else EXIT_CLEAN


def revoke(args: argparse.Namespace) -> int:
    """The ``revoke`` command: revoke keys that no given stack manages, such as orphans of a killed run."""
    try:
        views = read_stacks(args)
        settings = common_settings(views)
    except (CheckError, ArdentError, ValueError) as error:
        print(f"ardent-keys revoke: could not check, nothing revoked: {error}", file=sys.stderr)
        return EXIT_ERROR
    with ArdentClient(settings.token, api_url=settings.api_url) as client:
        try:
            listed = client.list_keys(settings.org_id)
        except ArdentError as error:
            print(f"ardent-keys revoke: could not list the org's keys, nothing revoked: {error}", file=sys.stderr)
            return EXIT_ERROR
        credentials = credential_key_ids(listed, ((view.ref.label, view.settings.token) for view in views))
        managed = [item for view in views for item in view.managed]
        decisions = plan_revocations(args.key_id, listed, managed, credentials, views[0].ref.label, settings.org_id)
        revoked = 0
        for decision in decisions:
            outcome, reason = (
                _revoke_one(client, settings.org_id, decision) if decision.revoke else ("refused", decision.reason)
            )
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


def _add_stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cwd",
        action="append",
        metavar="DIR",
        help="a Pulumi project directory (repeat for several; default: the current directory)",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="a stack to read, NAME or org/project/stack (the project picks the --cwd directory); repeatable",
    )
    which.add_argument("--all-stacks", action="store_true", help="every stack of every given project")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``ardent-keys``."""
    parser = argparse.ArgumentParser(prog="ardent-keys", description="Tools for managing Ardent API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "drift",
        help="compare the keys that Pulumi stacks manage with the org's keys",
        description="Report managed keys that are missing (revoked or deleted), expired or expiring, and "
        "unmanaged keys in the org (managed by none of the given stacks). Exit 0: no drift; 1: drift; "
        "2: could not check.",
    )
    _add_stack_options(check)
    check.add_argument("--expiring-within", type=float, metavar="DAYS", help="also report keys expiring that soon")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(handler=drift)
    revoker = commands.add_parser(
        "revoke",
        help="revoke keys that no given stack manages (for example orphans that drift reported)",
        description="Revoke the given keys with the first stack's credentials. Refused: keys that are not "
        "active keys of the org, the key this command runs with, any given stack's token, and keys that any "
        "given stack manages. Exit 0: all revoked; 1: something refused or not revoked; 2: could not check.",
    )
    _add_stack_options(revoker)
    revoker.add_argument("key_id", nargs="+", help="ids of the keys to revoke")
    revoker.set_defaults(handler=revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ardent-keys``."""
    args = build_parser().parse_args(argv)
    within = getattr(args, "expiring_within", None)
    if within is not None and not (0 <= within <= MAX_EXPIRING_WITHIN_DAYS):
        print(
            f"ardent-keys drift: --expiring-within must be a number of days from 0 to {MAX_EXPIRING_WITHIN_DAYS}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
