"""examples/pipeline/deploy.py's outputs file: where it goes by default, and who may read it."""

from __future__ import annotations

import importlib.util
import json
import stat
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "pipeline" / "deploy.py"


@pytest.fixture(scope="module")
def deploy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pipeline_deploy", DEPLOY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_outputs_file_is_in_runner_temp_when_the_runner_has_one(deploy: ModuleType) -> None:
    assert deploy.default_outputs_file({"RUNNER_TEMP": "/runner/_temp"}) == Path("/runner/_temp/ardent-outputs.json")


def test_otherwise_each_run_gets_a_new_private_directory_outside_the_workspace(
    deploy: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    first, second = deploy.default_outputs_file({}), deploy.default_outputs_file({"RUNNER_TEMP": ""})
    assert first.parent != second.parent and first.name == second.name == "ardent-outputs.json"
    assert first.parent.parent == tmp_path and first.parent.name.startswith("ardent-outputs-")
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700

    deploy.write_private_json(first, {"ci_deployer_token": "sk-ard_test_x"})
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert json.loads(first.read_text()) == {"ci_deployer_token": "sk-ard_test_x"}
    assert sorted(path.name for path in first.parent.iterdir()) == ["ardent-outputs.json"]
