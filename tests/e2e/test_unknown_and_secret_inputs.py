"""Inputs computed from resources created in the same run (unknown at preview), and secret inputs, with the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ardent_provider.emulator import EmulatorServer

from .conftest import KINDS, Stack, make_stack

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"

# `seed` is created in the same run, so its key_id (and everything derived from it) is unknown at preview.
UNKNOWN_INPUTS_PROGRAM = textwrap.dedent(
    """
    import pulumi

    from ardent_provider import ArdentApiKey

    config = pulumi.Config()
    seed = ArdentApiKey("seed", role="Viewer")
    later = lambda value: seed.key_id.apply(lambda _id: value)

    keys = {
        "by-name": ArdentApiKey("by-name", name=seed.key_id.apply(lambda i: f"{i}-deployer"), role="Member"),
        "by-role": ArdentApiKey("by-role", role=later("Admin")),
        "by-scopes": ArdentApiKey("by-scopes", role="Member", scopes=later(["projects.read"])),
        "by-scope-item": ArdentApiKey("by-scope-item", role="Member", scopes=["projects.read", later("branches.read")]),
        "by-expiry": ArdentApiKey("by-expiry", role="Viewer", expires_in_days=later(60), rotate_before_days=7),
        "by-rotate": ArdentApiKey("by-rotate", role="Viewer", expires_in_days=60, rotate_before_days=later(7)),
        "by-keep": ArdentApiKey("by-keep", role="Viewer", keep_previous_for_days=later(2)),
        "by-triggers": ArdentApiKey("by-triggers", role="Viewer", rotation_triggers=later({"release": "r1"})),
        "by-trigger-value": ArdentApiKey("by-trigger-value", role="Viewer", rotation_triggers={"release": later("r1")}),
        "by-adopt-id": ArdentApiKey(
            "by-adopt-id", name="handmade-a", role="Member",
            adopt_key_id=later(config.require("adopt_a")), on_missing_token="rotate",
        ),
        "by-adopt-token": ArdentApiKey(
            "by-adopt-token", name="handmade-b", role="Member",
            adopt_key_id=config.require("adopt_b"), adopt_token=later(config.require_secret("adopt_b_token")),
        ),
        "by-on-missing": ArdentApiKey(
            "by-on-missing", name="handmade-c", role="Member",
            adopt_key_id=config.require("adopt_c"), on_missing_token=later("keep"),
        ),
        "secret-name": ArdentApiKey("secret-name", name=pulumi.Output.secret("hidden-deployer"), role="Viewer"),
    }
    for resource, key in keys.items():
        pulumi.export(f"{resource}_key_id", key.key_id)
        pulumi.export(f"{resource}_name", key.name)
        pulumi.export(f"{resource}_token", key.token)
    pulumi.export("seed_key_id", seed.key_id)
    """
)

BAD_ONLY_AT_UP_PROGRAM = textwrap.dedent(
    """
    import pulumi

    from ardent_provider import ArdentApiKey

    seed = ArdentApiKey("seed", role="Viewer")
    ArdentApiKey("late-bad", role=seed.key_id.apply(lambda _id: "superuser"))
    """
)


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_unknown_at_preview_preview_as_creates_and_up_uses_the_real_values(
    tmp_path: Path, emulator: EmulatorServer, kind: str
) -> None:
    stack = make_stack(tmp_path, emulator, UNKNOWN_INPUTS_PROGRAM, project="unknowns", kind=kind)
    handmade: dict[str, tuple[str, str]] = {}
    with stack.owner() as owner:
        for label in ("a", "b", "c"):
            created = owner.create_key(emulator.org_id, name=f"handmade-{label}", role="role_org_member")
            handmade[label] = (created.id, created.token.reveal())
            stack.cli.set_config(f"adopt_{label}", created.id)
    stack.cli.set_config("adopt_b_token", handmade["b"][1], secret=True)

    preview = stack.cli.run("preview", "--json", check=False)
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]
    steps = json.loads(preview.stdout)["steps"]
    planned = {step["urn"].rsplit("::", 1)[-1]: step["op"] for step in steps if "ApiKey::" in step["urn"]}
    assert len(planned) == 14 and set(planned.values()) == {"create"}, planned

    stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    keys = stack.active_keys()
    seed_id = outputs["seed_key_id"]
    assert keys[outputs["by-name_key_id"]].name == f"{seed_id}-deployer"
    assert keys[outputs["by-scopes_key_id"]].scopes == ("projects.read",)
    assert set(keys[outputs["by-scope-item_key_id"]].scopes) == {"projects.read", "branches.read"}
    assert keys[outputs["by-expiry_key_id"]].expires_at is not None
    assert stack.resource_outputs("by-role")["role"] == "role_org_admin"
    assert stack.resource_outputs("by-keep")["keep_previous_for_days"] == 2
    assert stack.resource_outputs("by-triggers")["rotation_triggers"] == {"release": "r1"}
    assert stack.resource_outputs("by-trigger-value")["rotation_triggers"] == {"release": "r1"}
    assert stack.resource_outputs("by-rotate")["rotate_before_days"] == 7
    # adopt_key_id known only at up, with rotate: a new key replaces the hand-made one, which is revoked.
    assert outputs["by-adopt-id_key_id"] != handmade["a"][0] and handmade["a"][0] not in keys
    # adopt_token known only at up: the hand-made key is managed with its own token.
    assert outputs["by-adopt-token_key_id"] == handmade["b"][0] and outputs["by-adopt-token_token"] == handmade["b"][1]
    # on_missing_token known only at up: "keep" manages the key without a token.
    assert outputs["by-on-missing_key_id"] == handmade["c"][0] and outputs.get("by-on-missing_token") is None
    for resource in ("by-name", "by-role", "by-expiry", "by-adopt-id", "secret-name"):
        assert stack.token_works(outputs[f"{resource}_token"]), resource

    # A secret input stays secret as an output, in the CLI and in the state.
    assert stack.cli.outputs()["secret-name_name"] == "[secret]"
    assert outputs["secret-name_name"] == "hidden-deployer"
    assert keys[outputs["secret-name_key_id"]].name == "hidden-deployer"
    assert "hidden-deployer" not in stack.state_text()

    assert stack.cli.run("preview", "--expect-no-changes", check=False).returncode == 0
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_value_known_only_at_up_fails_at_up_naming_the_property_and_creates_no_key(
    tmp_path: Path, emulator: EmulatorServer, kind: str
) -> None:
    stack = make_stack(tmp_path, emulator, BAD_ONLY_AT_UP_PROGRAM, project="late-bad", kind=kind)
    preview = stack.cli.run("preview", check=False)
    assert preview.returncode == 0, preview.stdout[-2000:] + preview.stderr[-2000:]
    stack.reset_stats()
    result = stack.cli.run("up", "--yes", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "late-bad" in text
        and f"property {stack.prop('role')}" in text
        and "'superuser' is not an Ardent org role" in text
    )
    assert "Traceback" not in text
    names = {key.name for key in stack.active_keys().values()}
    assert names == {"seed"}, names
    assert stack.stats().get(CREATE, 0) == 1
    destroy_and_check(stack)


def destroy_and_check(stack: Stack) -> None:
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}
