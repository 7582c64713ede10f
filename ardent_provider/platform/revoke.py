"""``ardent-keys revoke``: which requested keys may go, which may not and why, the plan, and revoking them.

A key is revoked only when it can be shown to be nobody's: no given stack runs with its token, no stack of
the backend (every project's, as ``pulumi stack ls --all`` lists them) records it or has an operation pending
that may be about it, and it is old enough that no running ``pulumi up`` can be about to record it. When a
stack of the backend cannot be read, nothing is revoked: that stack might manage any key. Between the plan
and the revocation (a person reads the plan, answers the prompt), stacks and keys may change: each approved key
is checked again, against a fresh listing of its org and a fresh reading of the backend, just before it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import timedelta

from ..client import ArdentClient
from ..errors import ArdentError, NotFoundError
from ..models import ApiKey
from .orgs import OrgReading
from .render import span, table, wire_time
from .stacks import BackendKeys, ManagedKey, PendingOperation

REVOKE, REFUSE = "revoke", "refused"
# Outcomes of the revocation step, one per requested key.
REVOKED, REFUSED, SKIPPED, GONE, FAILED = "revoked", "refused", "skipped", "gone", "failed"
# A key used more recently than this is taken to be in use: its token may be another team's stack's.
RECENT_USE = timedelta(days=1)
# A key younger than this may be one that a running `pulumi up` has created and not yet recorded in its state.
DEFAULT_MIN_AGE_MINUTES = 15.0


@dataclass(frozen=True)
class RevokeDecision:
    """What ``revoke`` does with one requested key id, in which org, and why; ``key`` as the org lists it."""

    key_id: str
    revoke: bool
    reason: str
    key: ApiKey | None = None
    org_id: str | None = None
    role: str | None = None

    @property
    def name(self) -> str | None:
        """The key's name as the org lists it, when it does."""
        return self.key.name if self.key is not None else None


def _by_key(items: Sequence[ManagedKey]) -> dict[str, list[ManagedKey]]:
    found: dict[str, list[ManagedKey]] = {}
    for item in items:
        found.setdefault(item.key_id, []).append(item)
    return found


def _what(item: ManagedKey) -> str:
    return {"previous": "kept previous key", "pending-delete": "replaced key awaiting deletion"}.get(item.kind, "key")


def plan_revocations(
    requested: Sequence[str],
    readings: Sequence[OrgReading],
    managed: Sequence[ManagedKey],
    backend: BackendKeys | None = None,
    *,
    pending: Sequence[PendingOperation] = (),
    allow_recently_used: bool = False,
    min_age: timedelta = timedelta(minutes=DEFAULT_MIN_AGE_MINUTES),
) -> list[RevokeDecision]:
    """Decide, for each requested id once, whether to revoke it (in the org that lists it) or refuse and why.

    Refused: ids that are not active keys of any org read, the key whose token reads its org (that org's
    ``source`` stack's; every key while that one cannot be recognised), any other given stack's credential,
    every key a given stack manages, every key any stack of the ``backend`` manages, every key an operation
    pending in a given stack (``pending``) or a stack of the backend may be about (see :func:`pending_about`),
    a key created less than ``min_age`` ago (or whose creation the org does not say), a key used within the
    last day (it may be the token of a stack whose config cannot be read here) unless ``allow_recently_used``,
    and, while a stack of the backend could not be read, every key.
    """
    given = _by_key(managed)
    elsewhere = _by_key(backend.managed) if backend is not None else {}
    operations = [*pending, *(backend.pending if backend is not None else ())]
    orgs = [reading.org_id for reading in readings]
    listed: dict[str, tuple[OrgReading, ApiKey]] = {}
    for reading in readings:
        for key in reading.listed:
            listed.setdefault(key.id, (reading, key))
    decisions: list[RevokeDecision] = []
    for key_id in dict.fromkeys(requested):
        records = given.get(key_id) or elsewhere.get(key_id) or []
        role = next((item.role for item in records if item.role), None)
        found = listed.get(key_id)
        if found is None:
            reason = (
                f"not an active key of org{'s' if len(orgs) > 1 else ''} {', '.join(orgs)}: already revoked, "
                "never existed, or an org that none of the given stacks uses"
            )
            if records:
                item = records[0]
                where = f" in org {item.org_id}" if item.org_id else ""
                reason += f"; stack {item.label} still records it{where}, so run `pulumi refresh` there"
            decisions.append(RevokeDecision(key_id, False, reason, role=role))
            continue
        reading, key = found
        refusal = (
            _refusal(key_id, reading, given, elsewhere)
            or _perhaps_being_recorded(key, reading, operations, min_age)
            or _in_use(key, reading, backend, allow_recently_used)
        )
        if refusal is None:
            decisions.append(RevokeDecision(key_id, True, _approval(key, reading), key, reading.org_id, role))
        else:
            decisions.append(RevokeDecision(key_id, False, refusal, key, reading.org_id, role))
    return decisions


