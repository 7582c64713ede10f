"""The testing kit's pure parts: finding the Pulumi CLI, the project mirror, reading engine events."""

from __future__ import annotations

import json
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


# -- the factory's configuration and teardown check ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        ("ardent:token", "sk", True),
        ("ardent:orgs", {"org_1": {"token": "sk", "apiUrl": "http://127.0.0.1:1"}}, True),
        ("ardent:orgs.org_1.token", "sk", True),
        ("ardent:orgs.org_1.apiUrl", "http://127.0.0.1:1", True),
        ("myproj:token", "x", True),
        ("myproj:db.token", "x", True),
        ("myproj:db", {"host": "h", "token": "x"}, True),
        ("myproj:servers", [{"name": "a", "Token": "x"}], True),
        ("ardent:apiUrl", "http://127.0.0.1:1", False),
        ("ardent:orgId", "org_1", False),
        ("myproj:tokens", ["a"], False),
        ("myproj:db", {"host": "h"}, False),
    ],
)
def test_orgs_and_every_token_are_secret_config_whatever_the_namespace(key: str, value: Any, secret: bool) -> None:
    from ardent_provider.testing.factory import is_secret_config

    assert is_secret_config(key, value) is secret


def test_a_structured_secret_is_set_leaf_by_leaf_as_config_paths() -> None:
    from ardent_provider.testing.factory import _leaves

    assert _leaves("ardent:orgs", {"org_1": {"token": "a", "apiUrl": "u"}, "org.2": {"token": "b"}}) == {
        "ardent:orgs.org_1.token": "a",
        "ardent:orgs.org_1.apiUrl": "u",
        'ardent:orgs["org.2"].token': "b",
    }
    assert _leaves("ardent:token", "sk") == {"ardent:token": "sk"}
    assert _leaves("p:list", [{"token": "t"}, 3]) == {"p:list[0].token": "t", "p:list[1]": "3"}


class FakeConfigStack:
    """The parts of pulumi.automation.Stack the factory configures and reads back."""

    name = "test"

    def __init__(self) -> None:
        self.plain: dict[str, str] = {}
        self.secret: dict[str, str] = {}

    def set_all_config(self, config: dict[str, Any], *, path: bool = False) -> None:
        assert path
        self.plain.update({key: value.value for key, value in config.items()})

    def get_all_config(self) -> dict[str, Any]:
        """As the Automation API reads it back: every key, secrets revealed, a --path map as JSON text."""
        from pulumi.automation import ConfigValue

        orgs: dict[str, dict[str, str]] = {}
        values = {key: ConfigValue(value) for key, value in self.plain.items()}
        for key, value in self.secret.items():
            if key.startswith("ardent:orgs."):
                _, org, name = key.split(".")
                orgs.setdefault(org, {})[name] = value
            else:
                values[key] = ConfigValue(value, secret=True)
        if orgs:
            values["ardent:orgs"] = ConfigValue(json.dumps(orgs), secret=True)
        return values


def fake_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Any) -> Any:
    from ardent_provider.testing.factory import StackFactory

    factory = StackFactory(emulator, tmp_path, bin_dir=tmp_path / "bin")

    def set_secret(automation: FakeConfigStack, workspace: Any, key: str, value: str) -> None:
        automation.secret[key] = value

    monkeypatch.setattr(factory, "_set_secret", set_secret)
    return factory


def test_orgs_given_as_plain_config_are_stored_as_secrets_never_in_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = SimpleNamespace(api_url="http://127.0.0.1:9", org_id="org_default", token="sk-default")
    factory = fake_factory(tmp_path, monkeypatch, emulator)
    automation = FakeConfigStack()
    orgs = {"org_b": {"token": "sk-b", "apiUrl": "http://127.0.0.1:9"}}

    org_id, token = factory._configure(automation, None, {"ardent:orgs": orgs, "proj:db.token": "sk-db"})

    assert (org_id, token) == ("org_default", "sk-default")
    assert automation.plain == {"ardent:apiUrl": "http://127.0.0.1:9", "ardent:orgId": "org_default"}
    assert automation.secret == {
        "ardent:token": "sk-default",
        "ardent:orgs.org_b.token": "sk-b",
        "ardent:orgs.org_b.apiUrl": "http://127.0.0.1:9",
        "proj:db.token": "sk-db",
    }


