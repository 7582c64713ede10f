"""The drift and revoke decisions themselves, and how stacks of several projects are named. No processes."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
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
from ardent_provider.platform.drift import drift_findings, drift_report, find_drift, render_drift_table
from ardent_provider.platform.orgs import (
    OrgReading,
    UnreadableOrgError,
    credential_key_ids,
    org_credentials,
    org_ids,
    stack_tokens,
    unreadable_org,
    with_credentials,
)
from ardent_provider.platform.render import service_timespec, wire_time
from ardent_provider.platform.revoke import RevokeDecision, plan_revocations, render_outcome, since_the_plan
from ardent_provider.platform.stacks import (
    BackendKeys,
    CheckError,
    CredentialSource,
    ManagedKey,
    PendingOperation,
    Project,
    ProviderConfig,
    StackRef,
    StackView,
    keys_in_deployment,
    load_projects,
    pending_in_deployment,
    project_name,
    provider_tokens,
    providers_in_deployment,
    resolve_targets,
    state_problem,
)
from ardent_provider.resource_types import is_default_provider
from ardent_provider.settings import Settings, resolve_settings
from ardent_provider.state import SinkSpec

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
API = "https://api.tryardent.com"
RUNNING = SecretToken("sk-ard_test_RUNNINGtokenRUNNINGtokenRUNNING")
OTHER = SecretToken("sk-ard_test_OTHERSTACKtokenOTHERSTACKtoken")
MONTH = timedelta(days=30)


def key(key_id: str, expires_in_days: float | None = None, prefix: str = "sk-ard_test_xxxxxxxx") -> ApiKey:
    expires = NOW + timedelta(days=expires_in_days) if expires_in_days is not None else None
    return ApiKey(id=key_id, name=key_id, key_prefix=prefix, scopes=(), created_at=NOW - MONTH, expires_at=expires)


def test_findings_across_several_stacks_in_a_stable_order() -> None:
    managed = [
        ManagedKey("staging", "soon", "key_soon", "soon", "current", "web"),
        ManagedKey("prod", "api", "key_ok", "key_ok", "current", "web"),
        ManagedKey("prod", "api", "key_prev", None, "previous", "web"),
        ManagedKey("staging", "old", "key_expired", "old", "current", "web"),
        ManagedKey("staging", "ci", "key_gone", "ci", "current", "web"),
        ManagedKey("prod", "worker", "key_gone_too", "worker", "current", "batch"),
    ]
    listed = [
        key("key_z_by_hand"),
        key("key_ok"),
        key("key_prev", 300),
        key("key_expired", -1),
        key("key_soon", 3),
        key("key_a_by_hand"),
        key("key_self", prefix="sk-ard_test_RUNNING"),
    ]
    credentials = credential_key_ids(listed, [("web/prod", RUNNING)])
    own = find_drift(managed, listed, NOW, 7, credentials, org_id="org_1")
    findings = find_drift(managed, listed, NOW, 7, credentials, org_id="org_1", unmanaged=True)
    assert own == [finding for finding in findings if finding.problem != "unmanaged"]
    assert [(f.problem, f.key_id, f.project, f.stack, f.resource) for f in findings] == [
        ("missing", "key_gone_too", "batch", "prod", "worker"),
        ("missing", "key_gone", "web", "staging", "ci"),
        ("expired", "key_expired", "web", "staging", "old"),
        ("expiring", "key_soon", "web", "staging", "soon"),
        ("unmanaged", "key_a_by_hand", None, None, None),
        ("unmanaged", "key_z_by_hand", None, None, None),
    ]
    assert {f.org_id for f in findings} == {"org_1"}
    table = render_drift_table(findings, ["web/prod", "web/staging", "batch/prod"], unmanaged=True)
    assert "PROBLEM" in table and "web/staging" in table and "6 finding(s)." in table


def test_no_findings_reads_as_no_drift() -> None:
    assert render_drift_table([], ["web/prod"]).startswith("No drift")
    assert find_drift([ManagedKey("prod", "api", "key_ok", "key_ok", "current")], [key("key_ok")], NOW, None) == []


def test_a_finding_has_the_documented_json_fields_in_order() -> None:
    finding = find_drift([], [key("key_1", 10)], NOW, None, org_id="org_1", unmanaged=True)[0]
    assert list(asdict(finding)) == [
        "problem",
        "org_id",
        "project",
        "stack",
        "resource",
        "kind",
        "key_id",
        "name",
        "expires_at",
        "detail",
    ]
    assert json.loads(json.dumps(asdict(finding)))["expires_at"] == "2026-12-08T12:00:00Z"


def test_the_own_key_is_found_whatever_the_services_prefix_length() -> None:
    token = SecretToken("sk-ard_live_abcdefgh12345678")
    short = key("key_short", prefix="sk-ard_live_ab")
    long = key("key_long", prefix="sk-ard_live_abcdefgh1234")
    stranger = key("key_stranger", prefix="sk-ard_live_zz")
    no_prefix = key("key_no_prefix", prefix="")
    assert credential_key_ids([short, stranger, no_prefix], [("p/s", token)]) == {"key_short": ["p/s"]}
    # When two keys match, the longer prefix is the better evidence.
    assert credential_key_ids([short, long], [("p/s", token)]) == {"key_long": ["p/s"]}
    twin = key("key_twin", prefix="sk-ard_live_ab")
    assert set(credential_key_ids([short, twin], [("p/s", token)])) == {"key_short", "key_twin"}
    shared = credential_key_ids([short], [("a/s", token), ("b/s", token)])
    assert shared == {"key_short": ["a/s", "b/s"]}


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2026-12-08T12:00:00Z", "2026-12-08T12:00:00Z"),
        ("2026-12-08T12:00:00.250Z", "2026-12-08T12:00:00.250Z"),
        ("2026-12-08T12:00:00.123456Z", "2026-12-08T12:00:00.123456Z"),
    ],
)
def test_times_are_printed_at_the_services_resolution(wire: str, expected: str) -> None:
    listed = [ApiKey.from_wire({"id": "key_1", "name": "n", "key_prefix": "p", "scopes": [], "created_at": wire})]
    assert wire_time(listed[0].created_at, service_timespec(listed)) == expected
    listed.append(ApiKey.from_wire({"id": "key_2", "name": "n", "key_prefix": "p", "scopes": [], "expires_at": wire}))
    finding = find_drift([], listed, NOW, None, unmanaged=True)[1]
    assert finding.expires_at == expected


def reading(
    org_id: str,
    listed: list[ApiKey],
    tokens: list[tuple[str, SecretToken]],
    source: str = "web/prod",
    own: bool = True,
) -> OrgReading:
    """An org as a run read it, with the stacks' tokens recognised among its keys."""
    settings = Settings(API, org_id, tokens[0][1] if tokens else RUNNING, own_credentials=own)
    return OrgReading(org_id, settings, source, tuple(listed), credential_key_ids(listed, tokens), NOW)


