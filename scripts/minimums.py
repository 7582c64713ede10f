"""The lowest Pulumi each artifact of the project declares, read from where each is declared.

One place reads them for the support matrix (``noxfile.py`` pins each one) and for the unit test that holds the
docs' table (docs/development.md, "Lowest supported Pulumi") to them:

- ``package``: the ``pulumi`` floor of ``pyproject.toml``'s dependencies (ardent-provider, the dynamic provider);
- ``plugin``: ``NATIVE_MIN_SDK_VERSION`` (``pulumi-resource-ardent`` run from a virtualenv);
- ``cli``: ``MIN_CLI_VERSION`` of ``ardent_provider/pulumi_version.py`` (what ``ardent-keys`` checks);
- ``python-sdk``, ``nodejs-sdk``, ``go-sdk``: what the generated SDKs in ``sdk/`` require (pyproject, package.json,
  go.mod), as ``scripts/gen-sdk`` wrote them from the schema's ``language`` section (the Go SDK's from
  ``scripts/sdkgen``'s ``goSDKFloor``);
- ``java-sdk``: the schema's ``language.java.dependencies`` (the Java SDK is generated without a build file).

Only files are read (no import of the package), so it runs in any interpreter of 3.11 or newer.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = r"([0-9]+\.[0-9]+(?:\.[0-9]+)?)"


def _full(version: str) -> str:
    return version if version.count(".") >= 2 else f"{version}.0"


def _floor(requirements: list[str], name: str, where: str) -> str:
    for requirement in requirements:
        if re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() == name:
            found = re.search(r">=\s*" + VERSION, requirement)
            if found:
                return _full(found.group(1))
    raise LookupError(f"{where} states no lower bound for {name}")


def _constant(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{path} has no constant {name}")


def package_floor(root: Path = ROOT) -> str:
    """The lowest pulumi Python SDK ardent-provider accepts."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return _floor(project["dependencies"], "pulumi", "pyproject.toml")


def plugin_floor(root: Path = ROOT) -> str:
    """The lowest pulumi Python SDK the plugin runs on from a virtualenv."""
    return str(_constant(root / "ardent_provider" / "native" / "__init__.py", "NATIVE_MIN_SDK_VERSION"))


def cli_floor(root: Path = ROOT) -> str:
    """The lowest Pulumi CLI ardent-provider accepts."""
    version = _constant(root / "ardent_provider" / "pulumi_version.py", "MIN_CLI_VERSION")
    assert isinstance(version, tuple)
    return ".".join(str(part) for part in version)


def python_sdk_floor(root: Path = ROOT) -> str:
    """The lowest pulumi the generated Python SDK (pulumi_ardent) requires."""
    project = tomllib.loads((root / "sdk" / "python" / "pyproject.toml").read_text())["project"]
    return _floor(project["dependencies"], "pulumi", "sdk/python/pyproject.toml")


def nodejs_sdk_floor(root: Path = ROOT) -> str:
    """The lowest @pulumi/pulumi the generated Node.js SDK requires (its ``^`` or ``>=`` range's floor)."""
    wanted = json.loads((root / "sdk" / "nodejs" / "package.json").read_text())["dependencies"]["@pulumi/pulumi"]
    found = re.fullmatch(r"(?:\^|>=\s*)" + VERSION + r"(?:\s*<\s*4(?:\.0\.0)?)?", wanted.strip())
    if found is None:
        raise LookupError(f"sdk/nodejs/package.json asks for @pulumi/pulumi {wanted!r}, which has no plain floor")
    return _full(found.group(1))


def go_mod(root: Path = ROOT) -> Path:
    """The Go SDK's go.mod: the module is ``sdk/`` itself, or ``sdk/go/`` in the older layout."""
    return next(path for path in (root / "sdk" / "go.mod", root / "sdk" / "go" / "go.mod") if path.exists())


def go_sdk_floor(root: Path = ROOT) -> str:
    """The github.com/pulumi/pulumi/sdk/v3 version the generated Go SDK's go.mod requires (Go's floor)."""
    found = re.search(r"github\.com/pulumi/pulumi/sdk/v3 v" + VERSION, go_mod(root).read_text())
    if found is None:
        raise LookupError(f"{go_mod(root)} does not require github.com/pulumi/pulumi/sdk/v3")
    return _full(found.group(1))


def java_sdk_floor(root: Path = ROOT) -> str:
    """The com.pulumi:pulumi version the schema gives the Java SDK (the version its build files name)."""
    schema = root / "ardent_provider" / "native" / "schema.py"
    found = re.search(r'"com\.pulumi:pulumi":\s*"' + VERSION + '"', schema.read_text())
    if found is None:
        raise LookupError(f"{schema} gives the Java SDK no com.pulumi:pulumi version")
    return _full(found.group(1))


def declared(root: Path = ROOT) -> dict[str, str]:
    """Every artifact's declared floor, by the names the docs' table and the matrix use."""
    return {
        "package": package_floor(root),
        "plugin": plugin_floor(root),
        "cli": cli_floor(root),
        "python-sdk": python_sdk_floor(root),
        "nodejs-sdk": nodejs_sdk_floor(root),
        "go-sdk": go_sdk_floor(root),
        "java-sdk": java_sdk_floor(root),
    }


if __name__ == "__main__":
    print(json.dumps(declared(), indent=2))
