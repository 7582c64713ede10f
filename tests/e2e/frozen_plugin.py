"""The plugin archive that ``scripts/plugin-archive`` builds, and a loopback server laid out as a release.

Freezing the plugin takes a minute or more, so the archive is kept under
``${XDG_CACHE_HOME:-~/.cache}/ardent-provider/plugin-archives/<digest>``, the digest taken over everything the
archive is built from (the package's sources, pyproject.toml with its pins, the script and its constraints file)
and the interpreter; a change to any of them builds it anew.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.server
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ardent_provider import __version__
from ardent_provider.distribution import PLUGIN_DOWNLOAD_PATH

from ..release import PACKAGE_SOURCES, ROOT

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ardent-provider" / "plugin-archives"
STALE_AFTER = 7 * 24 * 3600
BUILT_FROM = (*PACKAGE_SOURCES, "scripts/plugin-archive", "scripts/plugin-constraints.txt", "scripts/lib.sh")


def _digest() -> str:
    digest = hashlib.sha256(f"{sys.version}\0{platform.machine()}\0".encode())
    for name in BUILT_FROM:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_archive(out: Path) -> Path:
    """Run ``scripts/plugin-archive OUT`` and return the archive it names on its last line."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "plugin-archive"), str(out)], capture_output=True, text=True, timeout=1500, check=False
    )
    assert result.returncode == 0, f"scripts/plugin-archive failed:\n{result.stderr[-3000:]}"
    archive = Path(result.stdout.strip().splitlines()[-1])
    assert archive.parent == out.resolve() and archive.is_file(), result.stdout
    return archive


def cached_archive() -> Path:
    """The archive of this checkout, built once per content of what it is built from."""
    prepared = CACHE / _digest()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = sorted(prepared.glob("pulumi-resource-ardent-*.tar.gz"))
        if built and (prepared / ".built").exists():
            os.utime(prepared)
            return built[0]
        for stale in CACHE.glob("*"):
            if stale.is_dir() and time.time() - stale.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(prepared, ignore_errors=True)
        archive = build_archive(prepared)
        (prepared / ".built").write_text("")
        return archive


@dataclass
class ReleaseServer:
    """An HTTP server on loopback serving one archive where a release of this version keeps its assets."""

    archive: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)

    @property
    def asset_path(self) -> str:
        """The path of the archive on the server: ``/releases/download/v<version>/<archive>``."""
        return f"/{PLUGIN_DOWNLOAD_PATH.format(version=__version__)}/{self.archive.name}"

    @property
    def download_url(self) -> str:
        """A ``pluginDownloadURL`` of the schema's form: the release of this version, below the server's address."""
        return f"{self.url}/{PLUGIN_DOWNLOAD_PATH.format(version=__version__)}"

    def served_archive(self) -> bool:
        """Whether the archive was asked for (and so served)."""
        return self.asset_path in self.requests


@contextmanager
def release_server(archive: Path) -> Iterator[ReleaseServer]:
    """Serve ``archive`` from a thread on a free loopback port until the block ends."""
    served = ReleaseServer(archive)
    payload = archive.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            if self.path != served.asset_path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, message: str, *args: object) -> None:
            pass  # quiet: the test reads `requests`

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="release-server", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