def test_revoke_refuses_the_running_key_other_stacks_keys_and_unknown_ids() -> None:
    listed = [
        key("key_orphan"),
        key("key_self", prefix="sk-ard_test_RUNNING"),
        key("key_other_token", prefix="sk-ard_test_OTHERSTACK"),
        key("key_managed_elsewhere"),
        key("key_previous"),
    ]
    managed = [
        ManagedKey("prod", "api", "key_managed_elsewhere", "api", "current", "batch", "org_1"),
        ManagedKey("prod", "web", "key_previous", None, "previous", "web", "org_1"),
        ManagedKey("prod", "gone", "key_revoked_by_hand", "gone", "current", "web", "org_1"),
    ]
    org = reading("org_1", listed, [("web/prod", RUNNING), ("batch/prod", OTHER)])
    requested = [
        "key_orphan",
        "key_self",
        "key_other_token",
        "key_managed_elsewhere",
        "key_previous",
        "key_nope",
        "key_revoked_by_hand",
        "key_orphan",
    ]
    decisions = plan_revocations(requested, [org], managed)
    by_id = {decision.key_id: decision for decision in decisions}
    assert [decision.key_id for decision in decisions] == list(dict.fromkeys(requested))
    assert [decision.key_id for decision in decisions if decision.revoke] == ["key_orphan"]
    assert by_id["key_orphan"].org_id == "org_1"
    assert "this command runs with in org org_1" in by_id["key_self"].reason and "401" in by_id["key_self"].reason
    assert "stack batch/prod runs with in org org_1" in by_id["key_other_token"].reason
    assert "resource api in stack batch/prod" in by_id["key_managed_elsewhere"].reason
    assert "kept previous key of resource web in stack web/prod" in by_id["key_previous"].reason
    assert "not an active key of org org_1:" in by_id["key_nope"].reason
    assert "still records it in org org_1" in by_id["key_revoked_by_hand"].reason
    assert "pulumi refresh" in by_id["key_revoked_by_hand"].reason


def test_revoke_plans_each_key_in_the_org_that_lists_it_with_that_orgs_running_key() -> None:
    staging_token = SecretToken("sk-ard_test_STAGINGtokenSTAGINGtokenSTAG")
    prod = reading(
        "org_prod", [key("key_p_orphan"), key("key_p_self", prefix="sk-ard_test_RUNNING")], [("web/prod", RUNNING)]
    )
    staging = reading(
        "org_staging",
        [key("key_s_orphan"), key("key_s_self", prefix="sk-ard_test_STAGING"), key("key_s_api")],
        [("web/prod", staging_token)],
    )
    managed = [ManagedKey("prod", "api", "key_s_api", "api", "current", "web", "org_staging")]
    requested = ["key_s_orphan", "key_p_orphan", "key_s_self", "key_p_self", "key_s_api", "key_nowhere"]

    decisions = {d.key_id: d for d in plan_revocations(requested, [prod, staging], managed)}

    assert (decisions["key_s_orphan"].revoke, decisions["key_s_orphan"].org_id) == (True, "org_staging")
    assert (decisions["key_p_orphan"].revoke, decisions["key_p_orphan"].org_id) == (True, "org_prod")
    assert "runs with in org org_staging" in decisions["key_s_self"].reason and not decisions["key_s_self"].revoke
    assert "runs with in org org_prod" in decisions["key_p_self"].reason
    assert "resource api in stack web/prod" in decisions["key_s_api"].reason
    nowhere = decisions["key_nowhere"]
    assert (nowhere.revoke, nowhere.org_id) == (False, None)
    assert "not an active key of orgs org_prod, org_staging" in nowhere.reason
    assert render_outcome(decisions["key_s_orphan"], "revoked", "why") == (
        "revoked  key_s_orphan ('key_s_orphan') in org org_staging: why"
    )
    assert render_outcome(RevokeDecision("key_x", False, "no"), "refused", "no") == "refused  key_x: no"


def test_keys_in_a_deployment_include_kept_previous_keys_and_replaced_keys_awaiting_deletion() -> None:
    deployment = {
        "deployment": {
            "resources": [
                {
                    "type": "pulumi-python:dynamic/ardent:ApiKey",
                    "urn": "urn:pulumi:prod::web::pulumi-python:dynamic/ardent:ApiKey::api",
                    "id": "key_1",
                    "outputs": {"name": "api", "previous_key_id": "key_0"},
                },
                {
                    "type": "pulumi-python:dynamic/ardent:ApiKey",
                    "urn": "urn:pulumi:prod::web::pulumi-python:dynamic/ardent:ApiKey::old",
                    "id": "key_9",
                    "delete": True,
                },
                {"type": "pulumi:pulumi:Stack", "urn": "urn:pulumi:prod::web::pulumi:pulumi:Stack::web-prod"},
            ]
        }
    }
    managed = keys_in_deployment(deployment, "prod", "web")
    assert managed == [
        ManagedKey("prod", "api", "key_1", "api", "current", "web"),
        ManagedKey("prod", "api", "key_0", None, "previous", "web"),
        ManagedKey("prod", "old", "key_9", None, "pending-delete", "web"),
    ]
    # Awaiting deletion: never reported as missing or unmanaged, and never offered for revocation.
    listed = [
        replace(key("key_1"), name="api"),
        key("key_0"),
        key("key_9"),
        key("key_self", prefix="sk-ard_test_RUNNING"),
    ]
    assert [f.problem for f in find_drift(managed, [], NOW, None)] == ["missing", "missing"]
    org = reading("org_1", listed, [("web/prod", RUNNING)])
    assert find_drift(managed, listed, NOW, None, org.credentials, unmanaged=True) == []
    (decision,) = plan_revocations(["key_9"], [org], managed)
    assert not decision.revoke and "replaced key awaiting deletion of resource old in stack web/prod" in decision.reason


