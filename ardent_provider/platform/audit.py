"""``ardent-keys audit``: every active key of an org as it really is, and what a platform team should fix.

Where ``drift`` compares stacks with orgs, ``audit`` judges each key on its own: never used, unused for longer
than ``--stale-after`` days, no expiry, expiring within ``--expiring-within`` days, expired, all the scopes of
its role (no ``scopes``), and, when stacks are given, unmanaged (managed by none of them). It reads each org
with one list call. With ``--stack``/``--all-stacks`` it reads the stacks and their orgs exactly as ``drift``
does (:mod:`.stacks` and :mod:`.orgs`); without, the org and token come from ``ARDENT_ORG_ID``,
``ARDENT_TOKEN`` and ``ARDENT_API_URL`` and no Pulumi program is involved. It never prints a token (nor a key's
``key_prefix``, a piece of one).

"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from ..models import ApiKey
from .orgs import ENVIRONMENT_SOURCE, OrgReading
from .render import service_timespec, span, table, wire_time
from .stacks import ManagedKey, StackView

DEFAULT_STALE_AFTER_DAYS = 90.0
DEFAULT_EXPIRING_WITHIN_DAYS = 30.0


@dataclass(frozen=True)
class FindingKind:
    """One kind of finding: its code (the JSON value), a title for people, and what it means."""

    code: str
    title: str
    meaning: str


# Most severe first: a key's first finding in this order decides its colour in the picture and its place in
# the report.
FINDING_KINDS: tuple[FindingKind, ...] = (
    FindingKind("expired", "Expired", "its expiry has passed, so its token is refused; revoke it"),
    FindingKind("expiring", "Expiring", "it expires within --expiring-within days; rotate it"),
    FindingKind("unmanaged", "Unmanaged", "active, and managed by none of the given stacks"),
    FindingKind("stale", "Stale", "not used for more than --stale-after days"),
    FindingKind("never_used", "Never used", "no request has ever been made with it"),
    FindingKind("no_expiry", "No expiry", "it never expires"),
    FindingKind("all_scopes", "All scopes of its role", "it has no scopes, so every permission of its role"),
)
FINDING_CODES: tuple[str, ...] = tuple(kind.code for kind in FINDING_KINDS)
SEVERITY: Mapping[str, int] = MappingProxyType({code: rank for rank, code in enumerate(FINDING_CODES)})


@dataclass(frozen=True)
class AuditPolicy:
    """The thresholds of one run, and whether stacks were given (only then can a key be unmanaged)."""

    stale_after_days: float = DEFAULT_STALE_AFTER_DAYS
    expiring_within_days: float = DEFAULT_EXPIRING_WITHIN_DAYS
    stacks_given: bool = False

    @property
    def stale_after(self) -> timedelta:
        """``--stale-after`` as a duration."""
        return timedelta(days=self.stale_after_days)

    @property
    def expiring_within(self) -> timedelta:
        """``--expiring-within`` as a duration."""
        return timedelta(days=self.expiring_within_days)


def key_findings(key: ApiKey, now: datetime, policy: AuditPolicy, *, accounted_for: bool = True) -> tuple[str, ...]:
    """The findings of one key at ``now`` (the service's time), most severe first.

    ``accounted_for`` says whether a given stack manages the key or runs with its token; it matters only when
    stacks were given. A key used exactly ``--stale-after`` days ago is not yet stale, and a key expiring
    exactly ``--expiring-within`` days from now is already expiring.
    """
    found: set[str] = set()
    if key.expires_at is None:
        found.add("no_expiry")
    elif key.expires_at <= now:
        found.add("expired")
    elif key.expires_at - now <= policy.expiring_within:
        found.add("expiring")
    if key.last_used_at is None:
        found.add("never_used")
    elif now - key.last_used_at > policy.stale_after:
        found.add("stale")
    if not key.scopes:
        found.add("all_scopes")
    if policy.stacks_given and not accounted_for:
        found.add("unmanaged")
    return tuple(sorted(found, key=SEVERITY.__getitem__))


@dataclass(frozen=True)
class KeyAudit:
    """One active key of one org, what the given stacks know of it, and its findings at the org's time."""

    org_id: str
    key: ApiKey
    now: datetime
    findings: tuple[str, ...]
    managed_by: tuple[ManagedKey, ...] = ()
    credential_of: tuple[str, ...] = ()

    @property
    def primary(self) -> str | None:
        """The most severe finding, which colours the key's bar; None for a key without findings."""
        return self.findings[0] if self.findings else None

    def details(self) -> list[str]:
        """One short phrase per finding, in the order of :attr:`findings`."""
        key, now = self.key, self.now
        phrases = {
            "expired": f"expired {span(now - key.expires_at)} ago" if key.expires_at else "expired",
            "expiring": f"expires in {span(key.expires_at - now)}" if key.expires_at else "expiring",
            "unmanaged": "managed by none of the given stacks",
            "stale": f"last used {span(now - key.last_used_at)} ago" if key.last_used_at else "stale",
            "never_used": (
                f"never used (created {span(now - key.created_at)} ago)" if key.created_at else "never used"
            ),
            "no_expiry": "never expires",
            "all_scopes": "no scopes: every permission of its role",
        }
        return [phrases[code] for code in self.findings]

    def as_json(self, timespec: str) -> dict[str, Any]:
        """The key in the ``--json`` report; times at the service's own resolution, never a token or prefix."""
        key = self.key
        return {
            "org_id": self.org_id,
            "key_id": key.id,
            "name": key.name,
            "scopes": list(key.scopes),
            "created_at": wire_time(key.created_at, timespec),
            "last_used_at": wire_time(key.last_used_at, timespec),
            "expires_at": wire_time(key.expires_at, timespec),
            "findings": list(self.findings),
            "detail": "; ".join(self.details()),
            "managed_by": [
                {"project": item.project or None, "stack": item.stack, "resource": item.resource, "kind": item.kind}
                for item in self.managed_by
            ],
            "credential_of": list(self.credential_of),
        }


def audit_order(item: KeyAudit) -> tuple[str, int, datetime, datetime, str]:
    """Org, then the most severe finding (keys without findings last), oldest first, first to expire, key id."""
    rank = SEVERITY[item.primary] if item.primary else len(SEVERITY)
    created = item.key.created_at or datetime.min.replace(tzinfo=UTC)
    expires = item.key.expires_at or datetime.max.replace(tzinfo=UTC)
    return (item.org_id, rank, created, expires, item.key.id)


def audit_org(reading: OrgReading, managed: Sequence[ManagedKey], policy: AuditPolicy) -> list[KeyAudit]:
    """Judge every listed key of one org at the time the org was read; ``managed`` are the stacks' keys in it."""
    managers: dict[str, list[ManagedKey]] = {}
    for item in managed:
        managers.setdefault(item.key_id, []).append(item)
    audits = []
    for key in reading.listed:
        its_managers = tuple(managers.get(key.id, ()))
        users = tuple(reading.credentials.get(key.id, ()))
        findings = key_findings(key, reading.checked_at, policy, accounted_for=bool(its_managers or users))
        audits.append(KeyAudit(reading.org_id, key, reading.checked_at, findings, its_managers, users))
    return audits


@dataclass(frozen=True)
class AuditReport:
    """What one run found: the thresholds, the stacks read (none without ``--stack``), each org and each key."""

    policy: AuditPolicy
    views: tuple[StackView, ...]
    readings: tuple[OrgReading, ...]
    keys: tuple[KeyAudit, ...]

    @property
    def checked_at(self) -> datetime:
        """The service's time when the first org answered (the first stack's default org, or ARDENT_ORG_ID)."""
        return self._first.checked_at

    @property
    def _first(self) -> OrgReading:
        wanted = self.views[0].settings.org_id if self.views else self.readings[0].org_id
        return next((reading for reading in self.readings if reading.org_id == wanted), self.readings[0])

    @property
    def flagged(self) -> list[KeyAudit]:
        """The keys with at least one finding, in report order."""
        return [item for item in self.keys if item.findings]

    def counts(self) -> dict[str, int]:
        """How many keys have each finding (a key counts once under each of its findings)."""
        counts = dict.fromkeys(FINDING_CODES, 0)
        for item in self.keys:
            for code in item.findings:
                counts[code] += 1
        return counts

    def timespec(self, org_id: str) -> str:
        """The resolution of the org's timestamps as the service sent them."""
        reading = next(reading for reading in self.readings if reading.org_id == org_id)
        return service_timespec(reading.listed)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` document, in the field order the README documents."""
        timespecs = {reading.org_id: service_timespec(reading.listed) for reading in self.readings}
        return {
            # The service's Date header has whole seconds; finer digits would be invented.
            "checked_at": wire_time(self.checked_at.replace(microsecond=0)),
            "stale_after_days": _number(self.policy.stale_after_days),
            "expiring_within_days": _number(self.policy.expiring_within_days),
            "stacks": [
                {
                    "project": view.ref.project.name,
                    "stack": view.ref.stack,
                    "directory": str(view.ref.project.directory),
                }
                for view in self.views
            ],
            "orgs": [
                {
                    "org_id": reading.org_id,
                    "api_url": reading.api_url,
                    "checked_at": wire_time(reading.checked_at.replace(microsecond=0)),
                    "org_keys": len(reading.listed),
                }
                for reading in self.readings
            ],
            "org_keys": len(self.keys),
            "flagged_keys": len(self.flagged),
            "clean": not self.flagged,
            "summary": self.counts(),
            "keys": [item.as_json(timespecs[item.org_id]) for item in self.keys],
        }


def _number(days: float) -> int | float:
    return int(days) if float(days).is_integer() else days


def build_report(views: Sequence[StackView], readings: Sequence[OrgReading], policy: AuditPolicy) -> AuditReport:
    """Judge every key of every org read; each org's keys are compared only with the stacks' keys in it."""
    managed = [item for view in views for item in view.managed]
    keys = [
        audited
        for reading in readings
        for audited in audit_org(reading, [item for item in managed if item.org_id == reading.org_id], policy)
    ]
    return AuditReport(policy, tuple(views), tuple(readings), tuple(sorted(keys, key=audit_order)))


# -- output -------------------------------------------------------------------------------------------


def render_audit_table(report: AuditReport) -> str:
    """The flagged keys as a table, then one line per kind of finding with its count."""
    several = len(report.readings) > 1
    orgs = ", ".join(reading.org_id for reading in report.readings)
    total = len(report.keys)
    if not report.flagged:
        return f"No findings: all {total} active key(s) of org{'s' if several else ''} {orgs} are in order."
    headers = (
        *(("ORG",) if several else ()),
        "FINDINGS",
        "KEY ID",
        "NAME",
        "CREATED",
        "LAST USED",
        "EXPIRES",
        *(("STACK",) if report.views else ()),
        "DETAIL",
    )
    rows = [
        (
            *((item.org_id,) if several else ()),
            ",".join(item.findings),
            item.key.id,
            item.key.name or "-",
            item.key.created_at.astimezone(UTC).strftime("%Y-%m-%d") if item.key.created_at else "-",
            _ago(item.key.last_used_at, item.now, "never"),
            _expiry(item.key.expires_at, item.now),
            *((_managers(item),) if report.views else ()),
            "; ".join(item.details()),
        )
        for item in report.flagged
    ]
    lines = table(headers, rows)
    counts = report.counts()
    width = max(len(code) for code in FINDING_CODES)
    summary = [f"  {kind.code.ljust(width)}  {counts[kind.code]:>6}  {kind.meaning}" for kind in FINDING_KINDS]
    checked = wire_time(report.checked_at.replace(microsecond=0))
    closing = f"{len(report.flagged)} of {total} active key(s) of org{'s' if several else ''} {orgs} have findings"
    return "\n".join([*lines, "", f"{closing} (checked at {checked}):", *summary])


def _ago(moment: datetime | None, now: datetime, none: str) -> str:
    if moment is None:
        return none
    return f"{span(now - moment)} ago" if moment <= now else "just now"


def _expiry(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{span(now - moment)} ago" if moment <= now else f"in {span(moment - now)}"


def _managers(item: KeyAudit) -> str:
    labels = [
        f"{managed.label}:{managed.resource}" + ("" if managed.kind == "current" else f" ({managed.kind})")
        for managed in item.managed_by
    ]
    labels += [f"{label} (credential)" for label in item.credential_of if label != ENVIRONMENT_SOURCE]
    return ", ".join(labels) or "-"
