"""ArdentEmulator: the Ardent API emulator in a process of its own, driven through its control plane."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import weakref
from collections import Counter
from datetime import datetime
from types import TracebackType
from typing import IO, Any

FAULT_OPTIONS = frozenset({"status", "retry_after", "delay_ms", "rate", "count"})
LIST_KEYS_ROUTE = "GET /v1/orgs/{org_id}/api-keys"
SECONDS_PER_DAY = 86_400
STOP_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 30.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorError(RuntimeError):
    """The emulator could not be started, reached, or asked to do something."""


class ArdentEmulator:
    """A local Ardent API in a child process, with the org and owner token to use it.

    ``with ArdentEmulator() as api:`` starts it and stops it (the whole process group) on exit; the pytest
    fixture ``ardent_emulator`` hands out the same object, started once per session and reset for each test.
    The process also stops by itself when the process that started it ends, however it ends.

    ``api_url``, ``org_id`` and ``token`` (an owner key of the org) point a stack or a client at it; they
    change when :meth:`reset` makes a new org.
    """

    def __init__(self, *, python: str | os.PathLike[str] | None = None, startup_timeout: float = 30.0) -> None:
        self._python = str(python) if python is not None else sys.executable
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stop: weakref.finalize[Any, ArdentEmulator] | None = None
        self._api_url = ""
        self._org_id = ""
        self._token = ""
        # Requests this object makes through the emulated API, so request_counts() shows only the caller's.
        self._own_requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    # -- process ---------------------------------------------------------------------------------

    def start(self) -> ArdentEmulator:
        """Start the emulator process and wait until it serves."""
        if self._process is not None:
            raise EmulatorError("This ArdentEmulator is already running; stop() it before starting it again.")
        env = dict(os.environ)
        env.pop("ARDENT_EMULATOR_TOKEN", None)  # every reset should mint a fresh owner token
        log = tempfile.TemporaryFile()  # noqa: SIM115 - the child writes to it until stop() closes it
        command = [self._python, "-m", "ardent_provider.testing.serve"]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            log.close()
            raise EmulatorError(f"Could not start the Ardent emulator with {self._python}: {error}") from None
        self._process = process
        self._stop = weakref.finalize(self, _terminate, process, log)
        assert process.stdout is not None
        line = _read_line(process.stdout, self._startup_timeout)
        try:
            ready = json.loads(line)
            self._api_url, self._org_id, self._token = ready["api_url"], ready["org_id"], ready["token"]
        except (ValueError, KeyError, TypeError):
            try:  # an empty line means the child closed its stdout: it is exiting, so wait for its code
                code = process.wait(timeout=2) if not line else process.poll()
            except subprocess.TimeoutExpired:
                code = None
            log.seek(0)
            errors = log.read().decode("utf-8", "replace").strip()
            self.stop()
            how = (
                f"exited with code {code}" if code is not None else f"did not start within {self._startup_timeout:g} s"
            )
            raise EmulatorError(
                f"The Ardent emulator (`{' '.join(command)}`) {how}"
                + (f":\n{errors[-2000:]}" if errors else ".")
                + "\nIs ardent-provider installed in that interpreter?"
            ) from None
        return self

    def stop(self) -> None:
        """Stop the emulator's whole process group; calling it again does nothing."""
        if self._stop is not None:
            self._stop()
        self._process = None
        self._stop = None

    @property
    def pid(self) -> int | None:
        """The emulator process's id (also its process group's), or None when it is not running."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> ArdentEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._process is None:
            return "ArdentEmulator(stopped)"
        return f"ArdentEmulator(api_url={self._api_url!r}, org_id={self._org_id!r})"

    # -- where it is -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The base URL to give as ``ardent:apiUrl`` (``http://127.0.0.1:<port>``)."""
        self._require_running()
        return self._api_url

    @property
    def org_id(self) -> str:
        """The id of the emulator's org (a new one after each reset)."""
        self._require_running()
        return self._org_id

    @property
    def token(self) -> str:
        """An owner token of that org."""
        self._require_running()
        return self._token

    def _require_running(self) -> None:
        if self._process is None:
            raise EmulatorError(
                "The Ardent emulator is not running: use `with ArdentEmulator() as api:` or call start() first."
            )

    # -- control plane ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the store and start over with a new org and owner token, the real clock, no faults, no counts."""
        answer = self._call("POST", "/_emulator/reset")
        self._org_id, self._token = answer["org_id"], answer["token"]
        with self._lock:
            self._own_requests.clear()

    def add_org(self) -> dict[str, str]:
        """Create another org with an owner token of its own: ``{"api_url", "org_id", "token"}``.

        For programs that put keys in several orgs (``ArdentApiKey(..., org_id=...)``): give the org's token to
        a stack as ``config={"ardent:orgs": {org_id: {"token": token}}}``. A :meth:`reset` removes it again.
        """
        answer = self._call("POST", "/_emulator/orgs")
        return {"api_url": str(answer["api_url"]), "org_id": str(answer["org_id"]), "token": str(answer["token"])}

    def advance_clock(self, days: float = 0, seconds: float = 0) -> datetime:
        """Move the emulator's clock forward; expiry, timestamps and ``Date`` follow. Returns the new time."""
        total = days * SECONDS_PER_DAY + seconds
        if total < 0:
            raise ValueError("advance_clock() only moves the clock forward: give non-negative days and seconds.")
        answer = self._call("POST", "/_emulator/clock", {"advance_seconds": total})
        return datetime.fromisoformat(str(answer["now"]).replace("Z", "+00:00"))

    def inject_fault(self, route: str, mode: str, **options: Any) -> None:
        """Make requests on ``route`` (such as ``"POST /v1/orgs/{org_id}/api-keys"``) fail.

        ``mode`` is ``status``, ``drop``, ``drop_after_commit`` or ``delay``; ``options`` are the control
        plane's: ``status``, ``retry_after``, ``delay_ms``, ``rate`` and ``count``.
        """
        unknown = sorted(set(options) - FAULT_OPTIONS)
        if unknown:
            raise TypeError(
                f"inject_fault() got unknown option(s) {', '.join(unknown)}; "
                f"the options are: {', '.join(sorted(FAULT_OPTIONS))}."
            )
        self._call("POST", "/_emulator/faults", {"route": route, "mode": mode, **options})

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._call("DELETE", "/_emulator/faults")

    def request_counts(self) -> dict[str, int]:
        """Requests served since the last reset, as ``{"METHOD route": n}`` (this object's own not counted)."""
        served = Counter({route: int(n) for route, n in self._call("GET", "/_emulator/stats")["requests"].items()})
        with self._lock:
            served.subtract(self._own_requests)
        return {route: n for route, n in sorted(served.items()) if n > 0}

    def reset_request_counts(self) -> None:
        """Start counting requests from zero."""
        self._call("POST", "/_emulator/stats/reset")
        with self._lock:
            self._own_requests.clear()

    def active_keys(self) -> list[dict[str, Any]]:
        """The default org's active keys as the list endpoint returns them, newest first.

        Like :meth:`keys_of`, it leaves out the owner key whose token lists them (the org's bootstrap key, which
        no test made). This is a real request to the emulated API, so a fault injected on the list route applies
        to it.
        """
        return self.keys_of(self.org_id, self.token)

    def keys_of(self, org_id: str, token: str, *, include_own: bool = False) -> list[dict[str, Any]]:
        """The active keys of any org of this emulator, listed with ``token``, newest first.

        The key of ``token`` itself (for an org from :meth:`add_org`, its owner key) is left out, as
        :meth:`active_keys` leaves out the default org's, unless ``include_own`` is set.
        """
        with self._lock:
            self._own_requests[LIST_KEYS_ROUTE] += 1
        keys = self._call("GET", f"/v1/orgs/{org_id}/api-keys", token=token)
        if not isinstance(keys, list):
            raise EmulatorError(f"The emulator answered the key list of org {org_id} with {type(keys).__name__}.")
        if include_own:
            return keys
        return [key for key in keys if not token.startswith(str(key.get("key_prefix") or "\0"))]

    def _call(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        self._require_running()
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self._api_url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with _NO_PROXY.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = _detail(error.read())
            if error.code == 400 and path.startswith("/_emulator/"):
                raise ValueError(f"The Ardent emulator refused {method} {path}: {detail}") from None
            raise EmulatorError(f"{method} {path} failed with HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise EmulatorError(
                f"The Ardent emulator at {self._api_url} cannot be reached ({reason}); has its process ended?"
            ) from None
        return json.loads(payload) if payload else None


def _detail(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:500]
    return str(parsed.get("detail", parsed)) if isinstance(parsed, dict) else str(parsed)


def _read_line(stream: IO[bytes], timeout: float) -> str:
    """One line from a child's pipe, or "" if none arrives within ``timeout`` seconds."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline().decode("utf-8", "replace")


def _terminate(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    # Signal the group only while the leader is unreaped: its id cannot have been reused for another group.
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
    log.close()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


__all__ = ["ArdentEmulator", "EmulatorError"]
