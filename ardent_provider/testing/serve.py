"""``python -m ardent_provider.testing.serve``: the emulator as :class:`ArdentEmulator`'s child process.

Once it listens on a free loopback port it writes one JSON line, ``{"api_url", "org_id", "token"}``, to
stdout, and from then on writes nothing there. It exits as soon as its stdin reaches end of file, which
happens when the process that started it exits for any reason (SIGKILL included), so it never outlives it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO, TextIO

from ..emulator import EmulatorServer


def _watch(stdin: BinaryIO, server: EmulatorServer, on_end: Callable[[EmulatorServer], None]) -> None:
    while stdin.read(65536):
        pass
    on_end(server)


def _exit_now(server: EmulatorServer) -> None:
    # Everything lives in memory and the parent is gone: there is nothing to flush or close.
    os._exit(0)


def main(
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
    on_end: Callable[[EmulatorServer], None] = _exit_now,
) -> int:
    """Serve the emulator until ``stdin`` ends (then ``on_end(server)``) or a signal ends the process."""
    server = EmulatorServer(host="127.0.0.1", port=0, db=":memory:", credentials=None)
    watched = stdin if stdin is not None else sys.stdin.buffer
    watcher = threading.Thread(target=_watch, args=(watched, server, on_end), name="ardent-emulator-parent-watch")
    watcher.daemon = True
    watcher.start()
    out = stdout if stdout is not None else sys.stdout
    out.write(json.dumps({"api_url": server.url, "org_id": server.org_id, "token": server.token}) + "\n")
    out.flush()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
