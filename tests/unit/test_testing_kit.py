"""The testing kit's pure parts: finding the Pulumi CLI, the project mirror, reading engine events."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ardent_provider.testing import PulumiNotFoundError, find_pulumi
from ardent_provider.testing.mirror import ProjectMirror, is_stack_settings_file
from ardent_provider.testing.pulumi_bin import cache_root, pulumi_root
from ardent_provider.testing.stack import ArdentStack, _Recorder

TOOLS = ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python")


def bin_dir(path: Path, tools: tuple[str, ...] = TOOLS) -> Path:
    path.mkdir(parents=True)
    for tool in tools:
        (path / tool).write_text("#!/bin/sh\n")
        (path / tool).chmod(0o755)
    return path


def env_for(tmp_path: Path, path: list[Path] | None = None, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.pathsep.join(str(entry) for entry in (path or [tmp_path / "empty"])),
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        **extra,
    }


def test_the_explicit_bin_dir_wins_then_path_then_the_newest_cached_cli(tmp_path: Path) -> None:
    explicit = bin_dir(tmp_path / "explicit")
    on_path = bin_dir(tmp_path / "on-path")
    root = cache_root(env_for(tmp_path))
    bin_dir(root / "v3.9.0" / "bin")
    newest = bin_dir(root / "v3.274.1" / "bin")
    bin_dir(root / "v3.100.0" / "bin")
    (root / "vbroken" / "bin").mkdir(parents=True)

    assert find_pulumi(env_for(tmp_path, [on_path], ARDENT_PULUMI_BIN_DIR=str(explicit))) == explicit
    assert find_pulumi(env_for(tmp_path, [on_path])) == on_path
    assert find_pulumi(env_for(tmp_path)) == newest


def test_the_cache_follows_xdg_cache_home_or_home(tmp_path: Path) -> None:
    assert cache_root({"XDG_CACHE_HOME": "/c"}) == Path("/c/ardent-provider/pulumi")
    assert cache_root({"HOME": "/h"}) == Path("/h/.cache/ardent-provider/pulumi")


def test_no_cli_anywhere_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PulumiNotFoundError) as caught:
        find_pulumi(env_for(tmp_path))
    message = str(caught.value)
    assert "no `pulumi` on PATH" in message and "ARDENT_PULUMI_BIN_DIR is not set" in message
    assert str(tmp_path / "cache" / "ardent-provider" / "pulumi") in message and "scripts/setup-pulumi" in message


def test_a_cli_without_the_python_plugins_names_the_missing_one(tmp_path: Path) -> None:
    lonely = bin_dir(tmp_path / "lonely", ("pulumi", "pulumi-language-python"))
    with pytest.raises(PulumiNotFoundError, match="pulumi-resource-pulumi-python") as caught:
        find_pulumi(env_for(tmp_path, [lonely]))
    assert "pulumi-language-python`" not in str(caught.value)
    plugins = bin_dir(tmp_path / "plugins", ("pulumi-resource-pulumi-python",))
    assert find_pulumi(env_for(tmp_path, [lonely, plugins])) == lonely


def test_an_explicit_bin_dir_without_pulumi_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(PulumiNotFoundError, match=r"ARDENT_PULUMI_BIN_DIR is set to .*nothing"):
        find_pulumi(env_for(tmp_path, ARDENT_PULUMI_BIN_DIR=str(tmp_path / "nothing")))


def test_the_automation_root_is_the_parent_of_bin_or_a_link_farm(tmp_path: Path) -> None:
    standard = bin_dir(tmp_path / "usr" / "bin")
    assert pulumi_root(standard, tmp_path / "scratch") == tmp_path / "usr"
    unpacked = bin_dir(tmp_path / "pulumi")
    root = pulumi_root(unpacked, tmp_path / "scratch")
    assert (root / "bin" / "pulumi").resolve() == (unpacked / "pulumi").resolve()
    assert pulumi_root(unpacked, tmp_path / "scratch") == root


def test_the_mirror_links_everything_but_stack_settings_and_follows_changes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.dev.yaml", "Pulumi.test.yaml", "Pulumi.prod.json"):
        (project / name).write_text(name)
    mirror = ProjectMirror(project, tmp_path / "mirror")
    assert sorted(path.name for path in mirror.target.iterdir()) == ["Pulumi.yaml", "__main__.py", "lib"]
    assert (mirror.target / "__main__.py").resolve() == (project / "__main__.py").resolve()

    (mirror.target / "Pulumi.test.yaml").write_text("the stack's own settings")
    (project / "keys.json").write_text("[]")
    (project / "__main__.py").unlink()
    mirror.sync()
    assert sorted(path.name for path in mirror.target.iterdir()) == [
        "Pulumi.test.yaml",
        "Pulumi.yaml",
        "keys.json",
        "lib",
    ]
    assert (project / "Pulumi.test.yaml").read_text() == "Pulumi.test.yaml"


@pytest.mark.parametrize(
    ("name", "stack_file"),
    [
        ("Pulumi.yaml", False),
        ("Pulumi.yml", False),
        ("Pulumi.dev.yaml", True),
        ("Pulumi.a.b.yml", True),
        ("x.yaml", False),
    ],
)
def test_stack_settings_files_are_recognised(name: str, stack_file: bool) -> None:
    assert is_stack_settings_file(name) is stack_file


def event(kind: str, op: str, type_: str, outputs: dict[str, Any] | None = None, urn: str = "") -> Any:
    new = SimpleNamespace(outputs=outputs) if outputs is not None else None
    metadata = SimpleNamespace(op=op, type=type_, urn=urn or f"urn::{type_}", new=new)
    return SimpleNamespace(
        resource_pre_event=SimpleNamespace(metadata=metadata) if kind == "pre" else None,
        res_outputs_event=SimpleNamespace(metadata=metadata) if kind == "done" else None,
    )


def test_the_summary_leaves_out_the_root_stack_as_the_outputs_event_counts_it() -> None:
    recorder = _Recorder()
    recorder(event("pre", "refresh", "pulumi:pulumi:Stack"))
    recorder(event("done", "same", "pulumi:pulumi:Stack", {}))
    recorder(SimpleNamespace(resource_pre_event=None, res_outputs_event=None))
    assert recorder.summary({"same": 2, "update": 1, "delete": 0}) == {"same": 1, "update": 1}
    assert _Recorder().summary({"create": 2}) == {"create": 2}
    created = _Recorder()
    created(event("pre", "create", "pulumi:pulumi:Stack"))
    assert created.summary({"create": 2}) == {"create": 1}
    assert created.summary(None) == {}


def test_keys_are_recorded_from_the_outputs_of_key_resources_only() -> None:
    recorder = _Recorder()
    key_type = "pulumi-python:dynamic/ardent:ApiKey"
    recorder(event("pre", "create", key_type))
    recorder(
        event(
            "done",
            "create",
            key_type,
            {"key_id": "key_new", "org_id": "org_1", "previous_key_id": "key_old", "pending_revoke_key_ids": ["key_p"]},
        )
    )
    recorder(event("done", "create", "pulumi:providers:pulumi-python", {"key_id": "key_not_a_key"}))
    recorder(event("done", "delete", key_type))
    assert recorder.keys == {"key_new": "org_1", "key_old": "org_1", "key_p": "org_1"}


def test_a_refresh_that_runs_the_program_counts_what_it_found_not_the_programs_same_steps() -> None:
    recorder = _Recorder()
    key_type = "pulumi-python:dynamic/ardent:ApiKey"
    # The order the engine uses for `pulumi refresh --run-program` on a stack whose one key was revoked.
    for kind, op, type_, outputs in [
        ("pre", "refresh", "pulumi:pulumi:Stack", None),
        ("done", "update", "pulumi:pulumi:Stack", {}),
        ("pre", "same", "pulumi:pulumi:Stack", None),
        ("pre", "refresh", "pulumi:providers:pulumi-python", None),
        ("done", "update", "pulumi:providers:pulumi-python", {}),
        ("pre", "refresh", key_type, None),
        ("done", "delete", key_type, None),
        ("pre", "same", key_type, None),
        ("done", "same", key_type, {"key_id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}),
        ("done", "same", "pulumi:pulumi:Stack", {}),
    ]:
        recorder(event(kind, op, type_, outputs))
    assert recorder.refresh_summary() == {"delete": 1}
    assert recorder.keys == {}, "the engine's placeholder for an unknown value is no key id"


class FakeAutomationStack:
    """Stands in for pulumi.automation.Stack: replays engine events and answers with canned results."""

    name = "test"

    def __init__(self, events: list[Any], outputs: dict[str, Any], fail: bool = False) -> None:
        self.events, self.stored, self.fail = events, outputs, fail
        self.workspace = SimpleNamespace(project_settings=lambda: SimpleNamespace(name="proj"))
        self.calls: list[str] = []

    def _replay(self, operation: str, on_event: Any) -> None:
        self.calls.append(operation)
        for item in self.events:
            on_event(item)
        if self.fail:
            raise RuntimeError(f"{operation} failed")

    def up(self, on_event: Any) -> Any:
        self._replay("up", on_event)
        return SimpleNamespace(outputs=self.stored)

    def preview(self, on_event: Any) -> Any:
        self._replay("preview", on_event)
        return SimpleNamespace(change_summary={"create": 2})

    def refresh(self, on_event: Any, run_program: bool) -> Any:
        assert run_program
        self._replay("refresh", on_event)
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"same": 2}))

    def destroy(self, on_event: Any) -> Any:
        self.events = [event("pre", "delete", KEY_TYPE), event("pre", "delete", "pulumi:pulumi:Stack")]
        self._replay("destroy", on_event)
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"delete": 2}))

    def outputs(self) -> dict[str, Any]:
        return self.stored


KEY_TYPE = "pulumi-python:dynamic/ardent:ApiKey"
CREATE_EVENTS = [
    event("pre", "create", "pulumi:pulumi:Stack"),
    event("pre", "create", KEY_TYPE),
    event("done", "create", KEY_TYPE, {"key_id": "key_1", "org_id": "org_1"}),
    event("done", "create", "pulumi:pulumi:Stack", {}),
]


def test_the_stack_answers_in_plain_values_with_secrets_masked_only_on_request() -> None:
    from pulumi.automation import OutputValue

    stored = {
        "token": OutputValue("sk-ard_test_x", secret=True),
        "key_id": OutputValue("key_1", secret=False),
        "later": OutputValue("04da6b54-80e4-46f7-96ec-b56ff0331ba9", secret=False),
    }
    synced: list[str] = []
    automation = FakeAutomationStack(CREATE_EVENTS, stored)
    stack = ArdentStack(automation, lambda: synced.append("sync"))  # type: ignore[arg-type]

    assert (stack.name, stack.project, repr(stack)) == ("test", "proj", "ArdentStack(proj/test)")
    assert stack.preview() == {"create": 1} and not stack.has_resources
    assert stack.up() == {"token": "sk-ard_test_x", "key_id": "key_1", "later": None}
    assert stack.has_resources and stack.recorded_keys == {"key_1": "org_1"}
    assert stack.outputs() == {"token": "[secret]", "key_id": "key_1", "later": None}
    assert stack.outputs(show_secrets=True)["token"] == "sk-ard_test_x"
    assert stack.destroy() == {"delete": 1} and not stack.has_resources
    assert synced == ["sync"] * 3 and automation.calls == ["preview", "up", "destroy"]
    assert stack.automation is automation and stack.has_resources, "what it does outside the kit may create"


def test_keys_seen_before_a_failure_are_still_recorded_and_the_stack_still_needs_a_destroy() -> None:
    stack = ArdentStack(FakeAutomationStack(CREATE_EVENTS[:3], {}, fail=True))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="up failed"):
        stack.up()
    assert stack.recorded_keys == {"key_1": "org_1"} and stack.has_resources
    with pytest.raises(RuntimeError, match="destroy failed"):
        stack.destroy()
    assert stack.has_resources


def test_refresh_reports_the_findings_per_resource() -> None:
    key_urn = "urn::key"
    events = [
        event("pre", "refresh", KEY_TYPE, urn=key_urn),
        event("done", "update", KEY_TYPE, {"key_id": "key_1", "org_id": "org_1", "status": "expired"}, urn=key_urn),
        event("pre", "same", KEY_TYPE, urn=key_urn),
        event("done", "same", KEY_TYPE, {"key_id": "key_1", "org_id": "org_1"}, urn=key_urn),
    ]
    stack = ArdentStack(FakeAutomationStack(events, {}))  # type: ignore[arg-type]
    assert stack.refresh() == {"update": 1}
