"""ArdentStack: one Pulumi stack driven through the Automation API, answering in plain Python values."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto
from pulumi.runtime.rpc import UNKNOWN  # how the engine writes a value not known yet

from ..resource_types import is_key_type

ROOT_TYPE = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
REFRESH_OP = "refresh"
MASKED = "[secret]"
# What a CLI without `pulumi refresh --run-program` says to the flag.
_UNKNOWN_FLAG = "unknown flag: --run-program"


@dataclass
class _Recorder:
    """What one operation's engine events say: the root stack's step, refresh outcomes, the keys recorded."""

    root_op: str | None = None
    keys: dict[str, str] = field(default_factory=dict)  # key id -> org id
    refreshed: dict[str, str] = field(default_factory=dict)  # urn -> what its refresh step found
    _refreshing: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: auto.EngineEvent) -> None:
        pre, done = event.resource_pre_event, event.res_outputs_event
        metadata = pre.metadata if pre is not None else done.metadata if done is not None else None
        if metadata is None:
            return
        op = str(getattr(metadata.op, "value", metadata.op))
        with self._lock:
            if pre is not None and op == REFRESH_OP:
                self._refreshing.add(metadata.urn)
            elif done is not None and metadata.urn in self._refreshing:
                self._refreshing.discard(metadata.urn)
                if metadata.type != ROOT_TYPE and not metadata.type.startswith(PROVIDER_TYPE_PREFIX):
                    self.refreshed[metadata.urn] = op
            if metadata.type == ROOT_TYPE:
                # The outputs event carries the step the summary counts.
                if done is not None or self.root_op is None:
                    self.root_op = op
            elif done is not None and is_key_type(metadata.type) and metadata.new is not None:
                self.keys.update(_key_ids(metadata.new.outputs or {}))

    def summary(self, counts: Mapping[Any, int] | None) -> dict[str, int]:
        """Pulumi's change summary without the root stack resource, so one key created reads ``{"create": 1}``."""
        plain = {str(getattr(op, "value", op)): int(n) for op, n in (counts or {}).items()}
        if self.root_op is not None and plain.get(self.root_op, 0) > 0:
            plain[self.root_op] -= 1
        return {op: n for op, n in sorted(plain.items()) if n > 0}

    def refresh_summary(self) -> dict[str, int]:
        """What the refresh found per resource (``same``, ``update``, ``delete``), root stack not counted.

        A refresh that runs the program also emits a ``same`` step for every resource the program declares,
        which Pulumi's own summary adds to the refresh's findings; only the findings count here.
        """
        counts: dict[str, int] = {}
        for op in self.refreshed.values():
            counts[op] = counts.get(op, 0) + 1
        return dict(sorted(counts.items()))


def _key_ids(outputs: Mapping[str, Any]) -> dict[str, str]:
    org = str(outputs.get("org_id") or "")
    ids: list[Any] = [outputs.get("key_id"), outputs.get("previous_key_id")]
    pending = outputs.get("pending_revoke_key_ids")
    if isinstance(pending, list):
        ids.extend(pending)
    return {key_id: org for key_id in ids if isinstance(key_id, str) and key_id and key_id != UNKNOWN}


def _takes_run_program(automation: auto.Stack) -> bool:
    """Whether this Automation API's ``Stack.refresh`` has the ``run_program`` parameter."""
    try:
        return "run_program" in inspect.signature(automation.refresh).parameters
    except (TypeError, ValueError):
        return False


def _plain_value(value: Any) -> Any:
    """An output value, with the engine's placeholder for an unknown value read as None."""
    return None if value == UNKNOWN else value


