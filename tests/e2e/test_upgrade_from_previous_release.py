"""A stack applied with the previous release refreshes, updates and destroys with this code, keeping its keys."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from ardent_provider.emulator import EmulatorServer

from .conftest import KEYS_PROGRAM, ROOT, make_stack

pytestmark = pytest.mark.e2e

# The last release on main before the lifecycle was rebuilt (state without org_id, parent_resource,
# pending_revoke_key_ids). Move it forward when a release changes what state holds.
PREVIOUS_RELEASE = "015f8804e170dd5a2499ce039fe74f6daa534898"
CREATE = "POST /v1/orgs/{org_id}/api-keys"
REVOKE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"


def previous_release_package(into: Path) -> Path:
    """The previous release's ``ardent_provider`` package, unpacked from git history."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE, "ardent_provider"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.fail(
            f"the previous release {PREVIOUS_RELEASE[:12]} is not in this clone's history "
            f"(a shallow clone?): {archive.stderr.decode(errors='replace').strip()}"
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def test_a_stack_from_the_previous_release_is_read_updated_and_destroyed_without_new_keys(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    stack = make_stack(tmp_path / "stack", emulator, KEYS_PROGRAM, project="upgrade")
    old_code = previous_release_package(tmp_path / "previous-release")
    rotating = {"resource": "rotating", "role": "Member", "keep_previous_for_days": 2, "expires_in_days": 90}
    keys = [{"resource": "plain", "role": "Viewer"}, {**rotating, "rotation_triggers": {"r": "1"}}]

    # Applied with the previous release: its package shadows this checkout in the program and the provider.
    stack.cli.extra_env = {"PYTHONPATH": str(old_code)}
    stack.write_keys(keys)
    stack.up()
    stack.write_keys([keys[0], {**rotating, "rotation_triggers": {"r": "2"}}])
    stack.up()
    old_outputs = stack.resource_outputs("rotating")
    assert "org_id" not in old_outputs and old_outputs["previous_key_id"], "the state is the previous release's"
    before = stack.cli.outputs(show_secrets=True)
    active_before = set(stack.active_keys())
    assert len(active_before) == 3

    # This release takes over.
    stack.cli.extra_env = {}
    stack.reset_stats()
    stack.cli.run("refresh", "--yes")
    assert stack.cli.run("preview", "--expect-no-changes", check=False).returncode == 0
    stack.up()
    assert stack.cli.outputs(show_secrets=True) == before, "same keys, same tokens"
    assert set(stack.active_keys()) == active_before
    assert stack.stats().get(CREATE, 0) == 0 and stack.stats().get(REVOKE, 0) == 0
    assert stack.resource_outputs("rotating")["previous_key_id"] == old_outputs["previous_key_id"]

    # An update that replaces the key works on the old state, and destroy revokes every key it holds.
    stack.write_keys([keys[0], {**rotating, "rotation_triggers": {"r": "3"}}])
    stack.up()
    rotated = stack.resource_outputs("rotating")
    assert rotated["org_id"] == emulator.org_id
    assert old_outputs["previous_key_id"] not in stack.active_keys(), "the older kept key is revoked"
    assert stack.token_works(before["rotating_token"]), "the replaced key is kept for its grace period"
    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {}
