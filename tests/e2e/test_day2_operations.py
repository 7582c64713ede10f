"""Day-2 work with the real CLI: rotating the provider's own token, moving to another org, pipeline-sized errors."""

from __future__ import annotations

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.lifecycle import CREATE_ATTEMPTS

from ..conftest import FAST_RETRY
from .conftest import Stack

pytestmark = pytest.mark.e2e


def pipeline_token(stack: Stack, name: str) -> tuple[str, str]:
    """A fresh admin key for the provider to run with, as a platform team would mint one."""
    with stack.owner() as owner:
        created = owner.create_key(stack.emulator.org_id, name=name, role="role_org_admin")
    return created.id, created.token.reveal()


def revoke(stack: Stack, key_id: str) -> None:
    with stack.owner() as owner:
        owner.revoke_key(stack.emulator.org_id, key_id)


def test_rotating_the_providers_own_token_step_by_step(stack: Stack) -> None:
    first_id, first = pipeline_token(stack, "pipeline-1")
    stack.cli.set_config("ardent:token", first, secret=True)
    stack.write_keys([{"resource": "svc", "role": "Viewer"}])
    stack.up()
    managed = stack.cli.outputs()["svc_key_id"]

    # Rotate: the new token goes into the config, the old one is revoked at once.
    second_id, second = pipeline_token(stack, "pipeline-2")
    stack.cli.set_config("ardent:token", second, secret=True)
    revoke(stack, first_id)

    refresh = stack.cli.run("refresh", "--yes", check=False)
    text = refresh.stdout + refresh.stderr
    assert refresh.returncode != 0
    assert "HTTP 401" in text and "recorded at the last `pulumi up`" in text and "--run-program" in text
    assert f"Ardent key {managed}" in text and "Traceback" not in text

    # What the message says to run works: refresh with the program, then up records the new settings.
    assert stack.cli.run("refresh", "--yes", "--run-program", check=False).returncode == 0
    stack.up()
    gate = stack.cli.run("preview", "--refresh", "--expect-no-changes", check=False)
    assert gate.returncode == 0, (gate.stdout + gate.stderr)[-2000:]
    assert set(stack.active_keys()) == {second_id, managed}

    # Rotate again, and this time destroy with the program (as when the program is all that is left).
    third_id, third = pipeline_token(stack, "pipeline-3")
    stack.cli.set_config("ardent:token", third, secret=True)
    revoke(stack, second_id)
    destroy = stack.cli.run("destroy", "--yes", check=False)
    assert destroy.returncode != 0 and "--run-program" in destroy.stdout + destroy.stderr
    assert stack.cli.run("destroy", "--yes", "--run-program", check=False).returncode == 0
    assert set(stack.active_keys()) == {third_id}


def test_moving_the_stack_to_another_org_replaces_the_key_there_and_names_the_one_left_behind(stack: Stack) -> None:
    stack.write_keys([{"resource": "svc", "role": "Viewer"}])
    stack.up()
    old_id = stack.cli.outputs()["svc_key_id"]
    assert stack.resource_outputs("svc")["org_id"] == stack.emulator.org_id

    other = httpx.post(f"{stack.emulator.url}/_emulator/orgs").json()
    stack.cli.set_config("ardent:orgId", other["org_id"])
    stack.cli.set_config("ardent:token", other["token"], secret=True)

    refresh = stack.cli.run("refresh", "--yes", "--run-program", check=False)
    text = refresh.stdout + refresh.stderr
    assert refresh.returncode != 0 and stack.emulator.org_id in text and "cannot read" in text

    output = stack.up()
    new_id = stack.cli.outputs()["svc_key_id"]
    assert new_id != old_id and stack.resource_outputs("svc")["org_id"] == other["org_id"]
    with ArdentClient(other["token"], api_url=stack.emulator.url, retry=FAST_RETRY) as client:
        assert new_id in {key.id for key in client.list_keys(other["org_id"])}
    assert old_id in stack.active_keys(), "the old org's key is left, since these credentials cannot revoke it"
    assert old_id in output and stack.emulator.org_id in output and "left active" in output
    token = stack.cli.outputs(show_secrets=True)["svc_token"]
    with ArdentClient(token, api_url=stack.emulator.url, retry=FAST_RETRY) as client:
        client.get_org(other["org_id"])
    stack.cli.run("destroy", "--yes")
    revoke(stack, old_id)
    assert stack.active_keys() == {}


def test_an_api_failing_every_create_gives_one_line_per_key_and_no_traceback(stack: Stack) -> None:
    stack.write_keys([{"resource": f"svc{index}", "role": "Viewer"} for index in range(8)])
    fault = {"route": "POST /v1/orgs/{org_id}/api-keys", "mode": "status", "status": 503}
    assert httpx.post(f"{stack.emulator.url}/_emulator/faults", json=fault).status_code == 201
    result = stack.cli.run("up", "--yes", "--skip-preview", check=False)
    httpx.delete(f"{stack.emulator.url}/_emulator/faults")
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in text and 'File "' not in text
    diagnostics = text.split("Diagnostics:", 1)[1]
    failures = [line for line in diagnostics.splitlines() if line.startswith("    error: Could not create Ardent key")]
    failed_keys = [line.split("'")[1] for line in failures]
    # The engine stops starting new steps after the first failure; every key it tried is one line
    # in the diagnostics (plus the note saying how often it was tried).
    assert failed_keys and len(failed_keys) == len(set(failed_keys))
    assert all("HTTP 503" in line for line in failures)
    assert stack.stats()["POST /v1/orgs/{org_id}/api-keys"] == len(failed_keys) * CREATE_ATTEMPTS
    assert stack.active_keys() == {}
