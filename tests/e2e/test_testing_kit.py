"""The testing kit with the real Pulumi CLI: ardent_stack's stacks, its teardown, and the documented test files."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pulumi
import pytest

from ardent_provider import ArdentApiKey
from ardent_provider.testing import ArdentEmulator, StackFactory, find_pulumi
from ardent_provider.testing import stack as stack_module
from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import PASSPHRASE, ROOT, project_yaml

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
TESTING_PAGE = ROOT / "docs" / "testing.md"
DELETE = "DELETE /v1/orgs/{org_id}/api-keys/{api_key_id}"

ONE_KEY_PROGRAM = textwrap.dedent(
    """\
    import pulumi

    from ardent_provider import ArdentApiKey

    key = ArdentApiKey("ci-deployer", role="Member", expires_in_days=30)
    pulumi.export("token", key.token)
    pulumi.export("key_id", key.key_id)
    pulumi.export("status", key.status)
    """
)


def one_key() -> None:
    exec(compile(ONE_KEY_PROGRAM, "one_key", "exec"), {})  # the very program the CLI runs below


def retained_key() -> None:
    key = ArdentApiKey("retained", role="Viewer", opts=pulumi.ResourceOptions(retain_on_delete=True))
    pulumi.export("key_id", key.key_id)


def test_an_inline_program_previews_deploys_and_refreshes(
    ardent_stack: StackFactory, ardent_emulator: ArdentEmulator
) -> None:
    stack = ardent_stack(one_key)
    assert stack.preview() == {"create": 1}

    outputs = stack.up()
    assert outputs["token"].startswith("sk-ard_test_") and outputs["status"] == "active"
    assert stack.outputs() == {"key_id": outputs["key_id"], "status": "active", "token": "[secret]"}
    assert stack.outputs(show_secrets=True) == outputs
    (key,) = ardent_emulator.active_keys()
    assert (key["id"], key["name"]) == (outputs["key_id"], "ci-deployer")

    ardent_emulator.advance_clock(days=31)
    assert stack.refresh() == {"update": 1}
    assert stack.outputs()["status"] == "expired"
    assert stack.preview() == {"replace": 1}


def test_with_an_automation_api_without_run_program_refresh_is_a_plain_one_with_the_same_findings(
    ardent_stack: StackFactory, ardent_emulator: ArdentEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "_takes_run_program", lambda automation: False)
    stack = ardent_stack(one_key)
    assert stack.up()["status"] == "active"

    ardent_emulator.advance_clock(days=31)
    assert stack.refresh() == {"update": 1}
    assert stack.outputs()["status"] == "active", "a plain refresh leaves the outputs of the last up"
    assert stack.preview() == {"replace": 1}


PROJECT_PROGRAM = textwrap.dedent(
    """\
    import json
    from pathlib import Path

    import pulumi

    from ardent_provider import ArdentApiKey

    config = pulumi.Config()
    names = json.loads((Path(__file__).parent / "names.json").read_text())
    for name in names:
        key = ArdentApiKey(f"{config.require('team')}-{name}", role=config.get("role") or "Viewer")
        pulumi.export(f"{name}_key_id", key.key_id)
    """
)


def test_a_project_directory_is_used_in_place_without_writing_a_stack_file_into_it(
    ardent_stack: StackFactory, ardent_emulator: ArdentEmulator, tmp_path: Path
) -> None:
    project = tmp_path / "team-keys"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(project_yaml("team-keys", Path(sys.prefix)))
    (project / "__main__.py").write_text(PROJECT_PROGRAM)
    # The user's own settings for a stack of that name, with secrets under another passphrase: never read.
    (project / "Pulumi.test.yaml").write_text("encryptionsalt: v1:bm90IG91cnM=:v1:AAAA:BBBB\n")
    before = sorted(path.name for path in project.iterdir())

    stack = ardent_stack(project, config={"team-keys:team": "payments", "team-keys:role": None})
    (project / "names.json").write_text('["api", "worker"]')  # written after the stack was made
    assert stack.preview() == {"create": 2}
    outputs = stack.up()
    names = sorted(key["name"] for key in ardent_emulator.active_keys())
    assert names == ["payments-api", "payments-worker"] and set(outputs) == {"api_key_id", "worker_key_id"}

    (project / "names.json").write_text('["api"]')
    assert stack.up() == {"api_key_id": outputs["api_key_id"]}
    assert stack.destroy() == {"delete": 1}
    assert ardent_emulator.active_keys() == []
    assert sorted(path.name for path in project.iterdir()) == [*before, "names.json"]
    assert (project / "Pulumi.test.yaml").read_text().startswith("encryptionsalt: v1:bm90IG91cnM=")


def test_closing_destroys_every_stack_despite_faults_and_reports_keys_left_active(
    ardent_emulator: ArdentEmulator, tmp_path: Path
) -> None:
    stacks = StackFactory(ardent_emulator, tmp_path)
    clean = stacks(one_key, stack="clean")
    kept = stacks(retained_key, stack="kept")
    clean_id, kept_id = clean.up()["key_id"], kept.up()["key_id"]
    ardent_emulator.inject_fault(DELETE, "status", status=403)

    problems = stacks.close()

    assert len(problems) == 1, problems
    assert f"{kept_id} ('retained') in org {ardent_emulator.org_id}" in problems[0]
    assert "retained_key/kept left 1 key(s)" in problems[0] and "retain_on_delete" in problems[0]
    assert clean_id not in problems[0] and ardent_emulator.token not in problems[0]
    assert [key["id"] for key in ardent_emulator.active_keys()] == [kept_id]
    with pytest.raises(ValueError, match="already made stack 'clean'"):
        stacks(one_key, stack="clean")


def test_keys_in_another_org_are_checked_with_that_orgs_token_which_never_lands_on_a_command_line(
    ardent_emulator: ArdentEmulator, tmp_path: Path
) -> None:
    partner = ardent_emulator.add_org()
    assert set(partner) == {"api_url", "org_id", "token"} and partner["api_url"] == ardent_emulator.api_url
    assert partner["org_id"] != ardent_emulator.org_id and partner["token"] != ardent_emulator.token
    # Every pulumi command the kit and the Automation API run, logged: no token may show in an argument.
    real = find_pulumi()
    wrapped = tmp_path / "wrapped-pulumi"
    wrapped.mkdir()
    argv_log = tmp_path / "pulumi-argv.log"
    (wrapped / "pulumi").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(argv_log))}\n'
        f'exec {shlex.quote(str(real / "pulumi"))} "$@"\n'
    )
    (wrapped / "pulumi").chmod(0o755)
    for tool in real.iterdir():  # the plugins, and whatever they run beside them
        if tool.name != "pulumi":
            (wrapped / tool.name).symlink_to(tool)

    def partner_keys() -> None:
        home = ArdentApiKey("home", role="Viewer")
        away = ArdentApiKey(
            "away", role="Viewer", org_id=partner["org_id"], opts=pulumi.ResourceOptions(retain_on_delete=True)
        )
        pulumi.export("home_id", home.key_id)
        pulumi.export("away_id", away.key_id)

    stacks = StackFactory(ardent_emulator, tmp_path / "work", bin_dir=wrapped)
    stack = stacks(partner_keys, config={"ardent:orgs": {partner["org_id"]: {"token": partner["token"]}}})
    outputs = stack.up()
    assert [key["id"] for key in ardent_emulator.active_keys()] == [outputs["home_id"]]

    problems = stacks.close()

    # The retained key is found in the partner org, listed with that org's token (the default one gets 403).
    assert len(problems) == 1, problems
    assert f"left 1 key(s) it created active after its destroy: {outputs['away_id']} ('away') in org " in problems[0]
    assert partner["org_id"] in problems[0] and "could not check" not in problems[0]
    assert ardent_emulator.active_keys() == []
    (settings_file,) = (tmp_path / "work").rglob("Pulumi.test.yaml")
    settings = settings_file.read_text()
    assert "secure:" in settings and partner["org_id"] in settings
    commands = argv_log.read_text()
    assert "config set --secret --path" in commands
    for token in (partner["token"], ardent_emulator.token):
        assert token not in settings and token not in commands


def run_user_pytest(directory: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """pytest as a user runs it in their project: no conftest, the fixtures come from the entry point."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_CORE_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *files],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_test_that_leaves_a_key_active_errors_at_teardown_naming_it(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(
        textwrap.dedent(
            """\
            import pulumi
            from ardent_provider import ArdentApiKey

            def program():
                ArdentApiKey("forgotten", role="Viewer", opts=pulumi.ResourceOptions(retain_on_delete=True))

            def test_leaky(ardent_stack):
                ardent_stack(program).up()
            """
        )
    )
    result = run_user_pytest(tmp_path, "test_leaky.py")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 passed, 1 error" in output and "ERROR at teardown of test_leaky" in output
    assert re.search(
        r"stack program/test left 1 key\(s\) it created active after its destroy: key_\w+ \('forgotten'\)", output
    )
    assert "Traceback" not in output


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def python_blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture
def readme_project(tmp_path: Path) -> Path:
    """The project of the README's "Use it in your own project", with the status export the testing section adds."""
    project = tmp_path / "my-keys"
    (project / "tests").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(project_yaml("my-keys", Path(sys.prefix)))
    program = python_blocks(readme_section("Use it in your own project"))[0]
    (project / "__main__.py").write_text(program + 'pulumi.export("ci_deployer_status", key.status)\n')
    return project


