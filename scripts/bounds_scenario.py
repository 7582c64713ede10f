"""Programs in every language at their SDK's lowest declared pulumi, on the plugin at its own lowest.

Run by the support matrix's ``bounds`` session (``noxfile.py``) with an interpreter whose virtualenv holds
ardent-provider and the plugin's lowest pulumi: its ``pulumi-resource-ardent`` serves every program here. Each
program is a copy of ``examples/<language>`` outside the repository with only its pulumi SDK pinned to the version
given, and its SDK package installed the way its users install it: the packages ``scripts/sdk-packages`` builds
(built once per content of sdk/ and cached, as the tests do: tests/sdk_packages.py), the ``pulumi_ardent`` wheel
by pip, the npm tarball by ``npm install``, the Go module laid out as its path behind a ``replace``, the jar and its
pom by ``mvn install:install-file`` into a local Maven repository of this run. Each program runs ``up``,
``refresh``, ``preview --expect-no-changes`` and ``destroy`` through the provided Pulumi CLI against an emulator
started here, each step checked against the emulator's own list of keys. Before a program runs, the SDK version it
will run on is read back from what was installed (pip, ``npm ls``, ``go list -m``, Maven's dependency list), so a
pin that a resolver lifted fails here instead of passing unnoticed.

    python scripts/bounds_scenario.py --python-sdk 3.269.0 --nodejs-sdk 3.269.0 --go-sdk 3.274.0
        --java-sdk 1.0.0 [--only yaml,python,typescript,go,java]

Exit code 0 when every check holds; the last lines say how long each program took.
"""

from __future__ import annotations

import argparse
import filecmp
import functools
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ardent_provider import ArdentClient
from ardent_provider.emulator import EmulatorServer
from ardent_provider.testing.pulumi_cli import PulumiCLI

ROOT = Path(__file__).resolve().parent.parent
# Behind the virtualenv's packages, so ardent_provider is still the installed one: the SDK packages' build and
# cache are the tests' own (tests/sdk_packages.py), so a run after the tests reuses what they built.
sys.path.append(str(ROOT))
from tests.sdk_packages import SdkPackages, lay_out_go_module, maven_coordinates, sdk_packages  # noqa: E402

LANGUAGES = ("yaml", "python", "typescript", "go", "java")
SKIPPED = ("node_modules", "bin", "target", "package-lock.json", "venv")
# ApiKey.exists is the newest call of the SDK on pulumi (exists_resource, pulumi 3.269): the reason for its floor.
PYTHON_PROGRAM = """\
import pulumi
import pulumi_ardent as ardent

key = ardent.ApiKey("Production-Test", role="Admin")
pulumi.export("productionTestToken", key.token)
pulumi.export("productionTestKeyId", key.key_id)
pulumi.export("productionTestKeyExists", ardent.ApiKey.exists(key.id))
"""


def run(args: list[str], cwd: Path, what: str, timeout: float = 900) -> str:
    """Run a build tool; fail with its output's tail when it fails."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({' '.join(args)}):\n{(result.stdout + result.stderr)[-4000:]}")
    return result.stdout


def copy(source: Path, target: Path) -> None:
    """A copy of a project or an SDK without what a build left in it."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*SKIPPED), symlinks=True)


def pinned(what: str, wanted: str, found: set[str]) -> None:
    """Fail unless the program resolved exactly the version it was given."""
    if found != {wanted}:
        raise SystemExit(f"{what} resolved to {sorted(found)}, not {wanted}: the bound is not what runs")
    print(f"  {what} {wanted}")


@functools.cache
def packages() -> SdkPackages:
    """The SDK packages of sdk/ as it is now, built by ``scripts/sdk-packages`` unless already cached."""
    return sdk_packages()


def python_program(work: Path, version: str) -> Path:
    """A program of the ``pulumi_ardent`` wheel in a virtualenv of its own with pulumi ``version``."""
    project = work / "python"
    project.mkdir(parents=True)
    venv = project / "venv"
    run([sys.executable, "-m", "venv", str(venv)], project, "creating the program's virtualenv")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # pip checks the wheel's pulumi range against the pin, and fails rather than lift it.
    run([*pip, "install", f"pulumi=={version}", str(packages().wheel)], project, "pip install")
    show = "import importlib.metadata as m; print(m.version('pulumi'))"
    found = run([str(venv / "bin" / "python"), "-c", show], project, "reading the installed pulumi's version")
    pinned("pulumi (Python)", version, {found.strip()})
    (project / "Pulumi.yaml").write_text(
        "name: bounds-python\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n"
    )
    (project / "__main__.py").write_text(PYTHON_PROGRAM)
    return project


