"""``ardent-keys policy-pack``: write the executable that ``pulumi --policy-pack`` runs, and print its path.

Since CLI 3.255, ``--policy-pack <executable file>`` runs the file with ``[--logtostderr] [-v=N] [--tracing URL]
<engine address>``, in the project directory. The launcher written here is a small ``/bin/sh`` script that runs
``python -P -u -m pulumi.policy <engine address> <pack directory>`` with the absolute path of the interpreter
that runs ``ardent-keys`` (the one that has this package and ``pulumi-policy``), so neither an activated
virtualenv nor the project's runtime options matter, and no language host is involved (a pack *directory*
would need one that can run policy packs). A ``PulumiPolicy.yaml`` beside it gives the CLI the pack's version.

Where: in a virtualenv, under ``<venv>/share/ardent-provider/policy-pack/``, which lives as long as the
virtualenv; otherwise, or when that is not writable, under ``${XDG_CACHE_HOME:-~/.cache}/ardent-provider/
policy-pack/<digest of interpreter and pack>/``. The files are rewritten only when their content changes, each
by an atomic rename, so concurrent runs and running packs are safe.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import shlex
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from ..files import write_atomic
from ..pulumi_version import MIN_POLICY_PACK_CLI_VERSION, cli_too_old
from . import pack_directory

LAUNCHER_NAME = "ardent-policy-pack"
PROJECT_FILE = "PulumiPolicy.yaml"
EXIT_OK, EXIT_ERROR = 0, 2
_DISTRIBUTION = "ardent-provider"


class LauncherError(Exception):
    """The launcher could not be written; the message says why and what to do."""


def launcher_script(python: str, pack: Path) -> str:
    """The launcher's text: serve ``pack`` with ``python``, on the engine address the CLI passes last."""
    return "\n".join(
        [
            "#!/bin/sh",
            "# The Ardent API keys policy pack for `pulumi preview --policy-pack <this file>` and `pulumi up` (Pulumi",
            "# CLI 3.255 or newer). Written by `ardent-keys policy-pack`; run that again if the interpreter moves.",
            "# The CLI passes [--logtostderr] [-v=N] [--tracing URL] <engine address>, the engine address last.",
            f"python={shlex.quote(python)}",
            f"pack={shlex.quote(str(pack))}",
            "engine=",
            'for argument in "$@"; do engine=$argument; done',
            'if [ -z "$engine" ]; then',
            '    echo "usage: $0 [--logtostderr] [-v=N] [--tracing URL] ENGINE_ADDRESS (run by pulumi)" >&2',
            "    exit 2",
            "fi",
            'if [ ! -x "$python" ] || [ ! -f "$pack/__main__.py" ]; then',
            '    echo "ardent policy pack: $python or $pack is gone; run ardent-keys policy-pack again" >&2',
            "    exit 1",
            "fi",
            "# -u: the pack writes its port to stdout unflushed; -P: no file of the project shadows a module.",
            'exec "$python" -P -u -m pulumi.policy "$engine" "$pack"',
            "",
        ]
    )


def policy_project(version: str) -> str:
    """The ``PulumiPolicy.yaml`` beside the launcher: the version and description the CLI shows for the pack."""
    return "\n".join(
        [
            "# Written by `ardent-keys policy-pack` beside the launcher it serves the pack with.",
            "runtime: python",
            f"version: {version}",
            "description: Key hygiene for Ardent API keys declared with ardent-provider's ArdentApiKey.",
            "",
        ]
    )


def launcher_directories(
    python: str,
    pack: Path,
    *,
    prefix: str = sys.prefix,
    base_prefix: str = sys.base_prefix,
    environ: Mapping[str, str] = os.environ,
) -> list[Path]:
    """Where the launcher may go, best first: the virtualenv's own ``share``, then the user's cache."""
    candidates: list[Path] = []
    if prefix != base_prefix:
        candidates.append(Path(prefix) / "share" / "ardent-provider" / "policy-pack")
    cache = environ.get("XDG_CACHE_HOME") or (str(Path(environ["HOME"]) / ".cache") if environ.get("HOME") else "")
    if cache:
        # One directory per interpreter and pack, so that two virtualenvs never rewrite each other's launcher.
        digest = hashlib.sha256(f"{python}\0{pack}".encode()).hexdigest()[:16]
        candidates.append(Path(cache) / "ardent-provider" / "policy-pack" / digest)
    return candidates


def write_launcher(directory: Path, python: str, pack: Path, version: str) -> Path:
    """Write the launcher and its ``PulumiPolicy.yaml`` into ``directory``; the launcher's path."""
    directory.mkdir(parents=True, exist_ok=True)
    _write_if_changed(directory / PROJECT_FILE, policy_project(version), 0o644)
    return _write_if_changed(directory / LAUNCHER_NAME, launcher_script(python, pack), 0o755)


def install_launcher(python: str | None = None, pack: Path | None = None) -> Path:
    """Write the launcher for ``python`` (default: this interpreter) in the first place that takes it."""
    # Not resolved: a virtualenv's python is a symlink, and its target would run without the virtualenv.
    python = python if python is not None else sys.executable
    if not python or not Path(python).is_absolute():
        raise LauncherError("cannot tell which Python interpreter runs ardent-keys (sys.executable is not set)")
    if importlib.util.find_spec("pulumi_policy") is None:
        raise LauncherError(
            f"pulumi-policy is not installed for {python}, which runs ardent-keys; install the policy extra "
            f"with: {shlex.quote(python)} -m pip install 'ardent-provider[policy]'"
        )
    pack = pack if pack is not None else pack_directory()
    try:
        version = importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "0.0.0"
    failures: list[str] = []
    for directory in launcher_directories(python, pack):
        try:
            return write_launcher(directory, python, pack, version)
        except OSError as error:
            failures.append(f"{directory}: {error.strerror or error}")
    tried = "; ".join(failures) or "no virtualenv, and neither XDG_CACHE_HOME nor HOME is set"
    raise LauncherError(f"cannot write the policy pack launcher ({tried})")


def policy_pack(args: argparse.Namespace) -> int:
    """``ardent-keys policy-pack``: print the launcher's path, or say on stderr why there is none (exit 2)."""
    too_old = cli_too_old(MIN_POLICY_PACK_CLI_VERSION, "a policy pack served as an executable")
    if too_old:
        print(f"ardent-keys policy-pack: {too_old}", file=sys.stderr)
        return EXIT_ERROR
    try:
        path = install_launcher()
    except LauncherError as error:
        print(f"ardent-keys policy-pack: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(path)
    return EXIT_OK


def add_policy_pack_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``policy-pack`` among the subcommands of ``ardent-keys``."""
    parser = commands.add_parser(
        "policy-pack",
        help="print the path of the Ardent policy pack, for pulumi preview/up --policy-pack",
        description="Write the executable that serves the Ardent policy pack with this Python interpreter and "
        'print its path: pulumi preview --policy-pack "$(ardent-keys policy-pack)" [--policy-pack-config '
        "FILE]. Needs Pulumi CLI 3.255 or newer and the policy extra (pip install 'ardent-provider[policy]'). "
        "Exit 0: path printed; 2: no launcher (the reason on stderr).",
    )
    parser.set_defaults(handler=policy_pack)


def _write_if_changed(path: Path, text: str, mode: int) -> Path:
    try:
        if path.read_text(encoding="utf-8") == text and stat.S_IMODE(path.stat().st_mode) == mode:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    return write_atomic(path, text, mode)
