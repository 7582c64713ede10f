"""Figures with their targets: each printed with PASS/FAIL when measured, and all of them again at the end."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Literal

Comparison = Literal["<=", "<", "==", ">="]


@dataclass(frozen=True)
class Target:
    part: str
    label: str
    comparison: Comparison
    limit: float
    unit: str

    def met_by(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.comparison == "<=":
            return value <= self.limit
        if self.comparison == "<":
            return value < self.limit
        if self.comparison == ">=":
            return value >= self.limit
        return value == self.limit

    def describe(self) -> str:
        return f"{self.comparison} {_number(self.limit)}{self.unit}"


@dataclass(frozen=True)
class Outcome:
    target: Target
    value: float | None
    passed: bool
    note: str

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        shown = f"{_number(self.value)}{self.target.unit}" if self.value is not None else "not measured"
        note = f"  ({self.note})" if self.note else ""
        return f"{verdict}  {self.target.label}: {shown}, target {self.target.describe()}{note}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


class Scorecard:
    """Targets declared by each part before it measures, so a part that breaks still lists what it owed."""

    def __init__(self) -> None:
        self.targets: list[Target] = []
        self.outcomes: dict[Target, Outcome] = {}

    def declare(self, part: str, label: str, comparison: Comparison, limit: float, unit: str) -> Target:
        target = Target(part, label, comparison, limit, unit)
        self.targets.append(target)
        return target

    def record(self, target: Target, value: float, note: str = "") -> None:
        outcome = Outcome(target, value, target.met_by(value), note)
        self.outcomes[target] = outcome
        print(outcome.line(), flush=True)

    def abandon(self, part: str, reason: str) -> None:
        """Every target of ``part`` still unmeasured fails, with the reason."""
        for target in self.targets:
            if target.part == part and target not in self.outcomes:
                self.outcomes[target] = Outcome(target, None, False, reason)
                print(self.outcomes[target].line(), flush=True)

    def summary(self) -> bool:
        """Print every figure in declaration order; True when all passed."""
        print("\nSummary: every figure with its target")
        print("-" * 100)
        for target in self.targets:
            outcome = self.outcomes.get(target) or Outcome(target, None, False, "part not run")
            print(outcome.line())
        failed = sum(1 for target in self.targets if not (self.outcomes.get(target) and self.outcomes[target].passed))
        print(f"\n{len(self.targets) - failed} of {len(self.targets)} targets met.", flush=True)
        sys.stdout.flush()
        return failed == 0
