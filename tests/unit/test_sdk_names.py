"""The names users install the SDKs under all come from the one canonical address and the package's version: the
Go module, the Maven coordinates and what the examples ask for."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from ardent_provider import __version__
from ardent_provider.distribution import go_module_path, repository_url
from ardent_provider.native.schema import NODEJS_PACKAGE

ROOT = Path(__file__).resolve().parents[2]
POM = {"m": "http://maven.apache.org/POM/4.0.0"}


def coordinates(element: ET.Element) -> tuple[str | None, ...]:
    return tuple(element.findtext(f"m:{name}", namespaces=POM) for name in ("groupId", "artifactId", "version"))


def test_the_go_module_is_sdk_at_the_path_derived_from_the_repository() -> None:
    assert (ROOT / "sdk" / "go.mod").read_text().splitlines()[0] == f"module {go_module_path()}"
    assert not (ROOT / "sdk" / "go" / "go.mod").exists(), "one module, at sdk/, tagged sdk/vX.Y.Z"


def test_the_go_example_requires_the_published_module_and_replaces_it_for_local_work() -> None:
    gomod = (ROOT / "examples" / "go" / "go.mod").read_text()
    assert f"\t{go_module_path()} v{__version__}\n" in gomod
    assert f"replace {go_module_path()} => ../../sdk\n" in gomod
    assert f'"{go_module_path()}/go/ardent"' in (ROOT / "examples" / "go" / "main.go").read_text()


def test_the_maven_coordinates_derive_from_the_repository_and_the_java_example_uses_them() -> None:
    owner = repository_url().split("/")[-2].lower()
    sdk = coordinates(ET.parse(ROOT / "sdk" / "java" / "pom.xml").getroot())
    assert sdk == (f"io.github.{owner}", "pulumi-ardent", __version__)
    example = ET.parse(ROOT / "examples" / "java" / "pom.xml").getroot()
    dependencies = [coordinates(d) for d in example.iterfind("m:dependencies/m:dependency", POM)]
    assert sdk in dependencies
    assert not example.findall(".//m:build/m:resources", POM), "the SDK comes from its jar, not compiled sources"


def test_the_typescript_example_depends_on_the_npm_package_by_name_and_version() -> None:
    package = json.loads((ROOT / "examples" / "typescript" / "package.json").read_text())
    assert package["dependencies"][NODEJS_PACKAGE] == f"^{__version__}"
    generated = json.loads((ROOT / "sdk" / "nodejs" / "package.json").read_text())
    assert generated["name"] == NODEJS_PACKAGE and generated["version"] == __version__
    assert "postinstall" not in generated.get("scripts", {}) and "typescript" not in generated["dependencies"]


def test_the_pom_carries_what_maven_central_requires_derived_from_the_repository() -> None:
    pom = ET.parse(ROOT / "sdk" / "java" / "pom.xml").getroot()
    text = lambda path: pom.findtext(path, namespaces=POM)  # noqa: E731
    repository = repository_url()
    assert text("m:name") and text("m:description") and text("m:url") == repository
    (license_,) = pom.findall("m:licenses/m:license", POM)
    assert license_.findtext("m:name", namespaces=POM) == "Apache-2.0"
    assert license_.findtext("m:url", namespaces=POM) == "https://www.apache.org/licenses/LICENSE-2.0.txt"
    developers = pom.findall("m:developers/m:developer", POM)
    assert developers and all(d.findtext("m:name", namespaces=POM) for d in developers)
    assert developers[0].findtext("m:url", namespaces=POM) == repository.rsplit("/", 1)[0]
    host_path = repository.split("://", 1)[1]
    assert text("m:scm/m:url") == repository
    assert text("m:scm/m:connection") == f"scm:git:{repository}.git"
    assert text("m:scm/m:developerConnection") == f"scm:git:ssh://git@{host_path}.git"
    assert text("m:scm/m:tag") == f"v{__version__}"
    plugins = {p.findtext("m:artifactId", namespaces=POM): p for p in pom.iterfind("m:build/m:plugins/m:plugin", POM)}
    goals = {
        name: [goal.text for goal in plugin.iterfind("m:executions/m:execution/m:goals/m:goal", POM)]
        for name, plugin in plugins.items()
    }
    assert goals["maven-source-plugin"] == ["jar-no-fork"] and goals["maven-javadoc-plugin"] == ["jar"]
