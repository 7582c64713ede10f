"""The platform a frozen plugin is for, as the Pulumi engine names it, read from the Python that freezes it.

PyInstaller freezes for the interpreter it runs in: the archive's OS and architecture are that interpreter's, not
the shell's (on a Windows arm64 machine Git Bash may run emulated and call itself x86_64). Run with the build
interpreter, it prints ``<os> <arch>`` (linux, darwin or windows; amd64 or arm64); with ``--floor`` and the folder
PyInstaller froze the plugin into, the oldest system that folder runs on (on Linux the build machine's glibc, on
macOS the newest minimum of its Mach-O binaries). It exits with status 1 and a message on a platform the engine has
no plugin name for.

    python scripts/plugin_platform.py                     # e.g. "linux amd64"
    python scripts/plugin_platform.py --floor FROZEN_DIR  # e.g. "Linux with glibc 2.35 or newer (...)"
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from pathlib import Path

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


# The first four bytes of a Mach-O file (thin 32/64-bit, either byte order, or fat).
MACHO_MAGICS = {
    bytes.fromhex(magic) for magic in ("feedface", "cefaedfe", "feedfacf", "cffaedfe", "cafebabe", "bebafeca")
}


def newest_macos(minimums: list[tuple[int, ...]]) -> str:
    """The newest of the macOS minimums of an archive's binaries, as ``major.minor``: the macOS it needs."""
    if not minimums:
        raise UnsupportedPlatformError("the frozen plugin holds no Mach-O binary to read a macOS minimum from")
    newest = max(minimums)
    return f"{newest[0]}.{newest[1] if len(newest) > 1 else 0}"


def macos_minimums(frozen: Path) -> list[tuple[int, ...]]:
    """The minimum macOS of every Mach-O binary under ``frozen``.

    Read with PyInstaller's own Mach-O reader, which the build virtualenv holds; of a fat binary, its lowest slice.
    """
    from PyInstaller.utils.osx import macosx_version_min  # type: ignore[import-untyped]

    minimums = []
    for path in sorted(frozen.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as file:
                if file.read(4) in MACHO_MAGICS:
                    minimums.append(tuple(macosx_version_min(str(path))))
    return minimums


def floor(os_name: str, frozen: Path) -> str:
    """The oldest system the frozen plugin in ``frozen``, built by this interpreter, runs on."""
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
        # The interpreter and the system libraries PyInstaller collects are linked against the build's glibc.
        return f"Linux with {libc} or newer (the build machine's glibc)"
    if os_name == "darwin":
        return f"macOS {newest_macos(macos_minimums(frozen))} or newer (the newest minimum of its binaries)"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"the Windows versions Python {python} supports (built on Windows {platform.version()})"


def main(argv: list[str]) -> int:
    """Print ``<os> <arch>`` for the running interpreter, or with ``--floor DIR`` the floor of the plugin in DIR.

    Status 1 with a message on an unsupported platform, 2 on a wrong command line.
    """
    try:
        os_name, arch = pulumi_platform(sysconfig.get_platform(), platform.machine(), 64 if sys.maxsize > 2**32 else 32)
        if argv[:1] == ["--floor"] and len(argv) == 2:
            print(floor(os_name, Path(argv[1])))
        elif not argv:
            print(f"{os_name} {arch}")
        else:
            print("usage: plugin_platform.py [--floor FROZEN_DIR]", file=sys.stderr)
            return 2
    except UnsupportedPlatformError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
