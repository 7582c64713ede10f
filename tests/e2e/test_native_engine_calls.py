"""What the engine sends the native plugin, and what it makes of the answers: each correction of issue 25 through
the real Pulumi CLI (the in-process tests call the plugin the way these show the engine does).

- an update's preview plans every output the update keeps (``orgId`` above all);
- an adoption that rotates without a role fails at check, naming ``role``, before any request;
- ``ApiKey.get`` reads a key without adopting it; ``pulumi import`` adopts it, with its warning (both reads come
  with an empty state; only those of a program run carry the engine's resource status address);
- every warning is shown under its resource;
- the bootstrap pattern: a provider whose token is another key's output, so unknown at preview.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import NATIVE_KEY_TYPE

from .conftest import Stack, destroy_and_check, make_stack
from .test_native_programs import hand_made_key

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"


def json_preview(stack: Stack, *args: str) -> dict[str, Any]:
    """``pulumi preview --json``: every step the engine plans, with the outputs the provider planned."""
    result = stack.cli.run("preview", "--json", *args)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ops(preview: dict[str, Any]) -> dict[str, list[str]]:
    """The operations planned for each resource, by resource name."""
    planned: dict[str, list[str]] = {}
    for step in preview.get("steps", []):
        planned.setdefault(step["urn"].rsplit("::", 1)[-1], []).append(step["op"])
    return planned


def diagnostics(output: str) -> list[dict[str, str]]:
    """The warnings and errors a command run with ``--json`` printed, each with the URN it is shown under.

    Such output is a sequence of JSON documents: the plan (its ``diagnostics``), then one per engine event.
    """
    decoder = json.JSONDecoder()
    found: list[dict[str, str]] = []
    position = 0
    while position < len(output):
        if output[position].isspace():
            position += 1
            continue
        document, position = decoder.raw_decode(output, position)
        events = [document.get("diagnosticEvent"), *(document.get("diagnostics") or [])]
        found.extend({"urn": event.get("urn", ""), "message": event.get("message", "")} for event in events if event)
    return found


def api_requests(stack: Stack) -> dict[str, int]:
    """The requests the emulator served on Ardent's API since the last reset (its own control routes left out)."""
    return {route: count for route, count in stack.stats().items() if " /v1/" in route}


UPDATED_PROGRAM = textwrap.dedent(
    """
    import json

    import pulumi
    import pulumi_ardent as ardent

    keep = pulumi.Config().get_int("keep") or 1
    key = ardent.ApiKey("web", name="web-deployer", role="Member", keep_previous_for_days=keep)
    pulumi.export("org_id", key.org_id)
    if pulumi.runtime.is_dry_run():
        # What the program sees of the outputs the provider plans, as a resource built on them would.
        planned = pulumi.Output.all(key.org_id, key.name, key.role, key.keep_previous_for_days)
        planned.apply(lambda values: pulumi.log.info("planned: " + json.dumps(values)))
    """
)


def test_an_update_preview_plans_the_org_id_the_update_keeps(tmp_path: Path, emulator: EmulatorServer) -> None:
    stack = make_stack(tmp_path, emulator, UPDATED_PROGRAM, project="ardent-update-preview")
    stack.cli.run("up", "--yes")
    stack.cli.set_config("keep", "3")
    preview = json_preview(stack)
    assert ops(preview)["web"] == ["update"]
    (planned,) = [d["message"] for d in preview["diagnostics"] if d.get("message", "").startswith("planned: ")]
    # The key keeps its org, name and role; only the setting changes. Before, orgId was planned as deleted.
    assert json.loads(planned.removeprefix("planned: ")) == [emulator.org_id, "web-deployer", "role_org_member", 3]
    stack.cli.run("up", "--yes")
    assert stack.cli.outputs()["org_id"] == emulator.org_id
    destroy_and_check(stack)


ROLELESS_ROTATION = textwrap.dedent(
    """
    import pulumi
    from ardent_provider import ArdentApiKey

    ArdentApiKey("adopted", name="hand-made", scopes=["projects.read"], expires_in_days=60,
                 adopt_key_id=pulumi.Config().require("existing"), on_missing_token="rotate")
    """
)