def test_keys_of_the_native_resource_type_are_read_from_their_camel_case_outputs_alike() -> None:
    outputs = {
        "name": "api",
        "role": "role_org_admin",
        "scopes": [],
        "orgId": "org_1",
        "expiresAt": "2027-01-01T00:00:00Z",
        "previousKeyId": "key_0",
        "pendingRevokeKeyIds": ["key_p"],
    }
    native = {
        "deployment": {
            "resources": [
                {
                    "type": "ardent:index:ApiKey",
                    "urn": "urn:pulumi:prod::web::ardent:index:ApiKey::api",
                    "id": "key_1",
                    "outputs": outputs,
                },
                {
                    "type": "pulumi:providers:ardent",
                    "urn": "urn:pulumi:prod::web::pulumi:providers:ardent::default",
                    "id": "p",
                },
            ],
            "pending_operations": [
                {
                    "type": "creating",
                    "resource": {"type": "ardent:index:ApiKey", "urn": "urn:x::y", "inputs": {"orgId": "org_2"}},
                }
            ],
        }
    }
    managed = keys_in_deployment(native, "prod", "web")
    assert managed == [
        ManagedKey(
            "prod", "api", "key_1", "api", "current", "web", "org_1", (), "2027-01-01T00:00:00Z", "role_org_admin"
        ),
        ManagedKey("prod", "api", "key_0", None, "previous", "web", "org_1"),
        ManagedKey("prod", "api", "key_p", None, "pending-revoke", "web", "org_1"),
    ]
    assert [(item.kind, item.org_id) for item in pending_in_deployment(native, "prod")] == [("creating", "org_2")]


def test_state_that_is_not_a_stacks_state_is_named_as_such_and_odd_entries_do_not_crash() -> None:
    assert state_problem([]) == "its state is not a JSON object"
    assert state_problem({"version": 3}) == "its state holds no deployment"
    assert state_problem({"deployment": {"resources": {}}}) == "its state's resources is not a list"
    assert state_problem({"deployment": {"manifest": {}}}) is None
    odd = {
        "deployment": {
            "resources": ["text", {"type": "pulumi-python:dynamic/ardent:ApiKey", "id": "key_1", "outputs": "x"}],
            "pending_operations": [None, {"resource": {"type": "pulumi-python:dynamic/ardent:ApiKey", "inputs": 1}}],
        }
    }
    assert [item.key_id for item in keys_in_deployment(odd, "prod")] == ["key_1"]
    assert [item.kind for item in pending_in_deployment(odd, "prod")] == ["unknown"]


def write_project(root: Path, directory: str, text: str) -> Path:
    path = root / directory
    path.mkdir()
    (path / "Pulumi.yaml").write_text(text)
    return path


def test_the_project_name_comes_from_pulumi_yaml(tmp_path: Path) -> None:
    plain = write_project(tmp_path, "a", "name: web\nruntime: python\n")
    quoted = write_project(tmp_path, "b", "runtime:\n  name: python\nname: 'batch'  # the jobs\n")
    nameless = write_project(tmp_path, "c", "runtime: python\n")
    assert project_name(plain) == "web" and project_name(quoted) == "batch"
    with pytest.raises(CheckError, match="no top-level `name:`"):
        project_name(nameless)
    with pytest.raises(CheckError, match=r"holds no Pulumi\.yaml"):
        project_name(tmp_path)


def test_a_project_named_in_pulumi_json_is_a_project_too(tmp_path: Path) -> None:
    json_project = tmp_path / "j"
    json_project.mkdir()
    (json_project / "Pulumi.json").write_text('{"runtime": "python", "name": "jobs"}')
    assert project_name(json_project) == "jobs"
    (json_project / "Pulumi.json").write_text('{"runtime": "python"}')
    with pytest.raises(CheckError, match="no top-level `name`"):
        project_name(json_project)
    (json_project / "Pulumi.json").write_text("name: jobs")
    with pytest.raises(CheckError, match="not valid JSON"):
        project_name(json_project)


def test_the_expiry_window_is_checked_by_drift_and_audit_each_under_its_own_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drift", "--stack", "prod", "--expiring-within", "-1", "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"error": "--expiring-within must be a number of days from 0 to 36500"}
    assert captured.err == "ardent-keys drift: --expiring-within must be a number of days from 0 to 36500\n"
    assert main(["audit", "--expiring-within", "-1"]) == 2
    assert capsys.readouterr().err.startswith("ardent-keys audit: --expiring-within must be")
    drift_args = build_parser().parse_args(["drift", "--all-stacks"])
    audit_args = build_parser().parse_args(["audit"])
    assert (drift_args.expiring_within, audit_args.expiring_within) == (None, 30)


def test_projects_are_read_once_and_two_directories_of_one_project_are_refused(tmp_path: Path) -> None:
    web = write_project(tmp_path, "web", "name: web\n")
    write_project(tmp_path, "copy", "name: web\n")
    assert load_projects([str(web), str(web / "."), str(web)]) == [Project("web", web.resolve())]
    with pytest.raises(CheckError, match="both project web"):
        load_projects([str(web), str(tmp_path / "copy")])
    with pytest.raises(CheckError, match="no such directory"):
        load_projects([str(tmp_path / "missing")])


def test_stack_arguments_pick_their_project() -> None:
    web, batch = Project("web", Path("/p/web")), Project("batch", Path("/p/batch"))
    stacks = {web: ["dev", "prod"], batch: ["organization/batch/prod"]}
    every = resolve_targets([web, batch], [], True, stacks.__getitem__)
    assert [ref.label for ref in every] == ["web/dev", "web/prod", "batch/prod"]
    assert every[2].name == "organization/batch/prod"
    picked = resolve_targets([web, batch], ["acme/batch/prod", "acme/web/dev"], False, stacks.__getitem__)
    assert [(ref.project, ref.name) for ref in picked] == [(batch, "acme/batch/prod"), (web, "acme/web/dev")]
    assert [ref.label for ref in resolve_targets([web], ["prod", "prod"], False, stacks.__getitem__)] == ["web/prod"]
    with pytest.raises(CheckError, match="ambiguous"):
        resolve_targets([web, batch], ["prod"], False, stacks.__getitem__)
    with pytest.raises(CheckError, match="no --cwd directory holds project shop"):
        resolve_targets([web, batch], ["acme/shop/prod"], False, stacks.__getitem__)
    with pytest.raises(CheckError, match="not a stack name"):
        resolve_targets([web], ["a/b/c/d"], False, stacks.__getitem__)
    with pytest.raises(CheckError, match="has no stacks"):
        resolve_targets([web], [], True, lambda project: [])


