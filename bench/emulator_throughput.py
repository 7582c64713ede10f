"""Emulator throughput: requests per second for list and create keys, over real sockets.

    .venv/bin/python bench/emulator_throughput.py [--requests 2000] [--clients 1 4 16]

Starts its own emulator (SQLite file in a temporary folder), drives it with pooled keep-alive clients, and
prints a table. Figures, not assertions: the machine's noise belongs in a report, not in a test verdict.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ardent_provider.emulator import EmulatorServer


def run(clients: int, requests: int, make_call: Callable[[httpx.Client, int], httpx.Response]) -> float:
    """Requests per second for ``requests`` calls spread over ``clients`` threads."""
    per_client = requests // clients
    barrier = threading.Barrier(clients + 1)
    failures: list[int] = []

    def worker() -> None:
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            for index in range(per_client):
                status = make_call(http, index).status_code
                if status >= 400:
                    failures.append(status)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return per_client * clients / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--list-size", type=int, default=100, help="keys in the org while lists are timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, EmulatorServer(db=Path(folder) / "bench.db") as server:
        auth = {"Authorization": f"Bearer {server.token}"}
        keys_url = f"{server.url}/v1/orgs/{server.org_id}/api-keys"

        def create(http: httpx.Client, index: int) -> httpx.Response:
            return http.post(keys_url, json={"name": f"bench-{index}", "role_id": "role_org_viewer"}, headers=auth)

        def list_keys(http: httpx.Client, index: int) -> httpx.Response:
            return http.get(keys_url, headers=auth)

        print(f"{'operation':<28}{'clients':>8}{'requests':>10}{'req/s':>10}")
        for clients in args.clients:
            rate = run(clients, args.requests, create)
            print(f"{'create key':<28}{clients:>8}{args.requests:>10}{rate:>10.0f}")
        credentials = httpx.post(f"{server.url}/_emulator/reset").json()
        auth = {"Authorization": f"Bearer {credentials['token']}"}
        keys_url = f"{server.url}/v1/orgs/{credentials['org_id']}/api-keys"
        with httpx.Client() as http:
            for index in range(args.list_size - 1):
                create(http, index)
        listed = len(httpx.get(keys_url, headers=auth).json())
        for clients in args.clients:
            rate = run(clients, args.requests, list_keys)
            print(f"{f'list keys ({listed} keys)':<28}{clients:>8}{args.requests:>10}{rate:>10.0f}")


if __name__ == "__main__":
    main()
