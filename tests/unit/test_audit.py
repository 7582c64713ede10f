"""The audit's rules with an injected clock, its report, table and page. No sockets, no processes."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ardent_provider.cli import build_parser, main
from ardent_provider.errors import (
    ArdentConnectionError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from ardent_provider.models import ApiKey, SecretToken
from ardent_provider.platform.audit import (
    FINDING_CODES,
    AuditPolicy,
    AuditReport,
    KeyAudit,
    audit_org,
    build_report,
    key_findings,
    render_audit_table,
)
from ardent_provider.platform.audit_html import CHART_LEFT, CHART_RIGHT, COLOURS, render_page, ticks, timeline_scale
from ardent_provider.platform.orgs import OrgReading, credential_key_ids, environment_unreadable, read_environment_org
from ardent_provider.platform.render import span
from ardent_provider.platform.stacks import CheckError, ManagedKey, Project, StackRef, StackView
from ardent_provider.settings import Settings

from ..audit_page import AuditPage, check_page

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
API = "https://api.tryardent.com"
RUNNING = SecretToken("sk-ard_test_RUNNINGtokenRUNNINGtokenRUNNING")
POLICY = AuditPolicy(stale_after_days=90, expiring_within_days=30)
WITH_STACKS = AuditPolicy(stale_after_days=90, expiring_within_days=30, stacks_given=True)


def key(
    key_id: str,
    *,
    age: float = 10,
    used: float | None = 1,
    expires_in: float | None = 100,
    scopes: tuple[str, ...] = ("org.read",),
    prefix: str = "sk-ard_test_abcdefgh",
    micros: int = 0,
) -> ApiKey:
    """A key created ``age`` days before NOW, last used ``used`` days before, expiring ``expires_in`` days after."""
    return ApiKey(
        id=key_id,
        name=f"name-of-{key_id}",
        key_prefix=prefix,
        scopes=scopes,
        created_at=NOW - timedelta(days=age) + timedelta(microseconds=micros),
        expires_at=NOW + timedelta(days=expires_in) if expires_in is not None else None,
        last_used_at=NOW - timedelta(days=used) if used is not None else None,
    )


def reading(
    listed: list[ApiKey], org_id: str = "org_1", tokens: list[tuple[str, SecretToken]] | None = None
) -> OrgReading:
    settings = Settings(API, org_id, RUNNING)
    credentials = credential_key_ids(listed, tokens or [])
    return OrgReading(org_id, settings, "web/prod", tuple(listed), credentials, NOW)


def view(project: str = "web", stack: str = "prod", keys: tuple[ManagedKey, ...] = ()) -> StackView:
    return StackView(StackRef(Project(project, Path(f"/p/{project}")), stack), Settings(API, "org_1", RUNNING), keys)


# -- the rules ----------------------------------------------------------------------------------------


def test_a_key_in_order_has_no_finding() -> None:
    assert key_findings(key("k"), NOW, POLICY) == ()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"used": None}, ("never_used",)),
        ({"used": 90.001}, ("stale",)),
        ({"expires_in": None}, ("no_expiry",)),
        ({"expires_in": 30}, ("expiring",)),
        ({"expires_in": 0.001}, ("expiring",)),
        ({"expires_in": 0}, ("expired",)),
        ({"expires_in": -3}, ("expired",)),
        ({"scopes": ()}, ("all_scopes",)),
    ],
)
def test_each_rule_alone(changes: dict[str, object], expected: tuple[str, ...]) -> None:
    assert key_findings(key("k", **changes), NOW, POLICY) == expected  # type: ignore[arg-type]


def test_the_thresholds_are_exclusive_for_stale_and_inclusive_for_expiring() -> None:
    assert key_findings(key("k", used=90), NOW, POLICY) == ()
    assert key_findings(key("k", expires_in=30.0001), NOW, POLICY) == ()
    assert key_findings(key("k", used=5), NOW, AuditPolicy(stale_after_days=4.5)) == ("stale",)
    assert key_findings(key("k", expires_in=40), NOW, AuditPolicy(expiring_within_days=40)) == ("expiring",)
    assert key_findings(key("k", expires_in=10), NOW, AuditPolicy(expiring_within_days=0)) == ()


def test_the_clock_decides_so_the_same_key_moves_from_in_order_to_expiring_stale_and_expired() -> None:
    subject = key("k", used=1, expires_in=100)
    assert key_findings(subject, NOW, POLICY) == ()
    assert key_findings(subject, NOW + timedelta(days=75), POLICY) == ("expiring",)
    assert key_findings(subject, NOW + timedelta(days=95), POLICY) == ("expiring", "stale")
    assert key_findings(subject, NOW + timedelta(days=100), POLICY) == ("expired", "stale")


def test_several_findings_come_most_severe_first() -> None:
    worst = key("k", used=None, expires_in=-1, scopes=())
    assert key_findings(worst, NOW, WITH_STACKS, accounted_for=False) == (
        "expired",
        "unmanaged",
        "never_used",
        "all_scopes",
    )
    assert key_findings(key("k", used=200, expires_in=None), NOW, POLICY) == ("stale", "no_expiry")


def test_unmanaged_only_when_stacks_are_given_and_none_accounts_for_the_key() -> None:
    assert key_findings(key("k"), NOW, WITH_STACKS, accounted_for=False) == ("unmanaged",)
    assert key_findings(key("k"), NOW, WITH_STACKS, accounted_for=True) == ()
    assert key_findings(key("k"), NOW, POLICY, accounted_for=False) == ()


def test_spans_read_as_days_and_hours() -> None:
    assert span(timedelta(days=3, hours=4, minutes=5)) == "3 d 4 h"
    assert span(timedelta(days=3)) == "3 d"
    assert span(timedelta(days=42, hours=5)) == "42 d"
    assert span(timedelta(hours=5, minutes=59)) == "5 h"
    assert span(timedelta(minutes=12, seconds=30)) == "12 min"
    assert span(timedelta(seconds=-5)) == "0 min"


# -- per org and report -------------------------------------------------------------------------------


def test_managed_keys_and_the_stacks_own_credentials_are_not_unmanaged() -> None:
    listed = [key("key_managed"), key("key_previous"), key("key_self", prefix="sk-ard_test_RUNNING"), key("key_other")]
    managed = [
        ManagedKey("prod", "api", "key_managed", "api", "current", "web", "org_1"),
        ManagedKey("prod", "api", "key_previous", None, "previous", "web", "org_1"),
    ]
    audits = {
        item.key.id: item for item in audit_org(reading(listed, tokens=[("web/prod", RUNNING)]), managed, WITH_STACKS)
    }
    assert audits["key_other"].findings == ("unmanaged",)
    assert audits["key_managed"].findings == audits["key_previous"].findings == audits["key_self"].findings == ()
    assert [item.kind for item in audits["key_previous"].managed_by] == ["previous"]
    assert audits["key_self"].credential_of == ("web/prod",)


def test_report_json_has_the_documented_fields_and_counts() -> None:
    listed = [
        key("key_ok"),
        key("key_old", expires_in=-2, used=None, scopes=()),
        key("key_soon", expires_in=3, micros=250_000),
        key("key_self", prefix="sk-ard_test_RUNNING", expires_in=None),
    ]
    managed = (ManagedKey("prod", "api", "key_ok", "api", "current", "web", "org_1"),)
    org = reading(listed, tokens=[("web/prod", RUNNING)])
    report = build_report([view(keys=managed)], [org], WITH_STACKS)
    document = json.loads(json.dumps(report.as_json()))
    assert list(document) == [
        "checked_at",
        "stale_after_days",
        "expiring_within_days",
        "stacks",
        "orgs",
        "org_keys",
        "flagged_keys",
        "clean",
        "summary",
        "keys",
    ]
    assert document["checked_at"] == "2026-11-28T12:00:00Z"
    assert (document["stale_after_days"], document["expiring_within_days"]) == (90, 30)
    assert document["stacks"] == [{"project": "web", "stack": "prod", "directory": "/p/web"}]
    assert document["orgs"] == [
        {"org_id": "org_1", "api_url": API, "checked_at": "2026-11-28T12:00:00Z", "org_keys": 4}
    ]
    assert (document["org_keys"], document["flagged_keys"], document["clean"]) == (4, 3, False)
    assert document["summary"] == {
        "expired": 1,
        "expiring": 1,
        "unmanaged": 2,
        "stale": 0,
        "never_used": 1,
        "no_expiry": 1,
        "all_scopes": 1,
    }
    # Most severe first; the key without findings last.
    assert [entry["key_id"] for entry in document["keys"]] == ["key_old", "key_soon", "key_self", "key_ok"]
    old, soon, own, fine = document["keys"]
    assert list(old) == [
        "org_id",
        "key_id",
        "name",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "findings",
        "detail",
        "managed_by",
        "credential_of",
    ]
    assert old["findings"] == ["expired", "unmanaged", "never_used", "all_scopes"]
    assert old["detail"].startswith(
        "expired 2 d ago; managed by none of the given stacks; never used (created 10 d ago)"
    )
    # One listed time has milliseconds, so every time of the org is written to the millisecond, and no finer.
    assert soon["created_at"] == "2026-11-18T12:00:00.250Z" and old["expires_at"] == "2026-11-26T12:00:00.000Z"
    assert own["findings"] == ["no_expiry"] and own["credential_of"] == ["web/prod"]
    assert fine["managed_by"] == [{"project": "web", "stack": "prod", "resource": "api", "kind": "current"}]
    assert fine["findings"] == [] and fine["detail"] == ""
    assert "key_prefix" not in json.dumps(document) and "sk-ard" not in json.dumps(document)


def test_several_orgs_are_judged_each_at_its_own_time() -> None:
    later = NOW + timedelta(days=5)
    first = reading([key("key_a", expires_in=4)])
    second = OrgReading("org_2", Settings(API, "org_2", RUNNING), "web/prod", (key("key_b", expires_in=4),), {}, later)
    report = build_report([], [second, first], POLICY)
    assert [(item.org_id, item.findings) for item in report.keys] == [
        ("org_1", ("expiring",)),
        ("org_2", ("expired",)),
    ]
    assert report.checked_at == second.checked_at
    assert report.as_json()["stale_after_days"] == 90


def test_fractional_days_stay_fractional_in_the_report() -> None:
    report = build_report([], [reading([key("k")])], AuditPolicy(stale_after_days=0.5, expiring_within_days=7))
    assert report.as_json()["stale_after_days"] == 0.5


# -- the table ----------------------------------------------------------------------------------------


def test_the_table_lists_flagged_keys_and_counts_each_finding() -> None:
    report = build_report(
        [view(keys=(ManagedKey("prod", "api", "key_ok", "api", "current", "web", "org_1"),))],
        [reading([key("key_ok"), key("key_stale", used=120, expires_in=-0.5)], tokens=[("web/prod", RUNNING)])],
        WITH_STACKS,
    )
    table = render_audit_table(report)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["FINDINGS", "KEY", "ID"] and "STACK" in lines[0] and "ORG" not in lines[0]
    assert lines[1].startswith("expired,unmanaged,stale  key_stale") and "12 h ago" in lines[1]
    assert "last used 120 d ago" in lines[1] and "key_ok" not in table.split("\n\n")[0]
    assert "1 of 2 active key(s) of org org_1 have findings (checked at 2026-11-28T12:00:00Z):" in table
    assert any(line.split()[:2] == ["stale", "1"] for line in lines)
    assert any(line.split()[:2] == ["expiring", "0"] for line in lines)


def test_the_table_names_orgs_managers_and_says_when_all_is_in_order() -> None:
    clean = build_report([], [reading([key("key_ok")])], POLICY)
    assert render_audit_table(clean) == "No findings: all 1 active key(s) of org org_1 are in order."
    managed = (
        ManagedKey("prod", "api", "key_ok", "api", "current", "web", "org_2"),
        ManagedKey("prod", "api", "key_prev", None, "previous", "web", "org_2"),
    )
    other = OrgReading(
        "org_2",
        Settings(API, "org_2", RUNNING),
        "web/prod",
        (
            key("key_ok", used=None),
            key("key_prev", used=None),
            key("key_self", prefix="sk-ard_test_RUNNING", used=None),
        ),
        {"key_self": ["web/prod"]},
        NOW,
    )
    report = build_report([view(keys=managed)], [reading([key("key_new", age=0, used=None)]), other], WITH_STACKS)
    table = render_audit_table(report)
    assert table.splitlines()[0].startswith("ORG")
    assert "web/prod:api (previous)" in table and "web/prod (credential)" in table
    assert "org_1  unmanaged,never_used" in table
    assert "of orgs org_1, org_2 have findings" in table


# -- the page -----------------------------------------------------------------------------------------


def test_the_page_has_every_key_every_finding_coloured_and_no_secret() -> None:
    hostile = ApiKey(
        id="key_hostile",
        name='<script>alert("x")</script> & "quotes"',
        key_prefix="sk-ard_test_SECRETPFX",
        scopes=(),
        created_at=NOW - timedelta(days=3),
        expires_at=None,
        last_used_at=None,
    )
    listed = [
        key("key_ok"),
        key("key_old", expires_in=-2, used=None, scopes=()),
        key("key_soon", expires_in=3),
        key("key_stale", used=200, expires_in=None),
        key("key_far", expires_in=3000),
        key("key_by_hand", age=400),
        key("key_self", prefix="sk-ard_test_RUNNING"),
        hostile,
    ]
    managed = tuple(
        ManagedKey("prod", item.id, item.id, item.name, "current", "web", "org_1")
        for item in listed
        if item.id != "key_by_hand"
    )
    report = build_report([view(keys=managed)], [reading(listed, tokens=[("web/prod", RUNNING)])], WITH_STACKS)
    text = render_page(report)
    page = AuditPage(text)

    check_page(page, {item.key.id: item.findings for item in report.keys}, [RUNNING.reveal(), "SECRETPFX"])
    assert page.colours == COLOURS
    assert {tag for tag, _ in page.tags} >= {"svg", "rect", "line", "path", "title", "text", "table"}
    assert page.tag_count("script") == 0 and "<script>alert" not in text
    assert page.rows["key_hostile"].label == '<script>alert("x")</script> & "quotes"'
    assert page.rows["key_old"].used_markers == 0 and page.rows["key_ok"].used_markers == 1
    # No expiry: the bar ends in an arrow; an expiry years ahead ends after the axis's break, without one.
    assert page.rows["key_stale"].arrows == ["stale"] and page.rows["key_far"].arrows == []
    assert page.rows["key_ok"].arrows == []
    assert page.rows["key_by_hand"].findings == ["unmanaged"]
    assert page.tag_count("line", "now") == 1 + len({item.primary or "ok" for item in report.keys})
    summary = " ".join(page.texts)
    assert "8 active key(s), 5 with at least one finding" in summary and "web/prod" in summary
    assert text.startswith("<!DOCTYPE html>")


def test_a_long_name_is_shortened_in_its_label_and_whole_in_its_tooltip() -> None:
    long = ApiKey("key_long", "n" * 90, "", ("org.read",), NOW - timedelta(days=1), NOW + timedelta(days=99), NOW)
    page = AuditPage(render_page(build_report([], [reading([long])], POLICY)))
    assert page.rows["key_long"].label == "n" * 39 + "…"
    assert "n" * 90 in page.rows["key_long"].tooltip


def test_the_page_of_an_empty_org_and_of_several_orgs() -> None:
    empty = AuditPage(render_page(build_report([], [reading([])], POLICY)))
    assert empty.rows == {} and "The org has no active key." in empty.texts
    second = OrgReading("org_2", Settings(API, "org_2", RUNNING), "web/prod", (key("key_b"),), {}, NOW)
    several = AuditPage(render_page(build_report([], [reading([key("key_a", used=None)]), second], POLICY)))
    assert {row.org_id for row in several.rows.values()} == {"org_1", "org_2"}
    assert "Org org_2" in several.texts and "No stacks were given, so no key is judged unmanaged." in several.texts


def test_the_time_axis_spans_the_oldest_creation_to_the_latest_expiry_with_a_break_for_far_ones() -> None:
    keys = [KeyAudit("org_1", key("a", age=100, expires_in=3650), NOW, ())]
    scale = timeline_scale(keys, NOW, timedelta(days=30))
    # 100 days either side of now to scale (the past shown caps it), with a margin of 2 %; then a break, and the
    # ten-year expiry at the end of the dated chart.
    assert scale.start == NOW - timedelta(days=104) and scale.break_at == NOW + timedelta(days=104)
    assert scale.end > NOW + timedelta(days=3650)
    assert scale.break_x is not None and CHART_LEFT < scale.break_x < scale.right < scale.never_x == CHART_RIGHT
    assert scale.x(NOW - timedelta(days=1000)) == CHART_LEFT and scale.x(NOW + timedelta(days=9000)) == scale.right
    assert scale.x(NOW + timedelta(days=104)) == scale.break_x
    assert scale.x(NOW + timedelta(days=105)) > scale.break_x
    fresh = timeline_scale([KeyAudit("org_1", key("b", age=0.01, expires_in=None), NOW, ())], NOW, timedelta(0))
    assert fresh.end - fresh.start >= timedelta(days=2) and fresh.break_at is None
    window = timeline_scale([KeyAudit("org_1", key("c", age=1, expires_in=None), NOW, ())], NOW, timedelta(days=60))
    assert window.end > NOW + timedelta(days=60) and window.break_at is None


def test_keys_expiring_in_86_days_in_399_days_and_never_end_in_three_places_none_squashed() -> None:
    keys = [
        KeyAudit("org_1", key("soon", age=20, expires_in=86), NOW, ()),
        KeyAudit("org_1", key("later", age=20, expires_in=399), NOW, ()),
        KeyAudit("org_1", key("never", age=20, expires_in=None), NOW, ()),
        KeyAudit("org_1", key("ten-years", age=5, expires_in=3650), NOW, ()),
    ]
    scale = timeline_scale(keys, NOW, timedelta(days=30))
    ends = [scale.x(NOW + timedelta(days=days)) for days in (86, 399, 3650)]
    assert ends[0] < ends[1] < ends[2] < scale.never_x
    assert min(b - a for a, b in zip([scale.x(NOW), *ends], [*ends, scale.never_x], strict=True)) > 20
    # The 20 days since creation keep a readable width despite the ten-year key.
    assert scale.x(NOW) - scale.x(NOW - timedelta(days=20)) > 0.15 * (CHART_RIGHT - CHART_LEFT)
    page = AuditPage(render_page(build_report([], [reading([item.key for item in keys])], POLICY)))
    assert page.tag_count("polyline", "break-zigzag") >= 2
    assert page.rows["never"].arrows and not page.rows["later"].arrows and not page.rows["ten-years"].arrows


def test_ticks_are_round_days_mondays_months_or_years() -> None:
    days = ticks(datetime(2026, 11, 27, 5, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    assert [label for _, label in days][:2] == ["2026-11-28", "2026-11-29"] and len(days) == 6
    weeks = ticks(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
    assert {moment.weekday() for moment, _ in weeks} == {0} and 4 <= len(weeks) <= 10
    months = ticks(datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC))
    assert [label for _, label in months] == [
        f"{m} 2026" for m in ("Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep")
    ]
    years = ticks(datetime(2020, 3, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert [label for _, label in years] == [str(year) for year in range(2021, 2031)]
    decades = ticks(datetime(1900, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert len(decades) <= 11 and all(moment.month == 1 for moment, _ in decades)


# -- reading without stacks, and the command's refusals -----------------------------------------------


def test_without_stacks_missing_variables_are_named() -> None:
    with pytest.raises(CheckError, match="ARDENT_ORG_ID, ARDENT_TOKEN and ARDENT_API_URL: No Ardent token"):
        read_environment_org({})
    with pytest.raises(CheckError, match="No Ardent org id"):
        read_environment_org({"ARDENT_TOKEN": "sk-ard_test_x"})


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (AuthenticationError(401, "Invalid", method="GET", path="/v1"), "Ardent rejected ARDENT_TOKEN (HTTP 401"),
        (
            PermissionDeniedError(403, "lacks", method="GET", path="/v1"),
            "ARDENT_TOKEN may not list its keys (HTTP 403)",
        ),
        (
            NotFoundError(404, "nope", method="GET", path="/v1"),
            "was not found at https://x (HTTP 404); check ARDENT_ORG_ID and ARDENT_API_URL",
        ),
        (
            ArdentConnectionError("refused", method="GET", path="/v1", sent=False),
            "could not be read at https://x: refused",
        ),
    ],
)
def test_unreadable_environment_org_says_what_to_fix(error: Exception, says: str) -> None:
    assert says in environment_unreadable("org_1", "https://x", error)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--stale-after", "-1"], "--stale-after must be a number of days from 0 to 36500"),
        (["--stale-after", "nan"], "--stale-after must be a number of days"),
        (["--expiring-within", "36501"], "--expiring-within must be a number of days from 0 to 36500"),
        (["--cwd", "."], "--cwd names projects whose stacks to read: give --stack NAME or --all-stacks"),
    ],
)
def test_refused_arguments_exit_2_and_say_why(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARDENT_TOKEN", "sk-ard_test_never_sent")
    assert main(["audit", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and says in captured.err and captured.err.startswith("ardent-keys audit: ")
    assert main(["audit", "--json", *args]) == 2
    assert says in json.loads(capsys.readouterr().out)["error"]


def test_the_audit_command_takes_the_drift_stack_options() -> None:
    parsed = build_parser().parse_args(
        ["audit", "--cwd", "a", "--cwd", "b", "--stack", "x", "--stack", "o/p/s", "--html", "f.html", "--json"]
    )
    assert (parsed.cwd, parsed.stack, parsed.all_stacks, parsed.html, parsed.json) == (
        ["a", "b"],
        ["x", "o/p/s"],
        False,
        "f.html",
        True,
    )
    assert (parsed.stale_after, parsed.expiring_within) == (90, 30)
    assert build_parser().parse_args(["audit", "--all-stacks"]).all_stacks is True
    with pytest.raises(SystemExit):
        build_parser().parse_args(["audit", "--all-stacks", "--stack", "x"])
    assert isinstance(build_parser().parse_args(["audit"]), argparse.Namespace)


def test_a_report_needs_no_stack_to_name_its_first_org() -> None:
    report = AuditReport(POLICY, (), (reading([key("k")], "org_9"),), ())
    assert report.checked_at == NOW and report.flagged == [] and set(report.counts()) == set(FINDING_CODES)
