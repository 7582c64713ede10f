"""Finding the Pulumi CLI the way the rest of the project does, and saying exactly what is missing."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

PLUGINS = (
    ("pulumi-language-python", "the Python language host"),
    ("pulumi-resource-pulumi-python", "the Python dynamic-provider plugin"),
)
SETUP_HINT = (
    "Install the Pulumi CLI and put it on PATH, or run scripts/setup-pulumi from an ardent-provider checkout "
    "(it builds or reuses one and prints its directory as the last line: add that directory to PATH)."
)


class PulumiNotFoundError(RuntimeError):
    """No usable Pulumi CLI was found; the message says where it looked and what is missing."""


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``scripts/setup-pulumi`` caches the CLI it builds: one ``v<version>/bin`` per version."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "ardent-provider" / "pulumi"


def find_pulumi(environ: Mapping[str, str] | None = None) -> Path:
    """The directory holding a usable ``pulumi``.

    In order: ``$ARDENT_PULUMI_BIN_DIR`` (set by the project's scripts), ``pulumi`` on ``PATH``, then the
    newest CLI that ``scripts/setup-pulumi`` cached. The Python language host and the dynamic-provider
    plugin must sit beside it or on ``PATH``.
    """
    from .pulumi_cli import BIN_DIR_VARIABLE  # here, not at the top: the plugin loads before coverage starts

    env = os.environ if environ is None else environ
    search_path = env.get("PATH", "")
    explicit = env.get(BIN_DIR_VARIABLE)
    if explicit:
        if not _is_executable(Path(explicit) / "pulumi"):
            raise PulumiNotFoundError(
                f"{BIN_DIR_VARIABLE} is set to {explicit}, but that directory holds no executable `pulumi`. "
                f"Point it at the directory holding the CLI, or unset it to use the one on PATH. {SETUP_HINT}"
            )
        return _with_plugins(Path(explicit), search_path)
    on_path = shutil.which("pulumi", path=search_path)
    if on_path is not None:
        return _with_plugins(Path(on_path).parent, search_path)
    cached = _newest_cached(cache_root(env))
    if cached is not None:
        return _with_plugins(cached, search_path)
    raise PulumiNotFoundError(
        "The Pulumi CLI was not found: there is no `pulumi` on PATH, "
        f"{BIN_DIR_VARIABLE} is not set, and scripts/setup-pulumi has cached none in "
        f"{cache_root(env)}/v<version>/bin. {SETUP_HINT}"
    )


def _with_plugins(bin_dir: Path, search_path: str) -> Path:
    missing = [
        f"`{name}` ({role})"
        for name, role in PLUGINS
        if not _is_executable(bin_dir / name) and shutil.which(name, path=search_path) is None
    ]
    if missing:
        raise PulumiNotFoundError(
            f"Found `pulumi` in {bin_dir}, but not {' or '.join(missing)}, neither beside it nor on PATH; "
            f"a Python program needs both. {SETUP_HINT}"
        )
    return bin_dir


def _newest_cached(root: Path) -> Path | None:
    versions: list[tuple[tuple[int, ...], Path]] = []
    for candidate in root.glob("v*/bin"):
        match = re.fullmatch(r"v(\d+(?:\.\d+)*)", candidate.parent.name)
        if match and _is_executable(candidate / "pulumi"):
            versions.append((tuple(int(part) for part in match.group(1).split(".")), candidate))
    return max(versions)[1] if versions else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def pulumi_root(bin_dir: Path, scratch: Path) -> Path:
    """A directory whose ``bin/pulumi`` is the CLI in ``bin_dir``, as ``PulumiCommand(root=...)`` wants it."""
    if bin_dir.name == "bin":
        return bin_dir.parent
    root = scratch / "pulumi-root"
    if not (root / "bin").exists():
        root.mkdir(parents=True, exist_ok=True)
        (root / "bin").symlink_to(bin_dir.resolve(), target_is_directory=True)
    return root
