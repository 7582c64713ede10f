"""The plugin archive is named after the platform of the Python that freezes it, in the engine's names, and states
the oldest system it runs on (scripts/plugin_platform.py, which scripts/plugin-archive runs)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "plugin_platform.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plugin_platform", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin_platform = load()


@pytest.mark.parametrize(
    ("build_platform", "machine", "expected"),
    [
        ("linux-x86_64", "x86_64", ("linux", "amd64")),
        ("linux-aarch64", "aarch64", ("linux", "arm64")),
        ("macosx-10.13-x86_64", "x86_64", ("darwin", "amd64")),
        ("macosx-11.0-arm64", "arm64", ("darwin", "arm64")),
        ("macosx-10.13-universal2", "arm64", ("darwin", "arm64")),
        ("macosx-10.13-universal2", "x86_64", ("darwin", "amd64")),
        ("win-amd64", "AMD64", ("windows", "amd64")),
        # Windows on arm64 with an arm64 Python: the interpreter decides, whatever an emulated shell reports.
        ("win-arm64", "ARM64", ("windows", "arm64")),
        ("win-amd64", "ARM64", ("windows", "amd64")),
    ],
)
def test_the_interpreters_platform_in_the_engines_names(
    build_platform: str, machine: str, expected: tuple[str, str]
) -> None:
    assert plugin_platform.pulumi_platform(build_platform, machine, 64) == expected


@pytest.mark.parametrize(
    ("build_platform", "machine", "bits", "message"),
    [
        ("win32", "AMD64", 32, "32-bit"),
        ("linux-i686", "i686", 32, "32-bit"),
        ("linux-riscv64", "riscv64", 64, "the riscv64 architecture"),
        ("linux-ppc64le", "ppc64le", 64, "the ppc64le architecture"),
        ("freebsd-14.1-RELEASE-amd64", "amd64", 64, "no plugin archive for freebsd"),
        ("cygwin-3.5-x86_64", "x86_64", 64, "no plugin archive for cygwin"),
        ("macosx-10.13-universal2", "ppc", 64, "the ppc architecture"),
    ],
)
def test_an_unknown_platform_is_refused_with_what_is_supported(
    build_platform: str, machine: str, bits: int, message: str
) -> None:
    with pytest.raises(plugin_platform.UnsupportedPlatformError, match=message) as raised:
        plugin_platform.pulumi_platform(build_platform, machine, bits)
    assert "64-bit" in str(raised.value) or "supported" in str(raised.value)


def test_the_macos_floor_is_the_newest_minimum_of_the_binaries() -> None:
    assert plugin_platform.newest_macos([(10, 13, 0), (11, 0, 0), (10, 9, 0)]) == "11.0"
    assert plugin_platform.newest_macos([(10, 13, 0), (10, 15, 2)]) == "10.15"
    with pytest.raises(plugin_platform.UnsupportedPlatformError, match="no Mach-O"):
        plugin_platform.newest_macos([])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the glibc floor is Linux's")
def test_run_as_a_script_it_names_this_interpreters_platform_and_glibc(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
        )

    named = run()
    assert named.returncode == 0, named.stderr
    machine = sysconfig.get_platform().split("-", 1)[1]
    assert named.stdout == f"linux {plugin_platform.ARCHITECTURES[machine]}\n"
    floor = run("--floor", str(tmp_path))
    assert floor.returncode == 0, floor.stderr
    assert floor.stdout.startswith(f"Linux with {os.confstr('CS_GNU_LIBC_VERSION')} or newer")
    wrong = run("--floor")
    assert wrong.returncode == 2 and "usage" in wrong.stderr
