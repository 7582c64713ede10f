"""ArdentApiKey as a program declares it, under Pulumi's own mocks: the inputs it registers, no engine."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from ardent_provider import ArdentApiKey, ArdentApiKeyArgs


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.registered[args.name] = dict(args.inputs)
        return f"{args.name}-id", {**args.inputs, "key_id": f"{args.name}-id", "token": "sk-ard_test_mock"}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture
def mocks() -> RecordingMocks:
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(recording, preview=False)
    return recording


@pulumi.runtime.test
def test_a_key_registers_its_inputs_with_the_name_defaulting_to_the_resource_name(mocks: RecordingMocks) -> Any:
    key = ArdentApiKey("ci", role="Member", scopes=["projects.read"], expires_in_days=30)

    def check(_: Any) -> None:
        inputs = mocks.registered["ci"]
        assert inputs["name"] == "ci" and inputs["role"] == "Member" and inputs["resource_name"] == "ci"
        assert inputs["scopes"] == ["projects.read"] and inputs["expires_in_days"] == 30
        assert inputs.get("parent_resource") is None and "__provider" in inputs

    return key.urn.apply(check)


@pulumi.runtime.test
def test_args_object_and_a_parent_component_are_recorded(mocks: RecordingMocks) -> Any:
    team = pulumi.ComponentResource("acme:index:Team", "platform")
    key = ArdentApiKey("ops", ArdentApiKeyArgs(role="Admin", name="Ops"), opts=pulumi.ResourceOptions(parent=team))

    def check(_: Any) -> None:
        inputs = mocks.registered["ops"]
        assert inputs["name"] == "Ops" and inputs["role"] == "Admin"
        assert inputs["parent_resource"] == "acme:index:Team::platform"

    return key.urn.apply(check)


@pulumi.runtime.test
def test_an_adopt_token_given_as_plain_text_is_sent_as_a_secret(mocks: RecordingMocks) -> Any:
    key = ArdentApiKey("adopted", role="Member", adopt_key_id="key_1", adopt_token="sk-ard_test_plain")

    def check(_: Any) -> None:
        sent = mocks.registered["adopted"]["adopt_token"]
        assert sent == {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": sent["value"]}
        assert sent["value"] == "sk-ard_test_plain"

    return key.urn.apply(check)


def test_role_is_required_and_args_exclude_keywords() -> None:
    with pytest.raises(TypeError, match="needs a role"):
        ArdentApiKey("nameless")
    with pytest.raises(TypeError, match="not both"):
        ArdentApiKey("both", ArdentApiKeyArgs(role="Admin"), name="x")


def test_help_documents_every_input_and_output_from_the_one_place_that_knows_them() -> None:
    import pydoc

    from ardent_provider import ArdentApiKey, ArdentApiKeyArgs
    from ardent_provider.state import INPUT_DOCS, INPUT_NAMES, OUTPUT_DOCS, OUTPUT_NAMES

    assert set(INPUT_DOCS) == set(INPUT_NAMES) and set(OUTPUT_DOCS) == set(OUTPUT_NAMES)
    shown = pydoc.render_doc(ArdentApiKey, renderer=pydoc.plaintext)
    inputs, outputs = shown.split("Outputs:")
    for name in INPUT_NAMES:
        assert f"{name}: {INPUT_DOCS[name][:30]}" in inputs, name
    for name in OUTPUT_NAMES:
        assert f"{name}: {OUTPUT_DOCS[name][:30]}" in outputs, name
    args_doc = pydoc.render_doc(ArdentApiKeyArgs, renderer=pydoc.plaintext)
    assert all(f"{name}: " in args_doc for name in INPUT_NAMES)
