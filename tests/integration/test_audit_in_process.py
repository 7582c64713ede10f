"""``ardent-keys audit`` in-process against the real emulator, with the fake ``pulumi`` of the drift tests.

The emulator's clock is moved forward to make keys stale, expiring and expired, and keys' own tokens are
used to give them a ``last_used_at``, so every finding comes from the service as a user would meet it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from ardent_provider import ArdentClient

from ..audit_page import AuditPage, check_page
from ..conftest import FAST_RETRY
from . import test_cli_in_process as drift_tests
from .test_cli_in_process import Managed, World, cwd

# The drift tests' world: the emulator, an owner client, a fake `pulumi` first on PATH, projects on its backend.
world = drift_tests.world

AUDIT_FIELDS = [
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
    "unreadable_orgs",
]
KEY_FIELDS = [
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


def use_environment(world: World, token: str | None = None) -> None:
    """Credentials in ARDENT_* only, no `pulumi` on PATH and no project in the working directory."""
    world.monkeypatch.setenv("ARDENT_TOKEN", token or world.emulator.token)
    world.monkeypatch.setenv("ARDENT_ORG_ID", world.org_id)
    world.monkeypatch.setenv("ARDENT_API_URL", world.emulator.url)
    empty = world.tmp_path / "nowhere"
    empty.mkdir(exist_ok=True)
    world.monkeypatch.setenv("PATH", str(empty))
    world.monkeypatch.chdir(empty)


def use(world: World, token: str) -> None:
    """One request with the key's token, which sets its ``last_used_at``."""
    with ArdentClient(token, api_url=world.emulator.url, retry=FAST_RETRY) as client:
        client.get_org(world.org_id)


def scoped_key(world: World, name: str, expires_days: int | None = 365) -> tuple[str, str]:
    created = world.owner.create_key(
        world.org_id, name=name, role="role_org_viewer", scopes=["org.read"], expires_days=expires_days
    )
    return created.id, created.token.reveal()


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["key_id"]: entry for entry in report["keys"]}


def test_audit_without_stacks_judges_every_key_of_the_environments_org(world: World) -> None:
    used_once, used_once_token = scoped_key(world, "used-once")
    use(world, used_once_token)
    short, short_token = world.key("short-lived", expires_days=1)
    world.advance_days(20)
    expiring, expiring_token = scoped_key(world, "expiring", expires_days=40)
    world.advance_days(25)
    recent, recent_token = scoped_key(world, "recent")
    use(world, recent_token)
    never, never_token = world.key("never-used")
    tokens = [world.emulator.token, used_once_token, short_token, expiring_token, recent_token, never_token]
    use_environment(world)
    world.reset_stats()

    result = world.ardent_keys("audit", "--json", "--stale-after", "30")

    assert result.code == 1, result
    assert world.list_calls() == 1
    report = result.json()
    assert list(report) == AUDIT_FIELDS
    assert (report["stale_after_days"], report["expiring_within_days"]) == (30, 30)
    assert report["stacks"] == []
    assert [(org["org_id"], org["api_url"], org["org_keys"]) for org in report["orgs"]] == [
        (world.org_id, world.emulator.url, 6)
    ]
    assert (report["org_keys"], report["flagged_keys"], report["clean"]) == (6, 5, False)
    keys = by_id(report)
    bootstrap = world.running_key_id()
    assert {key_id: entry["findings"] for key_id, entry in keys.items()} == {
        short: ["expired", "never_used", "all_scopes"],
        expiring: ["expiring", "never_used"],
        used_once: ["stale"],
        never: ["never_used", "no_expiry", "all_scopes"],
        bootstrap: ["no_expiry", "all_scopes"],
        recent: [],
    }
    assert all(list(entry) == KEY_FIELDS for entry in report["keys"])
    assert keys[bootstrap]["credential_of"] == ["ARDENT_TOKEN"] and keys[bootstrap]["managed_by"] == []
    # The service's clock reads in whole seconds, so a span may fall a second short of the whole day.
    assert re.match(r"expires in 1[45] d", keys[expiring]["detail"]), keys[expiring]["detail"]
    assert re.match(r"last used 4[45] d ago", keys[used_once]["detail"]), keys[used_once]["detail"]
    # Times exactly as the service wrote them (its own resolution), never finer.
    wire = world.wire_keys()
    for key_id, entry in keys.items():
        for moment in ("created_at", "last_used_at", "expires_at"):
            # Listing the keys again uses the bootstrap key, which moves its last use on.
            if (key_id, moment) != (bootstrap, "last_used_at"):
                assert entry[moment] == wire[key_id][moment], (key_id, moment)
    assert report["summary"]["stale"] == 1 and report["summary"]["unmanaged"] == 0
    assert not world.printed_anything_of(tokens)
    assert not any(item["key_prefix"] in output for item in wire.values() for output in world.outputs)

    # At the default 90 days, a key last used 45 days ago is not stale yet.
    default = world.ardent_keys("audit", "--json")
    assert by_id(default.json())[used_once]["findings"] == []


