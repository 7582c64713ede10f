"""The docs' table of lowest supported Pulumi versions is the one the project declares and the matrix runs."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from ardent_provider.native import NATIVE_MIN_SDK_VERSION
from ardent_provider.native.schema import package_schema
from ardent_provider.pulumi_version import MIN_CLI_VERSION, MIN_POLICY_PACK_CLI_VERSION, shown

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "development.md"
# Each row of the table by the start of its first cell: the declared floor its SDK column must show.
ROWS = {
    "`ardent-provider`": "package",
    "`pulumi-resource-ardent` from a virtualenv": "plugin",
    "`pulumi_ardent`": "python-sdk",
    "`pulumi-ardent`": "nodejs-sdk",
    "Go SDK": "go-sdk",
    "Java SDK": "java-sdk",
}
SDK_ROWS = ("python-sdk", "nodejs-sdk", "go-sdk", "java-sdk")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def minimums() -> ModuleType:
    return _load("minimums", ROOT / "scripts" / "minimums.py")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def table() -> list[list[str]]:
    """The rows of the table under "Lowest supported Pulumi", each a list of its cells."""
    section = DOC.read_text().split("### Lowest supported Pulumi", 1)[1]
    lines: list[str] = []
    for line in section.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break  # the first table only: later sections have tables of their own
    assert lines, "the section has no table"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def row(start: str) -> list[str]:
    (found,) = [cells for cells in table() if cells[0].startswith(start)]
    return found


def version_in(cell: str) -> str:
    found = re.search(r"([0-9]+\.[0-9]+\.[0-9]+)", cell)
    assert found, f"no version in {cell!r}"
    return found.group(1)


def test_each_artifacts_row_shows_the_floor_it_declares(minimums: ModuleType) -> None:
    declared = minimums.declared()
    for start, artifact in ROWS.items():
        assert version_in(row(start)[2]) == declared[artifact], (start, declared[artifact])
    assert version_in(row("`ardent-provider`")[3]) == declared["cli"]
    assert version_in(row("Pulumi CLI")[3]) == declared["cli"]


def test_the_archive_row_shows_the_pulumi_the_archive_freezes_the_dev_extras_pin() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    (pin,) = [requirement for requirement in dev if requirement.startswith("pulumi==")]
    assert version_in(row("`pulumi-resource-ardent` archive")[2]) == pin.split("==", 1)[1]


def test_the_sdk_rows_cli_is_the_highest_sdk_floor_which_bounds_cli_runs_them_on(minimums: ModuleType) -> None:
    declared = minimums.declared()
    highest = max((declared[sdk] for sdk in ("python-sdk", "nodejs-sdk", "go-sdk")), key=_key)
    for start, artifact in ROWS.items():
        if artifact in SDK_ROWS:
            assert version_in(row(start)[3]) == highest, start


def test_the_files_read_agree_with_the_constants_the_code_uses(minimums: ModuleType) -> None:
    assert minimums.plugin_floor() == NATIVE_MIN_SDK_VERSION
    assert minimums.cli_floor() == shown(MIN_CLI_VERSION)
    assert shown(MIN_POLICY_PACK_CLI_VERSION) in DOC.read_text().split("### Lowest supported Pulumi", 1)[1]


def test_the_schema_states_the_floors_the_generated_sdks_carry(minimums: ModuleType) -> None:
    language = package_schema()["language"]
    declared = minimums.declared()
    assert language["python"]["requires"]["pulumi"].startswith(f">={declared['python-sdk']},")
    assert language["nodejs"]["dependencies"]["@pulumi/pulumi"] == f"^{declared['nodejs-sdk']}"
    assert language["java"]["dependencies"]["com.pulumi:pulumi"] == declared["java-sdk"]
    # A build file generated for the Java SDK names the same version.
    pom = ROOT / "sdk" / "java" / "pom.xml"
    if pom.exists():
        found = re.search(
            r"<groupId>com\.pulumi</groupId>\s*<artifactId>pulumi</artifactId>\s*<version>([^<]+)<", pom.read_text()
        )
        assert found and found.group(1) == declared["java-sdk"], "sdk/java/pom.xml names another com.pulumi:pulumi"


def test_every_session_the_table_names_is_one_of_the_matrix() -> None:
    noxfile = (ROOT / "noxfile.py").read_text()
    named = {name for cells in table() for name in re.findall(r"`(bounds[a-z-]*|cell)[^`]*`", cells[4])}
    assert named >= {"bounds", "bounds-cli", "cell"}
    for name in named - {"cell"}:
        assert f'"{name}"' in noxfile, name
    assert "def cell(" in noxfile
