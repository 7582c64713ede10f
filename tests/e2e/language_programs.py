"""The TypeScript, Go and Java examples as throwaway projects wired to the emulator, with each language's
first-run cost cached outside the repository.

Each project is copied to a test's directory laid out as in the repository (``examples/<language>`` beside
``sdk/<sdk>``), so the examples' relative references to the generated SDKs hold. What each language fetches or
compiles the first time is kept between runs under ``${XDG_CACHE_HOME:-~/.cache}/ardent-provider/``:

- TypeScript: the example's ``node_modules`` (``npm install``, which also compiles the SDK), prepared once per
  content of its package.json, .npmrc and ``sdk/nodejs``, and hard-linked into each test's copy;
- Go: Go's own module and build caches, which already live outside the repository;
- Java: Maven's local repository (``~/.m2``), likewise.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import PASSPHRASE, ROOT, STACK, Stack, require_cli

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ardent-provider" / "e2e-programs"
SKIPPED = {"node_modules", "bin", "target", "package-lock.json"}


@dataclass(frozen=True)
class Language:
    """One example program: where it lives, the SDK it builds on and what its language host can do."""

    name: str
    sdk: str
    project: str
    tool: str
    generates_import_code: bool

    @property
    def example(self) -> Path:
        return ROOT / "examples" / self.name


LANGUAGES = {
    # The Node.js (v3.68) and Go (v3.65) hosts built by scripts/setup-pulumi predate GenerateProgram, so
    # `pulumi import` runs with --generate-code=false for them; the Java host (v1.12) generates Java code.
    "typescript": Language("typescript", "nodejs", "ardent-typescript", "npm", generates_import_code=False),
    "go": Language("go", "go", "ardent-go", "go", generates_import_code=False),
    "java": Language("java", "java", "ardent-java", "mvn", generates_import_code=True),
}


def _files(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not SKIPPED.intersection(path.relative_to(directory).parts)
    )


def _digest(*directories: Path) -> str:
    digest = hashlib.sha256()
    for directory in directories:
        for path in _files(directory):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _copy_sources(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*SKIPPED), symlinks=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _node_modules(language: Language) -> Path:
    """The example's installed ``node_modules``, prepared once per content of what npm installs from."""
    prepared = CACHE / "typescript" / _digest(language.example, ROOT / "sdk" / language.sdk)
    modules = prepared / "examples" / language.name / "node_modules"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (prepared / ".installed").exists():
            return modules
        shutil.rmtree(prepared, ignore_errors=True)
        _copy_sources(language.example, prepared / "examples" / language.name)
        _copy_sources(ROOT / "sdk" / language.sdk, prepared / "sdk" / language.sdk)
        result = subprocess.run(
            ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=prepared / "examples" / language.name,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"npm install failed in {prepared}:\n{(result.stdout + result.stderr)[-3000:]}"
        (prepared / ".installed").write_text("")
    return modules


def language_stack(tmp_path: Path, emulator: EmulatorServer, language: Language) -> Stack:
    """A copy of ``examples/<language>`` beside its SDK, its stack configured for the emulator."""
    require_cli()
    if shutil.which(language.tool) is None:
        pytest.fail(f"{language.tool} is not on PATH: the {language.name} example needs it to run.")
    project_dir = tmp_path / "examples" / language.name
    _copy_sources(language.example, project_dir)
    _copy_sources(ROOT / "sdk" / language.sdk, tmp_path / "sdk" / language.sdk)
    if language.name == "typescript":
        shutil.copytree(
            _node_modules(language), project_dir / "node_modules", symlinks=True, copy_function=_link_or_copy
        )
    cli = PulumiCLI(project_dir, tmp_path / "pulumi-state", PASSPHRASE)
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    return Stack(cli, emulator, project_dir, language.project, "native")
