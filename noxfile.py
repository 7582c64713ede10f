"""The support matrix: the package's Pythons x its pulumi and httpx bounds, and every other artifact's lowest pulumi.

Each cell is one of every Python the package claims x the lowest and the newest pulumi and httpx it accepts.
Each cell is a session with a virtualenv of its own, where the package is installed from its wheel (never
from the checkout) beside that cell's pulumi and httpx; it runs the fast tests against the installed package,
then the seed scenario (``scripts/seed_scenario.py``) through the provided Pulumi CLI, in a project whose
``virtualenv`` is the cell's. The ``bounds`` session installs the wheel beside the plugin's lowest pulumi and
runs a program of each SDK at that SDK's lowest pulumi on that plugin (``scripts/bounds_scenario.py``); the
``bounds-*`` sessions run one program each. The floors come from where they are declared
(``scripts/minimums.py``). Run it with ``scripts/matrix`` (which provides the CLI and the interpreters);
``scripts/matrix -s "cell-3.13(bounds='lowest')"`` runs one cell, ``scripts/matrix -s bounds`` the bounds.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import nox

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.11", "3.12", "3.13"]
# Dependencies that are runtime ranges of the package, and tools the cells do not need (lint, types, release,
# the e2e-only browser helpers). moto[server] stays: it brings boto3 (the aws extra) and serves the Secrets
# Manager that the fast tests of a key's sink write to.
BOUNDED = ("pulumi", "httpx")
NOT_FOR_CELLS = ("ruff", "mypy", "setuptools", "build", "twine", "nox", "selenium", "pillow")

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
# A plain `scripts/matrix` runs every cell and the bounds; the one-program bounds-* sessions are for `-s`.
nox.options.sessions = ["cell", "bounds", "bounds-cli"]


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()


def bound_pins() -> dict[str, dict[str, str]]:
    """Each bounded dependency's pin per column of the matrix, read from pyproject.toml.

    ``lowest`` is the declared floor of the runtime range, ``newest`` the version this repository develops
    with (the dev extra's pin).
    """
    project = _project()["project"]
    lowest = {}
    for requirement in project["dependencies"]:
        floor = re.search(r">=\s*([0-9][0-9.]*)", requirement)
        if _name(requirement) in BOUNDED and floor:
            version = floor.group(1)
            lowest[_name(requirement)] = version if version.count(".") >= 2 else f"{version}.0"
    newest = {
        _name(pin): pin.split("==", 1)[1]
        for pin in project["optional-dependencies"]["dev"]
        if _name(pin) in BOUNDED and "==" in pin
    }
    return {"lowest": lowest, "newest": newest}


def _minimums() -> ModuleType:
    spec = importlib.util.spec_from_file_location("minimums", ROOT / "scripts" / "minimums.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools(*, with_policy: bool) -> list[str]:
    """The dev extra's test tools for a cell; the policy pack's pin only where the cell's pulumi allows it."""
    tools = []
    for pin in _project()["project"]["optional-dependencies"]["dev"]:
        name = _name(pin)
        if name in BOUNDED or name in NOT_FOR_CELLS or (name == "pulumi-policy" and not with_policy):
            continue
        tools.append(pin)
    return tools


@nox.session(python=PYTHONS)
@nox.parametrize("bounds", ["lowest", "newest"])
def cell(session: nox.Session, bounds: str) -> None:
    """One cell: install the wheel with the cell's pulumi and httpx, run the fast tests and the seed scenario."""
    pins = bound_pins()[bounds]
    # pulumi-policy 1.21, the policy extra's floor, needs pulumi 3.204 or newer: the lowest cells go without it.
    with_policy = bounds == "newest"
    install_package(
        session, *(f"{name}=={version}" for name, version in pins.items()), *test_tools(with_policy=with_policy)
    )
    session.run(
        "python",
        "-P",
        "-c",
        "import ardent_provider, httpx, importlib.metadata as m, sys; "
        "assert 'site-packages' in ardent_provider.__file__, ardent_provider.__file__; "
        "print('cell:', sys.version.split()[0], 'pulumi', m.version('pulumi'), 'httpx', httpx.__version__, "
        "'ardent-provider', ardent_provider.__version__, 'from', ardent_provider.__file__)",
    )
    # -P keeps the working directory off sys.path and --import-mode=append puts the checkout behind
    # site-packages: the tests import the installed wheel.
    session.run(
        "python",
        "-P",
        "-m",
        "pytest",
        "-m",
        "not e2e",
        "-q",
        "-p",
        "no:cacheprovider",
        "--import-mode=append",
        "-n",
        "auto",
        "tests/unit",
        "tests/integration",
        # The release test builds this checkout's sdist with the repository's own tools; no cell needs it.
        "--ignore=tests/integration/test_release.py",
        *session.posargs,
    )
    session.run("python", str(ROOT / "scripts" / "seed_scenario.py"))


def install_package(session: nox.Session, *pins: str) -> None:
    """Build the package's wheel from the checkout and install it (not editable) with ``pins`` beside it."""
    wheel_dir = Path(session.create_tmp()) / "wheel"
    session.run(
        "python",
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--disable-pip-version-check",
        "-w",
        str(wheel_dir),
        str(ROOT),
    )
    (wheel,) = wheel_dir.glob("ardent_provider-*.whl")
    session.install(str(wheel), *pins)


# The bounds sessions' programs (scripts/bounds_scenario.py): the session's name -> the programs it runs.
BOUNDS_PYTHON = PYTHONS[-1]
BOUNDS_SESSIONS = {
    "bounds": "yaml,python,typescript,go,java",
    "bounds-plugin": "yaml",
    "bounds-python-sdk": "python",
    "bounds-nodejs-sdk": "typescript",
    "bounds-go-sdk": "go",
    "bounds-java-sdk": "java",
}


def _dev_pins(*names: str) -> list[str]:
    return [pin for pin in _project()["project"]["optional-dependencies"]["dev"] if _name(pin) in names]


# moto[server] (with boto3) serves the AWS Secrets Manager that the plugin's sink tests write to.
PLUGIN_TEST_TOOLS = _dev_pins("pytest", "pytest-timeout", "jsonschema", "moto")


def run_bounds(session: nox.Session, programs: str) -> None:
    """The plugin at its lowest pulumi, serving ``programs``, each on its SDK's lowest pulumi."""
    floors = _minimums().declared()
    with_plugin_tests = "yaml" in programs.split(",")
    install_package(session, f"pulumi=={floors['plugin']}", *(PLUGIN_TEST_TOOLS if with_plugin_tests else ()))
    if with_plugin_tests:
        # The plugin's own tests at its floor (the lowest cells, below it, skip them): the SDK internals it
        # relies on, and every request it serves, in-process against an emulator.
        session.run(
            "python",
            "-P",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=append",
            "tests/unit/test_native_sdk_internals.py",
            "tests/integration/test_native_provider.py",
        )
    session.run(
        "python",
        "-P",
        str(ROOT / "scripts" / "bounds_scenario.py"),
        "--python-sdk",
        floors["python-sdk"],
        "--nodejs-sdk",
        floors["nodejs-sdk"],
        "--go-sdk",
        floors["go-sdk"],
        "--java-sdk",
        floors["java-sdk"],
        "--only",
        programs,
    )


def _bounds_session(name: str, programs: str) -> Callable[[nox.Session], None]:
    def session(session: nox.Session) -> None:
        run_bounds(session, programs)

    session.__name__ = name.replace("-", "_")
    if name == "bounds":
        session.__doc__ = "The plugin and its tests at its lowest pulumi, serving a program of each SDK at its lowest."
    elif programs == "yaml":
        session.__doc__ = "The plugin and its tests at its lowest pulumi, serving the YAML program."
    else:
        session.__doc__ = f"The {programs} program at its SDK's lowest pulumi, served by the plugin at its lowest."
    return nox.session(name=name, python=BOUNDS_PYTHON)(session)


for _session_name, _session_programs in BOUNDS_SESSIONS.items():
    _bounds_session(_session_name, _session_programs)


@nox.session(name="bounds-cli", python=BOUNDS_PYTHON)
def bounds_cli(session: nox.Session) -> None:
    """The lowest Pulumi CLIs: the package's and the plugin's, and the SDK programs' (built by setup-pulumi-floor).

    On the package's CLI floor: the seed scenario with the package at its lowest pulumi and httpx, then the YAML
    program on the plugin at its lowest pulumi and at the dev extra's (the pulumi a plugin archive freezes). On the
    SDK programs' CLI floor (the highest SDK floor: Pulumi wants a CLI at least as new as the SDK): every SDK's
    program at its lowest, on the plugin at its lowest.
    """
    floors = _minimums().declared()
    sdk_cli = max((floors[sdk] for sdk in ("python-sdk", "nodejs-sdk", "go-sdk")), key=_version_key)
    cli_bins = {
        version: session.run(str(ROOT / "scripts" / "setup-pulumi-floor"), version, silent=True, external=True)
        for version in (floors["cli"], sdk_cli)
    }
    cli_bins = {version: str(out).strip().splitlines()[-1] for version, out in cli_bins.items()}
    lowest = bound_pins()["lowest"]
    newest = bound_pins()["newest"]
    install_package(session, *(f"{name}=={version}" for name, version in lowest.items()))
    on_package_cli = {"ARDENT_PULUMI_BIN_DIR": cli_bins[floors["cli"]]}
    for cli_bin in cli_bins.values():
        session.run(str(Path(cli_bin) / "pulumi"), "version", external=True)
    session.run("python", "-P", str(ROOT / "scripts" / "seed_scenario.py"), env=on_package_cli)
    scenario = ["python", "-P", str(ROOT / "scripts" / "bounds_scenario.py")]
    scenario += ["--python-sdk", floors["python-sdk"], "--nodejs-sdk", floors["nodejs-sdk"]]
    scenario += ["--go-sdk", floors["go-sdk"], "--java-sdk", floors["java-sdk"]]
    for plugin_pulumi in (floors["plugin"], newest["pulumi"]):
        session.install(f"pulumi=={plugin_pulumi}")
        session.run(*scenario, "--only", "yaml", env=on_package_cli)
    session.install(f"pulumi=={floors['plugin']}")
    session.run(*scenario, "--only", "python,typescript,go,java", env={"ARDENT_PULUMI_BIN_DIR": cli_bins[sdk_cli]})


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