def test_audit_table_shows_flagged_keys_and_the_counts(world: World) -> None:
    expired, _ = world.key("old", expires_days=1)
    world.advance_days(2)
    recent, recent_token = scoped_key(world, "recent")
    use(world, recent_token)
    use_environment(world)

    result = world.ardent_keys("audit", "--expiring-within", "7")

    assert result.code == 1, result
    rows = {line.split()[1]: line.split()[0] for line in result.out.splitlines()[1:] if line[:1].islower()}
    assert rows[expired] == "expired,never_used,all_scopes" and recent not in rows
    assert f"of 3 active key(s) of org {world.org_id} have findings" in result.out
    assert result.err == ""


def test_audit_exits_0_when_every_key_is_in_order(world: World) -> None:
    admin = world.owner.create_key(
        world.org_id,
        name="auditor",
        role="role_org_admin",
        scopes=["api_keys.read", "api_keys.write"],
        expires_days=365,
    )
    with ArdentClient(admin.token, api_url=world.emulator.url, retry=FAST_RETRY) as client:
        client.revoke_key(world.org_id, world.running_key_id())
    use_environment(world, admin.token.reveal())

    table = world.ardent_keys("audit")
    report = world.ardent_keys("audit", "--json")

    assert table.code == 0, table
    assert table.out.strip() == f"No findings: all 1 active key(s) of org {world.org_id} are in order."
    assert report.code == 0 and report.json()["clean"] is True and report.json()["flagged_keys"] == 0
    assert not world.printed_anything_of([admin.token.reveal()])


def test_audit_with_stacks_reads_every_org_they_use_and_finds_unmanaged_keys(world: World) -> None:
    staging = world.org()
    api, api_token = world.key("api")
    previous, _ = world.key("api-previous")
    by_hand, by_hand_token = world.key("made-by-hand")
    ci = staging.key("ci")
    staging_orphan = staging.key("orphan-staging")
    web = world.project("web")
    web.add_stack(
        "prod",
        world.config(),
        [Managed("api", api, previous_key_id=previous), Managed("ci", ci, org_id=staging.org_id)],
        orgs={staging.org_id: {"token": staging.token}},
    )
    # Credentials come from the stack, whatever the environment says.
    world.monkeypatch.setenv("ARDENT_TOKEN", "sk-ard_test_not-this-one")
    world.reset_stats()

    result = world.ardent_keys("audit", *cwd(web), "--stack", "prod", "--json")

    assert result.code == 1, result
    assert world.list_calls() == 2, "one list call per org"
    report = result.json()
    assert report["stacks"] == [{"project": "web", "stack": "prod", "directory": str(web.directory)}]
    assert [org["org_id"] for org in report["orgs"]] == sorted([world.org_id, staging.org_id])
    keys = by_id(report)
    unmanaged = {key_id for key_id, entry in keys.items() if "unmanaged" in entry["findings"]}
    assert unmanaged == {by_hand, staging_orphan}
    assert keys[api]["managed_by"] == [{"project": "web", "stack": "prod", "resource": "api", "kind": "current"}]
    assert keys[previous]["managed_by"][0]["kind"] == "previous"
    assert keys[ci]["org_id"] == staging.org_id and keys[ci]["managed_by"][0]["resource"] == "ci"
    assert keys[world.running_key_id()]["credential_of"] == ["web/prod"]
    assert keys[staging.running_key_id()]["credential_of"] == ["web/prod"]
    assert [entry["org_id"] for entry in report["keys"]] == sorted(entry["org_id"] for entry in report["keys"])

    table = world.ardent_keys("audit", *cwd(web), "--all-stacks")
    assert table.code == 1, table
    header = table.out.splitlines()[0]
    assert header.startswith("ORG") and "STACK" in header
    assert "web/prod:api (previous)" in table.out and "web/prod (credential)" in table.out
    assert not world.printed_anything_of([world.emulator.token, staging.token, api_token, by_hand_token])


