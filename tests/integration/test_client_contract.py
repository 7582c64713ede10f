"""The client against the emulator, run twice (in-process and over a socket), answers checked against the
vendor's OpenAPI file: a status the file does not list for the operation fails the test unless the contract README
documents it for every endpoint. Covers every emulated endpoint, its exact success status, and every status the
contract documents."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta

import httpx
import jsonschema
import pytest

from ardent_provider import (
    ArdentAPIError,
    ArdentClient,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from ardent_provider.errors import ArdentConnectionError

from ..conftest import FAST_RETRY, Api
from ..contract import ContractViolationError, OpenAPIValidator

CREATED_BODY = json.dumps(
    {
        "api_key_id": "key_1",
        "api_key": "sk-ard_test_" + "a" * 40,
        "name": "k",
        "key_prefix": "sk-ard_test_aaaaaaaa",
        "scopes": [],
        "created_at": "2030-01-01T00:00:00.000000Z",
        "expires_at": None,
        "role_id": "rol_1",
        "role_key": "role_org_viewer",
        "warning": "shown once",
    }
).encode()
ERROR_BODY = b'{"detail": "refused"}'
KEYS_ROUTE = "GET /v1/orgs/{org_id}/api-keys"
CREATE_ROUTE = "POST /v1/orgs/{org_id}/api-keys"
LIST = ("GET", "/v1/orgs/{org_id}/api-keys")
CREATE = ("POST", "/v1/orgs/{org_id}/api-keys")
REVOKE = ("DELETE", "/v1/orgs/{org_id}/api-keys/{api_key_id}")
ROLES = ("GET", "/v1/orgs/{org_id}/roles")
ORG = ("GET", "/v1/orgs/{org_id}")


def test_create_returns_the_token_once_and_list_never_shows_it(api: Api) -> None:
    created = api.client.create_key(api.org_id, name="ci-deployer", role="role_org_member")
    token = created.token.reveal()
    assert token.startswith("sk-ard_test_") and len(token) >= len("sk-ard_test_") + 32
    assert created.key_prefix == token[:20]
    assert created.role_key == "role_org_member"
    assert created.role_id and created.role_id != created.role_key
    assert created.expires_at is None

    listed = api.client.list_keys(api.org_id)
    assert listed[0].id == created.id, "newest first"
    item = next(key for key in listed if key.id == created.id)
    assert item.name == "ci-deployer" and item.key_prefix == created.key_prefix
    assert token not in repr(listed)


def test_list_is_newest_first_and_names_need_not_be_unique(api: Api) -> None:
    first = api.client.create_key(api.org_id, name="twin", role="role_org_viewer")
    second = api.client.create_key(api.org_id, name="twin", role="role_org_viewer")
    ids = [key.id for key in api.client.list_keys(api.org_id)]
    assert ids.index(second.id) < ids.index(first.id)


def test_role_may_be_named_by_opaque_id_or_by_key(api: Api) -> None:
    roles = api.client.list_roles(api.org_id)
    assert [role.key for role in roles] == [
        "role_org_viewer",
        "role_org_member",
        "role_org_admin",
        "role_org_owner",
    ]
    for lower, higher in itertools.pairwise(roles):
        assert set(lower.permissions) < set(higher.permissions)
    admin = next(role for role in roles if role.key == "role_org_admin")
    created = api.client.create_key(api.org_id, name="by-id", role=admin.id)
    assert created.role_key == "role_org_admin" and created.role_id == admin.id


def test_scopes_restrict_the_key_to_a_subset_of_its_role(api: Api) -> None:
    created = api.client.create_key(
        api.org_id, name="reader", role="role_org_admin", scopes=["api_keys.read", "org.read"]
    )
    assert set(created.scopes) == {"api_keys.read", "org.read"}
    reader = api.client_for(created.token.reveal())
    assert reader.list_keys(api.org_id)
    with pytest.raises(PermissionDeniedError):
        reader.create_key(api.org_id, name="nope", role="role_org_viewer")


def test_get_org_returns_the_org(api: Api) -> None:
    org = api.client.get_org(api.org_id)
    assert org.id == api.org_id and org.name


def test_revoke_is_immediate_and_a_second_revoke_is_not_found(api: Api) -> None:
    created = api.client.create_key(api.org_id, name="short-lived", role="role_org_admin")
    holder = api.client_for(created.token.reveal())
    assert holder.list_keys(api.org_id)
    api.client.revoke_key(api.org_id, created.id)
    with pytest.raises(AuthenticationError):
        holder.list_keys(api.org_id)
    assert created.id not in {key.id for key in api.client.list_keys(api.org_id)}
    with pytest.raises(NotFoundError) as raised:
        api.client.revoke_key(api.org_id, created.id)
    assert raised.value.status == 404 and raised.value.key_id == created.id
    assert created.id in str(raised.value)
    assert api.transport.statuses(*REVOKE) == [204, 404]


def test_unknown_role_and_scope_outside_the_role_are_400(api: Api) -> None:
    with pytest.raises(BadRequestError, match="role_org_superuser"):
        api.client.create_key(api.org_id, name="x", role="role_org_superuser")
    with pytest.raises(BadRequestError, match="role_project_admin"):
        api.client.create_key(api.org_id, name="x", role="role_project_admin")
    with pytest.raises(BadRequestError, match=r"api_keys\.write"):
        api.client.create_key(api.org_id, name="x", role="role_org_member", scopes=["api_keys.write"])


@pytest.mark.parametrize(
    ("name", "expires_days", "field"),
    [
        ("", None, "name"),
        ("n" * 101, None, "name"),
        ("\ud800broken", None, "name"),
        ("ok", 0, "expires_days"),
        ("ok", 3651, "expires_days"),
        ("ok", 10**23, "expires_days"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(api: Api, name: str, expires_days: int | None, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        api.client.create_key(api.org_id, name=name, role="role_org_member", expires_days=expires_days)
    assert raised.value.status == 422 and field in str(raised.value)


@pytest.mark.parametrize("role", ["role_org_viewer", "role_org_member"])
def test_viewer_and_member_keys_cannot_manage_keys(api: Api, role: str) -> None:
    weak = api.client_for(api.client.create_key(api.org_id, name="weak", role=role).token.reveal())
    target = api.client.create_key(api.org_id, name="target", role="role_org_viewer")
    for attempt in (
        lambda: weak.list_keys(api.org_id),
        lambda: weak.create_key(api.org_id, name="x", role="role_org_viewer"),
        lambda: weak.revoke_key(api.org_id, target.id),
    ):
        with pytest.raises(PermissionDeniedError) as raised:
            attempt()
        assert raised.value.status == 403 and "ardent:orgId" in str(raised.value)
    assert weak.get_org(api.org_id).id == api.org_id


def test_a_key_cannot_mint_a_higher_role(api: Api) -> None:
    admin = api.client_for(api.client.create_key(api.org_id, name="admin", role="role_org_admin").token.reveal())
    assert admin.create_key(api.org_id, name="peer", role="role_org_admin").role_key == "role_org_admin"
    with pytest.raises(PermissionDeniedError, match="role_org_owner"):
        admin.create_key(api.org_id, name="boss", role="role_org_owner")


def test_another_orgs_path_is_403(api: Api) -> None:
    for call in (
        lambda: api.client.list_keys("org_someone_else"),
        lambda: api.client.get_org("org_someone_else"),
        lambda: api.client.list_roles("org_someone_else"),
        lambda: api.client.create_key("org_someone_else", name="x", role="role_org_viewer"),
    ):
        with pytest.raises(PermissionDeniedError):
            call()


def test_missing_unknown_and_expired_tokens_are_401(api: Api) -> None:
    with httpx.Client(base_url=api.emulator.url, transport=api.transport) as raw:
        missing = raw.get(f"/v1/orgs/{api.org_id}/api-keys")
        assert missing.status_code == 401 and missing.json()["detail"]
        malformed = raw.get(f"/v1/orgs/{api.org_id}/api-keys", headers={"Authorization": "Basic abc"})
        assert malformed.status_code == 401
    with pytest.raises(AuthenticationError) as raised:
        api.client_for("sk-ard_test_" + "x" * 40).list_keys(api.org_id)
    assert "x" * 40 not in str(raised.value) and "ardent:token" in str(raised.value)

    expiring = api.client.create_key(api.org_id, name="expiring", role="role_org_admin", expires_days=1)
    assert expiring.expires_at is not None and expiring.created_at is not None
    assert expiring.expires_at - expiring.created_at == timedelta(days=1)
    holder = api.client_for(expiring.token.reveal())
    assert holder.list_keys(api.org_id)
    assert api.control("POST", "/_emulator/clock", {"advance_seconds": 2 * 86400}).status_code == 200
    with pytest.raises(AuthenticationError, match="expired"):
        holder.list_keys(api.org_id)
    still_listed = {key.id: key for key in api.client.list_keys(api.org_id)}[expiring.id]
    assert still_listed.is_expired(api.client.server_now())


def test_last_used_at_follows_use(api: Api) -> None:
    created = api.client.create_key(api.org_id, name="used", role="role_org_admin")
    assert {k.id: k for k in api.client.list_keys(api.org_id)}[created.id].last_used_at is None
    api.client_for(created.token.reveal()).get_org(api.org_id)
    assert {k.id: k for k in api.client.list_keys(api.org_id)}[created.id].last_used_at is not None


def test_date_header_and_server_now_follow_the_emulators_clock(api: Api) -> None:
    api.client.get_org(api.org_id)
    before = api.client.server_now()
    api.control("POST", "/_emulator/clock", {"advance_seconds": 30 * 86400})
    api.client.get_org(api.org_id)
    assert api.client.server_now() - before >= timedelta(days=29, hours=23)


def test_retryable_statuses_are_retried_honouring_retry_after(api: Api) -> None:
    rule = {"route": KEYS_ROUTE, "mode": "status", "status": 503, "retry_after": 0.2, "count": 2}
    assert api.control("POST", "/_emulator/faults", rule).status_code == 201
    started = time.monotonic()
    assert api.client.list_keys(api.org_id)
    assert time.monotonic() - started >= 0.4
    assert api.control("GET", "/_emulator/stats").json()["requests"][KEYS_ROUTE] == 3


@pytest.mark.parametrize(("status", "error"), [(429, RateLimitedError), (502, ServerError), (504, ServerError)])
def test_persistent_failures_give_up_with_the_mapped_error(api: Api, status: int, error: type[ArdentAPIError]) -> None:
    api.control("POST", "/_emulator/faults", {"route": KEYS_ROUTE, "mode": "status", "status": status})
    client = api.client
    if status not in api.transport.validator.accepted_statuses(*LIST):
        # A gateway's 504 is outside the contract (the validator refuses it), yet the client must cope with it:
        # that one is sent past the validating transport.
        client = ArdentClient(api.emulator.token, api_url=api.emulator.url, transport=api.inner, retry=FAST_RETRY)
    with pytest.raises(error) as raised:
        client.list_keys(api.org_id)
    assert raised.value.status == status and "gave up after 4 attempts" in str(raised.value)


def test_create_is_not_retried_after_an_ambiguous_failure(api: Api) -> None:
    api.control("POST", "/_emulator/faults", {"route": CREATE_ROUTE, "mode": "drop_after_commit", "count": 1})
    with pytest.raises(ArdentConnectionError) as raised:
        api.client.create_key(api.org_id, name="ambiguous", role="role_org_viewer")
    assert raised.value.sent
    assert [key.name for key in api.client.list_keys(api.org_id)].count("ambiguous") == 1
    assert api.control("GET", "/_emulator/stats").json()["requests"][CREATE_ROUTE] == 1


def test_create_is_retried_when_refused_with_429(api: Api) -> None:
    api.control("POST", "/_emulator/faults", {"route": CREATE_ROUTE, "mode": "status", "status": 429, "count": 2})
    api.client.create_key(api.org_id, name="patient", role="role_org_viewer")
    assert [key.name for key in api.client.list_keys(api.org_id)].count("patient") == 1


def test_a_500_on_create_is_a_server_error_without_retry(api: Api) -> None:
    api.control("POST", "/_emulator/faults", {"route": CREATE_ROUTE, "mode": "status", "status": 500, "count": 1})
    with pytest.raises(ServerError):
        api.client.create_key(api.org_id, name="x", role="role_org_viewer")
    assert api.control("GET", "/_emulator/stats").json()["requests"][CREATE_ROUTE] == 1


def test_each_operation_succeeds_with_exactly_its_documented_status(api: Api) -> None:
    api.client.list_keys(api.org_id)
    api.client.list_roles(api.org_id)
    api.client.get_org(api.org_id)
    key = api.client.create_key(api.org_id, name="k", role="role_org_viewer")
    api.client.revoke_key(api.org_id, key.id)
    seen = {operation: api.transport.statuses(*operation) for operation in (CREATE, LIST, ROLES, ORG, REVOKE)}
    assert seen == {CREATE: [201], LIST: [200], ROLES: [200], ORG: [200], REVOKE: [204]}
    assert api.transport.checked == 5


@pytest.mark.parametrize(
    ("operation", "refused", "accepted", "body"),
    [
        pytest.param(CREATE, 200, 201, CREATED_BODY, id="create: 200 instead of 201"),
        pytest.param(REVOKE, 200, 204, b"", id="revoke: 200 instead of 204"),
        pytest.param(LIST, 201, 200, b"[]", id="list: 201 instead of 200"),
        pytest.param(LIST, 404, 403, ERROR_BODY, id="list: 404, listed only for revoke"),
        pytest.param(REVOKE, 400, 404, ERROR_BODY, id="revoke: 400, listed only for create"),
        pytest.param(ORG, 409, 401, ERROR_BODY, id="org: 409, listed for no emulated operation"),
        pytest.param(ROLES, 504, 503, ERROR_BODY, id="roles: 504, documented nowhere"),
    ],
)
def test_the_validator_refuses_a_status_the_vendor_file_does_not_list(
    validator: OpenAPIValidator, operation: tuple[str, str], refused: int, accepted: int, body: bytes
) -> None:
    validator.check_answer(*operation, accepted, body)
    with pytest.raises(ContractViolationError, match=f"answered {refused}"):
        validator.check_answer(*operation, refused, body)


@pytest.mark.parametrize("status", [401, 403, 429, 500, 502, 503])
@pytest.mark.parametrize("operation", [CREATE, LIST, REVOKE, ROLES, ORG])
def test_the_validator_accepts_the_readmes_general_errors_on_every_operation(
    validator: OpenAPIValidator, operation: tuple[str, str], status: int
) -> None:
    validator.check_answer(*operation, status, ERROR_BODY)
    with pytest.raises(jsonschema.ValidationError):
        validator.check_answer(*operation, status, b'{"error": "not the documented shape"}')
