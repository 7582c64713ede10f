"""Building the package as a release does: from the files a checkout ships, into a wheel and an sdist."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the package is built from; anything else in the checkout (tests, bench, scripts) must not be needed.
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "ardent_provider")


def clean_source(destination: Path) -> Path:
    """A copy of only the files the package is built from, without caches."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, destination / name)
    return destination


def _run(args: list[str | Path], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"


def build_wheel(work: Path) -> Path:
    """The wheel as ``pip wheel`` builds it from a clean copy of the sources."""
    source = clean_source(work / "source")
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps", "-w", work, "."],
        source,
    )
    (wheel,) = work.glob("ardent_provider-*.whl")
    return wheel


def build_release(work: Path) -> tuple[Path, Path]:
    """The sdist and the wheel as ``python -m build`` makes them for a release (the wheel built from the sdist)."""
    source = clean_source(work / "source")
    out = work / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, "."], source)
    (sdist,) = out.glob("ardent_provider-*.tar.gz")
    (wheel,) = out.glob("ardent_provider-*.whl")
    return sdist, wheel
