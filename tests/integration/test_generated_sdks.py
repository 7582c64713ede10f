"""The SDKs in sdk/ are what scripts/gen-sdk makes of the schema today, and the TypeScript, Go and Java ones
compile.

These need Go, npm and Maven (the generators are Go packages; tsc and @pulumi/pulumi come from npm, the Java SDK's
dependencies from Maven), so they run with the end-to-end tests.
"""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest

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


def test_the_typescript_go_and_java_examples_compile_against_the_generated_sdks() -> None:
    result = subprocess.run([str(ROOT / "scripts" / "check-sdks")], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "all compiled" in result.stderr
