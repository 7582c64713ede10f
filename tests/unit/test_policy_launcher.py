"""The launcher `ardent-keys policy-pack` writes: where it goes, what it runs, and that it is written safely."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ardent_provider.cli import main
from ardent_provider.policy import launcher
from ardent_provider.policy.launcher import (
    LAUNCHER_NAME,
    LauncherError,
    install_launcher,
    launcher_directories,
    launcher_script,
    write_launcher,
)

# Writing a launcher needs the policy extra; the support matrix's lowest-bounds cells run without it.
needs_policy_extra = pytest.mark.skipif(
    importlib.util.find_spec("pulumi_policy") is None, reason="the policy extra (pulumi-policy) is not installed"
)


def fake_python(directory: Path) -> Path:
    """An executable standing in for the interpreter: prints each argument it gets on its own line."""
    directory.mkdir(parents=True, exist_ok=True)
    python = directory / "python"
    python.write_text('#!/bin/sh\nfor argument in "$@"; do printf "%s\\n" "$argument"; done\n')
    python.chmod(0o755)
    return python


def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(path), *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("odd", ["plain", "with space", "it's", 'quote"and$dollar'])
def test_the_launcher_serves_the_pack_on_the_engine_address_the_cli_passes_last(tmp_path: Path, odd: str) -> None:
    python = fake_python(tmp_path / odd / "bin")
    pack = tmp_path / odd / "pack"
    pack.mkdir()
    (pack / "__main__.py").write_text("")
    path = write_launcher(tmp_path / "out", str(python), pack, "1.2.3")
    for args in (["127.0.0.1:4567"], ["--logtostderr", "-v=9", "--tracing", "file:/t.json", "127.0.0.1:4567"]):
        result = run(path, *args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["-P", "-u", "-m", "pulumi.policy", "127.0.0.1:4567", str(pack)]
    assert "version: 1.2.3" in (path.parent / "PulumiPolicy.yaml").read_text()
    assert "runtime: python" in (path.parent / "PulumiPolicy.yaml").read_text()


def test_the_launcher_says_what_to_do_when_its_interpreter_is_gone_or_no_address_is_given(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "__main__.py").write_text("")
    gone = write_launcher(tmp_path / "gone", str(tmp_path / "no-such-venv" / "bin" / "python"), pack, "1")
    result = run(gone, "127.0.0.1:1")
    assert result.returncode == 1
    assert "run ardent-keys policy-pack again" in result.stderr
    usage = run(write_launcher(tmp_path / "ok", str(fake_python(tmp_path / "bin")), pack, "1"))
    assert usage.returncode == 2
    assert "usage:" in usage.stderr


def test_a_virtualenv_keeps_the_launcher_and_the_cache_is_the_fallback(tmp_path: Path) -> None:
    pack = Path("/site/ardent_provider/policy/pack")
    in_venv = launcher_directories(
        "/p/venv/bin/python", pack, prefix="/p/venv", base_prefix="/usr", environ={"HOME": "/home/u"}
    )
    assert in_venv[0] == Path("/p/venv/share/ardent-provider/policy-pack")
    assert in_venv[1].parent == Path("/home/u/.cache/ardent-provider/policy-pack")
    system = launcher_directories(
        "/usr/bin/python3", pack, prefix="/usr", base_prefix="/usr", environ={"XDG_CACHE_HOME": "/c", "HOME": "/h"}
    )
    assert len(system) == 1
    assert system[0].parent == Path("/c/ardent-provider/policy-pack")
    other = launcher_directories("/usr/bin/python3.12", pack, prefix="/usr", base_prefix="/usr", environ={"HOME": "/h"})
    assert other[0].name != system[0].name, "two interpreters must not share a launcher"
    assert launcher_directories("/usr/bin/python3", pack, prefix="/usr", base_prefix="/usr", environ={}) == []


def test_writing_is_idempotent_and_leaves_an_executable_and_no_temporary_files(tmp_path: Path) -> None:
    python = fake_python(tmp_path / "bin")
    first = write_launcher(tmp_path / "out", str(python), tmp_path, "1")
    before = first.stat().st_mtime_ns
    os.utime(first, ns=(before - 10**9, before - 10**9))
    again = write_launcher(tmp_path / "out", str(python), tmp_path, "1")
    assert again == first
    assert again.stat().st_mtime_ns == before - 10**9, "unchanged content is not rewritten"
    assert stat.S_IMODE(again.stat().st_mode) == 0o755
    changed = write_launcher(tmp_path / "out", str(python), tmp_path / "elsewhere", "1")
    assert str(tmp_path / "elsewhere") in changed.read_text()
    assert {item.name for item in (tmp_path / "out").iterdir()} == {LAUNCHER_NAME, "PulumiPolicy.yaml"}


@needs_policy_extra
def test_install_falls_back_to_the_cache_when_the_virtualenv_is_not_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "venv"
    blocked.write_text("a file where the virtualenv's directory would be")
    monkeypatch.setattr(launcher.sys, "prefix", str(blocked))
    monkeypatch.setattr(launcher.sys, "base_prefix", "/usr")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(
        launcher,
        "launcher_directories",
        lambda python, pack: [
            blocked / "share",
            *launcher_directories(python, pack, prefix="/usr", base_prefix="/usr"),
        ],
    )
    path = install_launcher(python=sys.executable)
    assert path.is_relative_to(tmp_path / "cache" / "ardent-provider" / "policy-pack")
    assert f"python={sys.executable}" in path.read_text()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(launcher, "launcher_directories", lambda python, pack: [blocked / "share"])
    with pytest.raises(LauncherError, match="cannot write the policy pack launcher"):
        install_launcher(python=sys.executable)


def test_install_refuses_without_pulumi_policy_and_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = launcher.importlib.util.find_spec
    monkeypatch.setattr(
        launcher.importlib.util, "find_spec", lambda name, *a: None if name == "pulumi_policy" else real(name, *a)
    )
    with pytest.raises(LauncherError, match=r"pip install 'ardent-provider\[policy\]'"):
        install_launcher(python=sys.executable)
    with pytest.raises(LauncherError, match="which Python interpreter"):
        install_launcher(python="")


def test_the_script_quotes_what_it_embeds() -> None:
    text = launcher_script("/a b/it's/python", Path("/x y/pack"))
    assert "python='/a b/it'\"'\"'s/python'" in text
    assert "pack='/x y/pack'" in text
    assert text.startswith("#!/bin/sh\n")


@needs_policy_extra
def test_ardent_keys_policy_pack_prints_only_the_path_or_exits_2_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(launcher, "launcher_directories", lambda python, pack: [tmp_path / "packs"])
    assert main(["policy-pack"]) == 0
    printed = capsys.readouterr()
    assert printed.out == f"{tmp_path / 'packs' / LAUNCHER_NAME}\n"
    assert printed.err == ""
    monkeypatch.setattr(launcher, "launcher_directories", lambda python, pack: [])
    assert main(["policy-pack"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.startswith("ardent-keys policy-pack: cannot write the policy pack launcher")
