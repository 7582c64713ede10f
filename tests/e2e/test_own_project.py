"""A user's own project: its own virtualenv with the built wheel, and Pulumi.yaml as `pulumi new python` writes it.

Nothing here points at the repository: the repository's virtualenv is taken off PATH, PULUMI_PYTHON_CMD is
absent, and the program reports which interpreter and which copy of the package it ran with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing import find_pulumi
from ardent_provider.testing.pulumi_cli import PulumiCLI

from ..conftest import FAST_RETRY
from ..release import build_wheel
from ..sdk_packages import sdk_packages
from .conftest import PASSPHRASE, ROOT, require_cli, token_works
from .frozen_plugin import cached_archive

pytestmark = pytest.mark.e2e

STACK = "dev"
BOOTSTRAP_KEY = "emulator-bootstrap-owner"

# What `pulumi new python` writes (its description and template tag included).
PULUMI_YAML = textwrap.dedent(
    """\
    name: ardent-own-project
    description: A minimal Python Pulumi program
    runtime:
      name: python
      options:
        toolchain: pip
        virtualenv: venv
    config:
      pulumi:tags:
        value:
          pulumi:template: python
    """
)

PROGRAM = textwrap.dedent(
    """\
    import sys

    import pulumi

    import ardent_provider
    from ardent_provider import ArdentApiKey

    key = ArdentApiKey("ci-deployer", role="Member")
    pulumi.export("key_id", key.key_id)
    pulumi.export("token", key.token)
    pulumi.export("python_prefix", sys.prefix)
    pulumi.export("package_file", ardent_provider.__file__)
    """
)


def run(args: list[str | Path], cwd: Path, timeout: float = 600) -> None:
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built once per session with `pip wheel`, from a clean copy of the files it is built from."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def project_home(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A project directory set up as a user would: `python -m venv venv`, `pip install -r requirements.txt`."""
    home = tmp_path_factory.mktemp("own-project")
    # Stands in for `ardent-provider` on a package index: the wheel itself, installed as a user would get it.
    (home / "requirements.txt").write_text(f"{wheel}\npulumi>=3.139.0,<4.0.0\n")
    run([sys.executable, "-m", "venv", "venv"], home)
    run(
        [
            home / "venv" / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ],
        home,
    )
    return home


@dataclass
class UserCLI(PulumiCLI):
    """The CLI as a user's shell runs it: nothing in the environment leads to the repository's virtualenv."""

    def env(self) -> dict[str, str]:
        env = super().env()
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            env.pop(name, None)
        repository_venv = Path(sys.prefix).resolve()
        env["PATH"] = os.pathsep.join(
            entry
            for entry in env["PATH"].split(os.pathsep)
            if entry and not Path(entry).resolve().is_relative_to(repository_venv)
        )
        return env


def user_cli(project: Path, state: Path, emulator: EmulatorServer, **extra_env: str) -> UserCLI:
    require_cli()
    cli = UserCLI(project, state, PASSPHRASE, extra_env=extra_env)
    cli.run("stack", "init", STACK)
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    return cli


def other_keys(emulator: EmulatorServer) -> dict[str, str]:
    """Active keys in the org other than the emulator's owner key, as id -> name."""
    with ArdentClient(emulator.token, api_url=emulator.url, retry=FAST_RETRY) as owner:
        return {key.id: key.name for key in owner.list_keys(emulator.org_id) if key.name != BOOTSTRAP_KEY}


def provided_toolchain(cli: PulumiCLI) -> bool:
    """Whether the CLI in use is the one scripts/setup-pulumi provides (its launcher beside the language host)."""
    host = shutil.which("pulumi-language-python", path=cli.env()["PATH"])
    return host is not None and (Path(host).parent / "langhost-python-upstream").exists()


