"""The release as a user receives it: an sdist and a wheel that twine accepts, holding the package and nothing else;
and the release workflow's build steps (scripts/release-build), run here for this machine without publishing."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import ardent_provider
from ardent_provider.distribution import go_module_path

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


def release_build(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``scripts/release-build``, the script every build job of the release workflow runs."""
    return subprocess.run(
        [str(ROOT / "scripts" / "release-build"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_release_refuses_a_tag_that_is_not_the_package_version() -> None:
    accepted = release_build("check-tag", f"v{ardent_provider.__version__}")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip() == ardent_provider.__version__
    for tag in ("v99.0.0", ardent_provider.__version__, f"v{ardent_provider.__version__}-rc1"):
        refused = release_build("check-tag", tag)
        assert refused.returncode == 1 and refused.stdout == ""
        assert f"the tag {tag} does not match" in refused.stderr and f"v{ardent_provider.__version__}" in refused.stderr


def test_the_checksums_list_every_file_and_no_folder(tmp_path: Path) -> None:
    (tmp_path / "a.whl").write_bytes(b"wheel")
    (tmp_path / "b.tgz").write_bytes(b"npm")
    (tmp_path / "go").mkdir()
    (tmp_path / "go" / "go.mod").write_text("module example\n")
    result = release_build("checksums", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "SHA256SUMS")
    listed = [line.split("  ", 1)[1] for line in (tmp_path / "SHA256SUMS").read_text().splitlines()]
    assert listed == ["a.whl", "b.tgz"]
    check = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=tmp_path, capture_output=True)
    assert check.returncode == 0
    (tmp_path / "b.tgz").write_bytes(b"changed")
    check = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode != 0 and "b.tgz: FAILED" in check.stdout


def script_module(name: str) -> ModuleType:
    """A Python module of scripts/, loaded from its file."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def this_platform() -> str:
    """``<os>-<arch>`` as the plugin archive names this machine (from the interpreter, as scripts/plugin-archive)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "plugin_platform.py")], capture_output=True, text=True, check=True
    )
    return "-".join(result.stdout.splitlines()[0].split())


def test_the_plugin_constraints_are_the_versions_the_checkout_tests_with() -> None:
    """scripts/plugin-constraints.txt is what scripts/plugin_constraints.py writes from this virtualenv (the dev
    extra's): every dependency of the package, PyInstaller and setuptools, at its installed version."""
    constraints = script_module("plugin_constraints")
    text = (ROOT / "scripts" / "plugin-constraints.txt").read_text()
    assert text == constraints.render(constraints.closure()), (
        "scripts/plugin-constraints.txt is stale: .venv/bin/python scripts/plugin_constraints.py > "
        "scripts/plugin-constraints.txt"
    )
    pinned = dict(line.split("==") for line in text.splitlines() if line and not line.startswith("#"))
    assert {"pulumi", "httpx", "pyyaml", "grpcio", "pyinstaller", "pyinstaller-hooks-contrib"} <= set(pinned)
    assert {"boto3", "botocore", "s3transfer", "jmespath"} <= set(pinned), "the aws extra's closure, for a key's sink"
    assert not {"selenium", "moto", "pytest", "mypy", "ruff", "pulumi-policy", "pillow"} & set(pinned), (
        "nothing of the dev extra beyond the plugin's own closure"
    )


def test_the_plugin_constraints_agree_with_pyprojects_dev_pins() -> None:
    import tomllib

    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = {}
    for text in dev:
        requirement = Requirement(text)
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact:
            pins[canonicalize_name(requirement.name)] = exact[0]
    lines = (ROOT / "scripts" / "plugin-constraints.txt").read_text().splitlines()
    constrained = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    shared = set(pins) & set(constrained)
    assert {"pulumi", "httpx", "pyinstaller", "pyinstaller-hooks-contrib", "setuptools"} <= shared
    assert {name: constrained[name] for name in shared} == {name: pins[name] for name in shared}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """What the release's build steps make on this machine (the workflow's linux-amd64 runner), published nowhere."""
    out = tmp_path_factory.mktemp("release-dry-run")
    result = release_build("all", out, timeout=1800)
    assert result.returncode == 0, result.stderr[-6000:]
    # Beside OUT, not in it: OUT holds what the release attaches, and its checksums list every file there.
    out.with_name(f"{out.name}.stderr").write_text(result.stderr)
    return out, result.stdout.splitlines()


