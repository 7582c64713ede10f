"""The shared file helpers: a project's file, and writes that land whole or not at all."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ardent_provider.files import PROJECT_FILES, project_file, write_atomic


def test_write_atomic_replaces_the_file_whole_and_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "audit.html"
    target.write_text("old")
    assert write_atomic(target, "new") == target
    assert target.read_text() == "new" and [path.name for path in tmp_path.iterdir()] == ["audit.html"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "audit.html", "x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "folder", "x")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["audit.html", "folder"]


def test_write_atomic_sets_the_mode_asked_for(tmp_path: Path) -> None:
    launcher = write_atomic(tmp_path / "launcher", "#!/bin/sh\n", 0o755)
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o755


def test_a_project_file_is_yaml_yml_or_json_in_the_clis_order(tmp_path: Path) -> None:
    assert PROJECT_FILES == ("Pulumi.yaml", "Pulumi.yml", "Pulumi.json")
    assert project_file(tmp_path) is None
    (tmp_path / "Pulumi.json").write_text("{}")
    assert project_file(tmp_path) == tmp_path / "Pulumi.json"
    (tmp_path / "Pulumi.yaml").write_text("name: x\n")
    assert project_file(tmp_path) == tmp_path / "Pulumi.yaml"


def test_a_projects_runtime_is_read_from_its_file_or_the_nearest_parents(tmp_path: Path) -> None:
    from ardent_provider.files import project_runtime

    (tmp_path / "Pulumi.yaml").write_text("name: keys\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    below = tmp_path / "program"
    below.mkdir()
    assert project_runtime(tmp_path) == "python" and project_runtime(below) == "python"
    (below / "Pulumi.json").write_text('{"name": "keys", "runtime": "nodejs"}')
    assert project_runtime(below) == "nodejs"
    (below / "Pulumi.json").write_text("{not a project")
    assert project_runtime(below) is None
    assert project_runtime(Path("/")) is None
