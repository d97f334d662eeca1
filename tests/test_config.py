import dataclasses

import pytest

import equicrl


def test_defaults_are_the_papers():
    c = equicrl.CRLConfig()
    assert (c.num_envs, c.batch_size, c.unroll_length) == (512, 512, 62)
    assert (c.replay_rows, c.prefill_rows, c.episode_length) == (10_000, 1_000, 1000)
    assert c.gamma == 0.99 and c.actor_lr == c.critic_lr == c.alpha_lr == 3e-4
    assert c.logsumexp_penalty == 0.1 and c.repr_dim == 64
    assert c.actor_width == c.critic_width == 256
    assert c.energy == "l2" and c.infonce_kind == "forward"
    assert c.env_steps_per_collection == 31_744
    assert c.gradient_steps_per_collection == 794  # about one per 40 env steps
    assert c.eval_envs == 128


def test_frozen_and_replace_validates():
    c = equicrl.CRLConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.num_envs = 3
    assert c.replace(critic_depth=64).critic_depth == 64
    with pytest.raises(ValueError, match="critic_depth"):
        c.replace(critic_depth=6)


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(num_envs=0), r"num_envs"),
        (dict(batch_size=-1), r"batch_size"),
        (dict(actor_depth=10), r"actor_depth.*layers_per_block"),
        (dict(prefill_rows=20_000), r"prefill_rows.*replay_rows"),
        (dict(unroll_length=20_000), r"unroll_length.*replay_rows"),
        (dict(gamma=1.0), r"gamma"),
        (dict(actor_lr=0.0), r"actor_lr"),
        (dict(critic_lr=float("nan")), r"critic_lr"),
        (dict(logsumexp_penalty=-0.1), r"logsumexp_penalty"),
        (dict(energy="euclid"), r"energy"),
        (dict(infonce_kind="sideways"), r"infonce_kind"),
        (dict(total_env_steps=100), r"total_env_steps.*num_envs"),
        (dict(seed=1.5), r"seed"),
        (dict(num_envs=2.0), r"num_envs"),
        (dict(num_devices=0), r"num_devices"),
        (dict(num_devices=3), r"num_envs.*num_devices"),
        (dict(num_devices=8, eval_envs=4), r"eval_envs.*num_devices"),
        (dict(matmul_dtype="float16"), r"matmul_dtype"),
        (dict(episode_reset="random"), r"episode_reset"),
        (dict(lr_schedule="linear"), r"lr_schedule"),
    ],
)
def test_invalid_values_name_the_fields(changes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        equicrl.CRLConfig(**changes)


def test_mesh_needs_enough_devices_that_split_the_work_evenly():
    import jax

    available = len(jax.devices())
    mesh = equicrl.make_mesh(equicrl.CRLConfig(num_devices=1))
    assert mesh.axis_names == ("data",) and mesh.devices.size == 1
    assert equicrl.make_mesh(equicrl.CRLConfig()).devices.size == available
    with pytest.raises(ValueError, match=f"sees {available} device"):
        equicrl.make_mesh(equicrl.CRLConfig(num_devices=available * 128))


def test_a_cosine_schedule_decays_the_actor_and_critic_rates_to_zero_at_the_end():
    import numpy as np

    from equicrl.training._state import learning_rate

    c = equicrl.CRLConfig(
        env_name="point_maze_u_maze",
        num_envs=16,
        unroll_length=10,
        prefill_rows=20,
        batch_size=32,
        env_steps_per_gradient_step=10,
        total_env_steps=20 * 16 + 7 * 160 + 100,  # 7 whole epochs after the prefill
        lr_schedule="cosine",
    )
    steps = 7 * 16  # epochs x gradient steps per epoch
    assert c.num_epochs == 7 and c.gradient_steps_per_collection == 16
    schedule = learning_rate(c, 3e-4)
    t = np.array([0, 1, steps // 2, steps - 1, steps, steps + 5])
    expected = 3e-4 * 0.5 * (1 + np.cos(np.pi * np.minimum(t, steps) / steps))
    got = np.array([schedule(int(i)) for i in t], dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-10)
    assert got[-1] == 0.0
    assert learning_rate(c.replace(lr_schedule="constant"), 3e-4) == 3e-4


def test_the_runs_optimisers_follow_the_schedule_the_temperatures_does_not():
    import jax
    import jax.numpy as jnp

    from equicrl.training._state import make_parts

    c = equicrl.CRLConfig(
        env_name="point_maze_u_maze",
        num_envs=16,
        unroll_length=10,
        prefill_rows=20,
        batch_size=32,
        env_steps_per_gradient_step=40,
        total_env_steps=20 * 16 + 3 * 160,
        lr_schedule="cosine",
    )
    steps = 3 * 4
    params = jnp.zeros(2)
    grad = jnp.ones(2)
    for i, opt in enumerate(make_parts(c).optimisers):
        state = opt.init(params)
        update = jax.jit(opt.update)
        sizes = []
        for _ in range(steps + 1):
            u, state = update(grad, state)
            sizes.append(float(jnp.abs(u).max()))
        # Adam's first step moves by the rate; the last by the rate at the end.
        assert abs(sizes[0] - 3e-4) < 1e-6
        if i < 2:  # actor, critic
            assert sizes[-1] == 0.0 and sizes[steps // 2] < sizes[0]
        else:  # temperature
            assert abs(sizes[-1] - 3e-4) < 1e-6
