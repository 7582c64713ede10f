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


def test_no_module_keeps_mutable_state_at_module_level() -> None:
    for path in modules(PACKAGE):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
                node.value, ast.Dict | ast.List | ast.Set | ast.Call
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [target.id for target in targets if isinstance(target, ast.Name)]
                call = node.value.func if isinstance(node.value, ast.Call) else None
                constant = isinstance(call, ast.Name) and call.id in {
                    "frozenset",
                    "tuple",
                    "Final",
                    "TypeVar",
                    "ParamSpec",
                }
                immutable_by_name = all(name.isupper() or name == "__all__" for name in names)
                assert constant or immutable_by_name, (path.name, names)
