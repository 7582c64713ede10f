"""``ardent-keys drift``: the stacks' own keys against what their orgs really hold."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from ..errors import ArdentError
from ..models import ApiKey, parse_time
from ..secret_sink import SecretsManagerSink
from .orgs import OrgFailure, OrgReading
from .render import service_timespec, table, wire_time
from .stacks import PENDING_DELETE, PENDING_REVOKE, ManagedKey, PendingOperation, StackView

# What each mode can report, in the README's words; `--unmanaged` adds the last one.
OWN_KEY_PROBLEMS: tuple[str, ...] = (
    "pending_operation",
    "pending_replacement",
    "missing",
    "expired",
    "expiring",
    "revoke_pending",
    "changed",
    "sink_mismatch",
    "sink_missing",
)
UNMANAGED_PROBLEM = "unmanaged"
# The row of an org that could not be read: its keys were not checked.
ERROR_PROBLEM = "error"


SinkCheck = Callable[["ManagedKey"], str | None]
"""Reads a key's sink: None when its current version is the key's token, else the problem (``sink_mismatch``, ...)."""


def check_sink(item: ManagedKey) -> str | None:
    """The sink problem of a current key with a sink, read from AWS (the secret's description only, no token)."""
    if item.sink is None:
        return None
    return SecretsManagerSink(item.sink).check(item.sink_version_id)


_SINK_DETAILS: Mapping[str, str] = MappingProxyType(
    {
        "sink_mismatch": "the secret's AWSCURRENT version is not the key's token any more (overwritten outside "
        "Pulumi); "
        "`pulumi refresh`, then `pulumi up`, replaces the key and writes the new token",
        "sink_missing": "the secret that holds the key's token is gone (deleted or scheduled for deletion outside "
        "Pulumi); `pulumi refresh`, then `pulumi up`, replaces the key and writes the new token to a new secret",
    }
)


@dataclass(frozen=True)
class Finding:
    """One line of the drift report; the field order is the JSON order the README documents."""

    problem: str
    org_id: str
    project: str | None
    stack: str | None
    resource: str | None
    kind: str | None
    key_id: str | None
    name: str | None
    expires_at: str | None
    detail: str


def find_drift(
    managed: Sequence[ManagedKey],
    listed: Sequence[ApiKey],
    now: datetime,
    expiring_within: float | None,
    credentials: Collection[str] = (),
    org_id: str = "",
    *,
    pending: Sequence[PendingOperation] = (),
    unmanaged: bool = False,
    unread_stacks: Sequence[str] = (),
    sink_check: SinkCheck | None = None,
) -> list[Finding]:
    """Compare what stacks manage with what the org has; findings in the order of :func:`finding_order`.

    By default only the stacks' own keys are judged: ``pending`` operations left by interrupted runs, still
    active keys of a resource whose delete-before-replace was interrupted, missing, expired, expiring (with
    ``expiring_within``), awaiting revocation, or changed out of band. A key whose resource has a pending
    operation is reported with that operation, not as missing. ``unmanaged`` adds the org's keys that none of
    the stacks manage; ``credentials`` (the keys the stacks run with) never are. ``unread_stacks`` (labels of
    backend stacks whose credentials are unknown) are named in each unmanaged key's detail. ``sink_check``
    reads the sink of each active current key that has one (``sink_mismatch``, ``sink_missing``).
    """
    timespec = service_timespec(listed)
    by_id = {key.id: key for key in listed}
    findings: list[Finding] = []

    def add(
        problem: str, key_id: str | None, item: ManagedKey | PendingOperation | None, key: ApiKey | None, detail: str
    ) -> None:
        findings.append(
            Finding(
                problem=problem,
                org_id=org_id,
                project=item.project if item is not None else None,
                stack=item.stack if item is not None else None,
                resource=item.resource if item is not None else None,
                kind=item.kind if item is not None else None,
                key_id=key_id,
                name=key.name if key is not None else (item.name if isinstance(item, ManagedKey) else None),
                expires_at=wire_time(key.expires_at, timespec) if key is not None else None,
                detail=detail,
            )
        )

    unsettled = {(operation.project, operation.stack, operation.resource) for operation in pending}
    for operation in pending:
        key = by_id.get(operation.key_id) if operation.key_id else None
        add("pending_operation", operation.key_id, operation, key, _pending_detail(operation))
    for item in managed:
        key = by_id.get(item.key_id)
        label = "kept previous key" if item.kind == "previous" else "key"
        if item.pending_replacement:
            # Not active: the interrupted delete already revoked it, as it was meant to.
            if key is not None:
                add("pending_replacement", key.id, item, key, _replacement_detail(item))
            continue
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
        if item.kind == PENDING_DELETE:
            continue  # replaced by an interrupted run; the next `pulumi up` deletes it, and it is nobody else's
        if key is None:
            if (item.project, item.stack, item.resource) not in unsettled:
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
        else:
            changes = _changes(item, key)
            if changes:
                add("changed", key.id, item, key, f"changed outside Pulumi: {'; '.join(changes)}")
            if item.kind == "current" and item.sink is not None and sink_check is not None:
                try:
                    problem = sink_check(item)
                except ArdentError as error:
                    add(ERROR_PROBLEM, key.id, item, key, f"its sink could not be checked: {error}")
                else:
                    if problem is not None:
                        add(problem, key.id, item, key, _SINK_DETAILS[problem])
    if unmanaged:
        managed_ids = {item.key_id for item in managed}
        detail = "active in the org, managed by none of the given stacks"
        if unread_stacks:
            detail += (
                f"; stack(s) {', '.join(unread_stacks)} of the backend could not be read, so it may be a key whose "
                "token their ardent providers run with"
            )
        for key in listed:
            if key.id not in managed_ids and key.id not in credentials:
                add(UNMANAGED_PROBLEM, key.id, None, key, detail)
    return sorted(findings, key=finding_order)


def _pending_detail(operation: PendingOperation) -> str:
    return (
        f"an interrupted run left a `{operation.kind}` operation pending on this resource; settle it with "
        f"`pulumi refresh --yes --clear-pending-creates --stack {operation.stack}` in the project's directory, "
        "then `pulumi up`"
    )


def _replacement_detail(item: ManagedKey) -> str:
    return (
        "an interrupted delete-before-replace left this resource marked `pendingReplacement` with its key still "
        "active; a `pulumi destroy` now would drop it without revoking the key: run `pulumi up --stack "
        f"{item.stack}` in the project's directory first, so that the replacement finishes and the key is kept for "
        "its grace period or revoked"
    )


def _changes(item: ManagedKey, key: ApiKey) -> list[str]:
    """What the org says of a current key that its state recorded otherwise (only what the state recorded)."""
    if item.kind != "current":
        return []
    changes = []
    if item.name is not None and key.name != item.name:
        changes.append(f"name {item.name!r} in the state, {key.name!r} in the org")
    if item.scopes is not None and sorted(item.scopes) != sorted(key.scopes):
        changes.append(f"scopes {sorted(item.scopes)} in the state, {sorted(key.scopes)} in the org")
    recorded = parse_time(item.expires_at)
    if recorded is not None and key.expires_at is not None and abs((recorded - key.expires_at).total_seconds()) >= 1:
        changes.append(f"expiry {item.expires_at} in the state, {wire_time(key.expires_at)} in the org")
    return changes


def finding_order(finding: Finding) -> tuple[str, bool, str, str, str, str]:
    """Org, then stack (project and name; unmanaged keys, which have none, last), resource and key id."""
    return (
        finding.org_id,
        finding.stack is None,
        finding.project or "",
        finding.stack or "",
        finding.resource or "",
        finding.key_id or "",
    )


def render_drift_table(
    findings: Sequence[Finding], stacks: Sequence[str], orgs: Sequence[str] = (), *, unmanaged: bool = False
) -> str:
    """A readable report; with more than one org, an ORG column first (findings come sorted by org)."""
    if not findings:
        clean = f"No drift: every key of {', '.join(stacks)} is active and as its state records it"
        if not unmanaged:
            return f"{clean}."
        where = (
            "the org has no unmanaged key" if len(orgs) < 2 else f"none of orgs {', '.join(orgs)} has an unmanaged key"
        )
        return f"{clean}, and {where}."
    several = len({*orgs, *(f.org_id for f in findings if f.org_id)}) > 1
    headers = (*(("ORG",) if several else ()), "PROBLEM", "KEY ID", "NAME", "STACK", "RESOURCE", "EXPIRES", "DETAIL")
    rows = [
        (
            *((f.org_id or "-",) if several else ()),
            f.problem,
            f.key_id or "-",
            f.name or "-",
            (f"{f.project}/{f.stack}" if f.project else f.stack) or "-",
            f.resource or "-",
            f.expires_at or "-",
            f.detail,
        )
        for f in findings
    ]
    return "\n".join([*table(headers, rows), "", f"{len(findings)} finding(s)."])


def failure_finding(failure: OrgFailure) -> Finding:
    """The error row of an org that could not be read: the stack and provider resource tried, and the fix."""
    return Finding(
        problem=ERROR_PROBLEM,
        org_id=failure.org_id,
        project=failure.project or None,
        stack=failure.stack or None,
        resource=failure.provider or None,
        kind="provider" if failure.provider else ("default provider" if failure.stack else None),
        key_id=None,
        name=None,
        expires_at=None,
        detail=f"its keys were not checked: {failure.reason}",
    )


def unread_stack_finding(label: str, reason: str) -> Finding:
    """The error row of a backend stack that ``--unmanaged`` could not read: the keys it runs with are unknown."""
    project, _, stack = label.rpartition("/")
    return Finding(
        problem=ERROR_PROBLEM,
        org_id="",
        project=project or None,
        stack=stack,
        resource=None,
        kind="stack",
        key_id=None,
        name=None,
        expires_at=None,
        detail=f"this stack of the backend could not be read, so the keys its ardent providers run with are not "
        f"known and the unmanaged keys listed may include them: {reason}",
    )


def drift_findings(
    views: Sequence[StackView],
    readings: Sequence[OrgReading],
    expiring_within: float | None,
    *,
    unmanaged: bool = False,
    failures: Sequence[OrgFailure] = (),
    unread_stacks: Mapping[str, str] | None = None,
    sink_check: SinkCheck | None = check_sink,
) -> list[Finding]:
    """Every org's findings, each org compared only with the keys the stacks manage in it; in report order.

    Each org of ``failures`` (not read) gives one error row instead of its findings; with ``unmanaged``, each
    backend stack of ``unread_stacks`` (label: why it could not be read) gives an error row too.
    """
    unread = dict(unread_stacks or {})
    managed = [item for view in views for item in view.managed]
    pending = [operation for view in views for operation in view.pending]
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
            pending=[operation for operation in pending if operation.org_id == reading.org_id],
            unmanaged=unmanaged,
            unread_stacks=sorted(unread),
            sink_check=sink_check,
        )
    ]
    findings.extend(failure_finding(failure) for failure in failures)
    findings.extend(unread_stack_finding(label, reason) for label, reason in sorted(unread.items()))
    return sorted(findings, key=finding_order)


def drift_report(
    views: Sequence[StackView],
    readings: Sequence[OrgReading],
    findings: Sequence[Finding],
    *,
    unmanaged: bool = False,
) -> dict[str, Any]:
    """The ``--json`` document; ``org_id``, ``api_url`` and ``checked_at`` are those of the first stack's org.

    When that org could not be read, those of the first org read. ``drift`` is True only for findings of orgs
    read; an org not read is an ``error`` finding and named in ``unreadable_orgs``. A backend stack that
    ``--unmanaged`` could not read is an ``error`` finding with ``org_id`` "" and ``kind`` ``stack``.
    """
    first = next((reading for reading in readings if reading.org_id == views[0].settings.org_id), readings[0])
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
        "drift": any(finding.problem != ERROR_PROBLEM for finding in findings),
        "findings": [asdict(finding) for finding in findings],
        "orgs": [
            {"org_id": reading.org_id, "api_url": reading.api_url, "org_keys": len(reading.listed)}
            for reading in readings
        ],
        "mode": "unmanaged" if unmanaged else "own",
        "unreadable_orgs": sorted(
            {finding.org_id for finding in findings if finding.problem == ERROR_PROBLEM and finding.org_id}
        ),
    }
