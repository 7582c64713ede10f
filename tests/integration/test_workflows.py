"""The GitHub workflows: actionlint accepts them, every action is pinned, CI runs what .ci/run runs, and a release
publishes only after CI passed on the tagged commit, with the least permissions each job needs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
# A step's action: owner/name[/path]@ref, then an optional comment naming the release the ref is.
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^\s@#]+)@(?P<ref>[^\s#]+)(?:\s+#\s*(?P<comment>.*))?$")
# What the release builds on a native runner per OS and architecture (the engine downloads these names).
PLATFORMS = {
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
    ("windows", "arm64"),
}
PUBLISHING_JOBS = {"github", "pypi", "npm", "maven"}


def workflow(name: str) -> dict[str, Any]:
    """A workflow as YAML reads it, with ``on`` under its name (YAML 1.1 reads a bare ``on`` as true)."""
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def uses_lines() -> list[tuple[str, str]]:
    """Every ``uses:`` line of every workflow, with the file it is in."""
    return [
        (path.name, line)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if re.match(r"^\s*(-\s+)?uses:", line)
    ]


def needs_of(jobs: dict[str, Any], job: str) -> set[str]:
    """Every job ``job`` waits for, directly or through the jobs it needs."""
    direct = jobs[job].get("needs", [])
    direct = [direct] if isinstance(direct, str) else direct
    found = set(direct)
    for name in direct:
        found |= needs_of(jobs, name)
    return found


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


def test_every_third_party_action_is_pinned_to_a_commit_sha_named_by_its_release() -> None:
    lines = uses_lines()
    assert len(lines) > 20, "the workflows' steps were not found"
    pins: dict[str, set[str]] = {}
    for name, line in lines:
        if re.match(r"^\s*(-\s+)?uses:\s*\./", line):
            continue  # the repository's own reusable workflow, at the same commit
        match = USES.match(line)
        assert match, f"{name}: unreadable uses line: {line.strip()}"
        action, ref = match["action"], match["ref"]
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}: {action}@{ref} is not pinned to a full commit SHA"
        assert match["comment"] and re.fullmatch(r"v\d+\.\d+\.\d+", match["comment"].strip()), (
            f"{name}: {action}@{ref} needs a comment naming its release (# vX.Y.Z)"
        )
        pins.setdefault(action, set()).add(f"{ref} {match['comment'].strip()}")
    assert {action for action, refs in pins.items() if len(refs) > 1} == set(), "one pin per action across workflows"


def test_the_pinning_check_would_refuse_a_branch_a_tag_or_a_short_sha() -> None:
    for line in (
        "      - uses: pypa/gh-action-pypi-publish@release/v1",
        "      - uses: actions/checkout@v4",
        "      - uses: actions/checkout@3d3c42e # v7.0.1",
    ):
        match = USES.match(line)
        assert match and not re.fullmatch(r"[0-9a-f]{40}", match["ref"])


def test_a_release_waits_for_ci_on_the_tagged_commit_and_checks_the_tag() -> None:
    release, ci = workflow("release.yml"), workflow("ci.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert "workflow_call" in ci["on"], "the release calls ci.yml, so ci.yml must accept workflow_call"
    jobs = release["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    steps = " ".join(step.get("run", "") for step in jobs["version"]["steps"])
    assert 'scripts/release-build check-tag "$TAG"' in steps
    for job in PUBLISHING_JOBS | {"packages", "plugin"}:
        assert {"ci", "version"} <= needs_of(jobs, job), f"{job} must wait for CI and the tag check"
    for job in PUBLISHING_JOBS - {"github"}:
        assert "github" in needs_of(jobs, job), f"{job} publishes before the plugin archives are on the release"


def test_every_job_has_the_least_permissions_it_needs() -> None:
    release = workflow("release.yml")
    assert release["permissions"] == {}, "no permission is granted at the workflow level"
    jobs = release["jobs"]
    for name, job in jobs.items():
        assert "permissions" in job, f"{name} states its own permissions"
    granted = {name: job["permissions"] for name, job in jobs.items()}
    assert {name for name, perms in granted.items() if perms.get("id-token") == "write"} == {"pypi", "npm"}
    assert {name for name, perms in granted.items() if perms.get("contents") == "write"} == {"github"}
    assert all(set(perms.values()) <= {"read", "write"} for perms in granted.values())
    assert {name: job.get("environment") for name, job in jobs.items() if "environment" in job} == {
        "pypi": "pypi",
        "npm": "npm",
        "maven": "maven-central",
    }


def test_only_the_maven_job_reads_secrets_and_pypi_and_npm_use_trusted_publishing() -> None:
    jobs = workflow("release.yml")["jobs"]
    with_secrets = {name for name, job in jobs.items() if "secrets." in yaml.safe_dump(job)}
    assert with_secrets == {"maven"}, "PyPI and npm publish by OIDC; only Maven Central needs stored credentials"
    (publish,) = [step for step in jobs["pypi"]["steps"] if "pypa/gh-action-pypi-publish@" in step.get("uses", "")]
    assert set(publish.get("with", {})) == {"packages-dir"}, "no user, password or token: PyPI trusts the OIDC identity"
    npm = " ".join(step.get("run", "") for step in jobs["npm"]["steps"])
    assert "npm publish --provenance" in npm and "NODE_AUTH_TOKEN" not in yaml.safe_dump(jobs["npm"])


def test_the_plugin_is_built_on_a_native_runner_per_os_and_architecture() -> None:
    job = workflow("release.yml")["jobs"]["plugin"]
    matrix = job["strategy"]["matrix"]["include"]
    assert {(cell["os"], cell["arch"]) for cell in matrix} == PLATFORMS
    runners = {(cell["os"], cell["arch"]): cell["runner"] for cell in matrix}
    # Labels of GitHub's hosted runners whose machine is that OS and architecture (no emulation, no cross build);
    # Linux on the oldest hosted image, whose glibc (2.35) is the archives' floor (docs/native-provider.md).
    assert runners == {
        ("linux", "amd64"): "ubuntu-22.04",
        ("linux", "arm64"): "ubuntu-22.04-arm",
        ("darwin", "amd64"): "macos-15-intel",
        ("darwin", "arm64"): "macos-latest",
        ("windows", "amd64"): "windows-latest",
        ("windows", "arm64"): "windows-11-arm",
    }
    assert job["runs-on"] == "${{ matrix.runner }}"
    # PyInstaller freezes for the interpreter, so the interpreter is the cell's architecture, not the image default.
    assert {(cell["arch"], cell["python-arch"]) for cell in matrix} == {("amd64", "x64"), ("arm64", "arm64")}
    (setup_python,) = [step for step in job["steps"] if "actions/setup-python@" in step.get("uses", "")]
    assert setup_python["with"]["architecture"] == "${{ matrix.python-arch }}"
    archives = [step["env"]["ARCHIVE"] for step in job["steps"] if "ARCHIVE" in step.get("env", {})]
    assert archives == [
        "pulumi-resource-ardent-v${{ needs.version.outputs.version }}-${{ matrix.os }}-${{ matrix.arch }}.tar.gz"
    ]


def test_the_workflow_builds_with_the_steps_of_the_dry_run() -> None:
    """The workflow's build jobs and ``scripts/release-build all`` (which the suite runs) run the same steps."""
    jobs = workflow("release.yml")["jobs"]
    called = {
        name: re.findall(r"scripts/release-build (\w[\w-]*)", " ".join(step.get("run", "") for step in job["steps"]))
        for name, job in jobs.items()
        if "steps" in job
    }
    assert called["packages"] == ["packages"]
    assert called["plugin"] == ["plugin"]
    assert called["github"] == ["checksums"]
    script = (ROOT / "scripts" / "release-build").read_text()
    branch = re.search(r"^all\)\n(?P<body>.*?)^    ;;", script, re.MULTILINE | re.DOTALL)
    assert branch, "scripts/release-build has no `all` branch"
    steps = re.findall(r"^    (packages|plugin|checksums) \"\$1\"$", branch["body"], re.MULTILINE)
    assert steps == ["packages", "plugin", "checksums"]


def test_maven_central_gets_the_jar_with_its_pom_sources_and_javadoc_signed_together() -> None:
    (deploy,) = [step for step in workflow("release.yml")["jobs"]["maven"]["steps"] if "mvn " in step.get("run", "")]
    script = deploy["run"]
    assert "gpg:sign-and-deploy-file" in script
    for flag in ('-Dfile="$jar"', '-DpomFile="${poms[0]}"', '-Dsources="$sources"', '-Djavadoc="$javadoc"'):
        assert flag in script, f"the deploy passes {flag}"
    assert 'for path in "${poms[0]}" "$jar" "$sources" "$javadoc"' in script, "a missing file stops the deploy"
