"""The import graph of ``aicsd/``, read from the source with ``ast``: no circles, models never import losses.

Every ``import``/``from ... import`` counts, at module level and inside functions alike: an import
moved into a function still ties the two modules together. A package's ``__init__.py`` is the
module named after the package; ``from aicsd.x import name`` points at ``aicsd.x.name`` when that is
a module, else at ``aicsd.x``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from aicsd.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "aicsd"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(node: ast.AST, module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``aicsd`` modules one import statement of ``module`` names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against the importing module's package
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    else:
        return set()
    found = set()
    for name in names:
        while name and name not in modules:  # ``import aicsd.data.identity`` -> that module
            name = name.rpartition(".")[0]
        if name.startswith("aicsd") and name != module:
            found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``aicsd`` modules it imports anywhere in its source (packages' ``__init__`` included)."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = set().union(*(_imported(node, module, path, modules) for node in ast.walk(tree)))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_module_and_function_level_imports():
    graph = import_graph()
    assert "aicsd.engine.config" in graph["aicsd.engine.runstore"]
    assert "aicsd.data" in graph["aicsd.cli"]
    source = "def f():\n    from aicsd.losses import kd\n"
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom))
    assert _imported(node, "aicsd.models.x", PACKAGE / "models" / "x.py", _modules()) == {"aicsd.losses.kd"}


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_inside_aicsd():
    assert _cycles(import_graph()) == []


def test_no_module_imports_its_own_package_init():
    """``from aicsd.data import x`` inside ``aicsd/data/`` runs the package's ``__init__`` midway: a circle."""
    graph = import_graph()
    inside = {
        module: sorted(target for target in targets if module.startswith(target + "."))
        for module, targets in graph.items()
        if not module.endswith("__init__")
    }
    assert {module: targets for module, targets in inside.items() if targets} == {}


def test_models_never_import_losses():
    graph = import_graph()
    offending = {
        module: sorted(target for target in targets if target == "aicsd.losses" or target.startswith("aicsd.losses."))
        for module, targets in graph.items()
        if module == "aicsd.models" or module.startswith("aicsd.models.")
    }
    assert {module: targets for module, targets in offending.items() if targets} == {}
