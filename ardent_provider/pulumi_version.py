"""Which Pulumi CLI the package needs, and whether the one on PATH is new enough.

The provider needs a CLI at least as new as the oldest Python SDK it accepts (3.139.0: dynamic providers get
the stack's configuration in ``configure``); ``refresh --run-program`` and ``destroy --run-program``, which the
README advises after a settings change, came before that. Serving the policy pack as an executable file needs
3.255.0.
"""

from __future__ import annotations

import re
import shutil
import subprocess

MIN_CLI_VERSION = (3, 139, 0)
MIN_POLICY_PACK_CLI_VERSION = (3, 255, 0)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``v3.274.1`` (or ``3.274.1-dev…``) as a tuple; None when the text holds no version."""
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


def shown(version: tuple[int, int, int]) -> str:
    """A version as people write it, ``3.139.0``."""
    return ".".join(map(str, version))


def installed_cli_version() -> tuple[int, int, int] | None:
    """The version of the ``pulumi`` on PATH; None when there is none or it does not say."""
    if shutil.which("pulumi") is None:
        return None
    try:
        result = subprocess.run(["pulumi", "version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_version(result.stdout) if result.returncode == 0 else None


def cli_too_old(minimum: tuple[int, int, int], purpose: str) -> str | None:
    """Why the ``pulumi`` on PATH cannot serve ``purpose``, naming the minimum; None when it can (or is absent)."""
    found = installed_cli_version()
    if found is None or found >= minimum:
        return None
    return (
        f"the Pulumi CLI on PATH is {shown(found)}, but {purpose} needs {shown(minimum)} or newer; install a newer "
        "CLI (`pulumi version` shows which one runs)"
    )
