"""The emulator's authorization matrix: every role against every emulated route, as a table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ardent_provider import ArdentAPIError, ArdentClient
from ardent_provider.emulator import EmulatorServer

from ..conftest import FAST_RETRY

ROLES = ("role_org_viewer", "role_org_member", "role_org_admin", "role_org_owner")
# Expected status per (role, route): the contract's "assumed" authorization rules.
MATRIX = {
    "list keys": {"role_org_viewer": 403, "role_org_member": 403, "role_org_admin": 200, "role_org_owner": 200},
    "create viewer key": {"role_org_viewer": 403, "role_org_member": 403, "role_org_admin": 201, "role_org_owner": 201},
    "create admin key": {"role_org_viewer": 403, "role_org_member": 403, "role_org_admin": 201, "role_org_owner": 201},
    "create owner key": {"role_org_viewer": 403, "role_org_member": 403, "role_org_admin": 403, "role_org_owner": 201},
    "revoke a key": {"role_org_viewer": 403, "role_org_member": 403, "role_org_admin": 204, "role_org_owner": 204},
    "list roles": {"role_org_viewer": 200, "role_org_member": 200, "role_org_admin": 200, "role_org_owner": 200},
    "get org": {"role_org_viewer": 200, "role_org_member": 200, "role_org_admin": 200, "role_org_owner": 200},
    "another org's keys": dict.fromkeys(ROLES, 403),
}


def call(route: str, client: ArdentClient, org_id: str, victim: str) -> Callable[[], object]:
    return {
        "list keys": lambda: client.list_keys(org_id),
        "create viewer key": lambda: client.create_key(org_id, name="m", role="role_org_viewer"),
        "create admin key": lambda: client.create_key(org_id, name="m", role="role_org_admin"),
        "create owner key": lambda: client.create_key(org_id, name="m", role="role_org_owner"),
        "revoke a key": lambda: client.revoke_key(org_id, victim),
        "list roles": lambda: client.list_roles(org_id),
        "get org": lambda: client.get_org(org_id),
        "another org's keys": lambda: client.list_keys("org_elsewhere"),
    }[route]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_role_against_route(emulator: EmulatorServer, role: str, route: str) -> None:
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        holder = owner.create_key(emulator.org_id, name=f"as-{role}", role=role)
        victim = owner.create_key(emulator.org_id, name="victim", role="role_org_viewer")
    expected = MATRIX[route][role]
    with ArdentClient(holder.token.reveal(), api_url=emulator.url, retry=FAST_RETRY) as client:
        action = call(route, client, emulator.org_id, victim.id)
        if expected >= 400:
            with pytest.raises(ArdentAPIError) as raised:
                action()
            assert raised.value.status == expected
        else:
            action()


def test_scopes_narrow_a_role(emulator: EmulatorServer) -> None:
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        narrow = owner.create_key(emulator.org_id, name="narrow", role="role_org_owner", scopes=["connectors.read"])
    with ArdentClient(narrow.token.reveal(), api_url=emulator.url, retry=FAST_RETRY) as client:
        for action in (lambda: client.get_org(emulator.org_id), lambda: client.list_keys(emulator.org_id)):
            with pytest.raises(ArdentAPIError) as raised:
                action()
            assert raised.value.status == 403
