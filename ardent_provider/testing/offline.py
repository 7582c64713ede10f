"""The environment that keeps a Pulumi CLI offline and private: a file backend, a passphrase, no update checks."""

from __future__ import annotations

import os
from pathlib import Path


def offline_environment(
    backend_dir: Path, passphrase: str, *, bin_dir: Path | None = None, home: Path | None = None
) -> dict[str, str]:
    """The variables to lay over a process's environment so that ``pulumi`` runs on ``backend_dir`` alone.

    ``bin_dir`` goes first on ``PATH`` (the CLI and its plugins); ``home`` becomes ``PULUMI_HOME``.
    """
    env = {
        "PULUMI_BACKEND_URL": backend_dir.resolve().as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
    }
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    if home is not None:
        env["PULUMI_HOME"] = str(home.resolve())
    return env
