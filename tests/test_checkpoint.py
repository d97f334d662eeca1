"""Checkpoints: kill-and-resume equals an uninterrupted run; bad ones fail clearly."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import equicrl


TINY = equicrl.CRLConfig(
    env_name="point_maze_u_maze",
    num_envs=16,
    unroll_length=10,
    episode_length=20,
    replay_rows=100,
    prefill_rows=20,
    batch_size=32,
    env_steps_per_gradient_step=10,
    actor_width=16,
    critic_width=16,
    repr_dim=8,
    total_env_steps=20 * 16 + 6 * 160,  # prefill, then 6 epochs
    eval_envs=8,
)


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
        log=lambda _: None,
    )


def test_kill_and_resume_equals_uninterrupted(tmp_path, uninterrupted):
    state, history = uninterrupted
    assert len(history) == 6
    resumed, resumed_history = _kill_and_resume(TINY, tmp_path)
    for x, y in zip(_leaves(state), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _timeless(resumed_history) == _timeless(history)


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


def test_corrupt_and_mismatched_checkpoints_fail_clearly(tmp_path, seed_one):
    data = (seed_one[2] / "checkpoint.eqx").read_bytes()
    checkpoint = tmp_path / "checkpoint.eqx"
    checkpoint.write_bytes(data)
    # A different config.
    with pytest.raises(ValueError, match="different config.*seed"):
        equicrl.train(TINY, run_dir=tmp_path, resume=True, log=lambda _: None)
    one = TINY.replace(seed=1)
    # Truncated.
    checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        equicrl.train(one, run_dir=tmp_path, resume=True, log=lambda _: None)
    # Garbage header.
    checkpoint.write_bytes(b"\xff\xfe not json\n" + data)
    with pytest.raises(ValueError, match="corrupt"):
        equicrl.train(one, run_dir=tmp_path, resume=True, log=lambda _: None)
    # Nothing to resume.
    with pytest.raises(FileNotFoundError):
        equicrl.train(TINY, run_dir=tmp_path / "empty", resume=True, log=lambda _: None)


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch
):
    # Two good epochs (checkpointed), killed in the third...
    with pytest.raises(Killed):
        equicrl.train(
            TINY, run_dir=tmp_path, checkpoint_every=2, outputs=False, log=_kill_at(3)
        )
    good = (tmp_path / "checkpoint.eqx").read_bytes()
    # ...then resumed with a critic loss that is NaN from its first gradient step.
    infonce = equicrl._update.infonce_loss
    monkeypatch.setattr(
        equicrl._update,
        "infonce_loss",
        lambda logits, **kw: infonce(logits, **kw) * float("nan"),
    )
    with pytest.raises(FloatingPointError) as error:
        equicrl.train(
            TINY,
            run_dir=tmp_path,
            checkpoint_every=1,
            resume=True,
            outputs=False,
            log=lambda _: None,
        )
    message = str(error.value)
    gradient_steps = TINY.gradient_steps_per_collection
    assert "`critic_loss` is not finite (nan)" in message
    assert f"gradient step 1 of {gradient_steps} in epoch 3" in message
    assert f"gradient step {2 * gradient_steps + 1} of the run" in message
    assert "last good checkpoint" in message
    assert (tmp_path / "checkpoint.eqx").read_bytes() == good


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
    assert lines[0].startswith("equicrl: point_maze_u_maze, 16 envs, 2 seeds")
    assert any("eval (2 seeds): time at goal" in line for line in lines)


def test_kill_and_resume_of_a_multi_seed_run_equals_uninterrupted(
    tmp_path, seeds_uninterrupted
):
    state, history = seeds_uninterrupted[:2]
    resumed, resumed_history = _kill_and_resume(SEEDS, tmp_path)
    for x, y in zip(_leaves(state), _leaves(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    assert _timeless(resumed_history) == _timeless(history)


def test_a_non_finite_loss_names_its_seed():
    from equicrl._run import check_finite

    first = {"critic_loss": jnp.array([-1, 3]), "actor_loss": jnp.array([-1, -1])}
    record = {
        "env_steps": 1000,
        "seeds": [{"critic_loss": 1.0}, {"critic_loss": float("nan")}],
    }
    with pytest.raises(FloatingPointError, match="in seed 1 at gradient step 4 of"):
        check_finite(first, record, 2, SEEDS, None)
    check_finite({"critic_loss": jnp.array([-1, -1])}, record, 2, SEEDS, None)
