"""The docs: every benchmark table marker renders from its JSON, the table maker reads
what a JSON holds, the README's and the docs' links point at files that exist, and
the guides' Python blocks run as written."""

import importlib.util
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!-- table: ([a-z0-9-]+) -->$", flags=re.M)
PYTHON = re.compile(r"```python\n(.*?)```", flags=re.S)


def _tables():
    spec = importlib.util.spec_from_file_location(
        "equicrl_tables", ROOT / "benchmarks" / "tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_every_marker_renders_and_every_table_is_shown():
    tables = _tables()
    used = {name for page in _pages() for name in MARKER.findall(page.read_text())}
    assert used, "no table markers in docs/"
    assert used <= set(tables.TABLES), used - set(tables.TABLES)
    assert set(tables.TABLES) <= used, set(tables.TABLES) - used
    for name in used:
        text = tables.render(name)
        rows = [line for line in text.splitlines() if line.startswith("| ")]
        assert len(rows) >= 3, name  # a header, a separator and a row at least
        assert "*Data: `" in text and "commit " in text, name
    with pytest.raises(KeyError, match="no table 'nope'"):
        tables.render("nope")


def test_a_table_shows_what_its_json_holds(tmp_path, monkeypatch):
    # A planted results file (not committed): its numbers, machine and command come
    # out in the table, and the missing commit is said.
    tables = _tables()
    points = [
        {"env": env, "num_envs": n, "steps_per_s": rate}
        for env, rates in {
            "point_maze_u_maze": (1234.4, 56789.0, 7.0e6),
            "point_maze_hardest_maze": (11.0, 22.0, 33.0),
        }.items()
        for n, rate in zip((32, 256, 1024), rates)
    ]
    machine = {"cpu": "Test CPU", "cpu_count": 3, "jax": "9.9", "device": "cpu"}
    (tmp_path / "env_throughput_point_maze.json").write_text(
        json.dumps({"command": "python x.py", "machine": machine, "points": points})
    )
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    tables._commit.cache_clear()
    text = tables.render("point-maze-throughput")
    assert "| `point_maze_u_maze` | 1,234 | 56,789 | 7,000,000 |" in text
    assert "| `point_maze_hardest_maze` | 11 | 22 | 33 |" in text
    assert "3-core Test CPU, JAX 9.9" in text and "`python x.py`" in text
    assert "not committed yet" in text
    tables._commit.cache_clear()


def test_the_api_reference_shows_every_public_name():
    import equicrl
    import equicrl.envs

    shown = {
        name
        for page in (DOCS / "api").glob("*.md")
        for name in re.findall(r"^::: ([\w.]+)$", page.read_text(), flags=re.M)
    }
    public = {
        f"{module.__name__}.{name}"
        for module in (equicrl, equicrl.envs)
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    # Constants documented with what they name (ENERGIES, INFONCE_KINDS).
    public -= {"equicrl.ENERGIES", "equicrl.INFONCE_KINDS"}
    assert public - shown == set(), public - shown
    assert shown - public == set(), shown - public


def test_links_point_at_files_that_exist():
    # MkDocs checks the site's links (`mkdocs build --strict` in CI); this checks the
    # README's, which GitHub shows and MkDocs never reads.
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    targets += re.findall(r'<img src="([^"]+)"', readme)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, missing


def _blocks(path: Path) -> list[str]:
    """The page's Python blocks, but those that are the README's own (which
    test_readme.py runs)."""
    readme = set(PYTHON.findall((ROOT / "README.md").read_text()))
    return [b for b in PYTHON.findall(path.read_text()) if b not in readme]


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [p.relative_to(DOCS).as_posix() for p in sorted(DOCS.rglob("*.md")) if _blocks(p)],
)
def test_page_python_blocks_run(page, tmp_path, monkeypatch):
    # Each page's blocks run in order in one namespace, in an empty directory (a run
    # directory a block writes is read by the next).
    blocks = _blocks(DOCS / page)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/{page} block {i}", "exec"), namespace)
    if "metrics" in namespace:
        assert all(np.isfinite(float(v)) for v in namespace["metrics"].values())
    if "train_env" in namespace:
        env = namespace["env"]
        assert namespace["state"].obs.shape == (32, env.state_dim + env.goal_dim)
    if "history" in namespace:
        assert namespace["history"], page
        assert (tmp_path / "runs" / "point_maze" / "checkpoint.eqx").exists()
