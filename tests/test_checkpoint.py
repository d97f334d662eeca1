"""Checkpoints: a run stopped by real signals (SIGKILL, Ctrl-C) at several moments
leaves a loadable checkpoint and resumes to exactly the uninterrupted run; it can be
extended and evaluated without being touched; bad checkpoints fail clearly."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import digest, run_cli, tiny_config

import equicrl


TINY = tiny_config(epochs=6)  # prefill, then 6 epochs


# The same run, two epochs longer.
LONGER = TINY.replace(total_env_steps=20 * 16 + 8 * 160)

SCRIPT = f"""
import signal

import equicrl

# Ctrl-C as in a terminal: a job started in the background (as CI may run the suite)
# inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
signal.signal(signal.SIGINT, signal.default_int_handler)

PRESETS = {{"tiny": equicrl.{TINY!r}}}

if __name__ == "__main__":
    equicrl.train_cli(PRESETS, description="A tiny run for the tests.")
"""


class Killed(Exception):
    pass


def _kill_at(epoch):
    def log(line):
        if line.startswith("[") and f"env steps {20 * 16 + epoch * 160:,} " in line:
            raise Killed

    return log


def _timeless(history):
    return [{k: v for k, v in r.items() if k != "sps"} for r in history]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    state, history = equicrl.train(
        TINY,
        run_dir=run_dir,
        checkpoint_every=2,
        eval_every=2,
        outputs=False,
        log=lambda _: None,
    )
    return state, history


def _leaves(state):
    return [
        jax.random.key_data(x)
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
        else x
        for x in jax.tree.leaves(eqx.filter(state, eqx.is_array))
    ]


def _kill_and_resume(config, run_dir):
    """Kill a run after epoch 3's metrics were written (the last checkpoint is epoch
    2), then resume it to the end."""
    with pytest.raises(Killed):
        equicrl.train(
            config, run_dir=run_dir, checkpoint_every=2, eval_every=2, log=_kill_at(3)
        )
    return equicrl.train(
        config,
        run_dir=run_dir,
        checkpoint_every=2,
        eval_every=2,
        resume=True,
        keep_checkpoints=2,
        log=lambda _: None,
    )


@pytest.fixture(scope="module")
def seed_one(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("seed_one")
    state, history = equicrl.train(
        TINY.replace(seed=1),
        run_dir=run_dir,
        checkpoint_every=6,
        eval_every=2,
        outputs=False,
        log=lambda _: None,
    )
    return state, history, run_dir


def _start(script, args, env):
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=script.parent,
    )


def _stop_after(process, prefix, sig, delay=0.0):
    """Read the process's stdout until a line starts with `prefix`, wait `delay` s,
    send `sig`; return (exit status, stdout, stderr)."""
    return _preempt_after(process, prefix, [sig], delay)[:3]


def _check_loadable(run_dir):
    """The newest checkpoint loads, and metrics.jsonl holds every epoch it holds."""
    run = equicrl.load_run(run_dir)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    whole = [json.loads(line) for line in lines if line.endswith("\n")]
    assert [r["epoch"] for r in whole[: run.epoch]] == list(range(1, run.epoch + 1))
    assert run.history == whole[: run.epoch]
    return run


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """The tiny example as a user runs it, stopped by real signals at several moments
    and resumed each time, then extended. The processes share a persistent
    compilation cache (the session's, see conftest.py, where the tests' own runs of
    `TINY` have compiled its programs already), so each program compiles once."""
    root = tmp_path_factory.mktemp("killed")
    script = root / "tiny.py"
    script.write_text(SCRIPT)
    run_dir = root / "run"
    env = {
        "JAX_COMPILATION_CACHE_DIR": str(root / "cache"),
        **os.environ,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    flags = ["--checkpoint-every", "1", "--eval-every", "2"]
    rng = random.Random(0)
    stops = []

    # SIGKILL while it builds: no checkpoint yet, so resuming starts over.
    process = _start(script, ["--run-dir", str(run_dir), *flags], env)
    stops.append(_stop_after(process, "run directory", signal.SIGKILL))
    assert not (run_dir / "checkpoint.eqx").exists()
    # Ctrl-C once the first epoch is done: status 130, the last checkpoint and the
    # command that resumes from it.
    process = _start(script, ["--resume", str(run_dir)], env)
    stops.append(_stop_after(process, "[", signal.SIGINT))
    after_interrupt = _check_loadable(run_dir)
    # SIGKILL at a random moment after the next epoch (maybe mid-save).
    process = _start(script, ["--resume", str(run_dir)], env)
    stops.append(_stop_after(process, "[", signal.SIGKILL, rng.uniform(0, 0.03)))
    after_kill = _check_loadable(run_dir)
    # To the end.
    finished = _start(script, ["--resume", str(run_dir)], env).communicate(timeout=300)
    done = _check_loadable(run_dir)
    full_size = (run_dir / "checkpoint.eqx").stat().st_size
    # Extended by an epoch with a light checkpoint (no replay buffer), then by one
    # more from it (the buffer refilled).
    seven = str(LONGER.total_env_steps - 160)
    extend = ["--resume", str(run_dir), "--total-env-steps", seven]
    extended = _start(script, [*extend, "--light-checkpoints"], env).communicate(
        timeout=300
    )
    light = _check_loadable(run_dir)
    light_size = (run_dir / "checkpoint.eqx").stat().st_size
    extend = [
        "--resume",
        str(run_dir),
        "--total-env-steps",
        str(LONGER.total_env_steps),
    ]
    refilled = _start(script, extend, env).communicate(timeout=300)
    # A reader that goes away (`| head -2`): stdout closed after two lines.
    piped_dir = root / "piped"
    piped = _start(script, ["--run-dir", str(piped_dir)], env)
    head = [piped.stdout.readline() for _ in range(2)]
    piped.stdout.close()
    piped_err = piped.stderr.read()
    piped.stderr.close()
    piped.wait(timeout=300)
    return dict(
        run_dir=run_dir,
        stops=stops,
        after_interrupt=after_interrupt,
        after_kill=after_kill,
        finished=finished,
        done=done,
        extended=extended,
        light=light,
        sizes=(full_size, light_size),
        refilled=refilled,
        piped=(piped.returncode, head, piped_err, piped_dir),
    )


@pytest.mark.slow
def test_real_kills_leave_a_loadable_run_that_resumes_exactly(
    uninterrupted, killed_run
):
    run_dir = killed_run["run_dir"]
    (code, out, _), (int_code, _, int_err), (kill_code, _, _) = killed_run["stops"]
    assert code == -signal.SIGKILL and out.startswith(f"run directory: {run_dir}")
    assert int_code == 130
    epoch = killed_run["after_interrupt"].epoch
    assert 1 <= epoch < 6
    assert f"interrupted; the last checkpoint is epoch {epoch}" in int_err
    assert f"tiny.py --resume {run_dir}" in int_err
    assert "Traceback" not in int_err
    assert kill_code == -signal.SIGKILL
    assert epoch < killed_run["after_kill"].epoch < 6
    assert "resumed" in killed_run["finished"][0], killed_run["finished"][1]
    # It ends exactly as the uninterrupted run: same parameters, buffer, keys...
    done = killed_run["done"]
    assert done.epoch == 6
    for x, y in zip(_leaves(uninterrupted[0]), _leaves(done.state), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _timeless(done.history) == _timeless(uninterrupted[1])
    # Each epoch once, in order, whatever was killed when.
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == list(range(1, 9))
    # Extended from the finished run, recorded as resumes.
    out, err = killed_run["extended"]
    assert "resumed" in out and "at epoch 6" in out, err
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["config"]["total_env_steps"] == LONGER.total_env_steps
    resumed_from = [0, epoch, killed_run["after_kill"].epoch, 6, 7]
    assert [r["epoch"] for r in meta["resumes"]] == resumed_from
    assert meta["program"] == "tiny.py" and meta["preset"] == "tiny"
    assert meta["options"]["checkpoint_every"] == 1
    assert meta["command"][:2] == ["tiny.py", "--run-dir"]
    assert {"jax", "brax", "python"} <= set(meta["versions"])


@pytest.mark.slow
def test_a_closed_stdout_neither_stops_training_nor_prints_a_traceback(killed_run):
    code, head, err, run_dir = killed_run["piped"]
    assert head[0].startswith("run directory:")
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    records = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert (run_dir / "trajectories.png").exists()


@pytest.mark.slow
def test_light_checkpoints_leave_out_the_buffer_and_resume_by_refilling(killed_run):
    full, light = killed_run["sizes"]
    assert killed_run["light"].epoch == 7 and killed_run["light"].state.buffer is None
    # Smaller by at least the buffer's episode ids (an int32 per row and env).
    assert full - light >= 100 * 16 * 4
    # Its actor is the one the next epoch starts from.
    out, err = killed_run["refilled"]
    assert "refilled the buffer with 320 steps of the resumed actor" in out, err
    assert "resumed" in out and "at epoch 7" in out


@pytest.mark.slow
def test_load_run_and_eval_only_leave_the_run_untouched(killed_run, capsys):
    run_dir = killed_run["run_dir"]
    before = digest(run_dir)
    run = equicrl.load_run(run_dir)
    assert run.config == LONGER
    assert run.epoch == 8 and len(run.history) == 8
    # The prefill, 8 epochs and the refill after the light checkpoint.
    assert run.env_steps == run.history[-1]["env_steps"] == (2 + 8 + 2) * 160
    assert isinstance(run.actor, equicrl.GoalConditionedActor)
    code, out, err = run_cli({"tiny": TINY}, ["--eval-only", str(run_dir)], capsys)
    assert code == 0, err
    (folder,) = run_dir.glob("eval-*")
    result = json.loads((folder / "eval.json").read_text())
    assert result["epoch"] == 8 and set(result["seeds"]["0"]) >= {"success"}
    assert (folder / "trajectories.png").read_bytes()[:4] == b"\x89PNG"
    assert "seed 0: success" in out
    after = digest(run_dir)
    assert {k: v for k, v in after.items() if not k.startswith("eval-")} == before


@pytest.mark.slow
def test_corrupt_and_mismatched_checkpoints_fail_clearly(tmp_path, seed_one):
    one = TINY.replace(seed=1)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    checkpoint = run_dir / "checkpoint.eqx"
    data = (seed_one[2] / "checkpoint.eqx").read_bytes()
    # Checked from the header, before anything is built: the fields that differ.
    checkpoint.write_bytes(data)
    with pytest.raises(ValueError, match="these differ: seed: 1 -> 0"):
        equicrl.train(TINY, run_dir=run_dir, resume=True, log=lambda _: None)
    # Truncated, or a foreign file.
    checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt.*truncated"):
        equicrl.train(one, run_dir=run_dir, resume=True, log=lambda _: None)
    checkpoint.write_bytes(b"\xff\xfe not json\n" + data)
    with pytest.raises(ValueError, match="not an equicrl checkpoint"):
        equicrl.train(one, run_dir=run_dir, resume=True, log=lambda _: None)
    # A header that matches, over arrays of another shape: found when deserialising.
    header, _, payload = data.partition(b"\n")
    swapped = bytearray(data)
    swapped[len(header) + 1 :] = payload[::-1]
    checkpoint.write_bytes(bytes(swapped))
    from equicrl.training._state import make_parts, read_state

    with pytest.raises(ValueError, match="corrupt or does not match"):
        read_state(checkpoint, make_parts(one))
    # Nothing to resume.
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        equicrl.train(TINY, run_dir=tmp_path / "empty", resume=True, log=lambda _: None)


def test_a_run_with_a_decaying_learning_rate_is_not_extended(tmp_path, seed_one):
    # Its rates reached 0 at the end it was planned for: extending it would restart
    # them from another point of another schedule. Refused from the header, before
    # anything is built.
    cosine = TINY.replace(seed=1, lr_schedule="cosine")
    data = (seed_one[2] / "checkpoint.eqx").read_bytes()
    header, _, payload = data.partition(b"\n")
    header = json.loads(header)
    header["config"]["lr_schedule"] = "cosine"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.eqx").write_bytes(
        json.dumps(header).encode() + b"\n" + payload
    )
    longer = cosine.replace(total_env_steps=cosine.total_env_steps + 160)
    with pytest.raises(ValueError, match="cannot be extended.*lr_schedule"):
        equicrl.train(longer, run_dir=run_dir, resume=True, log=lambda _: None)


@pytest.mark.slow
def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch, seed_one
):
    # A copy of a finished run of 6 epochs, extended by two with a critic loss that
    # is NaN from its first gradient step.
    shutil.copytree(seed_one[2], tmp_path, dirs_exist_ok=True)
    good = (tmp_path / "checkpoint.eqx").read_bytes()
    infonce = equicrl.nn._update.infonce_loss
    monkeypatch.setattr(
        equicrl.nn._update,
        "infonce_loss",
        lambda logits, **kw: infonce(logits, **kw) * float("nan"),
    )
    with pytest.raises(FloatingPointError) as error:
        equicrl.train(
            LONGER.replace(seed=1),
            run_dir=tmp_path,
            checkpoint_every=1,
            resume=True,
            outputs=False,
            log=lambda _: None,
        )
    message = str(error.value)
    gradient_steps = TINY.gradient_steps_per_collection
    assert "`critic_loss` is not finite (nan)" in message
    assert f"gradient step 1 of {gradient_steps} in epoch 7" in message
    assert f"gradient step {6 * gradient_steps + 1} of the run" in message
    assert "last good checkpoint" in message
    assert (tmp_path / "checkpoint.eqx").read_bytes() == good


@pytest.mark.slow
def test_a_resumed_run_keeps_its_options(tmp_path, monkeypatch, seed_one):
    # A copy of a finished run of 6 epochs (evaluated every 2, checkpointed every 6),
    # as if trained with env overrides (the default's value: the same env).
    shutil.copytree(seed_one[2], tmp_path, dirs_exist_ok=True)
    meta = json.loads((tmp_path / "config.json").read_text())
    overrides = {"success_threshold": 0.25}
    meta["options"]["env_overrides"] = overrides
    (tmp_path / "config.json").write_text(json.dumps(meta))
    longer = LONGER.replace(seed=1)
    # Another env is refused before anything is built.
    with pytest.raises(ValueError, match="was trained with env_overrides="):
        equicrl.train(
            longer,
            run_dir=tmp_path,
            resume=True,
            env_overrides={"success_threshold": 0.5},
            log=lambda _: None,
        )
    # Extended by two epochs, given none of its options: it keeps them all.
    make_parts, built = equicrl.runs._train.make_parts, []
    monkeypatch.setattr(
        equicrl.runs._train,
        "make_parts",
        lambda config, env_overrides: (
            built.append(env_overrides) or make_parts(config, env_overrides)
        ),
    )
    _, history = equicrl.train(
        longer, run_dir=tmp_path, resume=True, outputs=False, log=lambda _: None
    )
    assert built == [overrides]
    assert [r["epoch"] for r in history if "eval/success" in r] == [2, 4, 6, 8]
    # Checkpointed at its new end: a later load or resume starts from there.
    assert equicrl.load_run(tmp_path).epoch == 8
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["resumes"][-1]["options"] == dict(
        eval_every=2,
        checkpoint_every=6,
        keep_checkpoints=1,
        checkpoint_buffer=True,
        env_overrides=overrides,
    )


# Two seeds side by side in one program: seeds 0 and 1.
SEEDS = TINY.replace(num_seeds=2)


@pytest.fixture(scope="module")
def seeds_uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("seeds")
    lines = []
    state, history = equicrl.train(
        SEEDS,
        run_dir=run_dir,
        checkpoint_every=2,
        eval_every=2,
        outputs=False,
        log=lines.append,
    )
    return state, history, run_dir, lines


@pytest.mark.slow
def test_each_seed_of_a_multi_seed_run_is_the_run_of_that_seed(
    uninterrupted, seed_one, seeds_uninterrupted
):
    multi, multi_history, run_dir, lines = seeds_uninterrupted
    for i, (state, history) in enumerate((uninterrupted, seed_one[:2])):
        # The same networks, optimiser states, buffer, envs and keys as the run of
        # one seed, up to float rounding (a vmapped matmul may sum in another order).
        alone, side_by_side = _leaves(state), _leaves(equicrl.seed_state(multi, i))
        assert len(alone) == len(side_by_side)
        for x, y in zip(alone, side_by_side):
            np.testing.assert_allclose(
                np.asarray(x, np.float64), np.asarray(y, np.float64), atol=1e-4
            )
        for record, multi_record in zip(history, multi_history):
            own = multi_record["seeds"][i]
            for name in ("critic_loss", "actor_loss", "alpha", "eval/success"):
                if name in record:
                    np.testing.assert_allclose(own[name], record[name], atol=1e-4)
    # The record holds the means over seeds and the standard error over seeds.
    last = multi_history[-1]
    seeds = last["seeds"]
    assert last["critic_loss"] == pytest.approx(
        (seeds[0]["critic_loss"] + seeds[1]["critic_loss"]) / 2
    )
    gap = abs(seeds[0]["eval/final_dist"] - seeds[1]["eval/final_dist"])
    assert last["eval/final_dist_stderr"] == pytest.approx(gap / 2)
    assert seeds[0]["critic_loss"] != seeds[1]["critic_loss"]
    # Metrics written per seed; progress shows the range over seeds.
    written = [
        json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert written == multi_history
    assert lines[0] == f"run directory: {run_dir}"
    assert lines[1].startswith("equicrl: point_maze_u_maze, 16 envs, 2 seeds")
    assert any("eval (2 seeds): time at goal" in line for line in lines)


@pytest.mark.slow
def test_kill_and_resume_of_a_multi_seed_run_equals_uninterrupted(
    tmp_path, seeds_uninterrupted
):
    state, history = seeds_uninterrupted[:2]
    resumed, resumed_history = _kill_and_resume(SEEDS, tmp_path)
    for x, y in zip(_leaves(state), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _timeless(resumed_history) == _timeless(history)
    # The two newest checkpoints are kept (epochs 6 and 4; 2 is gone).
    kept = sorted(p.name for p in tmp_path.glob("checkpoint*"))
    assert kept == ["checkpoint-epoch000004.eqx", "checkpoint.eqx"]
    assert equicrl.load_run(tmp_path).epoch == 6


def test_a_non_finite_loss_names_its_seed():
    from equicrl.runs._run import check_finite

    first = {"critic_loss": jnp.array([-1, 3]), "actor_loss": jnp.array([-1, -1])}
    record = {
        "env_steps": 1000,
        "seeds": [{"critic_loss": 1.0}, {"critic_loss": float("nan")}],
    }
    with pytest.raises(FloatingPointError, match="in seed 1 at gradient step 4 of"):
        check_finite(first, record, 2, SEEDS, None)
    check_finite({"critic_loss": jnp.array([-1, -1])}, record, 2, SEEDS, None)


def _preempt_after(process, prefix, signals, delay):
    """Read the process's stdout until a line starts with `prefix`, wait `delay` s,
    send each of `signals` (a few ms apart); return (exit status, stdout, stderr,
    seconds from the first signal to the exit, or `None` if the line never came)."""
    lines, sent = [], None
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            time.sleep(delay)
            sent = time.perf_counter()
            for sig in signals:
                process.send_signal(sig)
                time.sleep(0.005)
            break
    out, err = process.communicate(timeout=120)
    seconds = None if sent is None else time.perf_counter() - sent
    return process.returncode, "".join(lines) + out, err, seconds


@pytest.mark.slow
def test_preempted_runs_checkpoint_and_resume_exactly(uninterrupted, tmp_path):
    # SIGTERM and SIGUSR1, as SLURM sends them, at random moments of a real process
    # of the tiny example (checkpoints every 2 epochs, evaluations every 2): while it
    # builds, mid-run, and twice in a row (the second arriving while the first's
    # checkpoint is written). Each stops within seconds with one line naming the
    # checkpoint and the resume command, status 128 + the signal; resumed, the run
    # ends exactly as the uninterrupted one.
    script = tmp_path / "tiny.py"
    script.write_text(SCRIPT)
    run_dir = tmp_path / "run"
    env = {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache"),
        **os.environ,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    flags = ["--checkpoint-every", "2", "--eval-every", "2"]
    rng = random.Random(1)
    process = _start(script, ["--run-dir", str(run_dir), *flags], env)
    code, _, err, _ = _preempt_after(process, "run directory", [signal.SIGTERM], 0)
    assert code == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM; no checkpoint was written" in err
    assert not (run_dir / "checkpoint.eqx").exists()
    stops = []
    for signals in ([signal.SIGTERM], [signal.SIGUSR1, signal.SIGUSR1]):
        process = _start(script, ["--resume", str(run_dir)], env)
        stops.append(
            _preempt_after(process, "[", signals, rng.uniform(0, 0.03)) + (signals[0],)
        )
        _check_loadable(run_dir)
    epochs = []
    for code, out, err, seconds, sig in stops:
        assert code == 128 + sig, err
        (line,) = [x for x in err.splitlines() if x.strip()]
        assert f"tiny.py: stopped by {sig.name}; a checkpoint of epoch" in line
        assert f"resume with: python {script} --resume {run_dir}" in line
        assert "received " + sig.name in out
        assert seconds < 10, seconds
        epochs.append(int(line.split("checkpoint of epoch ")[1].split()[0]))
    # Each stop checkpointed the epoch it was in; the second resumed from the first.
    assert 1 <= epochs[0] <= epochs[1] <= 6
    finished = _start(script, ["--resume", str(run_dir)], env).communicate(timeout=300)
    done = _check_loadable(run_dir)
    assert done.epoch == 6, finished
    for x, y in zip(_leaves(uninterrupted[0]), _leaves(done.state), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _timeless(done.history) == _timeless(uninterrupted[1])


@pytest.mark.slow
def test_train_handles_the_signals_only_where_the_caller_does_not(tmp_path):
    # Library use: a SIGTERM raises equicrl.Preempted after a checkpoint, and the
    # handlers are put back; a caller's own handler is left in charge.
    def send_at(epoch):
        def log(line):
            if line.startswith(f"[{100 * epoch / 2:5.1f}%]"):
                os.kill(os.getpid(), signal.SIGTERM)

        return log

    config = tiny_config(2)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(equicrl.Preempted) as stopped:
        equicrl.train(config, run_dir=tmp_path / "a", outputs=False, log=send_at(1))
    assert stopped.value.epoch == 1 and stopped.value.signal == "SIGTERM"
    assert stopped.value.checkpoint == tmp_path / "a" / "checkpoint.eqx"
    assert equicrl.load_run(tmp_path / "a").epoch == 1
    assert signal.getsignal(signal.SIGTERM) == before
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        _, history = equicrl.train(
            config, run_dir=tmp_path / "b", outputs=False, log=send_at(1)
        )
    finally:
        signal.signal(signal.SIGTERM, before)
    assert seen == [signal.SIGTERM] and len(history) == 2
