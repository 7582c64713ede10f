"""The TypeScript, Go and Java examples as throwaway projects wired to the emulator, each with the SDK package
its users install (``scripts/sdk-packages``, built once per content: tests/sdk_packages.py), and the journey
every example goes through.

Each project is copied to a test's directory, outside the repository, and gets the SDK as a user does:

- TypeScript: ``npm install <the npm tarball>``, prepared once per content of the example and the tarball under
  ``${XDG_CACHE_HOME:-~/.cache}/ardent-provider/e2e-programs/`` and hard-linked into each test's copy;
- Go: the module copied into a folder laid out as its published path and ``go mod edit -replace`` pointing the
  program's requirement at it (Go's own module and build caches already live outside the repository);
- Java: ``mvn install:install-file`` of the jar and its pom into the local Maven repository (``~/.m2``), where
  the example's dependency on the artifact finds it.
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

from ..sdk_packages import SdkPackages, install_java_artifact, lay_out_go_module, sdk_packages
from .conftest import PASSPHRASE, ROOT, STACK, Stack, require_cli
from .test_native_programs import hand_made_key

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ardent-provider" / "e2e-programs"
STALE_AFTER = 7 * 24 * 3600
CREATE = "POST /v1/orgs/{org_id}/api-keys"
BOOTSTRAP = "emulator-bootstrap-owner"
SKIPPED = {"node_modules", "bin", "target", "package-lock.json"}


@dataclass(frozen=True)
class Language:
    """One example program: where it lives, its project's name and what its language host can do."""

    name: str
    project: str
    tool: str
    generates_import_code: bool

    @property
    def example(self) -> Path:
        return ROOT / "examples" / self.name


LANGUAGES = {
    # The Node.js (v3.68) and Go (v3.65) hosts built by scripts/setup-pulumi predate GenerateProgram, so
    # `pulumi import` runs with --generate-code=false for them; the Java host (v1.12) generates Java code.
    "typescript": Language("typescript", "ardent-typescript", "npm", generates_import_code=False),
    "go": Language("go", "ardent-go", "go", generates_import_code=False),
    "java": Language("java", "ardent-java", "mvn", generates_import_code=True),
}


def _files(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not SKIPPED.intersection(path.relative_to(directory).parts)
    )


def _digest(directory: Path, *files: Path) -> str:
    digest = hashlib.sha256()
    for path in _files(directory):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _copy_sources(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*SKIPPED), symlinks=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _installed_typescript_project(language: Language, tarball: Path) -> Path:
    """The example after ``npm install <tarball>``, prepared once per content of the example and the tarball."""
    prepared = CACHE / "typescript" / _digest(language.example, tarball)
    project = prepared / language.project
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (prepared / ".installed").exists():
            os.utime(prepared)
            return project
        # Preparations of other contents untouched for a week go; a newer one may serve another checkout.
        for stale in prepared.parent.glob("*"):
            if time.time() - stale.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(prepared, ignore_errors=True)
        _copy_sources(language.example, project)
        result = subprocess.run(
            ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", str(tarball)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, f"npm install failed in {project}:\n{(result.stdout + result.stderr)[-3000:]}"
        (prepared / ".installed").write_text("")
    return project


def _install_sdk(language: Language, project_dir: Path, packages: SdkPackages, tmp_path: Path) -> None:
    """Give the copied example its SDK package the way the language's users install it."""
    if language.name == "typescript":
        installed = _installed_typescript_project(language, packages.npm)
        shutil.copytree(
            installed / "node_modules", project_dir / "node_modules", symlinks=True, copy_function=_link_or_copy
        )
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(installed / name, project_dir / name)
    elif language.name == "go":
        module = lay_out_go_module(packages, tmp_path / "go-modules")
        result = subprocess.run(
            ["go", "mod", "edit", f"-replace={packages.go_module_path}={module}"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    elif language.name == "java":
        install_java_artifact(packages)


def language_stack(tmp_path: Path, emulator: EmulatorServer, language: Language) -> Stack:
    """A copy of ``examples/<language>`` with its SDK package installed, its stack configured for the emulator."""
    require_cli()
    if shutil.which(language.tool) is None:
        pytest.fail(f"{language.tool} is not on PATH: the {language.name} example needs it to run.")
    project_dir = tmp_path / language.project
    _copy_sources(language.example, project_dir)
    _install_sdk(language, project_dir, sdk_packages(), tmp_path)
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
