"""Dependencies point one way: resource -> provider -> client -> httpx; the emulator stands apart."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ardent_provider"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
    return found


def modules(folder: Path) -> list[Path]:
    found = sorted(folder.glob("*.py"))
    assert len(found) >= 5, f"expected the package's modules in {folder}"
    return found


def test_the_emulator_imports_nothing_from_the_provider_side() -> None:
    for path in modules(PACKAGE / "emulator"):
        for name in imports_of(path):
            assert not name.startswith("..") and not name.startswith("ardent_provider"), (path.name, name)
            assert name.split(".")[0] not in {"httpx", "pulumi"}, (path.name, name)


def test_the_provider_side_imports_nothing_from_the_emulator() -> None:
    for path in modules(PACKAGE):
        assert not any("emulator" in name for name in imports_of(path)), path.name


def test_only_the_client_imports_httpx_and_the_client_never_imports_pulumi() -> None:
    for path in modules(PACKAGE):
        names = {name.split(".")[0] for name in imports_of(path)}
        if path.name != "client.py":
            assert "httpx" not in names, path.name
    assert "pulumi" not in {name.split(".")[0] for name in imports_of(PACKAGE / "client.py")}


def test_settings_models_and_validation_do_no_io() -> None:
    for module in ("settings.py", "models.py", "validation.py", "errors.py", "state.py"):
        names = {name.split(".")[0] for name in imports_of(PACKAGE / module)}
        assert not names & {"httpx", "pulumi", "socket", "subprocess", "sqlite3"}, module


def test_the_lifecycle_never_imports_pulumi_and_the_provider_never_imports_httpx() -> None:
    for module in ("lifecycle.py", "inventory.py", "client.py", "state.py", "validation.py"):
        assert "pulumi" not in {name.split(".")[0] for name in imports_of(PACKAGE / module)}, module
    for module in ("provider.py", "resource.py"):
        assert "httpx" not in {name.split(".")[0] for name in imports_of(PACKAGE / module)}, module


# Calls whose result cannot change: immutable values, compiled patterns, type variables, a logger (its state is
# the logging module's), an HTTP timeout, the UNKNOWN sentinel, an opener without cookies or caches; and the
# provider process's RunRegistry, the one object with a lifetime that outlives a provider instance (closed at
# exit, its state behind its lock); a ContextVar, whose value belongs to each call (task or thread) that sets it.
IMMUTABLE_CALLS = frozenset(
    {
        "frozenset",
        "tuple",
        "Final",
        "TypeVar",
        "ParamSpec",
        "MappingProxyType",
        "re.compile",
        "logging.getLogger",
        "timedelta",
        "httpx.Timeout",
        "Unknown",
        "', '.join",
        "urllib.request.build_opener",
        "RunRegistry",
        "ContextVar",
    }
)
MUTABLE_LITERALS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)


def _holds_mutable_state(value: ast.expr | None) -> bool:
    if value is None:
        return False
    if isinstance(value, MUTABLE_LITERALS):
        return True
    return isinstance(value, ast.Call) and ast.unparse(value.func) not in IMMUTABLE_CALLS


def mutable_state_in(source: str, where: str) -> list[str]:
    """Module-level names and class attributes that hold something mutable, whatever their case.

    Dataclass fields (``field(...)``) are per instance and pass; ``__all__`` may be a list, as is usual.
    """
    found: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [ast.unparse(target) for target in targets]
            if names != ["__all__"] and _holds_mutable_state(node.value):
                found.append(f"{where}: {', '.join(names)}")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if not isinstance(item, ast.Assign | ast.AnnAssign):
                    continue
                value = item.value
                per_instance = isinstance(value, ast.Call) and ast.unparse(value.func) == "field"
                if not per_instance and _holds_mutable_state(value):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    found.append(f"{where}: {node.name}.{', '.join(ast.unparse(target) for target in targets)}")
    return found


def package_modules(package: Path) -> list[Path]:
    """Every module of the package, its subpackages' included."""
    return sorted(package.rglob("*.py"))


def test_no_module_keeps_mutable_state_at_module_level_or_in_a_class() -> None:
    paths = package_modules(PACKAGE)
    assert any(path.parent.name == "platform" for path in paths) and any(
        path.parent.name == "testing" for path in paths
    )
    found = [item for path in paths for item in mutable_state_in(path.read_text(), str(path.relative_to(PACKAGE)))]
    assert found == [], "mutable state outside an object with a lifetime: " + "; ".join(found)