class ArdentStack:
    """A stack made by ``ardent_stack``: ``up``, ``preview``, ``refresh``, ``destroy`` and ``outputs``.

    Pulumi failures raise :class:`pulumi.automation.errors.CommandError`, whose message holds the engine's
    output. ``automation`` is the underlying :class:`pulumi.automation.Stack` for anything else.
    """

    def __init__(self, automation: auto.Stack, before_operation: Callable[[], None] | None = None) -> None:
        self._stack = automation
        self._before_operation = before_operation
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}
        self._has_resources = False
        self._refresh_runs_program = _takes_run_program(automation)

    @property
    def name(self) -> str:
        """The stack's name (``test`` unless another was asked for)."""
        return str(self._stack.name)

    @property
    def project(self) -> str:
        """The project's name: from ``Pulumi.yaml``, or the inline program function's name."""
        return str(self._stack.workspace.project_settings().name)

    @property
    def automation(self) -> auto.Stack:
        """The Automation API stack, for what this class does not offer; keys it creates are not tracked."""
        self._has_resources = True
        return self._stack

    @property
    def recorded_keys(self) -> dict[str, str]:
        """Every key id (with its org id) that this stack's state has recorded so far."""
        with self._lock:
            return dict(self._keys)

    @property
    def has_resources(self) -> bool:
        """Whether the stack may hold resources (an ``up`` or ``refresh`` ran since the last ``destroy``)."""
        return self._has_resources

    def up(self) -> dict[str, Any]:
        """Deploy; returns the stack outputs as a plain dict, secrets revealed."""
        result = self._run(lambda recorder: self._stack.up(on_event=recorder), creates=True)
        return {name: _plain_value(output.value) for name, output in result.outputs.items()}

    def preview(self) -> dict[str, int]:
        """What ``up`` would do, as counts per step such as ``{"create": 1}`` (the root stack not counted)."""
        recorder = _Recorder()
        self._sync()
        result = self._stack.preview(on_event=recorder)
        return recorder.summary(result.change_summary)

    def refresh(self) -> dict[str, int]:
        """Bring the state in line with Ardent; returns what it found per resource, such as ``{"update": 1}``.

        ``same`` is a key as recorded, ``update`` one whose status changed (expired, token no longer valid),
        ``delete`` one revoked outside Pulumi, now dropped from the state. Where the Pulumi SDK's
        ``Stack.refresh`` takes ``run_program`` and the CLI knows ``pulumi refresh --run-program`` (2025
        releases on), the program runs too, so :meth:`outputs` shows what the refresh found, such as a
        ``status`` turned ``expired``, and an output of a dropped key reads None until the next ``up``. With an
        older SDK or CLI it is a plain refresh: the same findings, but the outputs stay those of the last
        ``up`` until the next one. ``automation.refresh()`` is always the plain one.
        """
        if self._refresh_runs_program:
            recorder = _Recorder()
            try:
                self._run(
                    lambda events: self._stack.refresh(on_event=events, run_program=True),
                    creates=True,
                    recorder=recorder,
                )
                return recorder.refresh_summary()
            except auto.CommandError as error:
                if _UNKNOWN_FLAG not in str(error):
                    raise
                self._refresh_runs_program = False  # an SDK newer than the CLI: refused before the engine ran
        recorder = _Recorder()
        self._run(lambda events: self._stack.refresh(on_event=events), creates=True, recorder=recorder)
        return recorder.refresh_summary()

    def destroy(self) -> dict[str, int]:
        """Delete every resource of the stack (revoking its keys); returns the counts per step."""
        recorder = _Recorder()
        result = self._run(lambda events: self._stack.destroy(on_event=events), creates=False, recorder=recorder)
        self._has_resources = False
        return recorder.summary(result.summary.resource_changes)

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        """The stack outputs; secrets read ``"[secret]"`` unless ``show_secrets``."""
        return {
            name: _plain_value(output.value) if show_secrets or not output.secret else MASKED
            for name, output in self._stack.outputs().items()
        }

    def _sync(self) -> None:
        if self._before_operation is not None:
            self._before_operation()

    def _run(self, operation: Callable[[_Recorder], Any], *, creates: bool, recorder: _Recorder | None = None) -> Any:
        recorder = recorder if recorder is not None else _Recorder()
        self._sync()
        if creates:
            self._has_resources = True
        try:
            return operation(recorder)
        finally:
            with self._lock:
                self._keys.update(recorder.keys)

    def __repr__(self) -> str:
        return f"ArdentStack({self.project}/{self.name})"
