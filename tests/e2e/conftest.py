"""The real Pulumi CLI against the emulator: one throwaway project and stack per test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ardent_provider import ArdentClient, AuthenticationError
from ardent_provider.emulator import EmulatorServer
from ardent_provider.models import ApiKey
from ardent_provider.platform.stacks import keys_in_deployment
from ardent_provider.resource_types import is_key_type
from ardent_provider.state import CAMEL_NAMES, snake_properties
from ardent_provider.testing.pulumi_cli import BIN_DIR_VARIABLE, PulumiCLI

from ..conftest import FAST_RETRY

ROOT = Path(__file__).resolve().parents[2]
STACK = "e2e"
PASSPHRASE = "e2e-passphrase"

# A program whose keys come from keys.json beside it, so each step of a test can change them.
KEYS_PROGRAM = textwrap.dedent(
    """
    import json
    from pathlib import Path

    import pulumi

    from ardent_provider import ArdentApiKey

    for spec in json.loads((Path(__file__).parent / "keys.json").read_text()):
        resource = spec.pop("resource")
        key = ArdentApiKey(resource, **spec)
        pulumi.export(f"{resource}_token", key.token)
        pulumi.export(f"{resource}_key_id", key.key_id)
        pulumi.export(f"{resource}_status", key.status)
    """
)


KINDS = ("dynamic", "native")
"""The two resource types a program can declare a key with: ``ArdentApiKey`` and the generated SDK's ``ApiKey``."""
NATIVE_IMPORT = "from pulumi_ardent import ApiKey as ArdentApiKey"


def for_kind(program: str, kind: str) -> str:
    """A program written with ``ArdentApiKey`` declaring its keys with the given resource type instead.

    The generated Python SDK takes the same keyword inputs and exposes the same outputs, so one program serves both.
    """
    if kind == "dynamic":
        return program
    assert "from ardent_provider import ArdentApiKey" in program, "the program must import ArdentApiKey on its own line"
    return program.replace("from ardent_provider import ArdentApiKey", NATIVE_IMPORT)


def project_yaml(project: str, virtualenv: str | Path, main: str | None = None) -> str:
    """A ``Pulumi.yaml`` with the runtime block ``pulumi new python`` writes, naming ``virtualenv``."""
    lines = [
        f"name: {project}",
        "runtime:",
        "  name: python",
        "  options:",
        "    toolchain: pip",
        f"    virtualenv: {json.dumps(str(virtualenv))}",
    ]
    if main is not None:
        lines.append(f"main: {json.dumps(main)}")
    return "\n".join(lines) + "\n"


def require_cli() -> None:
    if not os.environ.get(BIN_DIR_VARIABLE) and shutil.which("pulumi") is None:
        pytest.fail(
            "The Pulumi CLI is not available: run the suite through scripts/test, which builds it "
            f"(or set {BIN_DIR_VARIABLE} to the directory holding pulumi)."
        )