def typescript_program(work: Path, version: str) -> Path:
    """examples/typescript on the npm tarball, with every @pulumi/pulumi in the tree at ``version``.

    The example's package.json pins @pulumi/pulumi; ``npm install <tarball>`` then installs the package as a user
    of a tarball does.
    """
    project = work / "typescript"
    copy(ROOT / "examples" / "typescript", project)
    manifest = json.loads((project / "package.json").read_text())
    manifest["dependencies"]["@pulumi/pulumi"] = version
    (project / "package.json").write_text(json.dumps(manifest, indent=4) + "\n")
    tarball = str(packages().npm)
    run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], project, "npm")
    tree = json.loads(run(["npm", "ls", "@pulumi/pulumi", "--all", "--json"], project, "npm ls"))
    found: set[str] = set()
    nodes = [tree]
    while nodes:
        for name, child in nodes.pop().get("dependencies", {}).items():
            if name == "@pulumi/pulumi":
                found.add(child["version"])
            nodes.append(child)
    pinned("@pulumi/pulumi", version, found)
    return project


def go_program(work: Path, version: str) -> Path:
    """examples/go on the Go module, with github.com/pulumi/pulumi/sdk/v3 taken down to ``version``.

    The module is laid out as its path and reached by a ``replace`` (as a user does before it is fetched); the
    pulumi SDK goes down by ``go get``, as a user would.
    """
    project = work / "go"
    copy(ROOT / "examples" / "go", project)
    module = lay_out_go_module(packages(), work / "modules")
    run(["go", "mod", "edit", f"-replace={packages().go_module_path}={module}"], project, "go mod edit")
    run(["go", "get", f"github.com/pulumi/pulumi/sdk/v3@v{version}"], project, "go get")
    found = run(["go", "list", "-m", "-f", "{{.Version}}", "github.com/pulumi/pulumi/sdk/v3"], project, "go list")
    pinned("github.com/pulumi/pulumi/sdk/v3", version, {found.strip().removeprefix("v")})
    return project


def maven_repository(work: Path) -> Path:
    """A local Maven repository of this run with the Java SDK's jar and pom installed in it.

    The artifact's folder is the run's own, so another build of the same version in ~/.m2 is neither used nor
    overwritten; every other entry on its way links to ~/.m2/repository, so what is cached there serves the run
    and what Maven downloads lands there (a group no build has fetched before lands here, and goes with the run).
    """
    shared = Path.home() / ".m2" / "repository"
    group, artifact, _version = maven_coordinates(packages().pom)
    repository = work / "m2"
    own, linked = repository, shared
    for part in [*group.split("."), artifact]:
        own.mkdir()
        if linked.is_dir():
            for entry in linked.iterdir():
                if entry.name != part:
                    (own / entry.name).symlink_to(entry)
        own, linked = own / part, linked / part
    jar, sources, pom = packages().jar, packages().sources_jar, packages().pom
    install = ["mvn", "-B", "-q", "install:install-file", f"-Dmaven.repo.local={repository}"]
    run([*install, f"-Dfile={jar}", f"-Dsources={sources}", f"-DpomFile={pom}"], work, "mvn install:install-file")
    return repository


def java_program(work: Path, version: str) -> Path:
    """examples/java on the Java SDK's artifact, with com.pulumi:pulumi at ``version``.

    com.pulumi:pulumi is a direct dependency of the example, so Maven's nearest wins; the artifact is in the run's
    Maven repository, where the project's ``.mvn/maven.config`` points every mvn (the Java host's too).
    """
    work.mkdir(parents=True)
    repository = maven_repository(work)
    project = work / "java"
    copy(ROOT / "examples" / "java", project)
    if any(char.isspace() for char in str(repository)):
        raise SystemExit(f"{repository}: Maven's maven.config cannot name a path with spaces")
    (project / ".mvn").mkdir(exist_ok=True)
    (project / ".mvn" / "maven.config").write_text(f"-Dmaven.repo.local={repository}\n")
    pom = project / "pom.xml"
    dependency = re.compile(
        r"(<groupId>com\.pulumi</groupId>\s*<artifactId>pulumi</artifactId>\s*<version>)[^<]+(</version>)"
    )
    text, count = dependency.subn(lambda m: m.group(1) + version + m.group(2), pom.read_text())
    if count != 1:
        raise SystemExit(f"examples/java/pom.xml names com.pulumi:pulumi {count} times, not once")
    pom.write_text(text)
    listing = project / "target" / "pulumi-dependency.txt"
    group, artifact, _version = maven_coordinates(packages().pom)
    run(
        [
            "mvn",
            "-B",
            "-q",
            "dependency:list",
            f"-DincludeArtifactIds=pulumi,{artifact}",
            "-DoutputAbsoluteArtifactFilename=true",
            f"-DoutputFile={listing}",
        ],
        project,
        "mvn dependency:list",
    )
    resolved = re.findall(r"([\w.-]+):([\w.-]+):jar:([^:\s]+):\w+:(\S+)", listing.read_text())
    pinned("com.pulumi:pulumi", version, {found for g, a, found, _ in resolved if (g, a) == ("com.pulumi", "pulumi")})
    # The SDK's jar is the one just built, from the run's repository: never another build of the same version.
    sdk_jars = sorted({Path(jar).resolve() for g, a, _, jar in resolved if (g, a) == (group, artifact)})
    built = packages().jar
    if len(sdk_jars) != 1 or not sdk_jars[0].is_relative_to(repository.resolve()):
        raise SystemExit(f"{group}:{artifact} resolved to {sdk_jars}, not the jar installed in {repository}")
    if not filecmp.cmp(sdk_jars[0], built, shallow=False):
        raise SystemExit(f"{sdk_jars[0]} is not {built}, which scripts/sdk-packages built")
    print(f"  {group}:{artifact} {sdk_jars[0]}")
    return project