def test_the_readme_test_files_pass(readme_project: Path) -> None:
    blocks = [block for block in python_blocks(TESTING_PAGE.read_text()) if "def test_" in block]
    files = {
        "test_keys.py": [block for block in blocks if "PROJECT = " in block],
        "test_orgs.py": [block for block in blocks if "add_org()" in block],
        "test_mocks.py": [block for block in blocks if "set_mocks" in block],
    }
    assert len(blocks) == 3 and all(len(found) == 1 for found in files.values()), "stack, two-org and mock tests"
    for name, (block,) in files.items():
        (readme_project / "tests" / name).write_text(block)

    result = run_user_pytest(readme_project, "tests")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_the_readme_script_without_pytest_runs(readme_project: Path) -> None:
    (script,) = [block for block in python_blocks(TESTING_PAGE.read_text()) if "StackFactory(" in block]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=readme_project, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "active" and "sk-ard_" not in result.stdout + result.stderr


def test_an_inline_up_and_a_cli_up_each_make_their_one_key_and_their_times_are_printed(
    ardent_stack: StackFactory, ardent_emulator: ArdentEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inline = ardent_stack(one_key)
    inline.preview()  # both sides warm up before the timed up: imports, plugin start, disk caches
    started = time.perf_counter()
    inline.up()
    inline_seconds = time.perf_counter() - started

    project = tmp_path / "cli"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(project_yaml("cli-one-key", Path(sys.prefix)))
    (project / "__main__.py").write_text(ONE_KEY_PROGRAM)
    cli = PulumiCLI(project, tmp_path / "cli-state", PASSPHRASE)
    cli.select_stack("test")
    cli.set_config("ardent:apiUrl", ardent_emulator.api_url)
    cli.set_config("ardent:orgId", ardent_emulator.org_id)
    cli.set_config("ardent:token", ardent_emulator.token, secret=True)
    cli.run("preview")
    started = time.perf_counter()
    cli.run("up", "--yes", "--skip-preview")
    cli_seconds = time.perf_counter() - started

    # A figure to read, not a limit to assert: on a loaded machine (xdist workers) either side may be slow.
    with capsys.disabled():
        print(f"\nup of one key: ardent_stack (inline) {inline_seconds:.2f} s, pulumi CLI {cli_seconds:.2f} s")
    assert len(ardent_emulator.active_keys()) == 2
