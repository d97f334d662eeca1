import equinox as eqx
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import float_arrays, seeds
from hypothesis import given

import equicrl


STATE_DIM, GOAL_DIM, ACTION_DIM, BATCH = 4, 2, 3, 6


def _actor(seed, **kwargs):
    return equicrl.GoalConditionedActor(
        STATE_DIM, GOAL_DIM, ACTION_DIM, width=8, key=jr.key(seed), **kwargs
    )


@eqx.filter_jit
def _outputs(actor, s, g, key):
    keys = jr.split(key, s.shape[0])
    mean, log_std = jax.vmap(actor)(s, g)
    action, log_prob = jax.vmap(lambda si, gi, k: actor.sample(si, gi, key=k))(
        s, g, keys
    )
    eps = jax.vmap(lambda k: jr.normal(k, (ACTION_DIM,)))(keys)
    deterministic = jax.vmap(actor.deterministic_action)(s, g)
    return mean, log_std, action, log_prob, eps, deterministic


def _np_tanh_gaussian_log_prob(action, mean, log_std):
    """log p(a) for a = tanh(u), u ~ N(mean, std): change of variables, from `a`."""
    a = np.asarray(action, np.float64)
    u = np.arctanh(a)
    std = np.exp(np.asarray(log_std, np.float64))
    log_normal = -0.5 * ((u - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    return np.sum(log_normal - np.log1p(-(a**2)), axis=-1)


@given(
    seed=seeds,
    scale=st.sampled_from((1.0, 100.0)),
    state=float_arrays((BATCH, STATE_DIM)),
    goal=float_arrays((BATCH, GOAL_DIM)),
)
def test_actions_in_open_interval_and_log_std_in_range(seed, scale, state, goal):
    # Large inputs push the mean far out, so tanh saturates in float32.
    actor = _actor(seed)
    mean, log_std, action, log_prob, _, det = _outputs(
        actor, jnp.asarray(scale * state), jnp.asarray(goal), jr.key(seed)
    )
    for a in (action, det):
        assert np.all(np.abs(np.asarray(a)) < 1)
    assert np.all((log_std >= -5) & (log_std <= 2))
    assert np.all(np.isfinite(log_prob))
    np.testing.assert_allclose(
        det, np.clip(np.tanh(mean), -1 + 1e-6, 1 - 1e-6), rtol=1e-6
    )


@given(seed=seeds)
def test_log_prob_matches_numpy_tanh_gaussian_density(seed):
    actor = _actor(seed)
    ks, kg, kk = jr.split(jr.key(seed), 3)
    s, g = jr.normal(ks, (BATCH, STATE_DIM)), jr.normal(kg, (BATCH, GOAL_DIM))
    mean, log_std, action, log_prob, eps, _ = _outputs(actor, s, g, kk)
    mean, log_std, eps = (np.asarray(x, np.float64) for x in (mean, log_std, eps))
    # The sample is mean + std * eps through tanh.
    pre_tanh = mean + np.exp(log_std) * eps
    np.testing.assert_allclose(action, np.tanh(pre_tanh), rtol=1e-5, atol=1e-6)
    # Compare where the float32 action is far enough from +-1 for arctanh to be exact.
    ok = np.all(np.abs(pre_tanh) < 3, axis=-1)
    expected = _np_tanh_gaussian_log_prob(np.tanh(pre_tanh), mean, log_std)
    np.testing.assert_allclose(
        np.asarray(log_prob)[ok], expected[ok], rtol=1e-4, atol=2e-3
    )


@pytest.mark.parametrize("mean,log_std", [(0.0, 0.0), (0.7, -1.0), (-1.5, 0.5)])
def test_log_prob_is_a_density_over_actions(mean, log_std):
    # For one action dimension, exp(log_prob) integrates to 1 over (-1, 1).
    a = np.linspace(-1 + 1e-7, 1 - 1e-7, 400_001)
    u = jnp.asarray(np.arctanh(a), jnp.float32)[:, None]
    log_prob = jax.vmap(
        lambda x: equicrl.tanh_gaussian_log_prob(
            x, jnp.array([mean]), jnp.array([log_std])
        )
    )(u)
    density = np.exp(np.asarray(log_prob, np.float64))
    # The trapezoid rule, spelled out: numpy < 2 has no `np.trapezoid`.
    integral = np.sum((density[1:] + density[:-1]) / 2 * np.diff(a))
    np.testing.assert_allclose(integral, 1.0, atol=2e-3)


def test_log_std_squashing_bounds():
    raw = jnp.array([-1e4, -1.0, 0.0, 1.0, 1e4])
    out = np.asarray(equicrl.squash_log_std(raw))
    np.testing.assert_allclose(out[[0, 2, 4]], [-5.0, -1.5, 2.0], rtol=1e-6)
    assert np.all(np.diff(out) > 0)


def test_trunk_layout_and_independent_depth():
    actor = _actor(0, depth=8)
    assert actor.trunk.in_dim == STATE_DIM + GOAL_DIM
    assert actor.trunk.out_dim == 2 * ACTION_DIM
    assert actor.trunk.depth == 8
    critic = equicrl.ContrastiveCritic(
        STATE_DIM, ACTION_DIM, GOAL_DIM, width=8, depth=4, key=jr.key(0)
    )
    assert critic.sa_encoder.depth == 4


def test_sampling_is_deterministic_per_key_and_varies_across_keys():
    actor = _actor(0)
    s, g = jnp.ones((BATCH, STATE_DIM)), jnp.ones((BATCH, GOAL_DIM))
    a1 = _outputs(actor, s, g, jr.key(1))[2]
    a2 = _outputs(actor, s, g, jr.key(1))[2]
    a3 = _outputs(actor, s, g, jr.key(2))[2]
    np.testing.assert_array_equal(a1, a2)
    assert not np.allclose(a1, a3)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(action_dim=0), "action_dim"),
        (dict(depth=5), "depth"),
        (dict(state_dim=-1), "state_dim"),
    ],
)
def test_bad_actor_arguments(kwargs, match):
    args = dict(state_dim=STATE_DIM, goal_dim=GOAL_DIM, action_dim=ACTION_DIM, width=8)
    with pytest.raises((ValueError, TypeError), match=match):
        equicrl.GoalConditionedActor(**{**args, **kwargs}, key=jr.key(0))