def test_the_command_line_wants_stacks_and_a_sane_expiry_window(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["revoke", "--cwd", "a", "--cwd", "b", "--all-stacks", "key_1", "key_2"])
    assert (args.cwd, args.all_stacks, args.key_id) == (["a", "b"], True, ["key_1", "key_2"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["drift", "--stack", "prod", "--all-stacks"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["drift"])
    for window in ("-1", "nan"):
        assert main(["drift", "--stack", "prod", "--expiring-within", window]) == 2
        assert "--expiring-within must be a number of days" in capsys.readouterr().err


def stack_view(
    project: str, config: dict[str, object], managed: tuple[ManagedKey, ...] = (), stack: str = "prod"
) -> StackView:
    """A stack read as ``read_stack`` reads it: default settings from ``config``, keys without org in it."""
    settings = resolve_settings(config, {})
    keys = tuple(item if item.org_id else ManagedKey(**{**asdict(item), "org_id": settings.org_id}) for item in managed)
    return StackView(StackRef(Project(project, Path(f"/p/{project}")), stack), settings, keys, config)


def org_map(**orgs: dict[str, str]) -> str:
    """``ardent:orgs`` as ``pulumi config --json --show-secrets`` prints it: JSON text."""
    return json.dumps(orgs)


def test_the_orgs_of_a_run_are_the_default_orgs_and_every_org_a_key_lives_in() -> None:
    web = stack_view(
        "web",
        {"ardent:orgId": "org_b", "ardent:token": RUNNING.reveal()},
        (
            ManagedKey("prod", "api", "key_1", "api", "current", "web", "org_c"),
            ManagedKey("prod", "old", "key_2", "old", "current", "web"),
        ),
    )
    batch = stack_view("batch", {"ardent:orgId": "org_a", "ardent:token": OTHER.reveal()})
    assert web.orgs == ["org_b", "org_c"] and [item.org_id for item in web.managed] == ["org_c", "org_b"]
    assert org_ids([web, batch]) == ["org_a", "org_b", "org_c"]
    assert web.uses("org_c") and not web.uses("org_a")


def test_an_org_is_read_with_the_first_stacks_own_credentials_else_a_users_default_token() -> None:
    staging = SecretToken("sk-ard_test_STAGINGtokenSTAGINGtokenSTAG")
    in_staging = (ManagedKey("prod", "api", "key_1", "api", "current", "web", "org_staging"),)
    borrower = stack_view("web", {"ardent:orgId": "org_prod", "ardent:token": RUNNING.reveal()}, in_staging)
    lender = stack_view(
        "batch",
        {
            "ardent:orgId": "org_prod",
            "ardent:token": OTHER.reveal(),
            "ardent:orgs": org_map(org_staging={"token": staging.reveal()}),
        },
    )

    own, source = org_credentials("org_staging", [borrower, lender])
    assert (own.token, own.own_credentials, source.ref.label) == (staging, True, "batch/prod")
    assert "ardent:orgs.org_staging.token" in lender.token_setting("org_staging")
    assert "ardent:token" in lender.token_setting("org_prod")

    borrowed, source = org_credentials("org_staging", [borrower])
    assert (borrowed.token, borrowed.own_credentials, source.ref.label) == (RUNNING, False, "web/prod")

    default, source = org_credentials("org_prod", [borrower, lender])
    assert (default.token, source.ref.label) == (RUNNING, "web/prod")


def test_an_org_no_stack_has_a_token_for_is_refused_naming_it_and_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARDENT_TOKEN", raising=False)
    own_only = stack_view(
        "web",
        {"ardent:orgId": "org_prod", "ardent:orgs": org_map(org_prod={"token": RUNNING.reveal()})},
        (ManagedKey("prod", "api", "key_1", "api", "current", "web", "org_partners"),),
    )
    assert own_only.token_setting("org_partners") == "the ARDENT_TOKEN environment variable"
    assert stack_tokens([own_only]) == [("web/prod", RUNNING)], "the one token it holds, for org_prod only"
    with pytest.raises(CheckError) as raised:
        org_credentials("org_partners", [own_only])
    message = str(raised.value)
    assert message.startswith("org org_partners cannot be read: stack web/prod:")
    assert "ardent:orgs.org_partners.token" in message and RUNNING.reveal() not in message


def test_stacks_reaching_one_org_at_different_api_urls_are_refused_naming_them() -> None:
    web = stack_view("web", {"ardent:orgId": "org_1", "ardent:token": RUNNING.reveal()})
    batch = stack_view(
        "batch", {"ardent:orgId": "org_1", "ardent:token": OTHER.reveal(), "ardent:apiUrl": "http://127.0.0.1:9"}
    )
    with pytest.raises(CheckError) as raised:
        org_credentials("org_1", [web, batch])
    assert f"org org_1 at different API URLs ({API}: web/prod; http://127.0.0.1:9: batch/prod)" in str(raised.value)
    assert RUNNING.reveal() not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "own", "expected"),
    [
        (PermissionDeniedError(403, "no", method="GET", path="/v1"), False, "no given stack has credentials"),
        (AuthenticationError(401, "no", method="GET", path="/v1"), True, "rejected stack web/prod's token"),
        (PermissionDeniedError(403, "no", method="GET", path="/v1"), True, "may not list its keys (HTTP 403)"),
        (NotFoundError(404, "no", method="GET", path="/v1"), True, "was not found at"),
        (ArdentConnectionError("refused", method="GET", path="/v1", sent=False), True, "could not be read at"),
    ],
)
def test_an_unreadable_org_is_named_with_what_to_configure(error: Exception, own: bool, expected: str) -> None:
    source = stack_view("web", {"ardent:orgId": "org_1", "ardent:token": RUNNING.reveal()})
    settings = Settings(API, "org_2", RUNNING, own_credentials=own)
    assert isinstance(error, AuthenticationError | PermissionDeniedError | NotFoundError | ArdentConnectionError)
    message = unreadable_org("org_2", settings, CredentialSource(source), error)
    assert message.startswith("org org_2") and expected in message and RUNNING.reveal() not in message
    if not own:
        assert "pulumi config set --secret --path 'ardent:orgs.org_2.token' <token> --stack prod" in message


