"""The package's public surface, and that importing it stays cheap."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import importance_tasks

PUBLIC = {
    "REGISTRY",
    "Analysis",
    "AnalysisConfig",
    "CallableModel",
    "Consensus",
    "DataError",
    "EvalData",
    "Importance",
    "ImportanceMethod",
    "InputError",
    "KerasModel",
    "Model",
    "UnsupportedModelError",
    "__version__",
    "consensus",
    "explain",
    "load_keras_file",
    "load_table",
    "make_method",
    "verify",
}


def test_public_names_are_exactly_these():
    # ruff's RUF022 keeps __all__ sorted; this pins what is public.
    assert set(importance_tasks.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(importance_tasks, name)


def test_registry_lists_the_methods_by_their_names():
    for name, cls in importance_tasks.REGISTRY.items():
        assert cls.name == name
        assert cls.__module__ == f"importance_tasks.methods.{name}"


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, json, importance_tasks, importance_tasks.cli;"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'pandas', 'sklearn')"
        " if m in sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert loaded == []


PACKAGE = Path(importance_tasks.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _executed_imports(path: Path) -> list[ast.ImportFrom]:
    """The ``from`` imports a module executes, at import time or later inside a function;
    those under ``if TYPE_CHECKING:`` (read by type checkers only) are left out."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for block in tree.body
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and id(node) not in type_only
    ]


def _imported(node: ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The package's modules a ``from`` import reads: ``from importance_tasks import contract``
    reads the submodule ``importance_tasks.contract`` (a parent package is initialised by any
    import of its submodules, so it is not counted for either form)."""
    if node.module not in modules:
        return set()
    named = {f"{node.module}.{alias.name}" for alias in node.names}
    found = named & set(modules)
    return found | ({node.module} if named - found else set())


def test_no_import_cycle_even_through_imports_inside_functions():
    modules = _modules()
    graph = {
        name: {
            target
            for node in _executed_imports(path)
            for target in _imported(node, modules)
            if target != name
        }
        for name, path in modules.items()
    }

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import cycle: {' -> '.join((*trail, name))}"
        for target in graph[name]:
            if target not in done:
                visit(target, (*trail, name))
        done.add(name)

    done: set[str] = set()
    for name in graph:
        visit(name, ())


def test_the_cycle_check_finds_a_cycle_inside_a_function(tmp_path, monkeypatch):
    # The check above must see imports inside functions, or it passes on the cycle it exists
    # to forbid (first_layer <-> model once hid that way).
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from importance_tasks.model import Model\n")
    assert [n.module for n in _executed_imports(module)] == ["importance_tasks.model"]
    guarded = tmp_path / "g.py"
    guarded.write_text("if TYPE_CHECKING:\n    from importance_tasks.model import Model\n")
    assert _executed_imports(guarded) == []


def test_the_layout_stays_small():
    top_level = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top_level) <= 20, top_level
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.relative_to(PACKAGE)} has {lines} lines (at most 400)"


def test_no_two_modules_share_a_name():
    stems = [p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__"]
    assert sorted(stems) == sorted(set(stems))


def test_names_other_modules_import_are_exported():
    modules = _modules()
    for path in modules.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.module not in modules:
                continue
            if any(part.startswith("_") for part in node.module.split(".")):
                continue  # a private module's names are its package's business
            names = [a.name for a in node.names if f"{node.module}.{a.name}" not in modules]
            if not names:
                continue  # submodules
            exported = getattr(__import__(node.module, fromlist=["*"]), "__all__", None)
            assert exported is not None, f"{node.module} has no __all__"
            for name in names:
                assert name in exported, (path.name, f"{node.module}.{name}")


def test_the_package_ships_its_type_information():
    assert (PACKAGE / "py.typed").exists()
