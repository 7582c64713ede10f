"""The provider instance pickles to nothing, and diff compares only real inputs."""

from __future__ import annotations

import base64

import dill
from pulumi.dynamic.dynamic import serialize_provider

from ardent_provider.provider import ArdentApiKeyProvider

OLD = {
    "name": "n",
    "role": "role_org_admin",
    "scopes": [],
    "expires_in_days": None,
    "token": "sk-ard_test_x",
    "key_id": "key_1",
}


def test_the_serialized_provider_is_a_reference_with_no_state() -> None:
    provider = ArdentApiKeyProvider()
    blob = base64.b64decode(serialize_provider(provider))
    assert len(blob) < 200
    assert b"ardent_provider.provider" in blob and b"ArdentApiKeyProvider" in blob
    assert dill.loads(blob).__dict__ == {}


def test_diff_ignores_outputs_and_the_serialized_provider() -> None:
    provider = ArdentApiKeyProvider()
    news = {
        "name": "n",
        "role": "role_org_admin",
        "scopes": [],
        "expires_in_days": None,
        "__provider": "other",
    }
    result = provider.diff("key_1", OLD, news)
    assert result.changes is False and result.replaces == []


def test_any_input_change_replaces_create_before_delete() -> None:
    provider = ArdentApiKeyProvider()
    news = {"name": "n", "role": "role_org_member", "scopes": [], "expires_in_days": None}
    result = provider.diff("key_1", OLD, news)
    assert result.changes is True and result.replaces == ["role"] and result.delete_before_replace is False