@pytest.mark.e2e
def test_the_dry_run_builds_every_artifact_of_the_release(dry_run: tuple[Path, list[str]]) -> None:
    out, printed = dry_run
    version = ardent_provider.__version__
    files = sorted(path.name for path in out.iterdir() if path.is_file())
    expected = {
        f"ardent_provider-{version}.tar.gz",
        f"ardent_provider-{version}-py3-none-any.whl",
        f"pulumi_ardent-{version}-py3-none-any.whl",
        f"pulumi-resource-ardent-v{version}-{this_platform()}.tar.gz",
        "SHA256SUMS",
    }
    assert expected <= set(files), files
    npm = [name for name in files if name.endswith(".tgz")]
    assert npm == [f"pulumi-ardent-{version}.tgz"], files
    with tarfile.open(out / npm[0]) as archive:
        names = set(archive.getnames())
        package = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert package["name"] == "pulumi-ardent" and package["version"] == version
    assert f"package/{package['main']}" in names and f"package/{package['types']}" in names
    poms = [name for name in files if name.endswith(".pom")]
    jars = [name for name in files if name.endswith(".jar") and not name.endswith(("-sources.jar", "-javadoc.jar"))]
    assert len(poms) == 1 and len(jars) == 1 and version in jars[0], files
    artifact = jars[0].removesuffix(".jar")
    assert {f"{artifact}-sources.jar", f"{artifact}-javadoc.jar"} <= set(files), "Maven Central needs both"
    # The Go module laid out as its path (what `go get` fetches at the tag sdk/v<version>), under go/.
    go_mods = sorted(out.rglob("go.mod"))
    assert [path.parent.relative_to(out / "go").as_posix() for path in go_mods] == [go_module_path()]
    assert go_mods[0].read_text().splitlines()[0] == f"module {go_module_path()}"
    assert any(go_mods[0].parent.rglob("*.go")), "the module holds the SDK's Go sources"
    with tarfile.open(out / f"pulumi-resource-ardent-v{version}-{this_platform()}.tar.gz") as archive:
        plugin = archive.getmember(
            next(name for name in archive.getnames() if Path(name).name == "pulumi-resource-ardent")
        )
    assert plugin.isfile() and plugin.mode & 0o111, "the archive holds the plugin's executable"
    assert {Path(line) for line in printed} >= {out / name for name in files} | {go_mods[0].parent}, (
        "it names every path it wrote"
    )


@pytest.mark.e2e
def test_the_dry_run_checksums_match_every_file_it_built(dry_run: tuple[Path, list[str]]) -> None:
    out, _ = dry_run
    listed = sorted(line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert listed == sorted(path.name for path in out.iterdir() if path.is_file() and path.name != "SHA256SUMS")
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=out, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(listed)


@pytest.mark.e2e
def test_the_dry_run_python_distributions_pass_twine(dry_run: tuple[Path, list[str]]) -> None:
    out, _ = dry_run
    distributions = sorted([*out.glob("ardent_provider-*"), *out.glob("pulumi_ardent-*")])
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, distributions)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.count("PASSED") == len(distributions) >= 3, result.stdout


@pytest.mark.e2e
def test_the_dry_run_states_the_glibc_the_linux_archive_needs(dry_run: tuple[Path, list[str]]) -> None:
    """The release log shows the floor: the build machine's glibc, which the Linux archive needs or newer."""
    out, _ = dry_run
    if not sys.platform.startswith("linux"):
        pytest.skip("the glibc floor is Linux's")
    log = out.with_name(f"{out.name}.stderr").read_text()
    glibc = os.confstr("CS_GNU_LIBC_VERSION")
    assert re.search(
        rf"pulumi-resource-ardent-v[^ ]+-{this_platform()}\.tar\.gz .*runs on Linux with {glibc} or newer", log
    ), log[-3000:]
