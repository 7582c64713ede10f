"""The emulator's clock: real time plus an offset that the control plane can only move forward."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock UTC time shifted by ``advance``; safe to share between threads.

    ``offset`` is where the clock starts (a restarted emulator's saved offset); ``save`` is called with every
    new offset, so that keys made while the clock was advanced do not lie in the future after a restart.
    """

    def __init__(self, offset: timedelta = timedelta(), save: Callable[[timedelta], None] | None = None) -> None:
        self._offset = offset
        self._save = save
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current emulated time, timezone-aware UTC."""
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            if self._save is not None:
                self._save(self._offset)
        return self.now()

    def rewind_to_real_time(self) -> None:
        """Drop every advance, as a reset does."""
        with self._lock:
            self._offset = timedelta()
            if self._save is not None:
                self._save(self._offset)