@dataclass
class Stack:
    """A throwaway Pulumi project wired to the emulator."""

    cli: PulumiCLI
    emulator: EmulatorServer
    project_dir: Path
    project: str
    kind: str = "dynamic"

    def prop(self, name: str) -> str:
        """How the engine's messages name a key's property (``org_id``) for this stack's resource type."""
        return CAMEL_NAMES.get(name, name) if self.kind == "native" else name

    def write_keys(self, keys: list[dict[str, Any]]) -> None:
        (self.project_dir / "keys.json").write_text(json.dumps(keys))

    def up(self, *extra: str, check: bool = True) -> str:
        result = self.cli.run("up", "--yes", "--skip-preview", *extra, check=check)
        return result.stdout + result.stderr

    def start_up(self) -> subprocess.Popen[bytes]:
        """Start ``pulumi up`` in the background, in a session of its own, for a test that kills it mid-run."""
        return subprocess.Popen(
            ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive"],
            cwd=self.project_dir,
            env=self.cli.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def owner(self) -> ArdentClient:
        return ArdentClient(self.emulator.token, api_url=self.emulator.url, retry=FAST_RETRY)

    def active_keys(self) -> dict[str, ApiKey]:
        with self.owner() as client:
            return {
                key.id: key for key in client.list_keys(self.emulator.org_id) if key.name != "emulator-bootstrap-owner"
            }

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.emulator.url}/_emulator/stats").json()["requests"]

    def reset_stats(self) -> None:
        httpx.post(f"{self.emulator.url}/_emulator/stats/reset")

    def resource_outputs(self, resource: str) -> dict[str, Any]:
        """A resource's outputs as the state holds them (secrets stay encrypted), with ``ArdentApiKey``'s names."""
        for item in self.cli.export()["deployment"]["resources"]:
            if is_key_type(item["type"]) and item["urn"].endswith(f"::{resource}"):
                return snake_properties(item.get("outputs", {}))
        raise KeyError(resource)

    def ardent_keys(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the ``ardent-keys`` console script against this stack's project, as a user would."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "ardent-keys"), *args],
            cwd=self.project_dir,
            stdin=subprocess.DEVNULL,
            env=env or self.cli.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def token_works(self, token: str | None) -> bool:
        """Whether a token authenticates against the emulator."""
        return token_works(self.emulator, token)

    def state_text(self) -> str:
        return self.cli.state_file(self.project, STACK).read_text()


def token_works(emulator: EmulatorServer, token: str | None) -> bool:
    """Whether a token authenticates against the emulator."""
    if not token:
        return False
    try:
        with ArdentClient(token, api_url=emulator.url, retry=FAST_RETRY) as client:
            client.get_org(emulator.org_id)
    except AuthenticationError:
        return False
    return True


def make_stack(
    tmp_path: Path, emulator: EmulatorServer, program: str, project: str = "ardent-e2e", kind: str = "dynamic"
) -> Stack:
    require_cli()
    project_dir = tmp_path / "project"
    project_dir.mkdir(parents=True)
    # The interpreter running the tests (the repository's .venv under scripts/test) runs program and provider.
    (project_dir / "Pulumi.yaml").write_text(project_yaml(project, Path(sys.prefix)))
    (project_dir / "__main__.py").write_text(for_kind(program, kind))
    cli = PulumiCLI(project_dir, tmp_path / "pulumi-state", PASSPHRASE)
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    return Stack(cli, emulator, project_dir, project, kind)


def destroy_and_check(stack: Stack) -> None:
    """Destroy the stack and fail unless every key its state recorded is revoked (Terraform's CheckDestroy).

    Faults a test left are cleared first, and protected resources unprotected; a stack whose state records no
    key (a test that never got to create one) is left as it is.
    """
    httpx.delete(f"{stack.emulator.url}/_emulator/faults")
    recorded = {item.key_id for item in keys_in_deployment(stack.cli.export(), STACK, stack.project)}
    if not recorded:
        return
    result = stack.cli.run("destroy", "--yes", "--skip-preview", check=False)
    if result.returncode != 0:
        stack.cli.run("state", "unprotect", "--all", "--yes", check=False)
        result = stack.cli.run("destroy", "--yes", "--skip-preview", "--run-program", check=False)
    still_active = sorted(recorded & set(stack.active_keys()))
    assert result.returncode == 0 and not still_active, (
        f"the stack's destroy left {len(still_active)} key(s) it recorded active: {still_active}\n"
        + (result.stdout + result.stderr)[-3000:]
    )


@pytest.fixture(params=KINDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path, emulator: EmulatorServer) -> Iterator[Stack]:
    """A stack of ``KEYS_PROGRAM``, once with each resource type: every scenario holds for both."""
    made = make_stack(tmp_path, emulator, KEYS_PROGRAM, kind=request.param)
    yield made
    destroy_and_check(made)


def age_keys(emulator: EmulatorServer, minutes: float = 20) -> None:
    """Move the service's clock on, so that every key made so far is past `ardent-keys revoke`'s minimum age."""
    httpx.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": minutes * 60}).raise_for_status()
