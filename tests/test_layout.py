"""The package's layers: no module imports from a layer above its own.

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
