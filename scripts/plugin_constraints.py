"""The versions the frozen plugin is built with: scripts/plugin-constraints.txt, written from the project's virtualenv.

scripts/plugin-archive freezes the plugin in a virtualenv of its own that holds only the package's wheel, its
dependencies (with its aws extra: boto3 for a key's sink) and PyInstaller (none of the development tools of the dev
extra), each at the version of the constraints file, which are the versions the checkout's virtualenv (.venv, the
dev extra) runs and tests with. Run
with that virtualenv after changing a pin in pyproject.toml; tests/integration/test_release.py checks that the file
is what this prints:

    .venv/bin/python scripts/plugin_constraints.py > scripts/plugin-constraints.txt

The closure is taken for the platform this runs on: the dependencies PyInstaller needs only on macOS (macholib)
or Windows (pefile, pywin32-ctypes) are resolved there within PyInstaller's own ranges.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# What the build virtualenv installs: the package (its wheel, so not pinned here) with its aws extra (a key's sink
# needs boto3 in the plugin, where no user can add it), the freezer and what builds the wheel without build isolation.
ROOTS = ("ardent-provider[aws]", "pyinstaller", "setuptools")
HEADER = """\
# The versions scripts/plugin-archive freezes the plugin with (pip constraints), written by
# scripts/plugin_constraints.py from the project's virtualenv: the package's dependencies with its aws extra,
# PyInstaller and setuptools at the versions the checkout tests with. Regenerate it after changing a pin in
# pyproject.toml.
"""


def closure(roots: tuple[str, ...] = ROOTS) -> dict[str, str]:
    """Every distribution the roots (the first one left out) need with their extras here, at its installed version."""
    versions: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(text) for text in roots]
    while pending:
        wanted = pending.pop()
        name = canonicalize_name(wanted.name)
        if (name, frozenset(wanted.extras)) in seen:
            continue
        seen.add((name, frozenset(wanted.extras)))
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError as error:
            raise SystemExit(
                f"{name} is not installed in this interpreter; run this with the project's .venv"
            ) from error
        extras = ["", *wanted.extras]
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras):
                pending.append(requirement)
    versions.pop(canonicalize_name(Requirement(roots[0]).name))
    return dict(sorted(versions.items()))


def render(versions: dict[str, str]) -> str:
    """The constraints file: the header, then one ``name==version`` a line."""
    return HEADER + "".join(f"{name}=={version}\n" for name, version in versions.items())


def main() -> int:
    """Print the constraints file for the running interpreter's installed versions."""
    sys.stdout.write(render(closure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
