"""The emulator's control plane under ``/_emulator/``: health, reset, clock, counters and faults.

None of this exists on the real service. It needs no token and answers only loopback clients.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

FaultMode = Literal["status", "drop", "drop_after_commit", "delay"]
FAULT_MODES: tuple[FaultMode, ...] = ("status", "drop", "drop_after_commit", "delay")


class ControlError(ValueError):
    """A control-plane request that cannot be carried out; rendered as a 400 with its message."""


@dataclass
class FaultRule:
    """One injected fault: which route it hits, how, how often and how many times."""

    route: str
    mode: FaultMode
    status: int = 503
    retry_after: float | None = None
    delay_ms: int = 0
    rate: float = 1.0
    count: int | None = None
    seed: int | None = None
    hits: int = 0
    sampler: random.Random | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seed is not None and self.sampler is None:
            # A rule of its own seed decides the same requests whatever other rules and routes do meanwhile.
            self.sampler = random.Random(self.seed)  # noqa: S311 - fault sampling, not security

    def describe(self) -> dict[str, Any]:
        """The rule as JSON, with how many requests it has hit so far."""
        return {
            "route": self.route,
            "mode": self.mode,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "rate": self.rate,
            "count": self.count,
            "seed": self.seed,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: ``mode`` and the rule's parameters."""

    mode: FaultMode
    status: int
    retry_after: float | None
    delay_ms: int


def parse_fault_rule(body: Any, known_routes: frozenset[str]) -> FaultRule:
    """Validate a ``POST /_emulator/faults`` body into a rule."""
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    route = body.get("route")
    if not isinstance(route, str) or route not in known_routes:
        raise ControlError(f"'route' must be one of: {', '.join(sorted(known_routes))}")
    mode = body.get("mode")
    if mode not in FAULT_MODES:
        raise ControlError(f"'mode' must be one of: {', '.join(FAULT_MODES)}")
    status = body.get("status", 503)
    if mode == "status" and (not _is_int(status) or not 400 <= status <= 599):
        raise ControlError("'status' must be an HTTP error status between 400 and 599")
    retry_after = body.get("retry_after")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise ControlError("'retry_after' must be a non-negative number of seconds or null")
    delay_ms = body.get("delay_ms", 0)
    if delay_ms is None:
        delay_ms = 0
    if not _is_int(delay_ms) or not 0 <= delay_ms <= 600_000:
        raise ControlError("'delay_ms' must be an integer between 0 and 600000")
    rate = body.get("rate", 1.0)
    if rate is None:
        rate = 1.0
    if not _is_number(rate) or not 0.0 <= rate <= 1.0:
        raise ControlError("'rate' must be a number between 0 and 1")
    count = body.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise ControlError("'count' must be a positive integer or null")
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise ControlError("'seed' must be an integer or null (null: unseeded)")
    return FaultRule(
        route=route,
        mode=mode,
        status=int(status) if _is_int(status) else 503,
        retry_after=None if retry_after is None else float(retry_after),
        delay_ms=int(delay_ms),
        rate=float(rate),
        count=count,
        seed=seed,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RequestStats:
    """Counts of emulated requests per ``"<METHOD> <route template>"``."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, route: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[route] += 1

    def snapshot(self) -> dict[str, int]:
        """Every count so far."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts.clear()


class FaultInjector:
    """Rules that make matching requests fail; the first rule that fires wins."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = rng or random.Random()  # noqa: S311 - fault sampling, not security

    def add(self, rule: FaultRule) -> None:
        """Add a rule after the existing ones."""
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        """The rules in force, as JSON."""
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def decide(self, route: str) -> FaultDecision | None:
        """The fault to apply to one request on ``route``, if any rule fires."""
        with self._lock:
            for rule in self._rules:
                if rule.route != route:
                    continue
                if rule.count is not None and rule.hits >= rule.count:
                    continue
                if (rule.sampler or self._rng).random() >= rule.rate:
                    continue
                rule.hits += 1
                return FaultDecision(rule.mode, rule.status, rule.retry_after, rule.delay_ms)
        return None
