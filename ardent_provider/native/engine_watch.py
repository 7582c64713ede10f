"""The plugin ends with the engine that started it.

The Pulumi CLI starts ``pulumi-resource-ardent`` as its child and stops it when a run ends. When the CLI itself
is killed (a cancelled CI job, SIGKILL), nothing stops the plugin: its gRPC server would wait for calls that
never come, holding HTTP connections and, on a build machine, a slot of the job. The plugin therefore watches
its parent: once the parent is gone (the process was handed to another parent), it waits a moment and exits.

What a killed run leaves is settled elsewhere, never here: the engine records a pending create in the state
before it asks the plugin to create, so the next run's pending-operation handling (and ``ardent-keys drift``)
finds a key whose create was under way. The short wait only lets a request in its last round trip finish, so
that such a key is listed by the time anyone looks.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

POLL_SECONDS = 0.5
"""How often the parent is looked at: the plugin is gone within a few seconds of its engine."""
GRACE_SECONDS = 2.0
"""How long a request already sent may take to be answered before the process exits."""


def _exit_process(code: int) -> None:
    # The engine is gone, so no answer can reach anyone: no handler is left to run and nothing to flush.
    os._exit(code)


def watch_engine(
    parent_pid: int,
    *,
    parent_pid_now: Callable[[], int] = os.getppid,
    exit_process: Callable[[int], None] = _exit_process,
    poll_seconds: float = POLL_SECONDS,
    grace_seconds: float = GRACE_SECONDS,
) -> threading.Thread:
    """Start a daemon thread that exits the process soon after ``parent_pid`` stops being its parent.

    A parent of 1 (or any other pid) means the engine died and the process was adopted. Nothing is watched
    when the plugin has no real parent to begin with (``parent_pid`` <= 1: started by init or a debugger).
    """

    def watch() -> None:
        while parent_pid_now() == parent_pid:
            time.sleep(poll_seconds)
        time.sleep(grace_seconds)
        exit_process(0)

    watcher = threading.Thread(target=watch, name="ardent-engine-watch", daemon=True)
    if parent_pid > 1:
        watcher.start()
    return watcher