def test_audit_html_page_has_every_key_coloured_by_finding_and_no_token(world: World) -> None:
    expired, expired_token = world.key("expired", expires_days=1)
    world.advance_days(2)
    stale, stale_token = scoped_key(world, "stale-<b>&co</b>", expires_days=None)
    use(world, stale_token)
    world.advance_days(100)
    expiring, expiring_token = scoped_key(world, "expiring", expires_days=10)
    fine, fine_token = scoped_key(world, "fine", expires_days=300)
    use(world, fine_token)
    never, never_token = world.key("never")
    web = world.project("web")
    web.add_stack(
        "prod", world.config(), [Managed(name, key_id) for name, key_id in (("fine", fine), ("stale", stale))]
    )
    page_path = world.tmp_path / "reports" / "audit.html"
    page_path.parent.mkdir()
    tokens = [world.emulator.token, expired_token, expiring_token, stale_token, fine_token, never_token]

    result = world.ardent_keys("audit", *cwd(web), "--stack", "prod", "--json", "--html", str(page_path))

    assert result.code == 1, result
    assert result.err.strip() == f"ardent-keys audit: wrote {page_path} (6 key(s))"
    report = result.json()
    expected = {entry["key_id"]: entry["findings"] for entry in report["keys"]}
    assert expected[fine] == [] and expected[stale] == ["stale", "no_expiry"]
    assert "unmanaged" in expected[never] and "expired" in expected[expired] and "expiring" in expected[expiring]
    text = page_path.read_text(encoding="utf-8")
    prefixes = [entry["key_prefix"] for entry in world.wire_keys().values()]
    page = AuditPage(text)
    check_page(page, expected, [*tokens, *prefixes])
    assert page.rows[stale].label == "stale-<b>&co</b>" and page.tag_count("b") == 0
    assert f"Checked at {report['checked_at']}" in " ".join(page.texts)
    assert [path.name for path in page_path.parent.iterdir()] == ["audit.html"]


def test_audit_could_not_check_exits_2_and_says_why(world: World) -> None:
    use_environment(world, "sk-ard_test_" + "x" * 40)
    rejected = world.ardent_keys("audit", "--json")
    assert rejected.code == 2
    assert "Ardent rejected ARDENT_TOKEN (HTTP 401" in rejected.json()["error"]
    assert rejected.err.startswith("ardent-keys audit: could not check: org ")

    world.monkeypatch.delenv("ARDENT_ORG_ID")
    missing = world.ardent_keys("audit")
    assert missing.code == 2 and "No Ardent org id is configured" in missing.err and missing.out == ""

    world.monkeypatch.setenv("ARDENT_ORG_ID", world.org_id)
    world.monkeypatch.setenv("ARDENT_TOKEN", world.emulator.token)
    nowhere = world.ardent_keys("audit", "--html", str(world.tmp_path / "no" / "such" / "dir" / "audit.html"))
    assert nowhere.code == 2 and "could not write" in nowhere.err and nowhere.out == ""


def test_audit_of_a_stack_that_cannot_be_read_exits_2(world: World) -> None:
    web = world.project("web")
    web.add_stack("prod", world.config(), [])

    result = world.ardent_keys("audit", *cwd(web), "--stack", "staging", "--json")

    assert result.code == 2
    assert "no stack named 'staging' found" in result.json()["error"]


def test_a_fault_on_the_list_is_retried_and_the_audit_still_lists_every_key(world: World) -> None:
    key_id, _ = world.key("k")
    use_environment(world)
    world.fault("GET /v1/orgs/{org_id}/api-keys", mode="status", status=503, count=1)

    result = world.ardent_keys("audit", "--json")

    assert result.code == 1, result
    assert key_id in by_id(result.json())
    answer = httpx.get(f"{world.emulator.url}/_emulator/faults").json()
    assert answer["faults"][0]["hits"] == 1


def test_the_page_can_be_written_beside_the_working_directory(world: World) -> None:
    use_environment(world)
    result = world.ardent_keys("audit", "--html", "audit.html")
    assert result.code == 1, result
    assert set(AuditPage((Path.cwd() / "audit.html").read_text()).rows) == {world.running_key_id()}
