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
# exit, its state behind its lock).
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
    assert any(path.parent.name == "ops" for path in paths) and any(path.parent.name == "testing" for path in paths)
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
