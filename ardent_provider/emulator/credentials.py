"""The bootstrap credentials file: ``{"api_url", "org_id", "token"}``, readable only by its owner."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .domain import Credentials


def read_credentials(path: Path) -> dict[str, Any] | None:
    """The file's JSON object, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_credentials(path: Path, api_url: str, credentials: Credentials) -> None:
    """Replace the file atomically; it is created with mode 0600 so no other user can read the token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"api_url": api_url, "org_id": credentials.org_id, "token": credentials.token}
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
