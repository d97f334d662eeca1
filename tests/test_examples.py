"""The examples' command line, run in this process: presets, flags, help, resume."""

import base64
import json
import re
import runpy
import sys
import zlib
from pathlib import Path

import pytest

import equicrl
from equicrl import envs


EXAMPLES = Path(__file__).parent.parent / "examples"


def _run_example(name, args, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *args])
    return runpy.run_path(str(EXAMPLES / name), run_name="__main__")


@pytest.mark.parametrize(
    "name", ["point_maze.py", "ant_maze.py", "humanoid_maze.py", "arm.py"]
)
def test_help_lists_presets_and_config_flags(name, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit:
        _run_example(name, ["--help"], monkeypatch)
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "--preset" in out and "--critic-depth" in out and "--resume" in out


def test_help_reads_as_plain_text(monkeypatch, capsys):
    from equicrl.cli._main import plain_help_text

    # Paragraphs on one line (the terminal wraps them), bullets kept, the docs'
    # cross-references as their text.
    text = (
        "A run (see [`equicrl.distill`][]) or\n[the docs][equicrl.x].\n\n- one\n- two"
    )
    assert plain_help_text(text) == (
        "A run (see `equicrl.distill`) or the docs.\n\n- one\n- two"
    )
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit):
        _run_example("point_maze.py", ["--help"], monkeypatch)
    out = capsys.readouterr().out
    assert "][" not in out
    # A docstring's source line breaks no longer break its help mid-phrase.
    assert "A directory that holds a run is refused unless --resume" in out
    assert "(see `equicrl.distill`): instead of contrastive RL" in out


def test_arm_presets_are_the_paper_tasks():
    presets = runpy.run_path(str(EXAMPLES / "arm.py"))["PRESETS"]
    tasks = {name: c.env_name for name, c in presets.items() if name != "smoke"}
    assert tasks == {
        "push-easy": "arm_push_easy",
        "push-hard": "arm_push_hard",
        "binpick-hard": "arm_binpick_hard",
        "binpick-easy": "arm_binpick_easy",
    }
    for name, c in presets.items():
        assert c.env_name in envs.list_envs()
        if name != "smoke":
            # The release's defaults: 512 envs, 1000-step episodes, 100M steps.
            assert (c.num_envs, c.episode_length) == (512, 1000)
            assert c.total_env_steps == 100_000_000
    # One short epoch after the prefill.
    smoke = presets["smoke"]
    prefill = smoke.prefill_collections * smoke.env_steps_per_collection
    assert smoke.total_env_steps == prefill + smoke.env_steps_per_collection


def test_bad_flags_fail_clearly(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit:
        _run_example("humanoid_maze.py", ["--preset", "nope"], monkeypatch)
    assert exit.value.code == 2
    assert "smoke" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run_example("humanoid_maze.py", ["--critic-depth", "6"], monkeypatch)


@pytest.mark.slow
def test_humanoid_smoke_preset_trains_and_writes_outputs(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "smoke"
    _run_example(
        "humanoid_maze.py",
        ["--preset", "smoke", "--run-dir", str(run_dir), "--tensorboard"],
        monkeypatch,
    )
    out = capsys.readouterr().out
    assert "equicrl: humanoid_u_maze" in out
    assert f"outputs in {run_dir}" in out
    records = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert len(records) == 1 and "eval/success" in records[0]
    saved = json.loads((run_dir / "config.json").read_text())["config"]
    assert saved["critic_depth"] == 4 and saved["num_envs"] == 8
    assert (run_dir / "checkpoint.eqx").stat().st_size > 0
    assert (run_dir / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    # The torso's paths over the maze: a picture that needs no network.
    assert (run_dir / "trajectories.png").read_bytes()[:4] == b"\x89PNG"
    # Brax's viewer page embeds the system and the frames as compressed JSON.
    html = (run_dir / "rollout.html").read_text()
    encoded = re.search(r'var system = "([^"]+)"', html).group(1)
    scene = json.loads(zlib.decompress(base64.b64decode(encoded)))
    assert "torso" in scene["geoms"]
    # The floor and the eval maze's wall boxes.
    walls = envs.get_layout("u_maze_eval").wall_rectangles()
    assert len(scene["geoms"]["world"]) == 1 + len(walls)
    assert 2 <= len(scene["states"]["x"]) <= 51  # reset + up to 50 steps
    events = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0

    # --resume takes the saved config; a finished run has nothing left to do, and
    # nothing in it is written.
    files = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    _run_example("humanoid_maze.py", ["--resume", str(run_dir)], monkeypatch)
    out = capsys.readouterr().out
    assert f"resuming {run_dir}" in out and "is finished (epoch 1 of 1)" in out
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == files


def test_wandb_logger_logs_records_against_env_steps(monkeypatch):
    calls = []

    class Run:
        def log(self, data, step):
            calls.append(("log", data, step))

        def finish(self):
            calls.append(("finish",))

    class FakeWandb:
        @staticmethod
        def init(**kwargs):
            calls.append(("init", kwargs))
            return Run()

    monkeypatch.setitem(sys.modules, "wandb", FakeWandb)
    logger = equicrl.WandbLogger(project="p", mode="offline")
    logger({"env_steps": 10, "critic_loss": 1.5})
    logger.close()
    assert calls == [
        ("init", {"project": "p", "mode": "offline"}),
        ("log", {"env_steps": 10, "critic_loss": 1.5}, 10),
        ("finish",),
    ]


def test_missing_optional_loggers_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"equicrl\[wandb\]"):
        equicrl.WandbLogger(project="p")
    with pytest.raises(ImportError, match=r"equicrl\[tensorboard\]"):
        equicrl.TensorBoardLogger("x")


def test_the_examples_keep_a_compilation_cache_of_the_users_own(tmp_path):
    # In a fresh interpreter with no cache configured: the user's cache directory,
    # readable by its owner alone; off with EQUICRL_COMPILATION_CACHE=0; a cache JAX
    # already has is kept. (This test process has the suite's own cache.)
    import os
    import subprocess
    import sys

    code = (
        "import jax\n"
        "from equicrl.cli._main import use_compilation_cache\n"
        "print(use_compilation_cache(), jax.config.jax_compilation_cache_dir)\n"
    )

    def run(**env):
        base = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMP")}
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**base, "XDG_CACHE_HOME": str(tmp_path), **env},
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.split()[-2:]

    cache = tmp_path / "equicrl" / "jax"
    assert run() == [str(cache), str(cache)]
    assert cache.stat().st_mode & 0o777 == 0o700
    assert run(EQUICRL_COMPILATION_CACHE="0") == ["None", "None"]
    mine = str(tmp_path / "mine")
    assert run(JAX_COMPILATION_CACHE_DIR=mine) == ["None", mine]
