"""The exception table and the wire models: complete, tolerant, and never showing a token."""

from __future__ import annotations

import pickle

import pytest

from ardent_provider import errors
from ardent_provider.models import ApiKey, CreatedKey, SecretToken, canonical_role

from ..contract import EMULATED_OPERATIONS, GENERAL_STATUSES, load_spec

TOKEN = "sk-ard_test_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAB"


def contract_error_statuses() -> set[int]:
    """Every error status the contract documents: the vendor's file for the operations used, and the general ones."""
    spec = load_spec()
    listed = {
        int(code)
        for method, path in EMULATED_OPERATIONS
        for code in spec["paths"][path][method.lower()]["responses"]
        if code.isdigit() and int(code) >= 400
    }
    return listed | set(GENERAL_STATUSES)


def test_every_error_status_the_contract_documents_has_a_class_of_its_own() -> None:
    statuses = contract_error_statuses()
    assert {400, 401, 403, 404, 422, 429, 500, 502, 503} <= statuses, "the contract as the project holds it"
    for status in sorted(statuses):
        found = errors.error_class_for(status)
        assert found is not errors.ArdentAPIError, f"HTTP {status} falls back to the generic class"
        assert issubclass(found, errors.ArdentAPIError) and issubclass(found, errors.ArdentError)


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (429, errors.RateLimitedError),
        (503, errors.ServerError),
    ],
)
def test_the_statuses_callers_act_on_map_to_the_class_they_catch(
    status: int, meaning: type[errors.ArdentAPIError]
) -> None:
    # Refusal advice catches 401/403/404, delete treats 404 as done, retries key on 429 and 5xx.
    assert errors.error_class_for(status) is meaning


def test_unlisted_statuses_fall_back_sensibly() -> None:
    assert errors.error_class_for(599) is errors.ServerError
    assert errors.error_class_for(418) is errors.ArdentAPIError


def test_messages_carry_status_detail_key_and_a_hint() -> None:
    error = errors.NotFoundError(
        404, "not found or already revoked", method="DELETE", path="/v1/orgs/o/api-keys/k", key_id="key_1"
    )
    text = str(error)
    assert "404" in text and "already revoked" in text and "key_1" in text and "check" in text


def test_detail_reading_handles_both_shapes() -> None:
    assert errors.describe_detail({"detail": "nope"}, "x") == "nope"
    listed = {"detail": [{"loc": ["body", "name"], "msg": "too long", "type": "string_too_long"}]}
    assert errors.describe_detail(listed, "x") == "name: too long"
    assert errors.describe_detail("garbage", "fallback") == "fallback"


def test_secret_token_shows_only_its_prefix_and_refuses_pickling() -> None:
    token = SecretToken(TOKEN)
    for shown in (repr(token), str(token), f"{token}", repr([token])):
        assert TOKEN not in shown and "sk-ard_test_" in shown
    assert token.reveal() == TOKEN
    with pytest.raises(TypeError):
        pickle.dumps(token)


def test_created_key_repr_hides_the_token() -> None:
    created = CreatedKey.from_wire(
        {
            "api_key_id": "key_1",
            "api_key": TOKEN,
            "name": "n",
            "key_prefix": TOKEN[:20],
            "scopes": [],
            "created_at": "2026-01-01T00:00:00.000000Z",
            "role_id": "rol_1",
            "role_key": "role_org_admin",
            "warning": "w",
            "something_new": 1,
        }
    )
    assert TOKEN not in repr(created) and created.token.reveal() == TOKEN


def test_list_items_tolerate_extra_and_missing_optional_fields() -> None:
    key = ApiKey.from_wire(
        {
            "id": "key_1",
            "name": "n",
            "key_prefix": "p",
            "scopes": [],
            "created_at": "2026-01-01T00:00:00Z",
            "extra": {"x": 1},
        }
    )
    assert key.expires_at is None and key.last_used_at is None and key.revoked_at is None


@pytest.mark.parametrize("spelling", ["Admin", "admin", "ADMIN", "role_org_admin", " admin "])
def test_role_spellings_have_one_canonical_form(spelling: str) -> None:
    role = canonical_role(spelling)
    assert role is not None and role.key == "role_org_admin"


def test_unknown_roles_have_no_canonical_form() -> None:
    assert canonical_role("superuser") is None
