"""A project directory seen through symlinks, so a test's stack never writes into the user's project.

Pulumi keeps a stack's config (and its secrets salt) in ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``.
The mirror links every entry of the project except such stack files, and Pulumi runs in the mirror: the
stack file lands there, while the program, its modules and a relative ``virtualenv`` resolve to the
project's own files. Files the test adds or removes in the project are picked up by :meth:`sync`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..files import PROJECT_FILES

_STACK_FILE = re.compile(r"Pulumi\.[^/]+\.(yaml|yml|json)")


def is_stack_settings_file(name: str) -> bool:
    """Whether ``name`` is a stack's settings file (``Pulumi.dev.yaml``), not the project file."""
    return name not in PROJECT_FILES and _STACK_FILE.fullmatch(name) is not None


class ProjectMirror:
    """``target`` mirrors ``source`` with one symlink per entry, stack settings files left out."""

    def __init__(self, source: Path, target: Path) -> None:
        self.source = source.resolve()
        self.target = target
        self.target.mkdir(parents=True, exist_ok=True)
        self.sync()

    def sync(self) -> None:
        """Link entries added to the project since the last sync and drop links to removed ones."""
        wanted = {entry.name for entry in self.source.iterdir() if not is_stack_settings_file(entry.name)}
        for name in wanted:
            link = self.target / name
            if not link.is_symlink() and not link.exists():
                link.symlink_to(self.source / name)
        for link in self.target.iterdir():
            if link.is_symlink() and link.name not in wanted:
                link.unlink()
