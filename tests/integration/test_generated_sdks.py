"""The SDKs in sdk/ are what scripts/gen-sdk makes of the schema today; scripts/sdk-packages makes of them the
packages users install, and the TypeScript, Go and Java examples compile against those packages.

These need Go, npm and Maven (the generators are Go packages; tsc and @pulumi/pulumi come from npm, the Java SDK's
dependencies from Maven), so they run with the end-to-end tests.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from ardent_provider import __version__
from ardent_provider.distribution import go_module_path

from ..sdk_packages import maven_coordinates, sdk_packages

ROOT = Path(__file__).resolve().parents[2]
IGNORED = {"build", "node_modules", "bin", "target", "__pycache__", ".mypy_cache", "pulumi_ardent.egg-info"}

pytestmark = pytest.mark.e2e


def differences(expected: Path, actual: Path, where: str = "") -> list[str]:
    """Every file that is missing, extra or different between two trees, as a path under sdk/."""
    found: list[str] = []
    compared = filecmp.dircmp(expected, actual, ignore=sorted(IGNORED))
    found += [f"{where}{name} (only in the fresh output)" for name in compared.right_only]
    found += [f"{where}{name} (only in sdk/)" for name in compared.left_only]
    found += [f"{where}{name} (differs)" for name in compared.diff_files]
    _, mismatched, errors = filecmp.cmpfiles(expected, actual, compared.common_files, shallow=False)
    found += [f"{where}{name} (differs)" for name in mismatched + errors if f"{where}{name} (differs)" not in found]
    for name in compared.common_dirs:
        found += differences(expected / name, actual / name, f"{where}{name}/")
    return found


def test_the_committed_sdks_are_what_the_generator_makes_of_the_schema(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "gen-sdk"), str(tmp_path / "sdk")], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stale = differences(ROOT / "sdk", tmp_path / "sdk")
    assert stale == [], f"sdk/ is stale; run scripts/gen-sdk and commit the result: {stale}"


def test_a_schema_change_shows_as_a_difference(tmp_path: Path) -> None:
    """The comparison above can fail: a description changed in the schema changes the generated files."""
    import json

    from ardent_provider.native.schema import package_schema

    schema = package_schema()
    schema["resources"]["ardent:index:ApiKey"]["properties"]["keyId"]["description"] = "Changed."
    changed = tmp_path / "schema.json"
    changed.write_text(json.dumps(schema))
    result = subprocess.run(
        [str(ROOT / "scripts" / "gen-sdk"), "--schema", str(changed), str(tmp_path / "sdk")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stale = differences(ROOT / "sdk", tmp_path / "sdk")
    assert "python/pulumi_ardent/api_key.py (differs)" in stale and "nodejs/apiKey.ts (differs)" in stale
    assert "java/src/main/java/com/pulumi/ardent/ApiKey.java (differs)" in stale


def test_the_packages_hold_what_users_install_and_nothing_to_build() -> None:
    packages = sdk_packages()
    assert packages.npm.name == f"pulumi-ardent-{__version__}.tgz"
    with tarfile.open(packages.npm) as npm:
        names = set(npm.getnames())
        package = json.load(npm.extractfile("package/package.json"))  # type: ignore[arg-type]
    # Compiled JavaScript and declarations at main and types: installing it runs no compiler.
    assert {"package/index.js", "package/index.d.ts", "package/apiKey.js", "package/LICENSE"} <= names
    assert not [name for name in names if name.endswith(".ts") and not name.endswith(".d.ts")]
    assert (package["main"], package["types"]) == ("index.js", "index.d.ts")
    assert "scripts" not in package and set(package["dependencies"]) == {"@pulumi/pulumi"}

    assert packages.wheel.name == f"pulumi_ardent-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(packages.wheel) as wheel:
        metadata = Parser().parsestr(wheel.read(f"pulumi_ardent-{__version__}.dist-info/METADATA").decode())
        assert "pulumi_ardent/api_key.py" in wheel.namelist()
    assert metadata["Name"] == "pulumi_ardent" and any(
        r.startswith("pulumi") for r in metadata.get_all("Requires-Dist")
    )

    assert packages.go_module.as_posix().endswith(f"/go/{go_module_path()}")
    assert packages.go_module_path == go_module_path()
    assert (packages.go_module / "go" / "ardent" / "apiKey.go").is_file()

    group, artifact, version = maven_coordinates(packages.pom)
    assert (packages.jar.name, packages.pom.name) == (f"{artifact}-{version}.jar", f"{artifact}-{version}.pom")
    assert group.startswith("io.github.") and version == __version__
    with zipfile.ZipFile(packages.jar) as jar:
        assert {"com/pulumi/ardent/ApiKey.class", "com/pulumi/ardent/version.txt"} <= set(jar.namelist())
    # Maven Central takes the artifact only with its sources and javadoc beside it.
    assert (packages.sources_jar.name, packages.javadoc_jar.name) == (
        f"{artifact}-{version}-sources.jar",
        f"{artifact}-{version}-javadoc.jar",
    )
    with zipfile.ZipFile(packages.sources_jar) as sources:
        assert "com/pulumi/ardent/ApiKey.java" in sources.namelist()
    with zipfile.ZipFile(packages.javadoc_jar) as javadoc:
        assert {"index.html", "com/pulumi/ardent/ApiKey.html"} <= set(javadoc.namelist())


def test_the_typescript_go_and_java_examples_compile_against_the_packages() -> None:
    result = subprocess.run([str(ROOT / "scripts" / "check-sdks")], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "all compiled" in result.stderr
