"""User errors answered in one line (exit status 2) within seconds, before anything is
built, and run directories never replaced by mistake. (Real kills, resume, extend and
evaluate-only runs: test_checkpoint.py.)"""

import dataclasses
import json
import os
import sys
import time

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import digest, run_cli, tiny_config

import equicrl
from equicrl import envs
from equicrl._checkpoint import save_checkpoint
from equicrl.runs._rundir import config_dict


TINY = tiny_config(epochs=8)  # prefill, then 8 epochs


def _fake_run(path, config=TINY, *, program="tiny.py", epoch=2, checkpoint_every=2):
    """A run directory as a run leaves it (config.json, metrics, a checkpoint whose
    header holds `config`); the checkpoint's arrays are a stand-in, since these checks
    read only its header."""
    path.mkdir(parents=True)
    options = dict(
        eval_every=1,
        checkpoint_every=checkpoint_every,
        keep_checkpoints=1,
        checkpoint_buffer=True,
        env_overrides={},
    )
    meta = {"config": config_dict(config), "options": options, "program": program}
    meta["cli"] = {}
    (path / "config.json").write_text(json.dumps(meta))
    records = [{"epoch": i + 1, "env_steps": 0} for i in range(epoch)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    save_checkpoint(
        path / "checkpoint.eqx",
        {"x": np.zeros(10_000, np.float32)},
        {"config": config_dict(config), "epoch": epoch, "buffer": True},
    )
    return path


BAD_FLAGS = [
    (["--env-name", "nope"], "unknown environment 'nope'"),
    (["--num-devices", "4"], "`num_devices` is 4 but JAX sees"),
    (["--critic-depth", "6"], "must be a multiple of `layers_per_block`"),
    (["--num-envs", "4", "--batch-size", "256"], "is more than the 80 transitions"),
    (["--eval-envs", "1"], "`eval_envs` (1) must be at least 2"),
    (["--preset", "nope"], "unknown --preset 'nope'"),
    (["--eval-every", "0"], "`--eval-every` must be a positive integer"),
    (
        ["--num-env", "32"],
        "unrecognized option: --num-env; perhaps you meant --num-envs",
    ),
    (["--env-name", "point_maze_u_maze_gen_9f"], "distances run from 1 to 6"),
    (["--collector-depth", "6"], "`collector_depth` (6) must be a multiple"),
]


@pytest.mark.parametrize("args, message", BAD_FLAGS)
def test_bad_flags_are_one_line_and_status_2(args, message, tmp_path, capsys):
    start = time.perf_counter()
    args = [*args, "--run-dir", str(tmp_path / "run")]
    code, out, err = run_cli({"tiny": TINY}, args, capsys, prog="tiny.py")
    assert code == 2
    assert err.startswith("tiny.py: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "run").exists()
    assert time.perf_counter() - start < 3


def test_bad_run_directories_are_one_line_and_status_2(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    before = digest(run)
    truncated = _fake_run(tmp_path / "truncated")
    data = (truncated / "checkpoint.eqx").read_bytes()
    (truncated / "checkpoint.eqx").write_bytes(data[: len(data) // 2])
    foreign = _fake_run(tmp_path / "foreign")
    (foreign / "checkpoint.eqx").write_bytes(b'{"step": 3}\n' + os.urandom(64))
    # A checkpoint of another run copied over this run's.
    other = _fake_run(tmp_path / "other")
    elsewhere = _fake_run(tmp_path / "elsewhere", TINY.replace(num_envs=32, seed=5))
    (other / "checkpoint.eqx").write_bytes((elsewhere / "checkpoint.eqx").read_bytes())
    humanoid = _fake_run(tmp_path / "humanoid", program="humanoid_maze.py")
    (tmp_path / "a-file").write_text("")
    cases = [
        # Never replace a run by mistake.
        (["--run-dir", str(run)], "already holds a run (a checkpoint at epoch 2"),
        (["--run-dir", str(tmp_path / "a-file" / "run")], "cannot write the run"),
        (["--resume", str(tmp_path / "missing")], "nothing to resume"),
        (["--resume", str(truncated)], "is corrupt: "),
        (["--resume", str(foreign)], "is not an equicrl checkpoint"),
        # The saved config's fields that differ are named.
        (["--resume", str(other)], "num_envs: 32 -> 16; seed: 5 -> 0"),
        (["--resume", str(run), "--num-envs", "32"], "flags were given: --num-envs"),
        (["--resume", str(run), "--total-env-steps", "400"], "less than the 640"),
        (["--resume", str(humanoid)], "made by humanoid_maze.py, not tiny.py"),
        (["--resume", str(run), "--run-dir", str(run)], "leave out --run-dir"),
        (["--eval-only", str(run), "--seed", "3"], "given: seed"),
        (["--eval-only", str(tmp_path / "missing")], "no run in"),
    ]
    for args, message in cases:
        start = time.perf_counter()
        code, out, err = run_cli({"tiny": TINY}, args, capsys, prog="tiny.py")
        assert code == 2, args
        assert err.startswith("tiny.py: error: ") and err.count("\n") == 1, err
        assert message in err, (args, err)
        assert time.perf_counter() - start < 3
    assert digest(run) == before
    # The library refuses the same, before building anything.
    with pytest.raises(FileExistsError, match="already holds a run"):
        equicrl.train(TINY, run_dir=run)
    with pytest.raises(ValueError, match="num_envs: 32 -> 16"):
        equicrl.train(TINY, run_dir=elsewhere, resume=True)
    assert digest(run) == before


@pytest.mark.slow
def test_evaluate_on_a_finished_run_gives_its_final_evaluation(tmp_path):
    # By default `Run.evaluate()` uses the key of training's own evaluation at the
    # checkpoint's epoch and its mode (here a sample of the actor, as the main job
    # evaluates): the final evaluation the run printed and recorded. Another fold
    # gives other episodes, another mode other actions; the run's policy acts in its
    # evaluation mode.
    config = tiny_config(2).replace(eval_actor=1)
    _, history = equicrl.train(
        config, run_dir=tmp_path, checkpoint_every=2, outputs=False,
        log=lambda _: None,
    )  # fmt: skip
    run = equicrl.load_run(tmp_path)
    (again,) = run.evaluate()
    for name in ("success", "time_at_goal", "final_dist"):
        assert again[name] == pytest.approx(history[-1][f"eval/{name}"], abs=1e-6)
    (fresh,) = run.evaluate(fold=2**31 - 1)
    assert fresh["final_dist"] != pytest.approx(again["final_dist"], abs=1e-6)
    (mean,) = run.evaluate(mode=0)
    assert mean["final_dist"] != pytest.approx(again["final_dist"], abs=1e-6)
    with pytest.raises(ValueError, match="int >= 0"):
        run.evaluate(mode=-1)

    assert (run.policy().mode, run.policy(mode=0).mode) == (1, 0)
    with pytest.raises(ValueError, match="pass a `key`"):
        run.policy()(jnp.zeros(run.env.state_dim), jnp.zeros(run.env.goal_dim))
    ranked = dataclasses.replace(run, config=config.replace(eval_actor=2))
    with pytest.raises(ValueError, match="holds the actor alone"):
        ranked.policy()
    assert ranked.policy(mode=1).mode == 1
    # The end-of-run pictures' episodes act in the run's mode: sampled actions move
    # the point elsewhere than the mean action does.
    kwargs = dict(key=jr.key(0), num_episodes=2, episode_length=20)
    sampled = equicrl.rollout(run.actor, run.eval_env, mode=1, **kwargs)
    steered = equicrl.rollout(run.actor, run.eval_env, **kwargs)
    assert not np.allclose(sampled.obs[1:], steered.obs[1:])
    with pytest.raises(ValueError, match="pass `critic`"):
        equicrl.rollout(run.actor, run.eval_env, mode=2, **kwargs)


def test_resume_never_loses_the_records_of_a_run_with_no_checkpoint(tmp_path, capsys):
    from equicrl.runs._rundir import check_run_dir, RunDir

    # As `train(TINY, run_dir=run)` leaves a run: all 8 epochs, no checkpoint.
    run = _fake_run(tmp_path / "run", epoch=8, checkpoint_every=None)
    (run / "checkpoint.eqx").unlink()
    before = digest(run)
    longer = TINY.replace(total_env_steps=TINY.total_env_steps + 160)
    message = (
        r"nothing to resume in .*: it holds the metrics of 8 of its 8 epochs but no "
        r"checkpoint \(trained without `checkpoint_every`\); to keep them"
    )
    with pytest.raises(ValueError, match=message):
        equicrl.train(longer, run_dir=run, resume=True, log=lambda _: None)
    args = ["--resume", str(run), "--total-env-steps", str(longer.total_env_steps)]
    code, out, err = run_cli({"tiny": TINY}, args, capsys, prog="tiny.py")
    assert code == 2 and err.count("\n") == 1 and "nothing to resume" in err, err
    assert digest(run) == before
    # Stopped before its first checkpoint, or before its first epoch: it starts over
    # (its records are replaced only as the epochs are trained again).
    stopped = _fake_run(tmp_path / "stopped", epoch=1, checkpoint_every=2)
    (stopped / "checkpoint.eqx").unlink()
    assert check_run_dir(stopped, longer, resume=True, overwrite=False) is None
    compiling = _fake_run(tmp_path / "compiling", epoch=0, checkpoint_every=None)
    (compiling / "checkpoint.eqx").unlink()
    assert check_run_dir(compiling, longer, resume=True, overwrite=False) is None
    # Run again without --resume, it is refused with the way on: --resume.
    with pytest.raises(FileExistsError, match="before its first checkpoint.*--resume"):
        check_run_dir(compiling, longer, resume=False, overwrite=False)
    files = RunDir(stopped, longer, main_process=True)
    files.start([], {"options": {}}, resumed_at=0)
    assert (stopped / "metrics.jsonl").read_text() == '{"epoch": 1, "env_steps": 0}\n'
    files.write({"epoch": 1, "env_steps": 480})
    files.close()
    assert (stopped / "metrics.jsonl").read_text() == '{"epoch": 1, "env_steps": 480}\n'


def test_progress_bar_only_on_a_terminal(monkeypatch):
    from equicrl.cli._main import TrainOptions
    from equicrl.cli._run import _progress

    options = TrainOptions(config=TINY)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert _progress(options, TINY, True, bar=True)[1] is None
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    off = dataclasses.replace(options, progress_bar=False)
    assert _progress(off, TINY, True, bar=True)[1] is None
    log, bar = _progress(options, TINY, True, bar=True)
    try:
        (task,) = bar.progress.tasks
        assert task.total == 8
        bar({"epoch": 3, "env_steps": 800})
        assert task.completed == 3
        log("[ 37.5%] brackets are not markup")
    finally:
        bar.close()


def test_env_steps_are_counted_past_int32():
    from equicrl.training._state import env_steps

    # Collections are counted in the state (an int32), env steps in Python.
    collections = jnp.array([2**31 - 1, 2**31 - 1], jnp.int32)  # two seeds
    assert env_steps(TINY, collections) == (2**31 - 1) * 160 > 2**31


def test_an_evaluation_of_one_episode_has_no_standard_error():
    env = envs.make_env("point_maze_u_maze_eval")
    actor = equicrl.GoalConditionedActor(
        env.state_dim, env.goal_dim, env.action_size, width=8, depth=4, key=jr.key(0)
    )
    result = equicrl.evaluate(
        actor, env, num_episodes=1, episode_length=3, key=jr.key(1)
    )
    assert set(result) == {"time_at_goal", "success", "final_dist"}


def test_the_runs_header_says_what_runs():
    from equicrl.runs._run import describe
    from equicrl.runs._rundir import num_epochs

    one = tiny_config(1)
    line = describe(one, num_epochs(one))
    assert "a prefill of 320 steps of the untrained actor" in line
    assert "then 1 epoch of 160 env steps" in line and "asked for" not in line
    # A step target that is not whole epochs is said, with what runs.
    odd = tiny_config(6).replace(total_env_steps=20 * 16 + 6 * 160 + 100)
    assert "1,380 env steps asked for, 1,280 in whole epochs" in describe(
        odd, num_epochs(odd)
    )
    # On resume, no prefill is announced unless a light checkpoint is refilled.
    six = tiny_config(6)
    resumed = describe(six, 6, start_epoch=4)
    assert "resuming at epoch 4 of 6;" in resumed and "prefill" not in resumed
    refilled = describe(six.replace(prefill="uniform"), 6, start_epoch=4, refill=True)
    assert "after refilling the buffer with 320 steps of uniform random" in refilled
