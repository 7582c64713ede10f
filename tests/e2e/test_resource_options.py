"""Pulumi resource options and cross-stack use of ArdentApiKey, with the real CLI against the emulator.

Each test drives one throwaway stack through several steps and checks, after every step, what the user sees
(the CLI's summary and messages) against what really happened in the emulator's org (key ids, tokens that
authenticate, request counters). Every test ends by destroying what it made.
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider.emulator.store import KeyRow
from ardent_provider.resource_types import is_key_type
from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import PASSPHRASE, STACK, Stack

pytestmark = pytest.mark.e2e

CREATE = "POST /v1/orgs/{org_id}/api-keys"
REVOKE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
DELAY_MS = 1000

PREAMBLE = """
import pulumi
from pulumi import ResourceOptions

from ardent_provider import ArdentApiKey


def publish(label, key):
    pulumi.export(f"{label}_key_id", key.key_id)
    pulumi.export(f"{label}_token", key.token)
"""

COMPONENT = """
class Team(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("ardent-e2e:index:Team", name, None, opts)
        self.bot = ArdentApiKey(f"{name}-bot", role="Member", opts=ResourceOptions(parent=self))
        self.register_outputs({"bot_key_id": self.bot.key_id})


team = Team("platform")
publish("bot", team.bot)
"""


# -- helpers ----------------------------------------------------------------------------------------


def write_program(stack: Stack, *parts: str) -> None:
    """Write the stack's program: the shared preamble, then each part (dedented)."""
    source = PREAMBLE + "".join(textwrap.dedent(part) for part in parts)
    (stack.project_dir / "__main__.py").write_text(source)


def summary(output: str) -> dict[str, int]:
    """The `Resources:` block the CLI prints at the end of an update, as counts per kind of change."""
    block = output.rsplit("Resources:", 1)[-1].split("Duration:", 1)[0]
    counts = re.findall(r"(\d+) (created|updated|deleted|replaced|unchanged)", block)
    return {kind: int(count) for count, kind in counts}


def api_calls(stack: Stack) -> tuple[int, int]:
    """(creates, revokes) the emulator served since the counters were last reset."""
    stats = stack.stats()
    return stats.get(CREATE, 0), stats.get(REVOKE, 0)


def resources(cli: PulumiCLI, *, show_secrets: bool = False) -> dict[str, dict[str, Any]]:
    """The stack's ArdentApiKey resources by resource name, as `pulumi stack export` holds them."""
    found = {}
    for item in cli.export(show_secrets=show_secrets)["deployment"]["resources"]:
        if is_key_type(item["type"]):
            found[item["urn"].rsplit("::", 1)[-1]] = item
    return found


def all_resources(cli: PulumiCLI) -> dict[str, dict[str, Any]]:
    """Every resource of the stack (stack, components, keys) by URN."""
    return {item["urn"]: item for item in cli.export()["deployment"]["resources"]}


def revealed(value: Any) -> Any:
    """A value from `stack export --show-secrets`, with a secret envelope opened."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return json.loads(value["plaintext"])
    return value


def tokens(cli: PulumiCLI) -> dict[str, str]:
    """Each key's token, by resource name, read from the state (works whatever --target left in outputs)."""
    return {name: revealed(item["outputs"]["token"]) for name, item in resources(cli, show_secrets=True).items()}


def key_row(stack: Stack, token: str) -> KeyRow:
    """The emulator's own record of the key behind a token, revoked or not."""
    (row,) = stack.emulator.store.keys_by_digest(hashlib.sha256(token.encode()).hexdigest())
    return row


def set_fault(stack: Stack, route: str, delay_ms: int) -> None:
    rule = {"route": route, "mode": "delay", "delay_ms": delay_ms}
    assert httpx.post(f"{stack.emulator.url}/_emulator/faults", json=rule).status_code in (200, 201)


def clear_faults(stack: Stack) -> None:
    assert httpx.delete(f"{stack.emulator.url}/_emulator/faults").status_code in (200, 204)


def destroy_and_check_nothing_left(stack: Stack, created_tokens: list[str]) -> None:
    stack.cli.run("destroy", "--yes", "--skip-preview")
    assert stack.active_keys() == {}
    assert not any(stack.token_works(token) for token in created_tokens)


# -- aliases and parents ----------------------------------------------------------------------------


def test_renaming_a_key_resource_with_an_alias_keeps_the_same_key(stack: Stack) -> None:
    # The key's name is pinned: it defaults to the resource name, and a new name would need a new key.
    write_program(stack, 'publish("svc", ArdentApiKey("old", name="svc-key", role="Viewer"))\n')
    stack.up()
    before = stack.cli.outputs(show_secrets=True)
    assert stack.active_keys().keys() == {before["svc_key_id"]} and stack.token_works(before["svc_token"])

    write_program(
        stack,
        """
        aliased = ResourceOptions(aliases=[pulumi.Alias(name="old")])
        publish("svc", ArdentApiKey("renamed", name="svc-key", role="Viewer", opts=aliased))
        """,
    )
    stack.reset_stats()
    renamed = summary(stack.up())
    assert api_calls(stack) == (0, 0)
    assert renamed == {"unchanged": 2}, renamed
    after = stack.cli.outputs(show_secrets=True)
    assert after == before and stack.token_works(after["svc_token"])
    assert stack.active_keys().keys() == {before["svc_key_id"]}
    state = resources(stack.cli)
    assert list(state) == ["renamed"] and state["renamed"]["id"] == before["svc_key_id"]

    destroy_and_check_nothing_left(stack, [before["svc_token"]])


def test_a_key_in_a_component_and_a_key_moved_under_it_with_an_alias_keep_their_keys(stack: Stack) -> None:
    write_program(stack, COMPONENT, 'publish("loose", ArdentApiKey("loose", role="Viewer"))\n')
    first = summary(stack.up())
    assert first == {"created": 4}, first  # the stack, the component and two keys
    before = stack.cli.outputs(show_secrets=True)
    keys = {key.name: key.id for key in stack.active_keys().values()}
    assert keys == {"platform-bot": before["bot_key_id"], "loose": before["loose_key_id"]}
    assert stack.token_works(before["bot_token"]) and stack.token_works(before["loose_token"])

    # The key declared inside the component is the component's child, and its URN says so.
    (team_urn,) = [urn for urn, item in all_resources(stack.cli).items() if item["type"] == "ardent-e2e:index:Team"]
    bot = resources(stack.cli)["platform-bot"]
    assert bot["parent"] == team_urn and bot["id"] == keys["platform-bot"]
    assert bot["urn"].endswith("ardent-e2e:index:Team$pulumi-python:dynamic/ardent:ApiKey::platform-bot")

    # Move the top-level key under the component, aliased to where it was.
    write_program(
        stack,
        COMPONENT,
        """
        moved = ResourceOptions(parent=team, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        publish("loose", ArdentApiKey("loose", role="Viewer", opts=moved))
        """,
    )
    stack.reset_stats()
    moved = summary(stack.up())
    assert api_calls(stack) == (0, 0)
    assert moved == {"unchanged": 4}, moved
    after = stack.cli.outputs(show_secrets=True)
    assert after == before and stack.token_works(after["loose_token"])
    assert stack.active_keys().keys() == set(keys.values())
    loose = resources(stack.cli)["loose"]
    assert loose["parent"] == team_urn and loose["id"] == keys["loose"]

    destroy_and_check_nothing_left(stack, [before["bot_token"], before["loose_token"]])


# -- protect, retain_on_delete, ignore_changes, depends_on --------------------------------------------


def test_protect_retain_on_delete_ignore_changes_and_depends_on_behave_as_declared(stack: Stack) -> None:
    body = """
        guarded = ArdentApiKey("guarded", role="Admin", opts=ResourceOptions(protect=True))
        steady = ArdentApiKey(
            "steady", name="{steady_name}", role="Viewer", opts=ResourceOptions(ignore_changes=["name"])
        )
        base = ArdentApiKey("base", role="Member")
        dependent = ArdentApiKey("dependent", role="Member", opts=ResourceOptions(depends_on=[base]))
        for label, key in dict(guarded=guarded, steady=steady, base=base, dependent=dependent).items():
            publish(label, key)
        """
    kept = """
        kept = ArdentApiKey("kept", role="Viewer", opts=ResourceOptions(retain_on_delete=True))
        publish("kept", kept)
        """
    write_program(stack, body.replace("{steady_name}", "steady-v1") + kept)
    set_fault(stack, CREATE, DELAY_MS)  # every create takes a second, so ordering shows in timestamps
    stack.up()
    clear_faults(stack)
    labels = ("guarded", "steady", "base", "dependent", "kept")
    outputs = stack.cli.outputs(show_secrets=True)
    token = {label: outputs[f"{label}_token"] for label in labels}
    ids = {label: outputs[f"{label}_key_id"] for label in labels}
    assert stack.active_keys().keys() == set(ids.values())
    assert all(stack.token_works(token[label]) for label in labels)

    # depends_on: recorded in state, and the dependent key was only created once its dependency existed.
    state = resources(stack.cli)
    assert state["base"]["urn"] in state["dependent"]["dependencies"]
    assert state["guarded"]["protect"] is True and state["kept"]["retainOnDelete"] is True
    base_row, dependent_row = key_row(stack, token["base"]), key_row(stack, token["dependent"])
    gap = (dependent_row.created_at - base_row.created_at).total_seconds()
    assert gap >= DELAY_MS / 1000 * 0.9, f"dependent created {gap:.2f}s after its dependency"

    # ignore_changes=["name"]: a new name in the program neither replaces nor updates the key.
    # retain_on_delete: a key removed from the program leaves the state but stays active in Ardent.
    write_program(stack, body.replace("{steady_name}", "steady-v2"))
    stack.reset_stats()
    output = stack.up()
    assert api_calls(stack) == (0, 0)
    assert summary(output) == {"deleted": 1, "unchanged": 5}, output  # "kept" left the state; nothing else moved
    assert re.search(r"ApiKey kept deleted .*\[retain\]", output), output
    active = stack.active_keys()
    assert active.keys() == set(ids.values())
    assert active[ids["steady"]].name == "steady-v1"
    state = resources(stack.cli)
    assert "kept" not in state
    assert state["steady"]["id"] == ids["steady"]
    assert state["steady"]["inputs"]["name"] == "steady-v1" and state["steady"]["outputs"]["name"] == "steady-v1"
    assert stack.token_works(token["kept"]) and stack.token_works(token["steady"])

    # protect: destroy refuses, says why, and revokes nothing.
    stack.reset_stats()
    refused = stack.cli.run("destroy", "--yes", check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert 'ApiKey::guarded" cannot be deleted' in text and "because it is protected" in text, text[-2000:]
    assert "pulumi state unprotect" in text
    assert api_calls(stack) == (0, 0)
    assert stack.active_keys().keys() == set(ids.values())
    assert len(resources(stack.cli)) == 4

    # Unprotected, destroy revokes the dependent key before its dependency; the retained key survives.
    stack.cli.run("state", "unprotect", state["guarded"]["urn"], "--yes")
    set_fault(stack, REVOKE, DELAY_MS)
    stack.cli.run("destroy", "--yes", "--skip-preview")
    clear_faults(stack)
    assert stack.active_keys().keys() == {ids["kept"]}
    assert not any(stack.token_works(token[label]) for label in labels if label != "kept")
    base_row, dependent_row = key_row(stack, token["base"]), key_row(stack, token["dependent"])
    assert base_row.revoked_at is not None and dependent_row.revoked_at is not None
    assert (base_row.revoked_at - dependent_row.revoked_at).total_seconds() >= DELAY_MS / 1000 * 0.9

    with stack.owner() as owner:
        owner.revoke_key(stack.emulator.org_id, ids["kept"])
    assert stack.active_keys() == {}
    assert not stack.token_works(token["kept"])


# -- --target -----------------------------------------------------------------------------------------


def test_up_with_target_creates_and_replaces_only_the_targeted_keys(stack: Stack) -> None:
    stack.write_keys([{"resource": "a", "role": "Viewer"}, {"resource": "b", "role": "Viewer"}])
    stack.up()
    before = resources(stack.cli)
    old_tokens = tokens(stack.cli)
    assert stack.active_keys().keys() == {before["a"]["id"], before["b"]["id"]}

    # Every key changes role and two keys are new, but only "a" and "c" are targeted.
    stack.write_keys(
        [
            {"resource": "a", "role": "Member"},
            {"resource": "b", "role": "Member"},
            {"resource": "c", "role": "Viewer"},
            {"resource": "d", "role": "Viewer"},
        ]
    )
    urn_a = before["a"]["urn"]
    urn_c = urn_a.removesuffix("::a") + "::c"
    stack.reset_stats()
    targeted = summary(stack.up("--target", urn_a, "--target", urn_c))
    assert api_calls(stack) == (2, 1)
    assert targeted.get("created") == 1 and targeted.get("replaced") == 1, targeted
    assert "updated" not in targeted

    after = resources(stack.cli)
    new_tokens = tokens(stack.cli)
    assert sorted(after) == ["a", "b", "c"]
    active = stack.active_keys()
    assert active.keys() == {after["a"]["id"], before["b"]["id"], after["c"]["id"]}
    # a: replaced by a Member key; the old token is dead, the new one works.
    assert after["a"]["id"] != before["a"]["id"] and key_row(stack, new_tokens["a"]).role_key == "role_org_member"
    assert not stack.token_works(old_tokens["a"]) and stack.token_works(new_tokens["a"])
    # b: untouched, still the Viewer key with the same token.
    assert after["b"]["id"] == before["b"]["id"] and key_row(stack, old_tokens["b"]).role_key == "role_org_viewer"
    assert new_tokens["b"] == old_tokens["b"] and stack.token_works(old_tokens["b"])
    # c: created; d: not targeted, so not created.
    assert active[after["c"]["id"]].name == "c" and stack.token_works(new_tokens["c"])
    assert "d" not in {key.name for key in active.values()}

    destroy_and_check_nothing_left(stack, [*old_tokens.values(), *new_tokens.values()])


# -- stack export / import, StackReference --------------------------------------------------------------


def test_state_survives_export_and_import_and_a_consumer_stack_reads_the_token_as_a_secret(
    stack: Stack, tmp_path: Path
) -> None:
    stack.write_keys([{"resource": "shared", "role": "Member"}])
    stack.up()
    outputs = stack.cli.outputs(show_secrets=True)
    key_id, token = outputs["shared_key_id"], outputs["shared_token"]
    assert stack.active_keys().keys() == {key_id} and stack.token_works(token)

    # Back the stack up, remove it from the backend, and restore it from the file.
    exported = tmp_path / "exported.json"
    stack.cli.run("stack", "export", "--file", str(exported))
    assert token not in exported.read_text()
    stack.cli.run("stack", "rm", "--force", "--yes", "--preserve-config")
    assert not stack.cli.state_file(stack.project, STACK).exists()
    stack.cli.run("stack", "init", STACK)
    stack.cli.run("stack", "import", "--file", str(exported))
    assert resources(stack.cli)["shared"]["id"] == key_id

    preview = stack.cli.run("preview", "--expect-no-changes", check=False)
    assert preview.returncode == 0, (preview.stdout + preview.stderr)[-2000:]
    stack.reset_stats()
    again = summary(stack.up())
    assert api_calls(stack) == (0, 0)
    assert again.keys() == {"unchanged"}, again
    assert stack.cli.outputs(show_secrets=True)["shared_token"] == token
    assert stack.active_keys().keys() == {key_id}

    # A consumer project in the same backend reads the token through a StackReference.
    consumer_dir = tmp_path / "consumer"
    consumer_dir.mkdir()
    producer_yaml = (stack.project_dir / "Pulumi.yaml").read_text()
    (consumer_dir / "Pulumi.yaml").write_text(producer_yaml.replace(f"name: {stack.project}", "name: ardent-consumer"))
    (consumer_dir / "__main__.py").write_text(
        textwrap.dedent(
            f"""
            import pulumi

            producer = pulumi.StackReference("organization/{stack.project}/{STACK}")
            pulumi.export("token", producer.get_output("shared_token"))
            pulumi.export("key_id", producer.get_output("shared_key_id"))
            """
        )
    )
    consumer = PulumiCLI(consumer_dir, stack.cli.state_dir, PASSPHRASE, bin_dir=stack.cli.bin_dir)
    consumer.select_stack(STACK)
    shown = consumer.run("up", "--yes", "--skip-preview")
    assert token not in shown.stdout + shown.stderr
    assert re.search(r"token\s*: \[secret\]", shown.stdout), shown.stdout
    assert consumer.outputs() == {"token": "[secret]", "key_id": key_id}
    assert consumer.outputs(show_secrets=True)["token"] == token
    consumer_state = consumer.state_file("ardent-consumer", STACK)
    assert consumer_state.exists() and token not in consumer_state.read_text()
    consumer.run("destroy", "--yes", "--skip-preview")

    destroy_and_check_nothing_left(stack, [token])