def test_the_mutable_state_check_catches_what_it_claims(tmp_path: Path) -> None:
    assert mutable_state_in("KNOWN_ORGS = {}\n", "m.py") == ["m.py: KNOWN_ORGS"]
    assert mutable_state_in("CACHE: dict[str, int] = dict()\n", "m.py") == ["m.py: CACHE"]
    assert mutable_state_in("SEEN = [name for name in 'ab']\n", "m.py") == ["m.py: SEEN"]
    holding_clients = "class Provider:\n    _clients: ClassVar[dict[str, Any]] = {}\n    _lock = threading.Lock()\n"
    assert mutable_state_in(holding_clients, "p.py") == ["p.py: Provider._clients", "p.py: Provider._lock"]
    fine = (
        "COLOURS = MappingProxyType({'a': 1})\nNAMES = ('a',)\n__all__ = ['x']\n"
        "@dataclass\nclass Run:\n    items: dict[str, int] = field(default_factory=dict)\n    LIMIT = 3\n"
    )
    assert mutable_state_in(fine, "f.py") == []
    subpackage = tmp_path / "pkg" / "sub"
    subpackage.mkdir(parents=True)
    (subpackage / "state.py").write_text("_registry = []\n")
    (tmp_path / "pkg" / "top.py").write_text("X = 1\n")
    found = [
        item
        for path in package_modules(tmp_path / "pkg")
        for item in mutable_state_in(path.read_text(), str(path.relative_to(tmp_path / "pkg")))
    ]
    assert found == ["sub/state.py: _registry"]


# The faces a user meets, each a thin layer over the Pulumi-free core. ``cli.py`` parses the platform team's
# commands, ``ardent-keys policy-pack`` among them, so it may reach the policy face's launcher too.
FACES: dict[str, frozenset[str]] = {
    "dynamic": frozenset({"provider", "resource"}),
    "native": frozenset({"native"}),
    "platform": frozenset({"platform", "cli"}),
    "policy": frozenset({"policy"}),
    "testing": frozenset({"testing"}),
    "emulator": frozenset({"emulator"}),
}
ALLOWED_CROSSINGS = frozenset({("platform", "policy"), ("testing", "emulator"), ("dynamic", "dynamic")})
PACKAGE_ROOT_MODULES = frozenset({"__init__", "__main__", "__version__"})


def internal_imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """The package's own modules that ``path`` imports, as their first component under the package."""
    parts = list(path.relative_to(package).with_suffix("").parts)
    here = parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                targets = [base + node.module.split(".")] if node.module else [[*base, a.name] for a in node.names]
            elif node.module and node.module.split(".")[0] == package.name:
                targets = [node.module.split(".")[1:]]
            else:
                continue
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == package.name]
        else:
            continue
        found.update(target[0] for target in targets if target)
    return found


def face_of(component: str) -> str | None:
    return next((face for face, members in FACES.items() if component in members), None)


def crossings(package: Path = PACKAGE) -> list[str]:
    """Every import that breaks 'faces import the core, the core imports no face, no face imports another'."""
    wrong: list[str] = []
    for path in package_modules(package):
        relative = path.relative_to(package)
        if str(relative) in {"__init__.py", "__main__.py"}:
            continue  # the public surface re-exports the dynamic face
        source_face = face_of(relative.parts[0].removesuffix(".py"))
        for target in internal_imports(path, package):
            target_face = face_of(target)
            if target in PACKAGE_ROOT_MODULES or target_face is None or target_face == source_face:
                continue
            if source_face is None:
                wrong.append(f"core {relative} imports the {target_face} face ({target})")
            elif (source_face, target_face) not in ALLOWED_CROSSINGS:
                wrong.append(f"the {source_face} face ({relative}) imports the {target_face} face ({target})")
    return wrong


def test_faces_import_the_core_and_the_core_imports_no_face() -> None:
    modules_seen = {path.relative_to(PACKAGE).parts[0] for path in package_modules(PACKAGE)}
    assert {"native", "platform", "policy", "testing", "provider_steps.py"} <= modules_seen
    assert crossings() == []


def test_the_face_check_catches_a_core_module_or_a_face_reaching_into_another(tmp_path: Path) -> None:
    package = tmp_path / "ardent_provider"
    for folder in ("native", "platform", "policy"):
        (package / folder).mkdir(parents=True)
    (package / "state.py").write_text("from .platform.drift import find_drift\n")
    (package / "native" / "plugin.py").write_text("from ..policy import rules\nfrom ..state import KeyState\n")
    (package / "platform" / "drift.py").write_text("from ardent_provider.native import plugin\nfrom .. import errors\n")
    (package / "policy" / "rules.py").write_text("from ..state import KeyState\n")
    assert sorted(crossings(package)) == [
        "core state.py imports the platform face (platform)",
        "the native face (native/plugin.py) imports the policy face (policy)",
        "the platform face (platform/drift.py) imports the native face (native)",
    ]
