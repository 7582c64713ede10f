"""The emulator's authorization matrix: every role against every emulated route, as a table of exact statuses.

Every answer is checked against the vendor's OpenAPI file (and the README's general statuses) on its way back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer

from ..conftest import FAST_RETRY
from ..contract import OpenAPIValidator, ValidatingTransport

ROLES = ("role_org_viewer", "role_org_member", "role_org_admin", "role_org_owner")
# Expected status per (route, role): the contract's "assumed" authorization rules, and its documented success
# statuses (201 create, 200 list/roles/org, 204 revoke).
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


def request_for(route: str, http: httpx.Client, org_id: str, victim: str) -> Callable[[], httpx.Response]:
    keys = f"/v1/orgs/{org_id}/api-keys"
    return {
        "list keys": lambda: http.get(keys),
        "create viewer key": lambda: http.post(keys, json={"name": "m", "role_id": "role_org_viewer"}),
        "create admin key": lambda: http.post(keys, json={"name": "m", "role_id": "role_org_admin"}),
        "create owner key": lambda: http.post(keys, json={"name": "m", "role_id": "role_org_owner"}),
        "revoke a key": lambda: http.delete(f"{keys}/{victim}"),
        "list roles": lambda: http.get(f"/v1/orgs/{org_id}/roles"),
        "get org": lambda: http.get(f"/v1/orgs/{org_id}"),
        "another org's keys": lambda: http.get("/v1/orgs/org_elsewhere/api-keys"),
    }[route]


@pytest.fixture
def checked(validator: OpenAPIValidator) -> Iterator[ValidatingTransport]:
    """A socket transport that validates every answer against the vendor's file; any breach fails the test."""
    transport = ValidatingTransport(httpx.HTTPTransport(), validator)
    yield transport
    assert transport.failures == [], "answers that break the vendor's OpenAPI file:\n" + "\n".join(transport.failures)


def victim_answers_get_org(emulator: EmulatorServer, checked: ValidatingTransport, token: str) -> int:
    with httpx.Client(base_url=emulator.url, transport=checked, headers={"Authorization": f"Bearer {token}"}) as http:
        return http.get(f"/v1/orgs/{emulator.org_id}").status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_role_gets_exactly_the_documented_status_on_each_route(
    emulator: EmulatorServer, checked: ValidatingTransport, role: str, route: str
) -> None:
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        holder = owner.create_key(emulator.org_id, name=f"as-{role}", role=role)
        victim = owner.create_key(emulator.org_id, name="victim", role="role_org_viewer")
    victim_token = victim.token.reveal()
    assert victim_answers_get_org(emulator, checked, victim_token) == 200

    auth = {"Authorization": f"Bearer {holder.token.reveal()}"}
    with httpx.Client(base_url=emulator.url, transport=checked, headers=auth) as http:
        answer = request_for(route, http, emulator.org_id, victim.id)()
    assert answer.status_code == MATRIX[route][role], answer.text

    victim_after = victim_answers_get_org(emulator, checked, victim_token)
    if route == "revoke a key" and MATRIX[route][role] == 204:
        assert victim_after == 401, "a 204 revoke must cut the victim's token off at once"
        with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
            assert victim.id not in {key.id for key in owner.list_keys(emulator.org_id)}
    else:
        assert victim_after == 200, "a call that revoked nothing must leave the victim's token working"
    assert checked.checked == 3, "every answer, the victim's included, went through the validator"


def test_scopes_narrow_a_role(emulator: EmulatorServer, checked: ValidatingTransport) -> None:
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        narrow = owner.create_key(emulator.org_id, name="narrow", role="role_org_owner", scopes=["connectors.read"])
    auth = {"Authorization": f"Bearer {narrow.token.reveal()}"}
    with httpx.Client(base_url=emulator.url, transport=checked, headers=auth) as http:
        statuses = {
            "get org": http.get(f"/v1/orgs/{emulator.org_id}").status_code,
            "list keys": http.get(f"/v1/orgs/{emulator.org_id}/api-keys").status_code,
        }
    assert statuses == {"get org": 403, "list keys": 403}
