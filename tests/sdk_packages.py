"""The SDK packages as ``scripts/sdk-packages`` builds them, built once per content of what they are built from
and cached under ``${XDG_CACHE_HOME:-~/.cache}/ardent-provider/sdk-packages/<digest>/``, and the steps that put
each where its users' tools find it (a Go module laid out as its path, the jar in the local Maven repository).
"""

from __future__ import annotations

import fcntl
import filecmp
import hashlib
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ardent-provider" / "sdk-packages"
STALE_AFTER = 7 * 24 * 3600
# What the packages are built from: the generated SDKs, the script and the license the npm package carries.
SOURCES = ("sdk", "scripts/sdk-packages", "LICENSE")
SKIPPED = {"node_modules", "bin", "target", "build", "__pycache__", ".mypy_cache"}


@dataclass(frozen=True)
class SdkPackages:
    """The paths ``scripts/sdk-packages`` prints, in its order."""

    npm: Path
    wheel: Path
    go_module: Path
    jar: Path
    sources_jar: Path
    pom: Path
    javadoc_jar: Path

    @property
    def go_module_path(self) -> str:
        """The module path its go.mod declares."""
        for line in (self.go_module / "go.mod").read_text().splitlines():
            if line.startswith("module "):
                return line.split()[1]
        raise AssertionError(f"{self.go_module / 'go.mod'} names no module")


def _digest() -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        source = ROOT / name
        files = [source] if source.is_file() else sorted(source.rglob("*"))
        for path in files:
            relative = path.relative_to(ROOT)
            if path.is_file() and not SKIPPED.intersection(relative.parts) and not path.name.endswith(".egg-info"):
                digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def sdk_packages() -> SdkPackages:
    """The packages of the SDKs in sdk/ as they are now, built by ``scripts/sdk-packages`` unless cached."""
    out = CACHE / _digest()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        printed = out / "paths.txt"
        if not printed.exists():
            for stale in CACHE.glob("*"):
                if stale.is_dir() and time.time() - stale.stat().st_mtime > STALE_AFTER:
                    shutil.rmtree(stale, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            result = subprocess.run(
                [str(ROOT / "scripts" / "sdk-packages"), str(out)],
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            assert result.returncode == 0, f"scripts/sdk-packages failed:\n{result.stderr[-4000:]}"
            printed.write_text(result.stdout)
        os.utime(out)
        paths = [Path(line) for line in printed.read_text().splitlines()]
    assert len(paths) == 7 and all(path.exists() for path in paths), paths
    return SdkPackages(*paths)


def lay_out_go_module(packages: SdkPackages, root: Path) -> Path:
    """A copy of the Go module under ``root`` at its module path, as the module cache would hold it; its folder."""
    target = root.joinpath(*packages.go_module_path.split("/"))
    shutil.copytree(packages.go_module, target)
    return target


def install_java_artifact(packages: SdkPackages) -> None:
    """``mvn install:install-file`` of the jar and its pom into the local Maven repository, as a user without
    access to a published artifact does; skipped when the same jar is already installed there."""
    group, artifact, version = maven_coordinates(packages.pom)
    repository = Path.home() / ".m2" / "repository"
    installed = repository.joinpath(*group.split("."), artifact, version, f"{artifact}-{version}.jar")
    if installed.exists() and filecmp.cmp(installed, packages.jar, shallow=False):
        return
    result = subprocess.run(
        [
            "mvn",
            "--batch-mode",
            "--no-transfer-progress",
            "--quiet",
            "install:install-file",
            f"-Dfile={packages.jar}",
            f"-Dsources={packages.sources_jar}",
            f"-Djavadoc={packages.javadoc_jar}",
            f"-DpomFile={packages.pom}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"mvn install:install-file failed:\n{(result.stdout + result.stderr)[-3000:]}"


def maven_coordinates(pom: Path) -> tuple[str, str, str]:
    """The groupId, artifactId and version a pom declares."""
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    project = ET.parse(pom).getroot()
    values = [project.findtext(f"m:{name}", namespaces=namespace) for name in ("groupId", "artifactId", "version")]
    assert all(values), f"{pom} lacks a groupId, artifactId or version"
    return values[0] or "", values[1] or "", values[2] or ""
