"""Checkpoints: kill-and-resume equals an uninterrupted run; bad ones fail clearly."""

import equinox as eqx
import jax
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


def test_kill_and_resume_equals_uninterrupted(tmp_path, uninterrupted):
    state, history = uninterrupted
    assert len(history) == 6
    # Killed after epoch 3's metrics were written; the last checkpoint is epoch 2.
    with pytest.raises(Killed):
        equicrl.train(
            TINY, run_dir=tmp_path, checkpoint_every=2, eval_every=2, log=_kill_at(3)
        )
    resumed, resumed_history = equicrl.train(
        TINY,
        run_dir=tmp_path,
        checkpoint_every=2,
        eval_every=2,
        resume=True,
        log=lambda _: None,
    )
    a = jax.tree.leaves(eqx.filter(state, eqx.is_array))
    b = jax.tree.leaves(eqx.filter(resumed, eqx.is_array))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(x, y)
    assert _timeless(resumed_history) == _timeless(history)


def test_corrupt_and_mismatched_checkpoints_fail_clearly(tmp_path, uninterrupted):
    equicrl.train(TINY, run_dir=tmp_path, checkpoint_every=6, log=lambda _: None)
    checkpoint = tmp_path / "checkpoint.eqx"
    data = checkpoint.read_bytes()
    # A different config.
    with pytest.raises(ValueError, match="different config.*seed"):
        equicrl.train(
            TINY.replace(seed=1), run_dir=tmp_path, resume=True, log=lambda _: None
        )
    # Truncated.
    checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        equicrl.train(TINY, run_dir=tmp_path, resume=True, log=lambda _: None)
    # Garbage header.
    checkpoint.write_bytes(b"\xff\xfe not json\n" + data)
    with pytest.raises(ValueError, match="corrupt"):
        equicrl.train(TINY, run_dir=tmp_path, resume=True, log=lambda _: None)
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
