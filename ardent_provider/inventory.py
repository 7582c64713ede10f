"""One shared, short-lived view of an org's keys, so that N reads in a run cost a few list calls, not N.

The list endpoint returns every key of the org at once. Concurrent readers share one in-flight list call;
readers shortly after reuse its result. This process's own creates and revokes invalidate it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from .models import ApiKey

DEFAULT_MAX_AGE_SECONDS = 10.0


class KeyInventory:
    """Caches the result of ``fetch`` (a list call) for ``max_age`` seconds; thread-safe."""

    def __init__(
        self,
        fetch: Callable[[], list[ApiKey]],
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: dict[str, ApiKey] | None = None
        self._taken_at = 0.0
        self._generation = 0
        self._in_flight: Future[dict[str, ApiKey]] | None = None

    def find(self, key_id: str) -> ApiKey | None:
        """The active key with this id, or None when the org has no such key."""
        return self.snapshot().get(key_id)

    def snapshot(self) -> dict[str, ApiKey]:
        """Every active key of the org by id, at most ``max_age`` seconds old."""
        with self._lock:
            if self._snapshot is not None and self._clock() - self._taken_at <= self._max_age:
                return self._snapshot
            if self._in_flight is not None:
                pending = self._in_flight
                leader = False
            else:
                pending = Future()
                self._in_flight = pending
                generation = self._generation
                leader = True
        if not leader:
            return pending.result()
        try:
            keys = {key.id: key for key in self._fetch()}
        except BaseException as error:
            with self._lock:
                self._in_flight = None
            pending.set_exception(error)
            raise
        with self._lock:
            self._in_flight = None
            if generation == self._generation:
                self._snapshot = keys
                self._taken_at = self._clock()
        pending.set_result(keys)
        return keys

    def invalidate(self) -> None:
        """Forget what was listed; the next reader lists again. Called after creates and revokes."""
        with self._lock:
            self._generation += 1
            self._snapshot = None
