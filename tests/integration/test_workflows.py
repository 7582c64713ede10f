"""The GitHub workflows: actionlint accepts them, CI runs what .ci/run runs, and a release stores no token."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


@pytest.fixture(scope="module")
def actionlint() -> Path:
    """actionlint, built from its Go module by the project's script on first use and cached outside the clone."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup-actionlint")], capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return Path(result.stdout.strip().splitlines()[-1])


def test_actionlint_accepts_both_workflows(actionlint: Path) -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [path.name for path in files] == ["ci.yml", "release.yml"]
    result = subprocess.run([str(actionlint), *map(str, files)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_refuse_a_broken_workflow(actionlint: Path, tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets }\n"
    )
    result = subprocess.run([str(actionlint), str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "broken.yml" in result.stdout


def test_ci_runs_what_ci_run_runs_and_that_is_the_suite_and_the_lowest_bounds_cell() -> None:
    ci = (WORKFLOWS / "ci.yml").read_text()
    assert "run: .ci/run" in ci and "3.13" in ci
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci_run and "scripts/matrix -s \"cell-3.13(bounds='lowest')\"" in ci_run


def test_a_release_publishes_with_trusted_publishing_and_no_stored_token() -> None:
    release = (WORKFLOWS / "release.yml").read_text()
    assert "id-token: write" in release and "pypa/gh-action-pypi-publish" in release
    assert "password" not in release and "secrets." not in release
    assert 'tags: ["v*"]' in release and "twine check --strict" in release
