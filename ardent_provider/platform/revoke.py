"""``ardent-keys revoke``: which requested keys may go, which may not and why, the plan, and revoking them.

A key is revoked only when it can be shown to be nobody's: no given stack runs with its token, and no stack of
the backend (every project's, as ``pulumi stack ls --all`` lists them) records it. When a stack of the backend
cannot be read, nothing is revoked: that stack might manage any key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from ..client import ArdentClient
from ..errors import ArdentError, NotFoundError
from ..models import ApiKey
from .orgs import OrgReading
from .render import span, table, wire_time
from .stacks import BackendKeys, ManagedKey

REVOKE, REFUSE = "revoke", "refused"
# A key used more recently than this is taken to be in use: its token may be another team's stack's.
RECENT_USE = timedelta(days=1)


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
    allow_recently_used: bool = False,
) -> list[RevokeDecision]:
    """Decide, for each requested id once, whether to revoke it (in the org that lists it) or refuse and why.

    Refused: ids that are not active keys of any org read, the key whose token reads its org (that org's
    ``source`` stack's; every key while that one cannot be recognised), any other given stack's credential,
    every key a given stack manages, every key any stack of the ``backend`` manages, a key used within the last
    day (it may be the token of a stack whose config cannot be read here) unless ``allow_recently_used``, and,
    while a stack of the backend could not be read, every key.
    """
    given = _by_key(managed)
    elsewhere = _by_key(backend.managed) if backend is not None else {}
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
        refusal = _refusal(key_id, reading, given, elsewhere, backend, allow_recently_used)
        if refusal is None:
            verdict = (
                "managed by no stack this login sees (`pulumi stack ls --all`), not the token of a given stack, "
                "and not used for a day"
            )
            decisions.append(RevokeDecision(key_id, True, verdict, key, reading.org_id, role))
        else:
            decisions.append(RevokeDecision(key_id, False, refusal, key, reading.org_id, role))
    return decisions


def _refusal(
    key_id: str,
    reading: OrgReading,
    given: dict[str, list[ManagedKey]],
    elsewhere: dict[str, list[ManagedKey]],
    backend: BackendKeys | None,
    allow_recently_used: bool,
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
    key = next((item for item in reading.listed if item.id == key_id), None)
    if key is not None and key.last_used_at is not None and not allow_recently_used:
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
        return "failed", "no org lists it"
    try:
        client.revoke_key(decision.org_id, decision.key_id)
    except NotFoundError:
        return "gone", "not found any more: revoked meanwhile, or outside the token's reach"
    except ArdentError as error:
        return "failed", str(error)
    return "revoked", decision.reason