def test_findings_are_per_org_against_the_keys_managed_there_and_grouped_by_org() -> None:
    staging_token = SecretToken("sk-ard_test_STAGINGtokenSTAGINGtokenSTAG")
    web = stack_view(
        "web",
        {
            "ardent:orgId": "org_prod",
            "ardent:token": RUNNING.reveal(),
            "ardent:orgs": org_map(org_staging={"token": staging_token.reveal()}),
        },
        (
            ManagedKey("prod", "api", "key_p_api", "key_p_api", "current", "web"),
            ManagedKey("prod", "ci", "key_s_ci", "key_s_ci", "current", "web", "org_staging"),
            ManagedKey("prod", "gone", "key_s_gone", "gone", "current", "web", "org_staging"),
        ),
    )
    # key_p_api is listed in staging too (as if its id were reused): managed in prod, so unmanaged in staging.
    prod = reading(
        "org_prod",
        [key("key_p_api"), key("key_p_orphan"), key("key_p_self", prefix="sk-ard_test_RUNNING")],
        [("web/prod", RUNNING)],
    )
    staging = reading(
        "org_staging",
        [key("key_s_ci"), key("key_s_orphan"), key("key_p_api"), key("key_s_self", prefix="sk-ard_test_STAGING")],
        [("web/prod", staging_token)],
    )

    findings = drift_findings([web], [staging, prod], None, unmanaged=True)
    assert drift_findings([web], [staging, prod], None) == [f for f in findings if f.problem != "unmanaged"]

    assert [(f.org_id, f.problem, f.key_id) for f in findings] == [
        ("org_prod", "unmanaged", "key_p_orphan"),
        ("org_staging", "missing", "key_s_gone"),
        ("org_staging", "unmanaged", "key_p_api"),
        ("org_staging", "unmanaged", "key_s_orphan"),
    ]
    table = render_drift_table(findings, ["web/prod"], ["org_prod", "org_staging"])
    header, first = table.splitlines()[:2]
    assert header.split()[:2] == ["ORG", "PROBLEM"] and first.split()[:3] == ["org_prod", "unmanaged", "key_p_orphan"]
    assert "ORG" not in render_drift_table(findings[:1], ["web/prod"], ["org_prod"])
    assert render_drift_table([], ["web/prod"], ["org_prod", "org_staging"], unmanaged=True) == (
        "No drift: every key of web/prod is active and as its state records it, and none of orgs org_prod, "
        "org_staging has an unmanaged key."
    )
    assert render_drift_table([], ["web/prod"], ["org_prod"]) == (
        "No drift: every key of web/prod is active and as its state records it."
    )

    report = drift_report([web], [prod, staging], findings)
    assert (report["org_id"], report["api_url"], report["org_keys"], report["managed_keys"]) == ("org_prod", API, 7, 3)
    assert report["credential_key_ids"] == ["key_p_self", "key_s_self"]
    assert report["orgs"] == [
        {"org_id": "org_prod", "api_url": API, "org_keys": 3},
        {"org_id": "org_staging", "api_url": API, "org_keys": 4},
    ]
    assert report["checked_at"] == "2026-11-28T12:00:00Z"


def test_a_key_whose_revocation_is_pending_is_reported_as_such_while_active_and_never_as_unmanaged() -> None:
    deployment = {
        "deployment": {
            "resources": [
                {
                    "type": "pulumi-python:dynamic/ardent:ApiKey",
                    "urn": "urn:pulumi:e2e::proj::pulumi-python:dynamic/ardent:ApiKey::svc",
                    "id": "key_new",
                    "outputs": {"key_id": "key_new", "name": "svc", "pending_revoke_key_ids": ["key_old", "key_gone"]},
                }
            ]
        }
    }
    managed = keys_in_deployment(deployment, "e2e", "proj")
    assert [(item.key_id, item.kind) for item in managed] == [
        ("key_new", "current"),
        ("key_old", "pending-revoke"),
        ("key_gone", "pending-revoke"),
    ]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    listed = [
        ApiKey(id=key_id, name="svc", key_prefix=f"sk-ard_test_{key_id}", scopes=(), created_at=now)
        for key_id in ("key_new", "key_old")
    ]
    findings = find_drift(managed, listed, now, None)
    assert [(finding.problem, finding.key_id, finding.kind) for finding in findings] == [
        ("revoke_pending", "key_old", "pending-revoke")
    ]


def test_a_key_that_the_org_describes_otherwise_than_its_state_is_changed() -> None:
    listed = [key("key_renamed"), key("key_rescoped"), key("key_moved_expiry", 10), key("key_same", 10)]
    managed = [
        ManagedKey("prod", "a", "key_renamed", "old-name", "current", "web", "org_1"),
        ManagedKey("prod", "b", "key_rescoped", "key_rescoped", "current", "web", "org_1", ("projects.read",)),
        ManagedKey("prod", "c", "key_moved_expiry", None, "current", "web", "org_1", None, "2026-12-31T00:00:00Z"),
        ManagedKey("prod", "d", "key_same", "key_same", "current", "web", "org_1", (), "2026-12-08T12:00:00.000Z"),
    ]
    findings = find_drift(managed, listed, NOW, None, org_id="org_1")
    assert [(f.problem, f.key_id) for f in findings] == [
        ("changed", "key_renamed"),
        ("changed", "key_rescoped"),
        ("changed", "key_moved_expiry"),
    ]
    assert "name 'old-name' in the state, 'key_renamed' in the org" in findings[0].detail
    assert "scopes ['projects.read'] in the state, [] in the org" in findings[1].detail
    assert "expiry 2026-12-31T00:00:00Z in the state" in findings[2].detail


