"""The frozen plugin on a machine without Python, fetched by the engine itself from a loopback ``pluginDownloadURL``.

The archive that ``scripts/plugin-archive`` builds is served by an HTTP server on loopback, laid out as the
project's releases are (``/releases/download/v<version>/<archive>``). A YAML program and a TypeScript program run
with ``PATH`` holding only the Pulumi CLI's folder with its language hosts (and node and npm for TypeScript), and
an empty plugin cache: the engine downloads the plugin, installs it and runs it for ``up``, ``refresh``, the
no-change gate and ``destroy`` against the emulator. A YAML key with a ``sink`` runs the plugin's boto3 against
moto's Secrets Manager.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ardent_provider import ArdentClient, __version__
from ardent_provider.distribution import repository_url
from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import BIN_DIR_VARIABLE, PulumiCLI

from ..conftest import FAST_RETRY
from ..secrets_store import DUMMY_AWS, SecretsStore, secrets_store
from .conftest import PASSPHRASE, STACK, require_cli, token_works
from .frozen_plugin import ReleaseServer, cached_archive, release_server
from .language_programs import LANGUAGES, language_stack

pytestmark = pytest.mark.e2e
__all__ = ["secrets_store"]  # fixtures

BOOTSTRAP_KEY = "emulator-bootstrap-owner"
AMBIENT_WARNING = "using pulumi-resource-ardent from $PATH"
# What tells Python where to look; none of it may reach the programs.
PYTHON_VARIABLES = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PULUMI_PYTHON_CMD")

YAML_PROGRAM = textwrap.dedent(
    """\
    name: ardent-frozen-yaml
    runtime: yaml
    resources:
      productionTest:
        type: ardent:ApiKey
        properties:
          name: Production-Test
          role: Admin
        options:
          version: {version}
          pluginDownloadURL: {download_url}
    outputs:
      productionTestToken:
        fn::secret: ${{productionTest.token}}
      productionTestKeyId: ${{productionTest.keyId}}
    """
)

# The key's token goes to AWS Secrets Manager (moto's, on loopback), through the boto3 frozen into the plugin.
SINK_PROGRAM = textwrap.dedent(
    """\
    name: ardent-frozen-sink
    runtime: yaml
    resources:
      productionTest:
        type: ardent:ApiKey
        properties:
          name: Production-Test
          role: Admin
          sink:
            awsSecretsManager:
              secretId: {secret_id}
              endpointUrl: {endpoint}
        options:
          version: {version}
          pluginDownloadURL: {download_url}
    outputs:
      productionTestKeyId: ${{productionTest.keyId}}
      secretArn: ${{productionTest.sinkSecretArn}}
    """
)

# The key through an explicit provider that names where its plugin comes from (a resource option).
TYPESCRIPT_PROGRAM = textwrap.dedent(
    """\
    import * as pulumi from "@pulumi/pulumi";
    import * as ardent from "pulumi-ardent";

    const config = new pulumi.Config();
    const settings = new pulumi.Config("ardent");
    const provider = new ardent.Provider(
        "emulator",
        {
            apiUrl: settings.require("apiUrl"),
            orgId: settings.require("orgId"),
            token: settings.requireSecret("token"),
        },
        { pluginDownloadURL: config.require("pluginDownloadURL") },
    );
    const key = new ardent.ApiKey("Production-Test", { role: "Admin" }, { provider });
    export const productionTestToken = key.token;
    export const productionTestKeyId = key.keyId;
    """
)


class BareCLI(PulumiCLI):
    """The CLI where no Python is: nothing in the environment leads to an interpreter, and plugins are fetched."""

    def env(self) -> dict[str, str]:
        env = super().env()
        for name in (*PYTHON_VARIABLES, "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"):
            env.pop(name, None)
        return env


@pytest.fixture(scope="module")
def archive() -> Path:
    return cached_archive()


@pytest.fixture
def release(archive: Path) -> Iterator[ReleaseServer]:
    with release_server(archive) as served:
        yield served


def path_without_python(tmp_path: Path, *tools: str) -> str:
    """``PATH`` with the Pulumi CLI's folder and a folder holding only ``tools``; no ``python3`` resolves on it."""
    require_cli()
    pulumi = os.environ.get(BIN_DIR_VARIABLE) or str(Path(shutil.which("pulumi") or "pulumi").parent)
    entries = [pulumi]
    if tools:
        folder = tmp_path / "tools"
        folder.mkdir()
        for tool in tools:
            found = shutil.which(tool)
            assert found is not None, f"{tool} is not on PATH"
            (folder / tool).symlink_to(Path(found).resolve())
        entries.append(str(folder))
    path = os.pathsep.join(entries)
    for python in ("python3", "python"):
        assert shutil.which(python, path=path) is None, f"{python} resolves on {path}: the test needs a PATH without it"
    assert shutil.which("pulumi", path=path) and shutil.which("pulumi-resource-ardent", path=path) is None
    return path


