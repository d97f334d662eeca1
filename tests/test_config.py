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
