"""The provider instance pickles to nothing: a reference to its class, found by module path."""

from __future__ import annotations

import base64

import dill
from pulumi.dynamic.dynamic import serialize_provider

from ardent_provider.provider import ArdentApiKeyProvider


def test_the_serialized_provider_is_a_reference_with_no_state() -> None:
    provider = ArdentApiKeyProvider()
    blob = base64.b64decode(serialize_provider(provider))
    assert len(blob) < 200
    assert b"ardent_provider.provider" in blob and b"ArdentApiKeyProvider" in blob
    assert dill.loads(blob).__dict__ == {}
