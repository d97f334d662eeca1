"""The package's layers: no module imports from a layer above its own, and no modules
import each other in a circle.

From the bottom: the root's helpers (`_checks`, `_checkpoint`), then `envs` and `nn`
(which do not import each other), `training`, `runs`, `cli`. `equicrl/__init__.py`
gathers the public names from all of them.
"""

import ast
from pathlib import Path

import equicrl


PACKAGE = Path(equicrl.__file__).parent
RANK = {"": 0, "envs": 1, "nn": 1, "training": 2, "runs": 3, "cli": 4}


def _layer(parts: tuple[str, ...]) -> str:
    """The layer of a module from its parts below `equicrl/` (its file's stem last)."""
    return parts[0] if len(parts) > 1 and parts[0] in RANK else ""


def _violations(source: str, parts: tuple[str, ...]) -> list[str]:
    """Every import in `source` (relative or absolute, at any depth of the file) of
    the module at `parts` that reaches a higher layer, or the other layer of its
    rank."""
    own = _layer(parts)
    here = parts[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = here[: len(here) - (node.level - 1)]
            target = (*base, *(node.module or "").split("."))
        elif (node.module or "").split(".")[0] == "equicrl":
            target = tuple(node.module.split(".")[1:])
        else:
            continue
        target = tuple(p for p in target if p)
        other = _layer((*target, "x"))
        if RANK[other] > RANK[own] or (RANK[other] == RANK[own] and other != own):
            found.append(f"{'/'.join(parts)}:{node.lineno} imports {'.'.join(target)}")
    return found


def test_every_module_is_in_a_layer():
    modules = [p.relative_to(PACKAGE).parts for p in PACKAGE.rglob("*.py")]
    layers = {_layer(parts) for parts in modules}
    assert layers == set(RANK)
    # Only the shared helpers, the package's own file and the subpackages at the root.
    assert {p[0] for p in modules if len(p) == 1} == {
        "__init__.py",
        "_checks.py",
        "_checkpoint.py",
    }


def test_no_import_runs_upward():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts != ("__init__.py",):
            found += _violations(path.read_text(), parts)
    assert not found, found


def test_upward_imports_are_seen():
    # Planted cases, relative and absolute, at module level and inside a function.
    assert _violations("from ..runs._train import train\n", ("nn", "_x.py"))
    assert _violations("def f():\n    from ..cli import _main\n", ("runs", "_x.py"))
    assert _violations("from equicrl.training import _state\n", ("nn", "_x.py"))
    assert _violations("from ..nn._actor import A\n", ("envs", "_x.py"))
    assert _violations("from .nn._actor import A\n", ("_checks.py",))
    assert not _violations("from .._checks import c\n", ("nn", "_x.py"))
    assert not _violations("from ..nn._actor import A\n", ("runs", "_x.py"))
    assert not _violations("from ._actor import A\n", ("nn", "_x.py"))


def _imports(source: str, parts: tuple[str, ...]) -> set[str]:
    """The equicrl modules (dotted, below `equicrl`) that `source`, the module at
    `parts`, imports relatively, at any depth of the file."""
    here = parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - (node.level - 1)]
            target = (*base, *(node.module or "").split("."))
            found.add(".".join(p for p in target if p))
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle of imports in `graph`, once each (from its smallest module)."""
    found = []
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            module, path = stack.pop()
            for other in sorted(graph.get(module, ())):
                if other == start:
                    found.append(path)
                elif other > start and other in graph and other not in path:
                    stack.append((other, [*path, other]))
    return found


def test_no_modules_import_each_other_in_a_circle():
    # Inside functions too: a deferred import only hides a circle.
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if parts[-1] != "__init__.py":
            name = ".".join(parts)[: -len(".py")]
            graph[name] = _imports(path.read_text(), parts)
    assert not _circles(graph), _circles(graph)


def test_circles_are_seen():
    graph = {
        "runs._a": _imports("def f():\n    from ._b import x\n", ("runs", "_a.py")),
        "runs._b": _imports("from ._c import y\n", ("runs", "_b.py")),
        "runs._c": _imports("from ..runs._a import z\n", ("runs", "_c.py")),
        "runs._d": _imports("from ._a import z\n", ("runs", "_d.py")),
    }
    assert _circles(graph) == [["runs._a", "runs._b", "runs._c"]]
    del graph["runs._c"]
    assert _circles(graph) == []
