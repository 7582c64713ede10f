"""The TypeScript, Go and Java examples as throwaway projects wired to the emulator, with each language's
first-run cost cached outside the repository, and the journey every example goes through.

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
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.resource_types import NATIVE_KEY_TYPE
from ardent_provider.testing.pulumi_cli import PulumiCLI

from .conftest import PASSPHRASE, ROOT, STACK, Stack, require_cli
from .test_native_programs import hand_made_key

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ardent-provider" / "e2e-programs"
STALE_AFTER = 7 * 24 * 3600
CREATE = "POST /v1/orgs/{org_id}/api-keys"
BOOTSTRAP = "emulator-bootstrap-owner"
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
            os.utime(prepared)
            return modules
        # Preparations of other contents untouched for a week go; a newer one may serve another checkout.
        for stale in prepared.parent.glob("*"):
            if time.time() - stale.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(stale, ignore_errors=True)
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


def plaintext_anywhere(root: Path, secrets: list[str]) -> list[str]:
    """Every file under ``root`` holding one of ``secrets`` in plain text."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}" for secret in secrets if secret.encode() in data]
    return found


def partner_key_names(emulator: EmulatorServer, org: dict[str, str]) -> list[str]:
    with ArdentClient(org["token"], api_url=emulator.url) as partner:
        return sorted(key.name for key in partner.list_keys(org["org_id"]) if key.name != BOOTSTRAP)


def run_the_example_end_to_end(tmp_path: Path, emulator: EmulatorServer, language: Language) -> None:
    """The example's whole journey: a bad input refused before any request, ``up`` with a key in a partner org
    through an explicit provider, ``refresh`` and the no-change gate, ``pulumi import`` of a key made by hand
    then declared, and ``destroy``; the tokens secret in outputs and state and in plain text nowhere."""
    stack = language_stack(tmp_path, emulator, language)
    # A bad input first, while the program declares the seed's key alone: refused before any request is made.
    stack.cli.set_config("expiresInDays", "0")
    stack.reset_stats()
    refused = stack.cli.run("up", "--yes", check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "at least 1" in text, text[-3000:]
    # In the program's own names: the property as TypeScript, Go and Java declare it, never the Python one.
    assert "expiresInDays" in text and "expires_in_days" not in text, text[-3000:]
    assert stack.stats() == {} and stack.active_keys() == {}, "the bad input was refused before any request"
    stack.cli.run("config", "rm", "expiresInDays")

    partner = httpx.post(f"{emulator.url}/_emulator/orgs").json()
    stack.cli.set_config("partnerOrgId", partner["org_id"])
    stack.cli.set_config("partnerToken", partner["token"], secret=True)
    stack.cli.set_config("partnerApiUrl", emulator.url)

    up = stack.cli.run("up", "--yes", "--skip-preview")
    shown = stack.cli.outputs()
    assert shown["productionTestToken"] == "[secret]" and shown["partnerKeyToken"] == "[secret]", shown
    outputs = stack.cli.outputs(show_secrets=True)
    token, partner_token = outputs["productionTestToken"], outputs["partnerKeyToken"]
    (key,) = stack.active_keys().values()
    assert key.name == "Production-Test" and key.id == outputs["productionTestKeyId"] and stack.token_works(token)
    assert outputs["partnerKeyOrgId"] == partner["org_id"], "the explicit provider's org, not the stack's"
    assert partner_key_names(emulator, partner) == ["partnerViewer"]
    recorded = {r["urn"].rsplit("::", 1)[1]: r for r in stack.cli.export()["deployment"]["resources"]}
    assert "ciphertext" in str(recorded["Production-Test"]["outputs"]["token"])
    assert "ciphertext" in str(recorded["partnerViewer"]["outputs"]["token"])
    assert "ciphertext" in str(recorded["partner"]["inputs"]["token"]), "the explicit provider's token is encrypted"
    assert token not in up.stdout + up.stderr and partner_token not in up.stdout + up.stderr

    stack.cli.run("refresh", "--yes")
    stack.cli.run("preview", "--expect-no-changes")

    existing = hand_made_key(emulator)
    code = tmp_path / "imported-code"
    generate = ["--out", str(code)] if language.generates_import_code else ["--generate-code=false"]
    imported = stack.cli.run("import", NATIVE_KEY_TYPE, "handMade", existing, "--yes", "--protect=false", *generate)
    assert "imported without its token" in imported.stdout + imported.stderr
    if language.generates_import_code:
        assert existing in code.read_text() and "hand-made" in code.read_text()
    stack.cli.set_config("adoptKeyId", existing)
    stack.reset_stats()
    stack.cli.run("up", "--yes", "--skip-preview")
    assert stack.stats().get(CREATE, 0) == 0 and existing in stack.active_keys()
    stack.cli.run("preview", "--expect-no-changes")

    stack.cli.run("destroy", "--yes")
    assert stack.active_keys() == {} and partner_key_names(emulator, partner) == []
    assert stack.state_text() and plaintext_anywhere(tmp_path, [token, partner_token]) == []