def test_a_project_with_its_own_virtualenv_runs_up_drift_and_destroy(
    project_home: Path, tmp_path: Path, emulator: EmulatorServer
) -> None:
    project, venv = project_home, project_home / "venv"
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "__main__.py").write_text(PROGRAM)
    cli = user_cli(project, tmp_path / "pulumi-state", emulator)
    env = cli.env()
    assert "PULUMI_PYTHON_CMD" not in env
    assert shutil.which("python3", path=env["PATH"]) != str(Path(sys.prefix) / "bin" / "python3")

    cli.run("up", "--yes", "--skip-preview")

    outputs = cli.outputs()
    assert Path(outputs["python_prefix"]).resolve() == venv.resolve()
    package = Path(outputs["package_file"]).resolve()
    assert package.is_relative_to(venv.resolve() / "lib"), f"ardent_provider came from {package}, not the wheel"
    assert outputs["token"] == "[secret]"
    token = cli.run("stack", "output", "token", "--show-secrets").stdout.strip()
    assert token.startswith("sk-ard_test_") and token_works(emulator, token)
    assert other_keys(emulator) == {outputs["key_id"]: "ci-deployer"}

    drift = subprocess.run(
        [venv / "bin" / "ardent-keys", "drift", "--stack", STACK],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert token not in drift.stdout + drift.stderr

    cli.run("destroy", "--yes", "--skip-preview")
    assert other_keys(emulator) == {}
    assert not token_works(emulator, token)


def test_a_relative_virtualenv_is_found_from_a_program_in_a_subdirectory(
    project_home: Path, tmp_path: Path, emulator: EmulatorServer
) -> None:
    project = tmp_path / "project"
    (project / "infra").mkdir(parents=True)
    (project / "venv").symlink_to(project_home / "venv", target_is_directory=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML + "main: infra\n")
    (project / "infra" / "__main__.py").write_text(PROGRAM)
    cli = user_cli(project, tmp_path / "pulumi-state", emulator)
    if not provided_toolchain(cli):
        pytest.skip(
            "Pulumi's own dynamic-provider script resolves a relative virtualenv against `main:` "
            "(pulumi/pulumi#7061); only the CLI from scripts/setup-pulumi corrects it"
        )

    cli.run("up", "--yes", "--skip-preview")
    outputs = cli.outputs()
    assert Path(outputs["python_prefix"]).resolve() == (project_home / "venv").resolve()
    assert other_keys(emulator) == {outputs["key_id"]: "ci-deployer"}
    cli.run("destroy", "--yes", "--skip-preview")
    assert other_keys(emulator) == {}


def test_pulumi_python_cmd_still_picks_the_interpreter_of_a_project_without_runtime_options(
    project_home: Path, tmp_path: Path, emulator: EmulatorServer
) -> None:
    """The older way, deliberately: `runtime: python` and PULUMI_PYTHON_CMD naming the interpreter."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: ardent-python-cmd\nruntime: python\n")
    (project / "__main__.py").write_text(PROGRAM)
    python = project_home / "venv" / "bin" / "python"
    cli = user_cli(project, tmp_path / "pulumi-state", emulator, PULUMI_PYTHON_CMD=str(python))

    preview = cli.run("preview", "--diff")
    assert "ci-deployer" in preview.stdout
    assert other_keys(emulator) == {}


USER_TESTS = textwrap.dedent(
    """\
    import sys
    from pathlib import Path

    import pulumi

    import ardent_provider
    from ardent_provider import ArdentApiKey
    from ardent_provider.testing import ArdentEmulator

    PROJECT = Path(__file__).resolve().parents[1]
    VENV = (PROJECT / "venv").resolve()


    def reviewer():
        key = ArdentApiKey("reviewer", role="Viewer")
        pulumi.export("key_id", key.key_id)


    def test_the_kit_comes_from_the_wheel_in_the_projects_virtualenv(ardent_emulator):
        assert isinstance(ardent_emulator, ArdentEmulator)
        assert Path(sys.prefix).resolve() == VENV
        assert Path(ardent_provider.__file__).resolve().is_relative_to(VENV / "lib")


    def test_the_project_and_an_inline_program_deploy_on_the_emulator(ardent_stack, ardent_emulator):
        project, inline = ardent_stack(PROJECT), ardent_stack(reviewer)
        outputs = project.up()
        assert Path(outputs["package_file"]).resolve().is_relative_to(VENV / "lib")
        assert project.outputs()["token"] == "[secret]" and outputs["token"].startswith("sk-ard_test_")
        assert inline.preview() == {"create": 1}
        inline.up()
        assert sorted(key["name"] for key in ardent_emulator.active_keys()) == ["ci-deployer", "reviewer"]
    """
)


@pytest.fixture(scope="module")
def venv_with_pytest(project_home: Path) -> Path:
    """The user's virtualenv with pytest added, as `pip install pytest` in their project would."""
    run(
        [
            project_home / "venv" / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"pytest=={pytest.__version__}",
        ],
        project_home,
    )
    return project_home / "venv"


def test_a_users_own_tests_get_the_fixtures_from_the_installed_wheel(venv_with_pytest: Path, tmp_path: Path) -> None:
    """No conftest, no repository on any path: the fixtures come from the wheel's pytest11 entry point."""
    require_cli()
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "venv").symlink_to(venv_with_pytest, target_is_directory=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "__main__.py").write_text(PROGRAM)
    (project / "tests" / "test_keys.py").write_text(USER_TESTS)
    env = UserCLI(project, tmp_path / "unused-state", PASSPHRASE).env()
    for name in [name for name in env if name.startswith(("PULUMI_", "PYTEST_", "COV_CORE_", "ARDENT_"))]:
        del env[name]
    env["PATH"] = f"{find_pulumi()}{os.pathsep}{env['PATH']}"  # found on PATH, as in a user's shell

    result = subprocess.run(
        [project / "venv" / "bin" / "python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed in" in result.stdout, result.stdout  # and no warning
    assert not list(project.glob("Pulumi.*.yaml")), "the kit wrote a stack file into the user's project"


@pytest.fixture
def launcher(tmp_path: Path) -> Path:
    """The installed launcher, copied beside a stand-in host that announces a port as a host does, prints its
    working directory and arguments, and exits."""
    require_cli()
    cli = PulumiCLI(tmp_path, tmp_path / "state", PASSPHRASE)
    if not provided_toolchain(cli):
        pytest.skip("the CLI in use is not the one scripts/setup-pulumi provides, so it has no launcher")
    installed = shutil.which("pulumi-language-python", path=cli.env()["PATH"])
    assert installed is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(installed, bin_dir / "pulumi-language-python")
    host = bin_dir / "langhost-python-upstream"
    host.write_text('#!/bin/sh\necho 1\necho "$PWD"\nfor arg in "$@"; do echo "$arg"; done\n')
    host.chmod(0o755)
    return bin_dir / "pulumi-language-python"


def launch(launcher: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([launcher, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("runtime", "main", "args", "expected"),
    [
        ("{name: python, options: {toolchain: pip, virtualenv: venv}}", None, [], ["-root={root}", "-virtualenv=venv"]),
        (
            "{name: python, options: {toolchain: pip, virtualenv: venv}}",
            "infra",
            [],
            ["-root={root}", "-virtualenv=venv"],
        ),
        ("{name: python, options: {virtualenv: /opt/venv}}", None, [], ["-root={root}", "-virtualenv=/opt/venv"]),
        ("python", None, [], ["-root={root}"]),
        (
            "{name: python, options: {toolchain: pip, virtualenv: venv}}",
            None,
            ["--logtostderr", "-v=9", "--tracing", "http://127.0.0.1:9"],
            ["-root={root}", "-virtualenv=venv", "--logtostderr", "-v=9", "--tracing", "http://127.0.0.1:9"],
        ),
        (
            "{name: python, options: {virtualenv: venv}}",
            None,
            ["-root=/elsewhere", "-virtualenv=v"],
            ["-root=/elsewhere", "-virtualenv=v"],
        ),
    ],
    ids=["root", "main-subdirectory", "absolute", "no-options", "logging-flags", "flags-given"],
)
def test_the_launcher_turns_runtime_options_into_host_flags(
    launcher: Path, tmp_path: Path, runtime: str, main: str | None, args: list[str], expected: list[str]
) -> None:
    root = tmp_path / "project"
    program_dir = root / main if main else root
    program_dir.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(f"name: p\nruntime: {runtime}\n" + (f"main: {main}\n" if main else ""))

    result = launch(launcher, program_dir, *args, "127.0.0.1:4321")

    assert result.returncode == 0, result.stderr
    # The launcher's own port first (it serves in front of the host), then what the host printed after its port.
    port, cwd, *passed = result.stdout.splitlines()
    assert int(port) > 1 and Path(cwd) == program_dir
    assert passed == [*(flag.format(root=root) for flag in expected), "127.0.0.1:4321"]


def test_the_launcher_passes_everything_through_outside_a_project(launcher: Path, tmp_path: Path) -> None:
    result = launch(launcher, tmp_path, "127.0.0.1:4321")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2:] == ["127.0.0.1:4321"]


def test_the_launcher_exits_as_the_host_does_when_the_host_fails_before_serving(launcher: Path, tmp_path: Path) -> None:
    (launcher.parent / "langhost-python-upstream").write_text("#!/bin/sh\necho 'no engine at $1' >&2\nexit 3\n")
    result = launch(launcher, tmp_path, "127.0.0.1:4321")
    assert result.returncode == 3
    assert result.stdout == "" and "no engine at" in result.stderr


@pytest.mark.parametrize("toolchain", ["uv", "poetry"])
def test_the_launcher_refuses_toolchains_the_old_host_cannot_run(
    launcher: Path, tmp_path: Path, toolchain: str
) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: p\nruntime:\n  name: python\n  options:\n    toolchain: {toolchain}\n"
    )
    result = launch(launcher, tmp_path, "127.0.0.1:4321")
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"toolchain: {toolchain}" in result.stderr and "official Pulumi CLI" in result.stderr


# -- the native provider plugin in a user's project ---------------------------------------------------------------

SDK_PROGRAM = textwrap.dedent(
    """\
    import pulumi
    import pulumi_ardent as ardent

    key = ardent.ApiKey("Production-Test", role="Admin")
    pulumi.export("key_id", key.key_id)
    pulumi.export("token", key.token)
    """
)
AMBIENT_WARNING = "using pulumi-resource-ardent from $PATH"


@pytest.fixture(scope="module")
def sdk_home(project_home: Path) -> Path:
    """The user's virtualenv with the Python SDK installed too, from its wheel (scripts/sdk-packages)."""
    wheel = sdk_packages().wheel
    run([project_home / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], project_home)
    return project_home


def yaml_project(tmp_path: Path, plugins: str = "") -> Path:
    project = tmp_path / "yaml-project"
    shutil.copytree(ROOT / "examples" / "yaml", project)
    if plugins:
        with (project / "Pulumi.yaml").open("a") as text:
            text.write(plugins)
    return project


def created_and_destroyed(cli: PulumiCLI, emulator: EmulatorServer, token_output: str) -> str:
    """Run up, check the key and its secret token, destroy, check the key is revoked; the up's output."""
    up = cli.run("up", "--yes", "--skip-preview")
    token = cli.run("stack", "output", token_output, "--show-secrets").stdout.strip()
    assert cli.outputs()[token_output] == "[secret]" and token_works(emulator, token)
    assert list(other_keys(emulator).values()) == ["Production-Test"]
    cli.run("destroy", "--yes", "--skip-preview")
    assert other_keys(emulator) == {} and not token_works(emulator, token)
    return up.stdout + up.stderr


def test_the_installed_packages_plugin_on_path_serves_a_program_of_the_generated_python_sdk(
    sdk_home: Path, tmp_path: Path, emulator: EmulatorServer
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "venv").symlink_to(sdk_home / "venv", target_is_directory=True)
    (project / "Pulumi.yaml").write_text(PULUMI_YAML)
    (project / "__main__.py").write_text(SDK_PROGRAM)
    # As `source venv/bin/activate` would: the package's pulumi-resource-ardent on PATH.
    path = f"{project / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    cli = user_cli(project, tmp_path / "pulumi-state", emulator, PATH=path)
    output = created_and_destroyed(cli, emulator, "token")
    assert f"{AMBIENT_WARNING} at {project / 'venv' / 'bin' / 'pulumi-resource-ardent'}" in output


def test_a_yaml_program_finds_the_plugin_through_pulumi_yaml(
    project_home: Path, tmp_path: Path, emulator: EmulatorServer
) -> None:
    plugins = f"plugins:\n  providers:\n    - name: ardent\n      path: {project_home / 'venv' / 'bin'}\n"
    cli = user_cli(yaml_project(tmp_path, plugins), tmp_path / "pulumi-state", emulator)
    assert shutil.which("pulumi-resource-ardent", path=cli.env()["PATH"]) is None
    output = created_and_destroyed(cli, emulator, "productionTestToken")
    assert AMBIENT_WARNING not in output


def test_a_yaml_program_uses_the_plugin_installed_from_the_projects_archive(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    path = cached_archive()  # scripts/plugin-archive's, built once per content of its sources
    from ardent_provider import __version__

    assert path.name.startswith(f"pulumi-resource-ardent-v{__version__}-") and path.name.endswith(".tar.gz")
    cli = user_cli(yaml_project(tmp_path), tmp_path / "pulumi-state", emulator)
    cli.run("plugin", "install", "resource", "ardent", __version__, "--file", str(path))
    assert shutil.which("pulumi-resource-ardent", path=cli.env()["PATH"]) is None
    output = created_and_destroyed(cli, emulator, "productionTestToken")
    assert AMBIENT_WARNING not in output