def test_an_operation_left_pending_is_reported_with_its_command_and_not_as_a_missing_key() -> None:
    deployment = {
        "deployment": {
            "resources": [
                {
                    "type": "pulumi-python:dynamic/ardent:ApiKey",
                    "urn": "urn:pulumi:dev::web::pulumi-python:dynamic/ardent:ApiKey::deleted",
                    "id": "key_revoked_by_the_killed_run",
                    "outputs": {"key_id": "key_revoked_by_the_killed_run", "name": "deleted"},
                },
                {
                    "type": "pulumi-python:dynamic/ardent:ApiKey",
                    "urn": "urn:pulumi:dev::web::pulumi-python:dynamic/ardent:ApiKey::gone",
                    "id": "key_gone",
                    "outputs": {"key_id": "key_gone", "name": "gone"},
                },
            ],
            "pending_operations": [
                {
                    "resource": {
                        "type": "pulumi-python:dynamic/ardent:ApiKey",
                        "urn": "urn:pulumi:dev::web::pulumi-python:dynamic/ardent:ApiKey::made",
                        "inputs": {"name": "made", "role": "Member"},
                    },
                    "type": "creating",
                },
                {
                    "resource": {
                        "type": "pulumi-python:dynamic/ardent:ApiKey",
                        "urn": "urn:pulumi:dev::web::pulumi-python:dynamic/ardent:ApiKey::deleted",
                        "id": "key_revoked_by_the_killed_run",
                        "outputs": {"key_id": "key_revoked_by_the_killed_run"},
                    },
                    "type": "deleting",
                },
                {
                    "resource": {
                        "type": "pulumi:pulumi:Stack",
                        "urn": "urn:pulumi:dev::web::pulumi:pulumi:Stack::web-dev",
                    }
                },
            ],
        }
    }
    managed = keys_in_deployment(deployment, "dev", "web")
    pending = pending_in_deployment(deployment, "dev", "web")
    assert [(item.resource, item.kind, item.key_id) for item in pending] == [
        ("made", "creating", None),
        ("deleted", "deleting", "key_revoked_by_the_killed_run"),
    ]
    findings = find_drift(managed, [], NOW, None, pending=pending)
    assert [(f.problem, f.resource, f.kind, f.key_id) for f in findings] == [
        ("pending_operation", "deleted", "deleting", "key_revoked_by_the_killed_run"),
        ("missing", "gone", "current", "key_gone"),
        ("pending_operation", "made", "creating", None),
    ]
    assert "pulumi refresh --yes --clear-pending-creates --stack dev" in findings[0].detail
    assert "revoked or deleted outside Pulumi" not in findings[0].detail
    table = render_drift_table(findings, ["web/dev"])
    assert "pending_operation  -" in table and "3 finding(s)." in table


# -- explicit providers --------------------------------------------------------------------------------

SIG = "4dabf18193072939515e22adb298388d"
PARTNER = SecretToken("sk-ard_test_PARTNERtokenPARTNERtokenPARTNER")
PROVIDER_URN = "urn:pulumi:prod::web::pulumi:providers:ardent::partner"


def revealed(value: object) -> dict[str, str]:
    """A secret as ``pulumi stack export --show-secrets`` prints it."""
    return {SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(value)}


def explicit_state(token: object) -> dict[str, object]:
    """A native stack: its default provider, explicit provider ``partner`` and one key under each."""
    default_urn = "urn:pulumi:prod::web::pulumi:providers:ardent::default_0_1_0"
    return {
        "deployment": {
            "resources": [
                {
                    "type": "pulumi:providers:ardent",
                    "urn": default_urn,
                    "id": "d1",
                    "outputs": {"token": revealed("x")},
                },
                {
                    "type": "pulumi:providers:ardent",
                    "urn": PROVIDER_URN,
                    "id": "p1",
                    "inputs": {"orgId": "org_partner", "token": token, "version": "0.1.0"},
                    "outputs": {
                        "orgId": "org_partner",
                        "token": token,
                        "orgs": revealed({"org_far": {"token": "sk-ard_test_FAR"}}),
                    },
                },
                {
                    "type": "ardent:index:ApiKey",
                    "urn": "urn:pulumi:prod::web::ardent:index:ApiKey::far",
                    "id": "key_far",
                    "provider": f"{PROVIDER_URN}::p1",
                    "outputs": {"keyId": "key_far", "orgId": "org_partner", "previousKeyId": "key_far_old"},
                },
                {
                    "type": "ardent:index:ApiKey",
                    "urn": "urn:pulumi:prod::web::ardent:index:ApiKey::home",
                    "id": "key_home",
                    "provider": f"{default_urn}::d1",
                    "outputs": {"keyId": "key_home", "orgId": "org_home"},
                },
            ]
        }
    }


def test_keys_name_the_explicit_provider_that_manages_them_and_default_providers_name_none() -> None:
    found = {(item.key_id, item.provider) for item in keys_in_deployment(explicit_state("t"), "prod", "web")}
    assert found == {("key_far", "partner"), ("key_far_old", "partner"), ("key_home", "")}
    assert is_default_provider("default") and is_default_provider("default_0_1_0") and not is_default_provider("eu")


def test_an_explicit_providers_settings_are_read_from_the_decrypted_state_under_the_config_names() -> None:
    document = explicit_state(revealed(PARTNER.reveal()))
    (partner,) = providers_in_deployment(document).values()
    assert partner.resource == "partner" and partner.org_id == "org_partner"
    assert partner.config["ardent:token"] == PARTNER.reveal()
    assert set(partner.config) == {"ardent:orgId", "ardent:token", "ardent:orgs"}, "the engine's version is not ours"
    assert PARTNER.reveal() not in repr(partner)
    assert resolve_settings(partner.config, {}, org_id="org_far").token == SecretToken("sk-ard_test_FAR")
    assert sorted(providers_in_deployment(document, defaults=True)) == ["default_0_1_0", "partner"]
    tokens = provider_tokens(document, "web/prod")
    assert ("web/prod (provider resource partner)", PARTNER) in tokens and ("web/prod", SecretToken("x")) in tokens


def test_a_secret_still_encrypted_in_the_export_is_refused_not_taken_for_a_token() -> None:
    sealed = {SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}
    document = explicit_state(sealed)
    (partner,) = providers_in_deployment(document).values()
    assert "the `token` of provider resource partner is still encrypted" in partner.problem
    assert "ardent:token" not in partner.config and partner.org_id == "org_partner", "what could be read is kept"
    with pytest.raises(CheckError, match="the `token` of provider resource partner is still encrypted"):
        provider_tokens(document, "web/prod")


