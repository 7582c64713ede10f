"""The platform a frozen plugin is for, as the Pulumi engine names it, read from the Python that freezes it.

PyInstaller freezes for the interpreter it runs in: the archive's OS and architecture are that interpreter's, not
the shell's (on a Windows arm64 machine Git Bash may run emulated and call itself x86_64). Run with the build
interpreter, it prints two lines: ``<os> <arch>`` (linux, darwin or windows; amd64 or arm64) and the oldest system
the archive runs on, as far as the build decides it (the glibc on Linux, the deployment target on macOS); it exits
with status 1 and a message on a platform the engine has no plugin name for.

    python scripts/plugin_platform.py
"""

from __future__ import annotations

import os
import platform
import re
import sys
import sysconfig
from importlib import metadata

ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class UnsupportedPlatformError(ValueError):
    """The interpreter's platform has no Pulumi plugin name, or the plugin cannot be built for it."""


def pulumi_platform(build_platform: str, machine: str, pointer_bits: int) -> tuple[str, str]:
    """Pulumi's ``(os, arch)`` for an interpreter's platform, machine and pointer size.

    The arguments are the interpreter's ``sysconfig.get_platform()``, ``platform.machine()`` and pointer bits;
    anything but 64-bit Linux, macOS and Windows on amd64 or arm64 raises UnsupportedPlatformError.
    """
    if pointer_bits != 64:
        raise UnsupportedPlatformError(
            f"the interpreter is {pointer_bits}-bit ({build_platform}): freeze the plugin with a 64-bit Python"
        )
    system, _, rest = build_platform.partition("-")
    if system == "linux":
        os_name, arch = "linux", rest
    elif system == "macosx":
        # macosx-<deployment target>-<arch>; a universal2 interpreter runs, and PyInstaller freezes, as the machine.
        os_name, arch = "darwin", rest.rpartition("-")[2]
        if arch == "universal2":
            arch = machine
    elif system == "win":
        os_name, arch = "windows", rest
    else:
        raise UnsupportedPlatformError(
            f"no plugin archive for {build_platform}: Linux, macOS and Windows on amd64 or arm64 are supported"
        )
    if arch.lower() not in ARCHITECTURES:
        raise UnsupportedPlatformError(
            f"no plugin archive for the {arch} architecture ({build_platform}): amd64 and arm64 are supported"
        )
    return os_name, ARCHITECTURES[arch.lower()]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def macos_floor(deployment_target: str | None, wheel_tags: list[str]) -> str:
    """The newest macOS that the interpreter (its deployment target) or an installed wheel (its tag) was built for."""
    versions = [_version(deployment_target)] if deployment_target else []
    for tag in wheel_tags:
        match = re.search(r"macosx_(\d+)_(\d+)_", tag)
        if match:
            versions.append((int(match[1]), int(match[2])))
    if not versions:
        raise UnsupportedPlatformError("neither the interpreter nor its wheels name a macOS deployment target")
    return ".".join(map(str, max(versions)))


def installed_wheel_tags() -> list[str]:
    """The platform tags of every distribution installed in this interpreter (from each one's WHEEL file)."""
    tags = []
    for distribution in metadata.distributions():
        text = distribution.read_text("WHEEL") or ""
        tags += [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    return tags


def floor(os_name: str) -> str:
    """The oldest system the archive built by this interpreter runs on, as the build decides it."""
    if os_name == "linux":
        try:
            libc = os.confstr("CS_GNU_LIBC_VERSION")
        except (ValueError, OSError):
            libc = None
        if not libc or not libc.startswith("glibc "):
            raise UnsupportedPlatformError(
                "this Linux has no glibc (musl?): the archive must be built on a glibc Linux, the C library the "
                "engine's platforms run"
            )
        return f"Linux with {libc} or newer (the build machine's glibc)"
    if os_name == "darwin":
        target = sysconfig.get_config_var("MACOSX_DEPLOYMENT_TARGET")
        return f"macOS {macos_floor(target, installed_wheel_tags())} or newer (the Python's and the wheels' target)"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"the Windows versions Python {python} supports (built on Windows {platform.version()})"


def main() -> int:
    """Print ``<os> <arch>`` and the floor for the running interpreter; status 1 with a message if unsupported."""
    try:
        os_name, arch = pulumi_platform(sysconfig.get_platform(), platform.machine(), 64 if sys.maxsize > 2**32 else 32)
        print(f"{os_name} {arch}")
        print(floor(os_name))
    except UnsupportedPlatformError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
