"""The exception table and the wire models: complete, tolerant, and never showing a token."""

from __future__ import annotations

import pickle

import pytest

from ardent_provider import errors
from ardent_provider.models import ApiKey, CreatedKey, SecretToken, canonical_role

TOKEN = "sk-ard_test_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAB"
# Every status the vendor's docs list, with the class each must map to.
DOCUMENTED_STATUSES = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.ValidationError,
    429: errors.RateLimitedError,
    500: errors.ServerError,
    502: errors.ServerError,
    503: errors.ServerError,
}


@pytest.mark.parametrize(("status", "expected"), sorted(DOCUMENTED_STATUSES.items()))
def test_every_documented_status_maps_to_its_class(status: int, expected: type[errors.ArdentAPIError]) -> None:
    assert errors.error_class_for(status) is expected
    assert issubclass(expected, errors.ArdentAPIError) and issubclass(expected, errors.ArdentError)


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