def test_a_provider_whose_settings_cannot_be_read_leaves_only_its_org_unread_naming_it() -> None:
    far = ManagedKey("prod", "far", "key_far", "far", "current", "web", "org_partner", provider="partner")
    home_key = ManagedKey("prod", "home", "key_home", "home", "current", "web", "org_home")
    problem = "stack web/prod: the `token` of provider resource partner is still encrypted in the exported state"
    view = replace(
        stack_view("web", {"ardent:orgId": "org_home", "ardent:token": RUNNING.reveal()}, (far, home_key)),
        providers={"partner": ProviderConfig("partner", {"ardent:orgId": "org_partner"}, problem)},
    )
    home, source = org_credentials("org_home", [view])
    assert (home.token, source.label) == (RUNNING, "web/prod")
    with pytest.raises(UnreadableOrgError) as raised:
        org_credentials("org_partner", [view])
    assert str(raised.value) == problem, "the default token is not lent to an org whose provider could not be read"
    assert raised.value.source.provider == "partner"
    # Another stack with credentials of the partner org's own reads it.
    ops = stack_view(
        "ops",
        {
            "ardent:orgId": "org_home",
            "ardent:token": RUNNING.reveal(),
            "ardent:orgs": json.dumps({"org_partner": {"token": PARTNER.reveal()}}),
        },
        (),
    )
    settings, source = org_credentials("org_partner", [view, ops])
    assert (settings.token, source.label) == (PARTNER, "ops/prod")


def test_a_resource_left_pending_replacement_is_noted_and_its_active_key_reported() -> None:
    document = explicit_state("t")
    far = document["deployment"]["resources"][2]  # type: ignore[index]
    far["pendingReplacement"] = True
    found = {item.key_id: item.pending_replacement for item in keys_in_deployment(document, "prod", "web")}
    assert found == {"key_far": True, "key_far_old": True, "key_home": False}

    replaced = ManagedKey("prod", "far", "key_far", None, "current", "web", "org_1", pending_replacement=True)
    gone = ManagedKey("prod", "old", "key_old", None, "current", "web", "org_1", pending_replacement=True)
    findings = find_drift([replaced, gone], [key("key_far")], NOW, None, org_id="org_1")
    assert [(f.problem, f.key_id) for f in findings] == [("pending_replacement", "key_far")], "a revoked one is fine"
    assert "pulumi up --stack prod" in findings[0].detail and "destroy" in findings[0].detail


def test_an_org_an_explicit_provider_works_in_is_read_with_its_credentials_not_a_default_token() -> None:
    far = ManagedKey("prod", "far", "key_far", "far", "current", "web", "org_partner", provider="partner")
    view = replace(
        stack_view("web", {"ardent:orgId": "org_home", "ardent:token": RUNNING.reveal()}, (far,)),
        providers={
            "partner": ProviderConfig("partner", {"ardent:token": PARTNER.reveal(), "ardent:orgId": "org_partner"})
        },
    )
    settings, source = org_credentials("org_partner", [view])
    assert (settings.token, settings.own_credentials, source.label) == (
        PARTNER,
        True,
        "web/prod (provider resource partner)",
    )
    home, source = org_credentials("org_home", [view])
    assert (home.token, source.label) == (RUNNING, "web/prod")
    assert [source.uses("org_partner") for source in view.sources()] == [False, True]
    assert stack_tokens([view]) == [("web/prod", RUNNING), ("web/prod (provider resource partner)", PARTNER)]


def test_further_tokens_add_the_keys_they_belong_to_to_a_readings_credentials() -> None:
    listed = [key("key_a", prefix="sk-ard_test_PARTNER"), key("key_b", prefix="sk-ard_test_RUNNING")]
    reading = OrgReading(
        "org_1", Settings(API, "org_1", RUNNING), "web/prod", tuple(listed), {"key_b": ["web/prod"]}, NOW
    )
    (updated,) = with_credentials([reading], [("ops/prod (provider resource eu)", PARTNER), ("web/prod", RUNNING)])
    assert updated.credentials == {"key_b": ["web/prod"], "key_a": ["ops/prod (provider resource eu)"]}
    assert reading.credentials == {"key_b": ["web/prod"]}, "the reading itself is left as it was"


# -- revoke: a running pipeline -------------------------------------------------------------------------


def aged(key_id: str, minutes: float | None, used_minutes_ago: float | None = None, name: str | None = None) -> ApiKey:
    """A key created ``minutes`` before NOW (None: the org does not say), last used that long ago if given."""
    return ApiKey(
        id=key_id,
        name=name or key_id,
        key_prefix="sk-ard_test_xxxxxxxx",
        scopes=(),
        created_at=NOW - timedelta(minutes=minutes) if minutes is not None else None,
        last_used_at=NOW - timedelta(minutes=used_minutes_ago) if used_minutes_ago is not None else None,
    )


def running_key() -> ApiKey:
    return key("key_self", prefix="sk-ard_test_RUNNING")


def test_revoke_refuses_a_key_younger_than_the_minimum_age_saying_so_and_approves_it_once_old_enough() -> None:
    listed = [
        running_key(),
        aged("key_minute", 1, used_minutes_ago=1),
        aged("key_old", 16),
        aged("key_undated", None),
        aged("key_idle", 60 * 24 * 3, used_minutes_ago=60 * 30),
    ]
    org = reading("org_1", listed, [("web/prod", RUNNING)])
    requested = ["key_minute", "key_old", "key_undated", "key_idle"]

    default = {d.key_id: d for d in plan_revocations(requested, [org], [])}
    assert [k for k, d in default.items() if d.revoke] == ["key_old", "key_idle"]
    minute = default["key_minute"].reason
    assert "created 1 min ago, less than --min-age 15 min" in minute and "pulumi up" in minute
    assert "used" not in minute.split(":")[0], "the key's youth is the reason, not its use"
    assert "does not say when it was created" in default["key_undated"].reason
    assert default["key_old"].reason.endswith("created 16 min ago, never used")
    assert default["key_idle"].reason.endswith("created 3 d ago, last used 1 d 6 h ago")
    assert "not used for a day" not in " ".join(d.reason for d in default.values())

    longer = {d.key_id: d for d in plan_revocations(requested, [org], [], min_age=timedelta(minutes=30))}
    assert "less than --min-age 30 min" in longer["key_old"].reason and not longer["key_old"].revoke
    unchecked = {d.key_id: d for d in plan_revocations(requested, [org], [], min_age=timedelta(0))}
    assert not unchecked["key_minute"].revoke and "it was used 1 min ago" in unchecked["key_minute"].reason
    assert unchecked["key_undated"].revoke
    allowed = plan_revocations(["key_minute"], [org], [], min_age=timedelta(0), allow_recently_used=True)
    assert allowed[0].revoke


