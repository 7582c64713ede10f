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

from ..emulator import EmulatorServer


def _exit_at_end_of_input() -> None:
    while sys.stdin.buffer.read(65536):
        pass
    # Everything lives in memory and the parent is gone: there is nothing to flush or close.
    os._exit(0)


def main() -> int:
    """Serve the emulator until stdin closes or a signal ends the process."""
    server = EmulatorServer(host="127.0.0.1", port=0, db=":memory:", credentials=None)
    threading.Thread(target=_exit_at_end_of_input, name="ardent-emulator-parent-watch", daemon=True).start()
    sys.stdout.write(json.dumps({"api_url": server.url, "org_id": server.org_id, "token": server.token}) + "\n")
    sys.stdout.flush()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
