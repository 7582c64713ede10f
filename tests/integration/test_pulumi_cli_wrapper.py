"""PulumiCLI's environment and calls, against a stand-in `pulumi` executable that records what it was given."""

from __future__ import annotations

import json
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from ardent_provider.testing.pulumi_cli import PulumiCLI, PulumiCommandError

# Records its arguments, stdin and selected environment; answers like the real CLI for the calls used here.
FAKE_PULUMI = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    args = sys.argv[1:]
    log = Path(os.environ["FAKE_LOG"])
    record = {"args": args, "stdin": "" if sys.stdin.isatty() else sys.stdin.read(),
              "env": {k: os.environ.get(k) for k in ("PULUMI_BACKEND_URL", "PULUMI_HOME", "PULUMI_CONFIG_PASSPHRASE",
                      "PULUMI_PYTHON_CMD", "PULUMI_ACCESS_TOKEN", "PULUMI_SKIP_UPDATE_CHECK", "EXTRA")}}
    with log.open("a") as handle:
        handle.write(json.dumps(record) + "\\n")
    if args[:2] == ["stack", "select"] and os.environ.get("FAKE_NO_STACK"):
        sys.exit(255)
    if args[:2] == ["stack", "output"]:
        print(json.dumps({"token": "[secret]" if "--show-secrets" not in args else "sk-ard_test_x"}))
    elif args[:2] == ["stack", "export"]:
        print(json.dumps({"deployment": {"resources": []}, "shown": "--show-secrets" in args}))
    elif args[0] == "fail":
        print("something broke", file=sys.stderr)
        sys.exit(3)
    """
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PulumiCLI:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f"#!{sys.executable}\n{FAKE_PULUMI}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("PULUMI_PYTHON_CMD", "/should/not/leak")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-should-not-leak")
    project = tmp_path / "project"
    project.mkdir()
    return PulumiCLI(project, tmp_path / "state", "pass-phrase", bin_dir=bin_dir, extra_env={"EXTRA": "1"})


def calls(cli: PulumiCLI) -> list[dict[str, object]]:
    log = cli.state_dir.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_every_command_runs_offline_on_a_private_file_backend(cli: PulumiCLI) -> None:
    cli.run("version")
    (call,) = calls(cli)
    assert call["args"] == ["version", "--non-interactive"]
    env = call["env"]
    assert isinstance(env, dict)
    assert env["PULUMI_BACKEND_URL"] == cli.backend_dir.resolve().as_uri() and cli.backend_dir.is_dir()
    assert env["PULUMI_HOME"] == str((cli.state_dir / "home").resolve())
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "pass-phrase" and env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_PYTHON_CMD"] is None and env["PULUMI_ACCESS_TOKEN"] is None and env["EXTRA"] == "1"


def test_a_secret_config_value_travels_on_stdin_never_on_the_command_line(cli: PulumiCLI) -> None:
    cli.set_config("ardent:token", "sk-ard_test_secret", secret=True)
    cli.set_config("ardent:orgId", "org_1")
    secret, plain = calls(cli)
    assert secret["args"] == ["config", "set", "--secret", "ardent:token", "--non-interactive"]
    assert secret["stdin"] == "sk-ard_test_secret"
    assert plain["args"] == ["config", "set", "ardent:orgId", "org_1", "--non-interactive"]


def test_select_stack_creates_it_when_it_does_not_exist(cli: PulumiCLI, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.select_stack("dev")
    monkeypatch.setenv("FAKE_NO_STACK", "1")
    cli.select_stack("prod")
    assert [call["args"][:3] for call in calls(cli)] == [
        ["stack", "select", "dev"],
        ["stack", "select", "prod"],
        ["stack", "init", "prod"],
    ]


def test_outputs_and_export_parse_the_json_and_reveal_secrets_only_when_asked(cli: PulumiCLI) -> None:
    assert cli.outputs() == {"token": "[secret]"}
    assert cli.outputs(show_secrets=True) == {"token": "sk-ard_test_x"}
    assert cli.export() == {"deployment": {"resources": []}, "shown": False}
    assert cli.export(show_secrets=True)["shown"] is True
    assert cli.state_file("proj", "dev") == cli.backend_dir / ".pulumi" / "stacks" / "proj" / "dev.json"


def test_a_failing_command_raises_with_its_output_unless_told_not_to(cli: PulumiCLI) -> None:
    with pytest.raises(PulumiCommandError, match=r"`pulumi fail` exited with 3:\nsomething broke"):
        cli.run("fail")
    assert cli.run("fail", check=False).returncode == 3
