"""``python -m ardent_provider.emulator``: run the local Ardent API emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .server import EmulatorServer


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ardent-emulator"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``ardent-emulator``."""
    data_dir = _default_data_dir()
    parser = argparse.ArgumentParser(
        prog="ardent-emulator",
        description="Run a local emulator of Ardent's API-key endpoints (for tests and offline use).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to listen on; 0 picks a free port (default: 8787)")
    parser.add_argument(
        "--db",
        default=str(data_dir / "emulator.db"),
        help=f"SQLite file holding orgs, roles and keys, or :memory: (default: {data_dir / 'emulator.db'})",
    )
    parser.add_argument(
        "--credentials",
        default=str(data_dir / "credentials.json"),
        help=f"where to write the bootstrap api_url, org_id and token (default: {data_dir / 'credentials.json'})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print where it listens and where its credentials are, serve until stopped."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"ardent-emulator: --port must be between 0 and 65535, not {args.port}", file=sys.stderr)
        return 2
    if args.db != ":memory:":
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    try:
        server = EmulatorServer(host=args.host, port=args.port, db=args.db, credentials=args.credentials)
    except (OSError, ValueError) as error:
        print(f"ardent-emulator: cannot start: {error}", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Ardent API emulator listening on {server.url}", flush=True)
    print(f"Bootstrap credentials (org id and owner token) written to {args.credentials}", flush=True)
    print(f"Org id: {server.org_id}", flush=True)
    server.serve_forever()
    print("Ardent API emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
