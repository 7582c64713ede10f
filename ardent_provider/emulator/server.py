"""A real HTTP/1.1 server for the emulator on a loopback port, usable as a context manager."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from .app import MAX_BODY_BYTES, EmulatorApp, Request, Response, error_response
from .clock import Clock
from .credentials import read_credentials
from .domain import ArdentService, Credentials
from .store import Store

DRAIN_LIMIT_BYTES = 16 * 1_048_576
FIXED_TOKEN_VARIABLE = "ARDENT_EMULATOR_TOKEN"  # noqa: S105 - a variable name
logger = logging.getLogger("ardent_provider.emulator")


class _Handler(BaseHTTPRequestHandler):
    """Adapts one HTTP exchange to :meth:`EmulatorApp.handle`; keeps connections alive."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write; with Nagle on, small answers would wait for delayed ACKs.
    disable_nagle_algorithm = True
    wbufsize = -1
    server: _EmulatorHTTPServer

    def _serve(self) -> None:
        length_header = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(error_response(400, "Invalid Content-Length header."))
            return
        if length > MAX_BODY_BYTES:
            # Read what was sent (within reason) so the client is not reset before it reads the answer.
            remaining = length if length <= DRAIN_LIMIT_BYTES else 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            self.close_connection = True
            self._send(error_response(413, f"Request body larger than {MAX_BODY_BYTES} bytes."))
            return
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client_host=self.client_address[0] if self.client_address else None,
        )
        response = self.server.app.handle(request)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "date":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            # Said out loud, so a keep-alive client does not send its next request down a closed socket.
            self.send_header("Connection", "close")
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header follows the emulator's clock, not the machine's."""
        return format_datetime(self.server.app.clock.now(), usegmt=True)

    def __getattr__(self, name: str) -> object:
        # Every method token reaches the app, which answers 405 where a route does not serve it.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """Request lines go to the debug log; they never carry a token (it travels in a header)."""
        logger.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get the contract's JSON error shape too."""
        self.close_connection = True
        # A request line too broken to parse leaves HTTP/0.9 behind, which would suppress the status line.
        self.request_version = self.protocol_version
        with contextlib.suppress(OSError):
            self._send(error_response(code, message or HTTPStatus(code).phrase))


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        super().__init__(address, _Handler)


class EmulatorServer:
    """The emulator on ``host:port`` (0 = any free port), with its store at ``db``.

    ``credentials`` is where the bootstrap org id and owner token are written (mode 0600).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str | Path = ":memory:",
        credentials: str | Path | None = None,
        fixed_token: str | None = None,
    ) -> None:
        self.store = Store(db)
        self.clock = Clock(self.store.clock_offset(), save=self.store.save_clock_offset)
        self.service = ArdentService(self.store, self.clock)
        self.credentials_path = Path(credentials) if credentials is not None else None
        token = fixed_token if fixed_token is not None else os.environ.get(FIXED_TOKEN_VARIABLE) or None
        if token is not None and not token.startswith("sk-ard_"):
            raise ValueError(f"{FIXED_TOKEN_VARIABLE} must start with 'sk-ard_' like every Ardent token.")
        self._fixed_token = token
        self.app = EmulatorApp(self.service, self.clock, self.credentials_path, self._bootstrap)
        self._httpd = _EmulatorHTTPServer((host, port), self.app)
        bound_host, bound_port = self._httpd.server_address[:2]
        bound_host = bound_host.decode() if isinstance(bound_host, bytes) else bound_host
        display_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{display_host}:{bound_port}"
        self.app.api_url = self.url
        self.app.publish_bootstrap()
        self._thread: threading.Thread | None = None

    def _bootstrap(self) -> Credentials:
        known = read_credentials(self.credentials_path) if self.credentials_path else None
        return self.service.bootstrap(known, self._fixed_token)

    @property
    def credentials(self) -> Credentials:
        """The org id and owner token of the latest bootstrap (a reset makes new ones)."""
        credentials = self.app.credentials
        assert credentials is not None, "publish_bootstrap() runs in __init__"
        return credentials

    @property
    def org_id(self) -> str:
        """The bootstrap org's id."""
        return self.credentials.org_id

    @property
    def token(self) -> str:
        """The bootstrap owner token."""
        return self.credentials.token

    def start(self) -> EmulatorServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ardent-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called from another."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and close the store."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(url={self.url!r}, org_id={self.org_id!r})"