class FakeEmulator:
    """An emulator whose orgs each accept only their own token, as the real one does (403 otherwise)."""

    api_url = "http://127.0.0.1:9"
    org_id = "org_default"
    token = "sk-default"

    def __init__(self, keys: dict[str, list[str]], tokens: dict[str, str]) -> None:
        self.keys, self.tokens = keys, tokens

    def clear_faults(self) -> None:
        pass

    def keys_of(self, org_id: str, token: str) -> list[dict[str, Any]]:
        from ardent_provider.testing import EmulatorError

        if self.tokens[org_id] != token:
            raise EmulatorError(f"GET /v1/orgs/{org_id}/api-keys failed with HTTP 403: forbidden")
        return [{"id": key_id, "name": key_id} for key_id in self.keys[org_id]]


def test_teardown_lists_each_org_with_its_own_token_from_the_stacks_orgs_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ardent_provider.testing.factory import _Made

    emulator = FakeEmulator(
        {"org_default": ["key_a"], "org_b": ["key_b"], "org_c": ["key_c"]},
        {"org_default": "sk-default", "org_b": "sk-b", "org_c": "sk-default"},
    )
    factory = fake_factory(tmp_path, monkeypatch, emulator)
    automation = FakeConfigStack()
    factory._configure(automation, None, {"ardent:orgs": {"org_b": {"token": "sk-b"}}})
    stack = ArdentStack(FakeAutomationStack([], {}))  # type: ignore[arg-type]
    stack._keys.update({"key_a": "org_default", "key_b": "org_b", "key_c": "org_c"})
    made = _Made(stack, automation, "org_default", "sk-default")  # type: ignore[arg-type]

    (problem,) = factory._leaks(made)

    assert "could not check" not in problem, problem
    assert "left 3 key(s)" in problem
    for key_id, org_id in (("key_a", "org_default"), ("key_b", "org_b"), ("key_c", "org_c")):
        assert f"{key_id} ('{key_id}') in org {org_id}" in problem
    assert "sk-" not in repr(made) and "sk-" not in problem


class OlderSdkStack(FakeAutomationStack):
    """An Automation API from before ``Stack.refresh(run_program=...)``: the keyword is a TypeError there."""

    def refresh(self, on_event: Any) -> Any:  # type: ignore[override]
        self._replay("refresh", on_event)
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"same": 1}))


class OlderCliStack(FakeAutomationStack):
    """A new Automation API driving a CLI that does not know ``pulumi refresh --run-program``."""

    def refresh(self, on_event: Any, run_program: bool | None = None) -> Any:
        from pulumi.automation import CommandError
        from pulumi.automation._cmd import CommandResult

        if run_program:
            self.calls.append("refresh --run-program")
            raise CommandError(CommandResult(stdout="", stderr="error: unknown flag: --run-program", code=255))
        self._replay("refresh", on_event)
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"same": 1}))


REFRESH_EVENTS = [
    event("pre", "refresh", KEY_TYPE, urn="urn::key"),
    event("done", "update", KEY_TYPE, {"key_id": "key_1", "org_id": "org_1", "status": "expired"}, urn="urn::key"),
]


def test_refresh_falls_back_to_a_plain_refresh_with_an_automation_api_without_run_program() -> None:
    automation = OlderSdkStack(REFRESH_EVENTS, {})
    stack = ArdentStack(automation)  # type: ignore[arg-type]
    assert stack.refresh() == {"update": 1}
    assert automation.calls == ["refresh"] and stack.recorded_keys == {"key_1": "org_1"}


def test_refresh_falls_back_once_to_a_plain_refresh_when_the_cli_does_not_know_run_program() -> None:
    automation = OlderCliStack(REFRESH_EVENTS, {})
    stack = ArdentStack(automation)  # type: ignore[arg-type]
    assert stack.refresh() == {"update": 1}
    assert stack.refresh() == {"update": 1}
    assert automation.calls == ["refresh --run-program", "refresh", "refresh"]


def test_other_refresh_failures_are_not_taken_for_an_old_cli() -> None:
    automation = FakeAutomationStack(REFRESH_EVENTS, {}, fail=True)
    with pytest.raises(RuntimeError, match="refresh failed"):
        ArdentStack(automation).refresh()  # type: ignore[arg-type]
    assert automation.calls == ["refresh"]


def test_the_unknown_placeholder_is_the_sdks_own() -> None:
    from pulumi.runtime.rpc import UNKNOWN

    from ardent_provider.testing import stack as stack_module

    assert stack_module.UNKNOWN is UNKNOWN