def _refusal(
    key_id: str,
    reading: OrgReading,
    given: dict[str, list[ManagedKey]],
    elsewhere: dict[str, list[ManagedKey]],
) -> str | None:
    users = reading.credentials.get(key_id, [])
    if not any(reading.source in labels for labels in reading.credentials.values()):
        return (
            f"the key this command runs with in org {reading.org_id} (stack {reading.source}'s token) is not "
            "recognisable among the org's keys (no key_prefix matches it), so any key might be it"
        )
    if reading.source in users:
        return (
            f"it is the key this command runs with in org {reading.org_id} (the token of stack "
            f"{reading.source}); revoking it would make every later command there fail with 401"
        )
    if users:
        return (
            f"it is the Ardent token that stack {users[0]} runs with in org {reading.org_id}; give that stack "
            "another token for the org first"
        )
    for records in (given.get(key_id), elsewhere.get(key_id)):
        if records:
            item = records[0]
            return (
                f"it is the {_what(item)} of resource {item.resource} in stack {item.label}; remove the resource "
                "from that program and run `pulumi up` there instead, so that the state stays true"
            )
    return None


def _in_use(key: ApiKey, reading: OrgReading, backend: BackendKeys | None, allow_recently_used: bool) -> str | None:
    """Why a key no stack claims may still be in use: a recent use, or a stack of the backend that was not read."""
    if key.last_used_at is not None and not allow_recently_used:
        idle = reading.checked_at - key.last_used_at
        if idle < RECENT_USE:
            return (
                f"it was used {span(idle)} ago: something still runs with its token (a stack whose config "
                "this command cannot read, or a service); make sure nothing does, then revoke it once it has been "
                "idle for a day, or pass --allow-recently-used"
            )
    if backend is not None and backend.unreadable:
        named = "; ".join(f"{label}: {why}" for label, why in sorted(backend.unreadable.items()))
        return (
            f"{len(backend.unreadable)} stack(s) of the backend could not be read, and any of them might manage "
            f"this key ({named}); make them readable (`pulumi stack export --stack <org/project/stack>`) and "
            "run again"
        )
    return None


def pending_about(key: ApiKey, org_id: str, pending: Sequence[PendingOperation]) -> PendingOperation | None:
    """The first pending operation that may be about ``key`` of ``org_id``, or None.

    An operation naming a key id is about that key only. A create whose answer never reached the state names
    none: it may be about any key of its name (the name its resource declares), or, when its state records no
    name, about any key at all. An operation whose state names no org may be about a key of any org.
    """
    for operation in pending:
        if operation.org_id and operation.org_id != org_id:
            continue
        if operation.key_id is not None:
            if operation.key_id == key.id:
                return operation
        elif operation.name is None or operation.name == key.name:
            return operation
    return None


def _pending_reason(operation: PendingOperation) -> str:
    settle = (
        f"once no run is going there, settle it (`pulumi refresh --stack {operation.stack}` in that project, with "
        "`--clear-pending-creates` if the run was killed; see `ardent-keys drift`) and run again"
    )
    if operation.key_id is not None:
        return (
            f"stack {operation.label} has a `{operation.kind}` operation pending on it (resource "
            f"{operation.resource}): a run there is going, or was interrupted; {settle}"
        )
    named = (
        f"named {operation.name!r} like this key"
        if operation.name is not None
        else "whose key's name its state does not record, so it may be any key"
    )
    return (
        f"stack {operation.label} has a `{operation.kind}` operation pending for resource {operation.resource}, "
        f"{named}: a run there may have created this key without recording it yet; {settle}"
    )


def _perhaps_being_recorded(
    key: ApiKey,
    reading: OrgReading,
    pending: Sequence[PendingOperation],
    min_age: timedelta,
) -> str | None:
    """Why a key that no stack records may still be a stack's: an operation pending about it, or its youth."""
    operation = pending_about(key, reading.org_id, pending)
    if operation is not None:
        return _pending_reason(operation)
    if min_age <= timedelta(0):
        return None
    wait = f"--min-age {_minutes(min_age)}"
    if key.created_at is None:
        return (
            f"the org does not say when it was created, so it may be a key that a running `pulumi up` has just "
            f"made and not yet recorded ({wait}); pass --min-age 0 only if you know who made it"
        )
    age = reading.checked_at - key.created_at
    if age < min_age:
        return (
            f"it was created {span(age)} ago, less than {wait} min: a running `pulumi up` may have made it and "
            "not yet recorded it in its stack; run again once it is older (or pass a smaller --min-age if you "
            "know who made it)"
        )
    return None


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:g}"


def _approval(key: ApiKey, reading: OrgReading) -> str:
    """The verdict of an approved key: what was checked, and how old and how idle it is."""
    created = f"created {span(reading.checked_at - key.created_at)} ago" if key.created_at else "creation unknown"
    used = f"last used {span(reading.checked_at - key.last_used_at)} ago" if key.last_used_at else "never used"
    return (
        "managed by no stack this login sees (`pulumi stack ls --all`) and pending in none, not the token of a "
        f"given stack; {created}, {used}"
    )


