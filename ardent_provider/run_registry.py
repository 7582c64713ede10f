"""What one engine run remembers across provider calls, as an object with a lifetime.

The engine starts the dynamic provider server once per deployment and may load several provider instances in
it (one per pickled ``__provider`` string; an old state's string can differ from the program's). The
instance that deletes a replaced key must see what the instance that created its successor decided, so the
lifecycles (one per org and credentials) and their shared replacement ledger live here, not in an instance.
:func:`process_runs` gives the process's registry; it is closed, with every HTTP client it opened, when the
provider process ends.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .lifecycle import KeyLifecycle, ReplacementLedger
from .settings import Settings


@dataclass
class Run:
    """One run's lifecycles (one per org and credentials) and the replacement ledger they share."""

    lifecycles: dict[Settings, KeyLifecycle] = field(default_factory=dict)
    ledger: ReplacementLedger = field(default_factory=ReplacementLedger)


def run_key(config: Mapping[str, object] | Callable[[str], object | None], default: Settings | None) -> str:
    """What tells runs apart, as a digest kept in memory only.

    The whole stack configuration; where only a lookup of it is at hand (older SDKs), the default settings it
    resolves to, which every instance of the run shares (a lookup function is a new object per instance).
    """
    if callable(config):
        if default is None:
            return "lookup-without-settings"
        config = {"api_url": default.api_url, "org_id": default.org_id, "token": default.token.reveal()}
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class RunRegistry:
    """The runs of one provider process, each with its lifecycles; thread-safe; :meth:`close` ends them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._closed = False

    def lifecycle(
        self, key: str, settings: Settings, make: Callable[[ReplacementLedger], KeyLifecycle]
    ) -> KeyLifecycle:
        """The lifecycle of run ``key`` for ``settings``, made with the run's ledger on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the provider's runs were closed; the provider process is ending")
            run = self._runs.setdefault(key, Run())
            found = run.lifecycles.get(settings)
            if found is None:
                found = make(run.ledger)
                run.lifecycles[settings] = found
            return found

    def run_count(self) -> int:
        """How many runs are open."""
        with self._lock:
            return len(self._runs)

    def close(self) -> None:
        """Close every lifecycle's HTTP client and forget the runs; later calls are refused."""
        with self._lock:
            runs, self._runs, self._closed = list(self._runs.values()), {}, True
        for run in runs:
            for lifecycle in run.lifecycles.values():
                lifecycle.client.close()


# Made when the module loads (once, under the import lock, whichever provider thread imports it first) and
# closed when the process ends: the one object that outlives a provider instance in the provider process.
_PROCESS_RUNS = RunRegistry()
atexit.register(_PROCESS_RUNS.close)


def process_runs() -> RunRegistry:
    """The registry of this provider process."""
    return _PROCESS_RUNS