def test_bad_actor_inputs():
    actor = _actor(0)
    with pytest.raises((ValueError, TypeError), match="goal"):
        actor(jnp.ones(STATE_DIM), jnp.ones(GOAL_DIM + 1))
    with pytest.raises((ValueError, TypeError), match="state"):
        actor.sample(jnp.ones((2, STATE_DIM)), jnp.ones(GOAL_DIM), key=jr.key(0))


def test_the_releases_actor_modes():
    # mode 0: tanh(mean); 1: a sample; K >= 2: of K samples (jr.split(key, K)), the
    # one with the highest critic energy, found here by a Python loop.
    actor = equicrl.GoalConditionedActor(5, 2, 3, width=16, key=jr.key(0))
    critic = equicrl.ContrastiveCritic(5, 3, 2, width=16, repr_dim=8, key=jr.key(1))
    s, g, key = jr.normal(jr.key(2), (5,)), jr.normal(jr.key(3), (2,)), jr.key(4)
    np.testing.assert_array_equal(
        equicrl.act(actor, s, g), actor.deterministic_action(s, g)
    )
    np.testing.assert_array_equal(
        equicrl.act(actor, s, g, mode=1, key=key), actor.sample(s, g, key=key)[0]
    )
    for k in (2, 5):
        samples = [actor.sample(s, g, key=sub)[0] for sub in jr.split(key, k)]
        values = [float(critic(s, a, g)) for a in samples]
        best = samples[int(np.argmax(values))]
        chosen = equicrl.act(actor, s, g, mode=k, key=key, critic=critic)
        np.testing.assert_allclose(chosen, best, rtol=1e-6)
    with pytest.raises(ValueError, match="needs a `key`"):
        equicrl.act(actor, s, g, mode=1)
    with pytest.raises(ValueError, match="needs a `critic`"):
        equicrl.act(actor, s, g, mode=2, key=key)
    for bad in (-1, True):
        with pytest.raises(ValueError, match="int >= 0"):
            equicrl.act(actor, s, g, mode=bad)
    for name in ("expl_actor", "eval_actor"):
        for bad in (-1, 1.5):
            with pytest.raises((ValueError, TypeError), match=name):
                equicrl.CRLConfig(**{name: bad})
    assert (equicrl.CRLConfig().expl_actor, equicrl.CRLConfig().eval_actor) == (1, 0)


@pytest.mark.slow
def test_a_run_collects_and_evaluates_with_the_chosen_modes():
    # Best of 3 samples to collect, best of 2 to evaluate: the run trains and
    # evaluates to finite numbers; evaluating by the mean action gives others.
    from helpers import tiny_config

    config = tiny_config(1).replace(expl_actor=3, eval_actor=2)
    state, history = equicrl.train(config, log=lambda _: None, outputs=False)
    assert np.isfinite(history[-1]["eval/final_dist"])
    env = equicrl.envs.make_env("point_maze_u_maze_eval")
    kwargs = dict(num_episodes=8, episode_length=20, key=jr.key(0))
    ranked = equicrl.evaluate(
        state.crl.actor, env, mode=2, critic=state.crl.critic, **kwargs
    )
    mean = equicrl.evaluate(state.crl.actor, env, **kwargs)
    assert ranked["final_dist"] != mean["final_dist"]
    with pytest.raises(ValueError, match="distilled student"):
        config.replace(teacher="runs/t", expl_actor=1)
