"""The emulator's clock: real time plus an offset that the control plane can only move forward."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock UTC time shifted by ``advance``; safe to share between threads."""

    def __init__(self) -> None:
        self._offset = timedelta()
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
        return self.now()

    def rewind_to_real_time(self) -> None:
        """Drop every advance, as a reset does."""
        with self._lock:
            self._offset = timedelta()
