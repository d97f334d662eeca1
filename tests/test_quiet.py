"""Importing the envs and building a Brax robot print and warn nothing of upstream's."""

import os
import subprocess
import sys
import warnings

from equicrl import envs


def test_import_envs_prints_nothing():
    # A fresh interpreter: mujoco.mjx prints "Failed to import warp" on first import.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run(
        [sys.executable, "-c", "import equicrl.envs"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert result.stdout == ""
    assert result.stderr == ""


def test_building_ant_does_not_warn_brax_unmaintained():
    assert "ant_u_maze" in envs.list_envs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        envs.make_env("ant_u_maze")
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if m.startswith("Brax System")], messages
