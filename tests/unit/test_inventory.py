"""The shared key inventory: concurrent and back-to-back reads cost one list call."""

from __future__ import annotations

import contextlib
import threading
import time

from ardent_provider.inventory import KeyInventory
from ardent_provider.models import ApiKey


def _keys() -> list[ApiKey]:
    return [ApiKey(id=f"key_{i}", name=f"k{i}", key_prefix="p", scopes=(), created_at=None) for i in range(3)]


def _followers_waiting(inventory: KeyInventory, count: int) -> bool:
    pending = inventory._in_flight
    return pending is not None and len(pending._condition._waiters) >= count  # type: ignore[attr-defined]


def test_concurrent_readers_share_one_list_call() -> None:
    calls = 0
    gate = threading.Event()

    def fetch() -> list[ApiKey]:
        nonlocal calls
        calls += 1
        gate.wait(2)
        return _keys()

    # A list never reused (max_age below zero): calls == 1 can only come from the shared in-flight call.
    inventory = KeyInventory(fetch, max_age=-1)
    found: list[ApiKey | None] = []
    threads = [threading.Thread(target=lambda: found.append(inventory.find("key_1"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    # Release the list call only once the seven other readers wait on its result (the future's condition).
    deadline = time.monotonic() + 10
    while not _followers_waiting(inventory, 7):
        assert time.monotonic() < deadline, "the other readers never waited on the in-flight call"
        time.sleep(0.001)
    gate.set()
    for thread in threads:
        thread.join()
    assert calls == 1 and all(key is not None and key.id == "key_1" for key in found)


def test_back_to_back_reads_reuse_the_list_until_it_ages_or_is_invalidated() -> None:
    calls = 0
    now = [0.0]

    def fetch() -> list[ApiKey]:
        nonlocal calls
        calls += 1
        return _keys()

    inventory = KeyInventory(fetch, max_age=10, clock=lambda: now[0])
    assert inventory.find("key_0") and inventory.find("key_2") and inventory.find("missing") is None
    assert calls == 1
    inventory.invalidate()
    inventory.find("key_0")
    assert calls == 2
    now[0] = 11
    inventory.find("key_0")
    assert calls == 3


def test_a_failed_list_is_not_cached() -> None:
    attempts = 0

    def fetch() -> list[ApiKey]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("boom")
        return _keys()

    inventory = KeyInventory(fetch)
    with contextlib.suppress(RuntimeError):
        inventory.find("key_0")
    assert inventory.find("key_0") is not None and attempts == 2
