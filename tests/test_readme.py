"""The README's example runs as written, and CI runs the README's test command."""

import re
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_readme_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["logits"].shape == (256, 256)
    assert np.isfinite(float(namespace["loss"]))
    assert np.all(np.abs(np.asarray(namespace["action"])) < 1)
    assert all(np.isfinite(float(v)) for v in namespace["metrics"].values())


@pytest.mark.slow
def test_readme_policy_example_runs(tmp_path, monkeypatch):
    # The README's second block calls a trained run's policy on an env's state and
    # goal; here on the tests' tiny run, trained into the directory it names.
    from helpers import tiny_config

    import equicrl

    text = (ROOT / "README.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, flags=re.S)[1]
    assert 'equicrl.load_run("runs/x")' in block
    monkeypatch.chdir(tmp_path)
    equicrl.train(
        tiny_config(2), run_dir="runs/x", checkpoint_every=2, outputs=False,
        log=lambda _: None,
    )  # fmt: skip
    import jax.random as jr

    namespace: dict = {"equicrl": equicrl, "jr": jr}
    exec(compile(block, "README.md", "exec"), namespace)
    action = np.asarray(namespace["action"])
    assert action.shape == (2,) and np.all(np.abs(action) < 1)
    assert np.isfinite(float(namespace["env_state"].metrics["dist"]))


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = re.search(r"## Set-up.*?```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [line.strip() for line in setup.strip().splitlines()]
    assert len(commands) == 2
    assert commands[1] in ci.splitlines()
