"""How messages about a native key name its properties: as the program that declares it does.

Messages are written once with the package's own names (``expires_in_days``), which is what Python programs
use, through ``ArdentApiKey`` or the generated Python SDK alike. Programs in YAML, TypeScript, Go and Java
declare ``expiresInDays``. The engine starts the native plugin and policy packs in the program's directory, so
the project's ``runtime`` tells which.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .files import project_runtime
from .state import camel_case_names_in

SNAKE_CASE_RUNTIMES = frozenset({"python"})
"""Runtimes whose generated SDK names properties as this package does."""


def _as_written(text: str) -> str:
    return text


def program_wording(directory: Path | None = None) -> Callable[[str], str]:
    """The rewording for the program in ``directory`` (the working directory when None).

    Outside a project (a plugin started by a debugger, a test) messages are worded for the native programs
    that are not Python, since those meet only the native names.
    """
    runtime = project_runtime(directory if directory is not None else Path.cwd())
    return _as_written if runtime in SNAKE_CASE_RUNTIMES else camel_case_names_in