def pending(
    key_id: str | None, name: str | None, org_id: str = "org_1", kind: str = "creating", stack: str = "prod"
) -> PendingOperation:
    return PendingOperation("batch", stack, "job", kind, key_id, org_id, name)


def test_revoke_refuses_a_key_an_operation_pending_in_a_stack_may_be_about_naming_the_stack() -> None:
    listed = [running_key(), aged("key_deleting", 60), aged("key_made", 60, name="batch-job"), aged("key_other", 60)]
    org = reading("org_1", listed, [("web/prod", RUNNING)])
    requested = ["key_deleting", "key_made", "key_other"]

    def verdicts(*operations: PendingOperation, in_backend: bool = False) -> dict[str, RevokeDecision]:
        backend = BackendKeys((), ("batch/prod",), {}, tuple(operations)) if in_backend else None
        given = () if in_backend else operations
        return {d.key_id: d for d in plan_revocations(requested, [org], [], backend, pending=given)}

    by_id = verdicts(pending("key_deleting", None, kind="deleting"))
    assert [k for k, d in by_id.items() if d.revoke] == ["key_made", "key_other"]
    assert "stack batch/prod has a `deleting` operation pending on it (resource job)" in by_id["key_deleting"].reason

    # A create that never recorded its key: every key of its name is refused, in its org only.
    by_name = verdicts(pending(None, "batch-job"), in_backend=True)
    assert [k for k, d in by_name.items() if d.revoke] == ["key_deleting", "key_other"]
    reason = by_name["key_made"].reason
    assert "stack batch/prod has a `creating` operation pending for resource job, named 'batch-job'" in reason
    assert "--clear-pending-creates" in reason
    assert all(d.revoke for d in verdicts(pending(None, "batch-job", org_id="org_2"), in_backend=True).values())
    # No org in the state (a stack of the backend, its config unread): any org's key of that name.
    assert not verdicts(pending(None, "batch-job", org_id=""), in_backend=True)["key_made"].revoke
    # No name either: it may be any key, so none goes.
    nameless = verdicts(pending(None, None, org_id=""), in_backend=True)
    assert not any(d.revoke for d in nameless.values())
    assert "its state does not record, so it may be any key" in nameless["key_other"].reason


def test_pending_operations_carry_the_name_their_resource_declares() -> None:
    deployment = {
        "deployment": {
            "pending_operations": [
                {
                    "type": "creating",
                    "resource": {
                        "type": "ardent:index:ApiKey",
                        "urn": "urn:pulumi:prod::batch::ardent:index:ApiKey::job",
                        "inputs": {"name": "batch-job", "orgId": "org_9", "role": "Viewer"},
                    },
                }
            ]
        }
    }
    assert pending_in_deployment(deployment, "prod", "batch") == [
        PendingOperation("batch", "prod", "job", "creating", None, "org_9", "batch-job")
    ]


def test_an_approved_key_that_changed_since_the_plan_is_skipped_saying_what_changed() -> None:
    plan_key = aged("key_1", 60)
    planned = RevokeDecision("key_1", True, "ok", plan_key, "org_1")
    assert since_the_plan(planned, replace(planned, reason="still ok")) is None
    used = replace(planned, key=replace(plan_key, last_used_at=NOW))
    assert since_the_plan(planned, used) == (
        "skipped",
        "changed since the plan (used at 2026-11-28T12:00:00Z); run again to see the new plan",
    )
    renamed = since_the_plan(planned, replace(planned, key=replace(plan_key, name="kept", scopes=("a",))))
    assert renamed is not None and "renamed 'key_1' -> 'kept'; scopes now ['a']" in renamed[1]
    managed = replace(planned, revoke=False, reason="it is the key of resource api in stack web/prod")
    assert since_the_plan(planned, managed) == (
        "skipped",
        "changed since the plan, now refused: it is the key of resource api in stack web/prod",
    )
    gone = RevokeDecision("key_1", False, "not an active key of org org_1")
    assert since_the_plan(planned, gone) == (
        "gone",
        "no longer an active key since the plan: not an active key of org org_1",
    )


def test_a_key_whose_sink_lost_its_token_is_reported_and_the_sink_is_read_only_for_active_current_keys() -> None:
    sink = SinkSpec(secret_id="app/token")
    managed = [
        ManagedKey("prod", "fine", "key_fine", "key_fine", "current", "web", sink=sink, sink_version_id="v1"),
        ManagedKey("prod", "over", "key_over", "key_over", "current", "web", sink=sink, sink_version_id="v2"),
        ManagedKey("prod", "gone", "key_gone", "key_gone", "current", "web", sink=sink, sink_version_id="v3"),
        ManagedKey("prod", "revoked", "key_revoked", "key_revoked", "current", "web", sink=sink),
        ManagedKey("prod", "plain", "key_plain", "key_plain", "current", "web"),
    ]
    read: list[str] = []

    def check(item: ManagedKey) -> str | None:
        read.append(item.key_id)
        return {"v2": "sink_mismatch", "v3": "sink_missing"}.get(item.sink_version_id or "")

    listed = [key("key_fine"), key("key_over"), key("key_gone"), key("key_plain")]
    findings = find_drift(managed, listed, NOW, None, org_id="org_1", sink_check=check)
    assert [(f.problem, f.key_id) for f in findings] == [
        ("sink_missing", "key_gone"),
        ("sink_mismatch", "key_over"),
        ("missing", "key_revoked"),
    ]
    assert sorted(read) == ["key_fine", "key_gone", "key_over"]
    assert "overwritten outside Pulumi" in next(f.detail for f in findings if f.problem == "sink_mismatch")


def test_a_recorded_sink_is_read_from_the_state_of_either_resource_type() -> None:
    outputs = {
        "keyId": "key_1",
        "name": "n",
        "sink": {"awsSecretsManager": {"secretId": "app/x"}},
        "sinkVersionId": "v",
    }
    deployment = {
        "resources": [
            {
                "type": "ardent:index:ApiKey",
                "urn": "urn:pulumi:s::p::ardent:index:ApiKey::k",
                "id": "key_1",
                "outputs": outputs,
            }
        ]
    }
    (found,) = keys_in_deployment({"deployment": deployment}, "s")
    assert found.sink == SinkSpec(secret_id="app/x") and found.sink_version_id == "v"
