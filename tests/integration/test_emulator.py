"""The emulator as a server: persistence, bootstrap, control plane, robustness and concurrency."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ardent_provider import ArdentClient, AuthenticationError, NotFoundError
from ardent_provider.emulator import EmulatorServer, Request
from ardent_provider.errors import ArdentConnectionError

from ..conftest import FAST_RETRY

CREATE_ROUTE = "POST /v1/orgs/{org_id}/api-keys"
KEYS_ROUTE = "GET /v1/orgs/{org_id}/api-keys"


def client_of(server: EmulatorServer, token: str | None = None) -> ArdentClient:
    return ArdentClient(token or server.token, api_url=server.url, retry=FAST_RETRY)


def test_keys_orgs_and_roles_survive_a_restart(tmp_path: Path) -> None:
    db, credentials = tmp_path / "emulator.db", tmp_path / "credentials.json"
    with EmulatorServer(db=db, credentials=credentials) as first:
        org_id, token = first.org_id, first.token
        with client_of(first) as client:
            kept = client.create_key(org_id, name="kept", role="role_org_admin")
            gone = client.create_key(org_id, name="gone", role="role_org_viewer")
            client.revoke_key(org_id, gone.id)
            roles = client.list_roles(org_id)
    with EmulatorServer(db=db, credentials=credentials) as second:
        assert (second.org_id, second.token) == (org_id, token), "a working token is kept across restarts"
        with client_of(second) as client:
            assert {key.name for key in client.list_keys(org_id)} == {"kept", "emulator-bootstrap-owner"}
            assert client.list_roles(org_id) == roles
        with client_of(second, kept.token.reveal()) as holder:
            assert holder.get_org(org_id).id == org_id


def test_a_restart_on_the_same_database_keeps_the_advanced_clock_and_a_reset_drops_it(tmp_path: Path) -> None:
    db, credentials = tmp_path / "emulator.db", tmp_path / "credentials.json"
    ninety_days = 90 * 86400
    with EmulatorServer(db=db, credentials=credentials) as first:
        advanced = httpx.post(f"{first.url}/_emulator/clock", json={"advance_seconds": ninety_days}).json()["now"]
        with client_of(first) as client:
            made = client.create_key(first.org_id, name="made-in-the-future", role="role_org_viewer")
    with EmulatorServer(db=db, credentials=credentials) as second:
        now = datetime.fromisoformat(httpx.get(f"{second.url}/_emulator/clock").json()["now"].replace("Z", "+00:00"))
        assert now >= datetime.fromisoformat(advanced.replace("Z", "+00:00"))
        assert made.created_at is not None and made.created_at <= now, "no key lies in the restarted clock's future"
        assert now - datetime.now(UTC) > timedelta(days=89)
        httpx.post(f"{second.url}/_emulator/reset")
    with EmulatorServer(db=db, credentials=credentials) as third:
        now = datetime.fromisoformat(httpx.get(f"{third.url}/_emulator/clock").json()["now"].replace("Z", "+00:00"))
        assert abs(now - datetime.now(UTC)) < timedelta(minutes=1), "a reset goes back to real time, for good"


def test_only_token_digests_are_stored(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with EmulatorServer(db=db, credentials=tmp_path / "c.json") as server, client_of(server) as client:
        tokens = [
            client.create_key(server.org_id, name=f"k{i}", role="role_org_viewer").token.reveal() for i in range(3)
        ]
        tokens.append(server.token)
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("emulator.db*"))
    for token in tokens:
        assert token.encode() not in raw
        assert token[20:].encode() not in raw
    with sqlite3.connect(db) as connection:
        digests = {row[0] for row in connection.execute("SELECT token_digest FROM api_keys")}
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in digests)


def test_credentials_file_is_private_and_replaced_when_missing_or_revoked(tmp_path: Path) -> None:
    db, credentials = tmp_path / "emulator.db", tmp_path / "credentials.json"
    with EmulatorServer(db=db, credentials=credentials) as server:
        written = json.loads(credentials.read_text())
        assert written == {"api_url": server.url, "org_id": server.org_id, "token": server.token}
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        org_id, first_token = server.org_id, server.token
        with client_of(server) as client:
            bootstrap_key = next(k for k in client.list_keys(org_id) if k.name == "emulator-bootstrap-owner")
            client.revoke_key(org_id, bootstrap_key.id)
    with EmulatorServer(db=db, credentials=credentials) as server:
        assert server.org_id == org_id and server.token != first_token
        assert json.loads(credentials.read_text())["token"] == server.token
        second_token = server.token
    credentials.unlink()
    with EmulatorServer(db=db, credentials=credentials) as server:
        assert server.org_id == org_id and server.token != second_token
        with client_of(server) as client:
            assert client.get_org(org_id).id == org_id


def test_fixed_bootstrap_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixed = "sk-ard_test_" + "F" * 40
    monkeypatch.setenv("ARDENT_EMULATOR_TOKEN", fixed)
    with EmulatorServer(db=tmp_path / "e.db", credentials=tmp_path / "c.json") as server:
        assert server.token == fixed
        with client_of(server) as client:
            assert client.get_org(server.org_id).id == server.org_id
    monkeypatch.setenv("ARDENT_EMULATOR_TOKEN", "not-a-token")
    with pytest.raises(ValueError, match="sk-ard_"):
        EmulatorServer(db=":memory:")


def test_reset_empties_the_store_and_rewrites_the_credentials(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    with EmulatorServer(db=tmp_path / "e.db", credentials=credentials) as server:
        old_org, old_token = server.org_id, server.token
        with client_of(server) as client:
            client.create_key(old_org, name="doomed", role="role_org_viewer")
        answer = httpx.post(f"{server.url}/_emulator/reset").json()
        assert answer["org_id"] != old_org and answer["token"] != old_token
        assert json.loads(credentials.read_text()) == answer
        with client_of(server, old_token) as stale, pytest.raises(AuthenticationError):
            stale.list_keys(old_org)
        with client_of(server, answer["token"]) as fresh:
            assert [key.name for key in fresh.list_keys(answer["org_id"])] == ["emulator-bootstrap-owner"]


def test_stats_count_requests_by_route_template(emulator: EmulatorServer) -> None:
    with client_of(emulator) as client:
        key = client.create_key(emulator.org_id, name="k", role="role_org_viewer")
        client.list_keys(emulator.org_id)
        client.list_keys(emulator.org_id)
        client.revoke_key(emulator.org_id, key.id)
        client.list_roles(emulator.org_id)
        client.get_org(emulator.org_id)
    stats = httpx.get(f"{emulator.url}/_emulator/stats").json()
    assert stats == {
        "requests": {
            CREATE_ROUTE: 1,
            KEYS_ROUTE: 2,
            "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}": 1,
            "GET /v1/orgs/{org_id}/roles": 1,
            "GET /v1/orgs/{org_id}": 1,
        }
    }
    assert httpx.post(f"{emulator.url}/_emulator/stats/reset").status_code == 200
    assert httpx.get(f"{emulator.url}/_emulator/stats").json() == {"requests": {}}


def test_health_and_clock(emulator: EmulatorServer) -> None:
    assert httpx.get(f"{emulator.url}/_emulator/health").status_code == 200
    answer = httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": 3600})
    assert answer.status_code == 200
    date = httpx.get(f"{emulator.url}/_emulator/health").headers["Date"]
    from email.utils import parsedate_to_datetime

    assert (parsedate_to_datetime(date).timestamp() - time.time()) > 3500
    assert httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": -5}).status_code == 400


def test_fault_drop_does_nothing_and_drop_after_commit_does_the_work(emulator: EmulatorServer) -> None:
    url = f"{emulator.url}/_emulator/faults"
    no_retry = ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY)
    httpx.post(url, json={"route": CREATE_ROUTE, "mode": "drop", "count": 1})
    with pytest.raises(ArdentConnectionError):
        no_retry.create_key(emulator.org_id, name="dropped", role="role_org_viewer")
    httpx.post(url, json={"route": CREATE_ROUTE, "mode": "drop_after_commit", "count": 1})
    with pytest.raises(ArdentConnectionError):
        no_retry.create_key(emulator.org_id, name="committed", role="role_org_viewer")
    names = [key.name for key in no_retry.list_keys(emulator.org_id)]
    assert "dropped" not in names and names.count("committed") == 1
    rules = httpx.get(url).json()["faults"]
    assert [rule["hits"] for rule in rules] == [1, 1]
    assert httpx.delete(url).json() == {"faults": []}


def test_fault_delay_and_rate(emulator: EmulatorServer) -> None:
    url = f"{emulator.url}/_emulator/faults"
    httpx.post(url, json={"route": KEYS_ROUTE, "mode": "delay", "delay_ms": 150})
    with client_of(emulator) as client:
        started = time.monotonic()
        client.list_keys(emulator.org_id)
        assert time.monotonic() - started >= 0.15
        httpx.delete(url)
        httpx.post(url, json={"route": KEYS_ROUTE, "mode": "status", "status": 503, "rate": 0.0})
        for _ in range(5):
            client.list_keys(emulator.org_id)


@pytest.mark.parametrize(
    "rule",
    [
        {"route": "GET /nowhere", "mode": "drop"},
        {"route": KEYS_ROUTE, "mode": "explode"},
        {"route": KEYS_ROUTE, "mode": "status", "status": 200},
        {"route": KEYS_ROUTE, "mode": "delay", "delay_ms": -1},
        {"route": KEYS_ROUTE, "mode": "drop", "rate": 2},
        {"route": KEYS_ROUTE, "mode": "drop", "count": 0},
    ],
)
def test_bad_fault_rules_are_refused(emulator: EmulatorServer, rule: dict[str, object]) -> None:
    answer = httpx.post(f"{emulator.url}/_emulator/faults", json=rule)
    assert answer.status_code == 400 and answer.json()["detail"]


def test_control_plane_refuses_non_loopback_clients(emulator: EmulatorServer) -> None:
    answer = emulator.app.handle(Request("POST", "/_emulator/reset", client_host="203.0.113.7"))
    assert answer.status == 403


def test_hostile_input_gets_4xx_never_5xx(emulator: EmulatorServer) -> None:
    auth = {"Authorization": f"Bearer {emulator.token}"}
    keys = f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys"
    bodies = [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"name": "\\ud800", "role_id": "role_org_admin"}',
        b'{"name": "x", "role_id": "role_org_admin", "expires_days": 100000000000000000000000}',
        b'{"name": "x", "role_id": "role_org_admin", "expires_days": 1.5}',
        b'{"name": "x", "role_id": "role_org_admin", "expires_days": true}',
        b'{"name": "x", "role_id": "role_org_admin", "scopes": "all"}',
        b'{"name": "x", "role_id": "role_org_admin", "scopes": [1]}',
        b'{"name": 5, "role_id": "role_org_admin"}',
        b'{"name": "x", "role_id": null}',
        b'{"name": "x"}',
        b"[" * 100_000,
    ]
    with httpx.Client(headers=auth) as http:
        for body in bodies:
            answer = http.post(keys, content=body, headers={"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500, (body[:60], answer.status_code, answer.text)
            assert answer.json()["detail"]
        assert http.put(keys).status_code == 405
        assert http.patch(f"{emulator.url}/v1/orgs/{emulator.org_id}").status_code == 405
        assert http.delete(f"{emulator.url}/v1/orgs/{emulator.org_id}").status_code == 405
        assert http.get(f"{emulator.url}/v2/whatever").status_code == 404
        too_large = http.post(keys, content=b"x" * 2_000_000)
        # The server closes the connection after a 413 and says so, so the next request opens a new one.
        assert too_large.status_code == 413 and too_large.headers["connection"] == "close"
        assert http.delete(f"{keys}/key_%2e%2e%2f").status_code == 404


def test_malformed_http_gets_a_json_error(emulator: EmulatorServer) -> None:
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"GARBAGE\r\n\r\n")
        reply = raw.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and b'"detail"' in reply


def test_sixteen_concurrent_clients_lose_and_duplicate_nothing(emulator: EmulatorServer) -> None:
    created: list[str] = []
    revoked: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            with client_of(emulator) as client:
                for round_ in range(10):
                    key = client.create_key(emulator.org_id, name=f"w{index}-{round_}", role="role_org_viewer")
                    with lock:
                        created.append(key.id)
                    if round_ % 2:
                        client.revoke_key(emulator.org_id, key.id)
                        with lock:
                            revoked.append(key.id)
                    client.list_keys(emulator.org_id)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(created) == len(set(created)) == 160
    with client_of(emulator) as client:
        active = {key.id for key in client.list_keys(emulator.org_id)}
        for key_id in revoked:
            with pytest.raises(NotFoundError):
                client.revoke_key(emulator.org_id, key_id)
    assert active - {k for k in active if k not in created} == set(created) - set(revoked)


def test_module_and_console_script_start_print_and_stop_on_sigterm(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "ardent-emulator"
    commands = [[sys.executable, "-m", "ardent_provider.emulator"], [str(script)]]
    for command in commands:
        credentials = tmp_path / f"{len(command)}-credentials.json"
        process = subprocess.Popen(
            [
                *command,
                "--port",
                "0",
                "--db",
                str(tmp_path / f"{len(command)}.db"),
                "--credentials",
                str(credentials),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        url = re.search(r"listening on (http://\S+)", first)
        assert url, first
        assert str(credentials) in second
        assert httpx.get(f"{url.group(1)}/_emulator/health").status_code == 200
        process.send_signal(signal.SIGTERM if len(command) == 1 else signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stdout.read()


def test_port_in_use_is_a_clear_error(tmp_path: Path, emulator: EmulatorServer) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ardent_provider.emulator",
            "--port",
            port,
            "--db",
            ":memory:",
            "--credentials",
            str(tmp_path / "c.json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert result.returncode == 1 and "cannot start" in result.stderr


def test_another_org_comes_with_its_own_owner_token_that_cannot_touch_the_first_org(emulator: EmulatorServer) -> None:
    answer = httpx.post(f"{emulator.url}/_emulator/orgs")
    assert answer.status_code == 201
    other = answer.json()
    assert set(other) == {"api_url", "org_id", "token"} and other["api_url"] == emulator.url
    assert other["org_id"] != emulator.org_id and other["org_id"].startswith("org_")
    headers = {"Authorization": f"Bearer {other['token']}"}
    own = httpx.get(f"{emulator.url}/v1/orgs/{other['org_id']}/api-keys", headers=headers)
    assert own.status_code == 200 and [key["name"] for key in own.json()] == ["emulator-bootstrap-owner"]
    assert httpx.get(f"{emulator.url}/v1/orgs/{emulator.org_id}/api-keys", headers=headers).status_code == 403
    roles = httpx.get(f"{emulator.url}/v1/orgs/{other['org_id']}/roles", headers=headers).json()
    assert {role["key"] for role in roles} == {"role_org_viewer", "role_org_member", "role_org_admin", "role_org_owner"}


def test_the_emulator_page_lists_every_control_plane_call(emulator: EmulatorServer) -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text()
    table = readme[readme.index("| `GET /_emulator/health`") :]
    table = table[: table.index("\n\n")]
    listed = {match.group(1) for match in re.finditer(r"^\| `((?:GET|POST|DELETE) /_emulator/[a-z/]+)`", table, re.M)}
    assert listed == set(emulator.app.control_endpoints())


def test_a_seeded_fault_rule_hits_the_same_requests_every_time(emulator: EmulatorServer) -> None:
    def hits_of(seed: int) -> list[int]:
        httpx.post(f"{emulator.url}/_emulator/reset")
        route = "GET /v1/orgs/{org_id}"
        rule = {"route": route, "mode": "status", "status": 503, "rate": 0.5, "seed": seed}
        assert httpx.post(f"{emulator.url}/_emulator/faults", json=rule).status_code == 201
        headers = {"Authorization": f"Bearer {emulator.token}"}
        statuses = [
            httpx.get(f"{emulator.url}/v1/orgs/{emulator.org_id}", headers=headers).status_code for _ in range(40)
        ]
        return [index for index, status in enumerate(statuses) if status == 503]

    first, again, other = hits_of(7), hits_of(7), hits_of(8)
    assert first == again and 0 < len(first) < 40
    assert first != other
    bad = httpx.post(
        f"{emulator.url}/_emulator/faults", json={"route": "GET /v1/orgs/{org_id}", "mode": "drop", "seed": "x"}
    )
    assert bad.status_code == 400 and "'seed' must be an integer" in bad.text
