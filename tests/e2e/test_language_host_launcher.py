"""The launcher scripts/setup-pulumi installs in front of the Node.js, Go and Java hosts: a project's runtime
options reach the older hosts as the flags they read, and options a host does not know are left out.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import PASSPHRASE, require_cli

pytestmark = pytest.mark.e2e


def stand_in(tmp_path: Path, language: str) -> Path:
    """The installed launcher for ``language``, copied beside a stand-in host that prints its arguments."""
    require_cli()
    cli = PulumiCLI(tmp_path, tmp_path / "state", PASSPHRASE)
    installed = shutil.which(f"pulumi-language-{language}", path=cli.env()["PATH"])
    if installed is None or not (Path(installed).parent / f"langhost-{language}-upstream").exists():
        pytest.skip("the CLI in use is not the one scripts/setup-pulumi provides, so it has no launcher")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(installed, bin_dir / f"pulumi-language-{language}")
    host = bin_dir / f"langhost-{language}-upstream"
    host.write_text('#!/bin/sh\nfor arg in "$@"; do echo "$arg"; done\n')
    host.chmod(0o755)
    return bin_dir / f"pulumi-language-{language}"


def launch(launcher: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([launcher, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("language", "options", "args", "expected"),
    [
        (
            "nodejs",
            "{typescript: false, nodeargs: '--max-old-space-size=4096 --trace-warnings', packagemanager: npm}",
            [],
            ["-root={root}", "-nodeargs=--max-old-space-size=4096 --trace-warnings", "-typescript=false"],
        ),
        (
            "go",
            "{binary: bin/app, buildTarget: out/app}",
            [],
            ["-root={root}", "-binary=bin/app", "-buildTarget=out/app"],
        ),
        (
            "java",
            "{binary: target/app.jar}",
            ["--logtostderr", "-v=9"],
            ["-root={root}", "-binary=target/app.jar", "--logtostderr", "-v=9"],
        ),
        ("java", "{use-executor: mvn}", ["-root=/elsewhere"], ["-root=/elsewhere"]),
        ("go", "{}", [], ["-root={root}"]),
    ],
    ids=["nodejs", "go", "java-logging-flags", "java-flags-given", "no-options"],
)
def test_runtime_options_reach_the_host_as_flags(
    tmp_path: Path, language: str, options: str, args: list[str], expected: list[str]
) -> None:
    launcher = stand_in(tmp_path, language)
    root = tmp_path / "project"
    program = root / "infra"
    program.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(f"name: p\nmain: infra\nruntime: {{name: {language}, options: {options}}}\n")

    result = launch(launcher, program, *args, "127.0.0.1:4321")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [*(flag.format(root=root) for flag in expected), "127.0.0.1:4321"]


def test_outside_a_project_the_launcher_passes_everything_through(tmp_path: Path) -> None:
    launcher = stand_in(tmp_path, "nodejs")
    result = launch(launcher, tmp_path, "127.0.0.1:4321")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["127.0.0.1:4321"]


def test_an_option_of_another_shape_is_refused_naming_it(tmp_path: Path) -> None:
    launcher = stand_in(tmp_path, "nodejs")
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: {name: nodejs, options: {nodeargs: [a, b]}}\n")
    result = launch(launcher, tmp_path, "127.0.0.1:4321")
    assert result.returncode != 0 and 'runtime option "nodeargs"' in result.stderr, result.stderr
