"""The release as a user receives it: an sdist and a wheel that twine accepts, holding the package and nothing else."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import ardent_provider

from ..release import ROOT, build_release

# What the distributions may hold beyond the package's modules.
WHEEL_METADATA = {"METADATA", "WHEEL", "RECORD", "entry_points.txt", "top_level.txt", "licenses/LICENSE"}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_release(tmp_path_factory.mktemp("release"))


def test_twine_accepts_both_distributions(release: tuple[Path, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, release)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_the_wheel_holds_the_code_its_marker_and_licence_and_no_tests_bench_or_scripts(
    release: tuple[Path, Path],
) -> None:
    _, wheel = release
    names = zipfile.ZipFile(wheel).namelist()
    modules = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "ardent_provider").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    code = sorted(name for name in names if not name.startswith("ardent_provider-"))
    assert code == sorted([*modules, "ardent_provider/py.typed"])
    dist_info = {
        name.split("/", 1)[1]
        for name in names
        if name.startswith(f"ardent_provider-{ardent_provider.__version__}.dist-info/")
    }
    assert dist_info == WHEEL_METADATA
    assert not any(
        name.split("/")[0] in {"tests", "bench", "scripts", "examples", "docs", "contract"} for name in names
    )


def test_the_sdist_holds_what_the_wheel_is_built_from_and_nothing_else(release: tuple[Path, Path]) -> None:
    sdist, _ = release
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    top = {name.split("/")[0] for name in names}
    assert top == {
        "ardent_provider",
        "ardent_provider.egg-info",
        "LICENSE",
        "PKG-INFO",
        "README.md",
        "pyproject.toml",
        "setup.cfg",
    }
    assert "ardent_provider/py.typed" in names


def test_the_metadata_names_the_single_sourced_version_ranges_and_the_licence(release: tuple[Path, Path]) -> None:
    _, wheel = release
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"ardent_provider-{ardent_provider.__version__}.dist-info/METADATA").decode()
    metadata = Parser().parsestr(text)
    assert metadata["Version"] == ardent_provider.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    requires = [line for line in metadata.get_all("Requires-Dist") or [] if "extra ==" not in line]
    assert sorted(requires) == ["httpx<1,>=0.27", "pulumi<4,>=3.139.0", "pyyaml<7,>=6.0.1"]
    assert all("==" not in line for line in requires), "runtime dependencies are ranges, never pins"