def bare_cli(project: Path, state: Path, path: str, **extra_env: str) -> BareCLI:
    return BareCLI(project, state, PASSPHRASE, extra_env={"PATH": path, **extra_env})


def active_keys(emulator: EmulatorServer) -> dict[str, str]:
    """Active keys in the emulator's org other than its owner key, as id -> name."""
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        return {key.id: key.name for key in owner.list_keys(emulator.org_id) if key.name != BOOTSTRAP_KEY}


def up_gate_and_destroy(cli: PulumiCLI, emulator: EmulatorServer, release: ReleaseServer) -> None:
    """``up`` fetching the plugin from the loopback server, ``refresh`` and the gate, then ``destroy``."""
    installed = Path(cli.env()["PULUMI_HOME"]) / "plugins" / f"resource-ardent-v{__version__}"
    assert not installed.exists(), "the plugin cache starts empty"

    up = cli.run("up", "--yes", "--skip-preview")
    assert release.served_archive(), f"the engine did not fetch the archive; the server saw {release.requests}"
    assert (installed / "pulumi-resource-ardent").is_file(), sorted(p.name for p in installed.parent.glob("*"))
    assert AMBIENT_WARNING not in up.stdout + up.stderr
    outputs = cli.outputs(show_secrets=True)
    token = outputs["productionTestToken"]
    assert cli.outputs()["productionTestToken"] == "[secret]" and token_works(emulator, token)
    assert active_keys(emulator) == {outputs["productionTestKeyId"]: "Production-Test"}
    assert token not in up.stdout + up.stderr

    cli.run("refresh", "--yes")
    gate = cli.run("preview", "--expect-no-changes", check=False)
    assert gate.returncode == 0, (gate.stdout + gate.stderr)[-3000:]

    cli.run("destroy", "--yes", "--skip-preview")
    assert active_keys(emulator) == {} and not token_works(emulator, token)
    assert release.requests.count(release.asset_path) == 1, "installed once, then run from the plugin cache"


def test_a_yaml_program_without_python_gets_the_plugin_from_its_download_url(
    tmp_path: Path, emulator: EmulatorServer, release: ReleaseServer
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    download_url = release.download_url.replace("${", "$${")
    (project / "Pulumi.yaml").write_text(YAML_PROGRAM.format(version=__version__, download_url=download_url))
    cli = bare_cli(project, tmp_path / "pulumi-state", path_without_python(tmp_path))
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    up_gate_and_destroy(cli, emulator, release)


def test_a_typescript_program_without_python_gets_the_plugin_from_its_download_url(
    tmp_path: Path, emulator: EmulatorServer, release: ReleaseServer
) -> None:
    stack = language_stack(tmp_path, emulator, LANGUAGES["typescript"])
    (stack.project_dir / "index.ts").write_text(TYPESCRIPT_PROGRAM)
    stack.cli.set_config("pluginDownloadURL", release.download_url)
    # An SDK generated from the schema names the project's releases as where its plugin comes from, and the
    # engine fetches it before the program runs: that address is sent to the loopback server too.
    overrides = f"^{re.escape(repository_url())}/={release.download_url}"
    path = path_without_python(tmp_path, "node", "npm")
    cli = bare_cli(stack.project_dir, tmp_path / "pulumi-state", path, PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES=overrides)
    up_gate_and_destroy(cli, emulator, release)


def test_the_frozen_plugin_writes_a_sinks_token_to_aws_secrets_manager(
    tmp_path: Path, emulator: EmulatorServer, release: ReleaseServer, secrets_store: SecretsStore
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    secret_id = secrets_store.name()
    program = SINK_PROGRAM.format(
        secret_id=secret_id,
        endpoint=secrets_store.endpoint,
        version=__version__,
        download_url=release.download_url.replace("${", "$${"),
    )
    (project / "Pulumi.yaml").write_text(program)
    state = tmp_path / "pulumi-state"
    # Dummy credentials and region for the plugin's boto3, from the environment as on a real machine.
    cli = bare_cli(project, state, path_without_python(tmp_path), **DUMMY_AWS)
    cli.select_stack(STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)

    up = cli.run("up", "--yes", "--skip-preview")
    assert release.served_archive(), f"the engine did not fetch the archive; the server saw {release.requests}"
    token = secrets_store.current(secret_id)
    outputs = cli.outputs(show_secrets=True)
    assert token_works(emulator, token)
    assert active_keys(emulator) == {outputs["productionTestKeyId"]: "Production-Test"}
    assert outputs["secretArn"] == secrets_store.describe(secret_id)["ARN"]
    stored = [path for path in state.rglob("*") if path.is_file() and token.encode() in path.read_bytes()]
    assert stored == [] and token not in json.dumps(cli.export(show_secrets=True)) + up.stdout + up.stderr

    cli.run("destroy", "--yes", "--skip-preview")
    assert active_keys(emulator) == {} and not token_works(emulator, token)
    assert secrets_store.describe(secret_id).get("DeletedDate") is not None