def render_plan(decisions: Sequence[RevokeDecision]) -> str:
    """The plan as a table: each key's name, role, creation, last use and verdict."""
    headers = ("KEY ID", "NAME", "ROLE", "CREATED", "LAST USED", "VERDICT")
    rows = []
    for decision in decisions:
        key = decision.key
        created = wire_time(key.created_at) if key is not None else None
        used = (wire_time(key.last_used_at) or "never") if key is not None else "-"
        verdict = f"{REVOKE}: {decision.reason}" if decision.revoke else f"{REFUSE}: {decision.reason}"
        rows.append((decision.key_id, decision.name or "-", decision.role or "unknown", created or "-", used, verdict))
    return "\n".join(table(headers, rows))


def render_outcome(decision: RevokeDecision, outcome: str, reason: str) -> str:
    """One line of the revoke report: outcome, key id, the key's name and org when known, and why."""
    name = f" ({decision.name!r})" if decision.name else ""
    org = f" in org {decision.org_id}" if decision.org_id else ""
    return f"{outcome:<8} {decision.key_id}{name}{org}: {reason}"


def revoke_one(client: ArdentClient, decision: RevokeDecision) -> tuple[str, str]:
    """Revoke one approved key; the outcome (``revoked``, ``gone``, ``failed``) and what to say of it."""
    if decision.org_id is None:
        return FAILED, "no org lists it"
    try:
        client.revoke_key(decision.org_id, decision.key_id)
    except NotFoundError:
        return GONE, "not found any more: revoked meanwhile, or outside the token's reach"
    except ArdentError as error:
        return FAILED, str(error)
    return REVOKED, decision.reason


def what_changed(before: ApiKey, after: ApiKey) -> list[str]:
    """What the org says of a key now that it did not say at the plan (last use, name, scopes, expiry)."""
    changes = []
    if after.last_used_at != before.last_used_at:
        changes.append(f"used at {wire_time(after.last_used_at)}")
    if after.name != before.name:
        changes.append(f"renamed {before.name!r} -> {after.name!r}")
    if sorted(after.scopes) != sorted(before.scopes):
        changes.append(f"scopes now {sorted(after.scopes)}")
    if after.expires_at != before.expires_at:
        changes.append(f"expiry now {wire_time(after.expires_at) or 'none'}")
    return changes


def since_the_plan(planned: RevokeDecision, again: RevokeDecision) -> tuple[str, str] | None:
    """Why an approved key is not revoked after all, judged again just before (``again``); None: go ahead.

    Anything that changed since the plan the person confirmed stops it: the key gone, now refused (a stack
    records it or has an operation pending about it, a stack became unreadable), or used or changed meanwhile.
    """
    if not again.revoke:
        if again.key is None:
            return GONE, f"no longer an active key since the plan: {again.reason}"
        return SKIPPED, f"changed since the plan, now refused: {again.reason}"
    if planned.key is not None and again.key is not None:
        changes = what_changed(planned.key, again.key)
        if changes:
            return SKIPPED, f"changed since the plan ({'; '.join(changes)}); run again to see the new plan"
    return None


def relist(client: ArdentClient, reading: OrgReading) -> OrgReading:
    """The org as it is now (one list call), with the run's recognised credentials; the rest as first read.

    The credentials stay valid: they map key ids to stacks by key prefix, which a key never changes.
    """
    listed = tuple(client.list_keys(reading.org_id))
    return replace(reading, listed=listed, checked_at=client.server_now())


def carry_out(
    decisions: Sequence[RevokeDecision],
    readings: Sequence[OrgReading],
    judge_again: Callable[[str, OrgReading], RevokeDecision],
) -> Iterator[tuple[RevokeDecision, str, str]]:
    """Revoke the approved keys in order, each in its org with that org's credentials; yield each key's outcome.

    Just before each approved key is revoked, its org is listed again and ``judge_again(key_id, fresh org)``
    (the plan's rules over the stacks as they are now) must approve it unchanged; otherwise it is skipped.
    Refused keys are yielded as refused. Outcomes: revoked, refused, skipped, gone, failed.
    """
    by_org: Mapping[str, OrgReading] = {reading.org_id: reading for reading in readings}
    with ExitStack() as clients:
        opened: dict[str, ArdentClient] = {}
        for decision in decisions:
            if not decision.revoke:
                yield decision, REFUSED, decision.reason
                continue
            # An approved key is always one that a reading listed, so its org is among the readings.
            reading = by_org[decision.org_id or ""]
            if reading.org_id not in opened:
                settings = reading.settings
                opened[reading.org_id] = clients.enter_context(ArdentClient(settings.token, api_url=settings.api_url))
            client = opened[reading.org_id]
            try:
                fresh = relist(client, reading)
            except ArdentError as error:
                yield decision, FAILED, f"could not list org {reading.org_id} again just before revoking: {error}"
                continue
            changed = since_the_plan(decision, judge_again(decision.key_id, fresh))
            if changed is not None:
                yield decision, *changed
                continue
            yield decision, *revoke_one(client, decision)
