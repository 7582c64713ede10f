"""Several Ardent orgs in one program, with per-org credentials from structured stack config, via the real CLI."""

from __future__ import annotations

import httpx
import pytest

from ardent_provider import ArdentClient, PermissionDeniedError

from ..conftest import FAST_RETRY
from .conftest import Stack

pytestmark = pytest.mark.e2e

LIST = "GET /v1/orgs/{org_id}/api-keys"
CREATE = "POST /v1/orgs/{org_id}/api-keys"


def org_key_ids(stack: Stack, org: dict[str, str]) -> set[str]:
    with ArdentClient(org["token"], api_url=stack.emulator.url, retry=FAST_RETRY) as client:
        return {key.id for key in client.list_keys(org["org_id"]) if key.name != "emulator-bootstrap-owner"}


def test_keys_in_two_orgs_refresh_with_one_list_per_org_and_move_between_orgs(stack: Stack) -> None:
    staging = httpx.post(f"{stack.emulator.url}/_emulator/orgs").json()
    partners = httpx.post(f"{stack.emulator.url}/_emulator/orgs").json()
    stack.cli.run("config", "set", "--secret", "--path", f"ardent:orgs.{staging['org_id']}.token", staging["token"])

    stack.write_keys(
        [
            {"resource": "prod-ci", "role": "Member"},
            {"resource": "staging-ci", "role": "Member", "org_id": staging["org_id"]},
            {"resource": "staging-ops", "role": "Admin", "org_id": staging["org_id"]},
        ]
    )
    stack.up()
    outputs = stack.cli.outputs()
    assert org_key_ids(stack, staging) == {outputs["staging-ci_key_id"], outputs["staging-ops_key_id"]}
    assert set(stack.active_keys()) == {outputs["prod-ci_key_id"]}
    assert stack.resource_outputs("staging-ci")["org_id"] == staging["org_id"]
    assert stack.resource_outputs("prod-ci")["org_id"] == stack.emulator.org_id

    stack.reset_stats()
    stack.cli.run("refresh", "--yes", "--skip-preview")
    assert stack.stats().get(LIST) == 2, "one list call per org"

    # An org the stack has no credentials for fails preview, naming the resource and org_id.
    stack.write_keys(
        [
            {"resource": "prod-ci", "role": "Member"},
            {"resource": "staging-ci", "role": "Member", "org_id": staging["org_id"]},
            {"resource": "staging-ops", "role": "Admin", "org_id": staging["org_id"]},
            {"resource": "partner-ci", "role": "Viewer", "org_id": partners["org_id"]},
        ]
    )
    preview = stack.cli.run("preview", check=False)
    text = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "partner-ci" in text and f"property {stack.prop('org_id')}" in text and partners["org_id"] in text
    assert f"ardent:orgs.{partners['org_id']}.token" in text and "Traceback" not in text

    # Moving a key to another org: created in the new org first, then revoked in the old one.
    stack.write_keys(
        [
            {"resource": "prod-ci", "role": "Member", "org_id": staging["org_id"]},
            {"resource": "staging-ci", "role": "Member", "org_id": staging["org_id"]},
            {"resource": "staging-ops", "role": "Admin", "org_id": staging["org_id"]},
        ]
    )
    old_prod = outputs["prod-ci_key_id"]
    stack.up()
    moved = stack.cli.outputs(show_secrets=True)
    assert moved["prod-ci_key_id"] in org_key_ids(stack, staging)
    assert old_prod not in stack.active_keys(), "the old org's key is revoked"
    member = ArdentClient(moved["prod-ci_token"], api_url=stack.emulator.url, retry=FAST_RETRY)
    with member, pytest.raises(PermissionDeniedError):  # authenticated (not 401), but a member may not list keys
        member.list_keys(staging["org_id"])
    assert stack.cli.run("preview", "--expect-no-changes", check=False).returncode == 0

    stack.cli.run("destroy", "--yes")
    assert org_key_ids(stack, staging) == set() and stack.active_keys() == {}
