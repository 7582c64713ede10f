"""Day-2 work with the real CLI: rotating the provider's own token, moving to another org, pipeline-sized errors."""

from __future__ import annotations

import httpx
import pytest

from ardent_provider import ArdentClient

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