def yaml_program(work: Path, _version: str) -> Path:
    """examples/yaml as it is: the plugin's own bound, with no SDK in between."""
    project = work / "yaml"
    copy(ROOT / "examples" / "yaml", project)
    return project


PREPARE: dict[str, Callable[[Path, str], Path]] = {
    "yaml": yaml_program,
    "python": python_program,
    "typescript": typescript_program,
    "go": go_program,
    "java": java_program,
}


def journey(project: Path, state: Path, emulator: EmulatorServer) -> None:
    """``up``, ``refresh``, the no-change gate and ``destroy``, each checked against the emulator."""
    cli = PulumiCLI(project, state, "bounds-scenario")
    cli.select_stack("dev")
    cli.set_config("ardent:apiUrl", emulator.url)
    cli.set_config("ardent:orgId", emulator.org_id)
    cli.set_config("ardent:token", emulator.token, secret=True)
    cli.run("up", "--yes", "--skip-preview")
    shown = cli.outputs()
    token = cli.outputs(show_secrets=True)["productionTestToken"]
    key_id = shown["productionTestKeyId"]
    assert shown["productionTestToken"] == "[secret]", shown  # the CLI's mask
    assert shown.get("productionTestKeyExists", True) is True, shown
    with ArdentClient(emulator.token, api_url=emulator.url) as owner:
        listed = {key.id: key for key in owner.list_keys(emulator.org_id)}
    assert listed[key_id].name == "Production-Test" and listed[key_id].revoked_at is None, listed[key_id]
    with ArdentClient(token, api_url=emulator.url) as holder:
        holder.get_org(emulator.org_id)  # the token output is the key's own, and it works
    cli.run("refresh", "--yes")
    cli.run("preview", "--expect-no-changes")
    cli.run("destroy", "--yes", "--skip-preview")
    with ArdentClient(emulator.token, api_url=emulator.url) as owner:
        assert key_id not in {key.id for key in owner.list_keys(emulator.org_id)}, "destroy revoked the key"


def main() -> int:
    """Prepare and run each program; raise on the first check that fails."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--python-sdk", required=True, help="pulumi for the Python SDK's program")
    parser.add_argument("--nodejs-sdk", required=True, help="@pulumi/pulumi for the Node.js SDK's program")
    parser.add_argument("--go-sdk", required=True, help="github.com/pulumi/pulumi/sdk/v3 for the Go SDK's program")
    parser.add_argument("--java-sdk", required=True, help="com.pulumi:pulumi for the Java SDK's program")
    parser.add_argument("--only", default=",".join(LANGUAGES), help="a comma-separated subset of the programs")
    options = parser.parse_args()
    languages = [name for name in options.only.split(",") if name]
    unknown = set(languages) - set(LANGUAGES)
    if unknown:
        parser.error(f"unknown languages {sorted(unknown)}")
    versions = {
        "yaml": "",
        "python": options.python_sdk,
        "typescript": options.nodejs_sdk,
        "go": options.go_sdk,
        "java": options.java_sdk,
    }
    # The plugin every program reaches is this virtualenv's, at the pulumi installed beside it.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    plugin = shutil.which("pulumi-resource-ardent")
    if plugin is None or Path(plugin).parent != Path(sys.executable).parent:
        raise SystemExit(f"pulumi-resource-ardent should come from {Path(sys.executable).parent}, found {plugin}")
    print(f"plugin: {plugin} on pulumi {importlib.metadata.version('pulumi')}")
    if set(languages) - {"yaml"}:
        started = time.perf_counter()
        print(f"SDK packages: {packages().npm.parent} ({time.perf_counter() - started:.1f} s)", flush=True)
    timings = []
    with tempfile.TemporaryDirectory(prefix="ardent-bounds-") as folder:
        tmp = Path(folder)
        with EmulatorServer(db=tmp / "emulator.db", credentials=tmp / "credentials.json") as emulator:
            for language in languages:
                started = time.perf_counter()
                print(f"{language}: preparing", flush=True)
                project = PREPARE[language](tmp / language, versions[language])
                prepared = time.perf_counter()
                journey(project, tmp / language / "state", emulator)
                timings.append((language, prepared - started, time.perf_counter() - prepared))
                print(f"{language}: up/refresh/preview/destroy passed", flush=True)
    for language, prepare, journey_time in timings:
        at = f" at {versions[language]}" if versions[language] else ""
        print(f"bounds: {language}{at}: prepared in {prepare:.1f} s, ran in {journey_time:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
