"""Times as the service writes them, and the plain-text tables every command prints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from ..models import ApiKey


def service_timespec(listed: Iterable[ApiKey]) -> str:
    """The finest resolution the service's timestamps show, so that none is printed finer than it came."""
    timespec = "seconds"
    for key in listed:
        for moment in (key.created_at, key.expires_at, key.last_used_at):
            if moment is None or not moment.microsecond:
                continue
            if moment.microsecond % 1000:
                return "microseconds"
            timespec = "milliseconds"
    return timespec


def wire_time(moment: datetime | None, timespec: str = "seconds") -> str | None:
    """An aware datetime as ISO-8601 UTC with a ``Z`` at the given resolution; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, as lines, the header first; trailing spaces trimmed."""
    body = [tuple(row) for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *body, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (tuple(headers), *body)
    ]


def span(delta: timedelta) -> str:
    """A duration for people: ``3 d 4 h``, ``5 h``, ``12 min``, or ``0 min``."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h" if hours and days < 10 else f"{days} d"
    if hours:
        return f"{hours} h"
    return f"{rest // 60} min"
