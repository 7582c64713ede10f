"""Files the package finds and writes: a project's file and runtime, and writes that land whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

# The names a Pulumi project file may have, in the order the CLI looks for them.
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml", "Pulumi.json")


def project_file(directory: Path) -> Path | None:
    """The ``Pulumi.yaml`` (or ``.yml`` / ``.json``) of a project directory, if it has one."""
    return next((directory / name for name in PROJECT_FILES if (directory / name).is_file()), None)


def project_runtime(directory: Path) -> str | None:
    """The ``runtime`` name (``python``, ``nodejs``, ``yaml``...) of the project ``directory`` belongs to.

    That is the project file in ``directory`` or its nearest parent, as the CLI finds it when ``main:`` points
    below the root. None when there is no project file or it cannot be read.
    """
    for folder in (directory, *directory.parents):
        found = project_file(folder)
        if found is None:
            continue
        try:
            document = yaml.safe_load(found.read_text(encoding="utf-8"))  # JSON is YAML too
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        runtime = document.get("runtime") if isinstance(document, dict) else None
        name = runtime.get("name") if isinstance(runtime, dict) else runtime
        return name if isinstance(name, str) and name else None
    return None


def write_atomic(path: Path, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it with ``mode``, then a rename.

    A reader (a browser, a running policy pack, a concurrent run) sees the old file or the new one, never a
    part; on failure nothing is left behind. Returns ``path``.
    """
    directory = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