def test_an_adoption_that_rotates_without_a_role_fails_at_check_naming_role_before_any_request(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    # ArdentApiKey demands a role in the program; ardent.ApiKey lets an adopted key go without one.
    stack = make_stack(tmp_path, emulator, ROLELESS_ROTATION, project="ardent-roleless", kind="native")
    existing = hand_made_key(emulator)
    stack.cli.set_config("existing", existing)
    stack.reset_stats()
    for command in (("preview",), ("up", "--yes")):
        result = stack.cli.run(*command, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        # The engine names the property the check failed on.
        assert "property role value {<nil>} has a problem: role is required with on_missing_token 'rotate'" in output
    assert api_requests(stack) == {}, "refused before any request to Ardent"
    assert set(stack.active_keys()) == {existing}


GET_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    found = ardent.ApiKey.get("existing", pulumi.Config().require("existing"))
    pulumi.export("name", found.name)
    pulumi.export("scopes", found.scopes)
    pulumi.export("key_prefix", found.key_prefix)
    pulumi.export("adopt_key_id", found.adopt_key_id)
    pulumi.export("on_missing_token", found.on_missing_token)
    pulumi.export("token", found.token)
    """
)


def test_get_reads_a_key_without_adopting_it_and_import_adopts_it_with_its_warning_under_the_resource(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, GET_PROGRAM, project="ardent-get")
    existing = hand_made_key(emulator)
    stack.cli.set_config("existing", existing)
    read = stack.cli.run("up", "--yes", "--json")
    outputs = stack.cli.outputs()
    assert outputs["name"] == "hand-made" and outputs["scopes"] == ["projects.read"]
    assert outputs["key_prefix"] and "token" not in outputs
    assert "adopt_key_id" not in outputs and "on_missing_token" not in outputs, "a read adopts nothing"
    assert not [event for event in diagnostics(read.stdout) if "imported" in event["message"]], "no import warning"
    (recorded,) = [r for r in stack.cli.export()["deployment"]["resources"] if r["type"] == NATIVE_KEY_TYPE]
    assert recorded.get("external") is True and recorded["id"] == existing
    assert "adoptKeyId" not in recorded["outputs"] and "onMissingToken" not in recorded["outputs"]
    stack.cli.run("destroy", "--yes")
    assert existing in stack.active_keys(), "destroying a stack that only read a key leaves the key"

    imported = stack.cli.run(
        "import", NATIVE_KEY_TYPE, "handMade", existing, "--yes", "--protect=false", "--generate-code=false", "--json"
    )
    warned = [event for event in diagnostics(imported.stdout) if "imported without its token" in event["message"]]
    assert warned and all(event["urn"].endswith(f"{NATIVE_KEY_TYPE}::handMade") for event in warned), warned
    adopted = stack.resource_outputs("handMade")
    assert adopted["adopt_key_id"] == existing and adopted["on_missing_token"] == "keep"


IMPORT_OPTION_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    existing = pulumi.Config().require("existing")
    ardent.ApiKey("adopted", name="hand-made", role="Member", scopes=["projects.read"], expires_in_days=60,
                  adopt_key_id=existing, on_missing_token="keep", opts=pulumi.ResourceOptions(import_=existing))
    """
)


def test_the_import_option_reads_like_get_and_the_same_up_records_the_adoption(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path, emulator, IMPORT_OPTION_PROGRAM, project="ardent-import-option")
    existing = hand_made_key(emulator)
    stack.cli.set_config("existing", existing)
    stack.reset_stats()
    stack.cli.run("up", "--yes")
    recorded = stack.resource_outputs("adopted")
    assert recorded["key_id"] == existing and recorded["adopt_key_id"] == existing
    assert recorded["on_missing_token"] == "keep" and recorded["role"] == "role_org_member"
    assert stack.stats().get(CREATE, 0) == 0 and set(stack.active_keys()) == {existing}
    stack.cli.run("preview", "--expect-no-changes")
    destroy_and_check(stack)


def test_a_key_revoked_outside_pulumi_is_reported_under_its_resource(tmp_path: Path, emulator: EmulatorServer) -> None:
    stack = make_stack(tmp_path, emulator, UPDATED_PROGRAM, project="ardent-warned")
    stack.cli.run("up", "--yes")
    key_id = stack.resource_outputs("web")["key_id"]
    with stack.owner() as owner:
        owner.revoke_key(emulator.org_id, key_id)
    refreshed = stack.cli.run("refresh", "--yes", "--json")
    warned = [event for event in diagnostics(refreshed.stdout) if key_id in event["message"]]
    assert warned and all(event["urn"].endswith(f"{NATIVE_KEY_TYPE}::web") for event in warned), warned
    destroy_and_check(stack)


BOOTSTRAP_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_ardent as ardent

    settings = pulumi.Config("ardent")
    config = pulumi.Config()
    # The bootstrap pattern: an admin key made with the stack's token, whose token configures the provider of the
    # other keys. A new round replaces the admin key, so the provider's token is unknown at that preview.
    admin = ardent.ApiKey("admin", name="bootstrap-admin", role="Admin", expires_in_days=30,
                          rotation_triggers={"round": config.get("round") or "1"})
    team = ardent.Provider("team", token=admin.token, org_id=settings.require("orgId"),
                           api_url=settings.require("apiUrl"))
    svc = ardent.ApiKey("svc", name="svc", role="Member", expires_in_days=30,
                        opts=pulumi.ResourceOptions(provider=team))
    pulumi.export("svc_key_id", svc.key_id)
    pulumi.export("svc_token", svc.token)
    pulumi.export("admin_key_id", admin.key_id)
    """
)


@pytest.mark.parametrize("ardent_token_variable", [False, True], ids=["no-ARDENT_TOKEN", "ARDENT_TOKEN-set"])
def test_a_provider_configured_by_another_keys_token_previews_and_rotates_without_touching_its_keys(
    tmp_path: Path, emulator: EmulatorServer, ardent_token_variable: bool
) -> None:
    stack = make_stack(tmp_path, emulator, BOOTSTRAP_PROGRAM, project="ardent-bootstrap")
    if ardent_token_variable:
        # A token that works nowhere: whatever would fall back to it fails loudly.
        stack.cli.extra_env = {"ARDENT_TOKEN": "sk-ard_" + "0" * 40}
    first = ops(json_preview(stack))
    assert first["admin"] == ["create"] and first["team"] == ["create"] and first["svc"] == ["create"]
    stack.cli.run("up", "--yes")
    before = stack.cli.outputs(show_secrets=True)
    assert stack.token_works(before["svc_token"])

    stack.cli.set_config("round", "2")
    # The engine configures no provider whose settings are unknown: it plans the keys under it as updates, with
    # its own warning, and calls the plugin for them only at `up`, once the new token is known.
    rotation = ops(json_preview(stack, "--diff"))
    assert "replace" in rotation["admin"] and rotation["team"] == ["update"], rotation
    assert not {"create", "replace", "create-replacement", "delete"} & set(rotation.get("svc", [])), rotation
    stack.reset_stats()
    stack.cli.run("up", "--yes")
    after = stack.cli.outputs(show_secrets=True)
    assert after["svc_key_id"] == before["svc_key_id"] and after["svc_token"] == before["svc_token"]
    assert after["admin_key_id"] != before["admin_key_id"]
    assert stack.stats().get(CREATE, 0) == 1, "only the new admin key"
    active = stack.active_keys()
    assert before["svc_key_id"] in active and after["admin_key_id"] in active
    assert before["admin_key_id"] not in active, "the replaced admin key is revoked"
    # The provider now holds the new admin key's token: a refresh and the no-change gate run through it.
    stack.cli.run("preview", "--refresh", "--expect-no-changes")
    destroy_and_check(stack)
    assert stack.active_keys() == {}


def test_a_failed_drift_gate_says_a_preview_saves_nothing_and_up_refresh_replaces_the_key(stack: Stack) -> None:
    stack.write_keys([{"resource": "svc", "role": "Member"}])
    stack.up()
    key_id = stack.cli.outputs()["svc_key_id"]
    with stack.owner() as owner:
        owner.revoke_key(stack.emulator.org_id, key_id)
    gate = stack.cli.run("preview", "--refresh", "--expect-no-changes", check=False)
    said = " ".join((gate.stdout + gate.stderr).split())
    assert gate.returncode != 0
    assert f"Ardent key {key_id} ('svc') is no longer active" in said
    assert "a preview (`pulumi preview --refresh`) saves nothing" in said and "`pulumi up --refresh`" in said
    # As the warning says: a plain `up` keeps the revoked key, `up --refresh` replaces it in one run.
    assert "svc_key_id" in stack.cli.outputs() and stack.cli.outputs()["svc_key_id"] == key_id
    stack.cli.run("up", "--yes", "--refresh")
    outputs = stack.cli.outputs(show_secrets=True)
    assert outputs["svc_key_id"] != key_id and stack.token_works(outputs["svc_token"])
    assert stack.cli.run("preview", "--refresh", "--expect-no-changes", check=False).returncode == 0
