import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import equicrl


STATE_DIM, ACTION_DIM, GOAL_DIM, BATCH = 5, 2, 2, 16


def _setup(seed=0, **kwargs):
    akey, ckey, dkey = jr.split(jr.key(seed), 3)
    actor = equicrl.GoalConditionedActor(
        STATE_DIM, GOAL_DIM, ACTION_DIM, width=16, depth=4, key=akey
    )
    critic = equicrl.ContrastiveCritic(
        STATE_DIM,
        ACTION_DIM,
        GOAL_DIM,
        repr_dim=8,
        width=16,
        depth=4,
        key=ckey,
        **kwargs,
    )
    k1, k2 = jr.split(dkey)
    state = jr.normal(k1, (BATCH, STATE_DIM))
    batch = equicrl.Transitions(
        state=state,
        action=jnp.tanh(jr.normal(k2, (BATCH, ACTION_DIM))),
        # Goals that depend on the state, so there is something to learn.
        goal=state[:, :GOAL_DIM] + 0.1 * state[:, GOAL_DIM : 2 * GOAL_DIM],
    )
    return actor, critic, batch


@eqx.filter_jit
def _step(state, batch, key, optimiser):
    return equicrl.crl_gradient_step(state, batch, key, optimiser=optimiser)


def test_gradient_steps_decrease_the_critic_loss_on_a_fixed_batch():
    actor, critic, batch = _setup()
    optimiser = optax.adam(1e-3)
    state = equicrl.init_crl_state(actor, critic, optimiser)
    losses = []
    for i in range(20):
        state, metrics = _step(state, batch, jr.key(i), optimiser)
        losses.append(float(metrics["critic_loss"]))
        assert all(np.isfinite(float(v)) for v in metrics.values())
    assert losses[1] < losses[0]
    assert losses[-1] < losses[0] - 0.1


def test_combined_step_equals_separate_actor_then_critic_updates():
    # With SGD at learning rate 1 the parameter change is minus the gradient, which
    # must equal each loss's own gradient computed separately.
    actor, critic, batch = _setup(1)
    optimiser = optax.sgd(1.0)
    state = equicrl.init_crl_state(actor, critic, optimiser)
    key = jr.key(3)
    new_state, metrics = _step(state, batch, key, optimiser)

    def critic_loss(c):
        return equicrl.infonce_loss(c.logits(batch.state, batch.action, batch.goal))

    keys = jr.split(key, BATCH)

    def sampled(a):
        return jax.vmap(lambda s, g, k: a.sample(s, g, key=k))(
            batch.state, batch.goal, keys
        )

    def policy_loss(a):
        actions, log_prob = sampled(a)
        q = jax.vmap(critic)(batch.state, actions, batch.goal)
        return equicrl.actor_loss(log_prob, q, 1.0)

    def temperature_loss(log_alpha):
        _, log_prob = sampled(actor)
        return equicrl.alpha_loss(log_alpha, log_prob, -0.5 * ACTION_DIM)

    # Jitted like the step, so both see the same compiled elementwise functions.
    expected = [
        (
            critic,
            new_state.critic,
            eqx.filter_jit(eqx.filter_grad(critic_loss))(critic),
        ),
        (actor, new_state.actor, eqx.filter_jit(eqx.filter_grad(policy_loss))(actor)),
        (
            state.log_alpha,
            new_state.log_alpha,
            jax.jit(jax.grad(temperature_loss))(state.log_alpha),
        ),
    ]
    for old, new, grad in expected:
        old, new, grad = (
            jax.tree_util.tree_leaves(eqx.filter(x, eqx.is_array))
            for x in (old, new, grad)
        )
        for o, n, g in zip(old, new, grad, strict=True):
            np.testing.assert_allclose(o - n, g, rtol=2e-4, atol=2e-6)
    np.testing.assert_allclose(metrics["critic_loss"], critic_loss(critic), rtol=1e-5)


@pytest.mark.parametrize("energy", ["squared_l2", "cosine"])
def test_step_with_other_energies_and_kinds(energy):
    actor, critic, batch = _setup(energy=energy)
    optimiser = optax.adam(3e-4)
    state = equicrl.init_crl_state(actor, critic, optimiser)
    state, metrics = eqx.filter_jit(equicrl.crl_gradient_step)(
        state, batch, jr.key(0), optimiser=optimiser, infonce_kind="symmetric"
    )
    assert set(metrics) >= {
        "critic_loss",
        "actor_loss",
        "alpha_loss",
        "alpha",
        "entropy",
    }
    assert all(np.isfinite(float(v)) for v in metrics.values())


def test_step_bad_arguments():
    actor, critic, batch = _setup()
    optimiser = optax.adam(3e-4)
    state = equicrl.init_crl_state(actor, critic, optimiser)
    with pytest.raises((ValueError, TypeError), match="infonce_kind"):
        equicrl.crl_gradient_step(
            state, batch, jr.key(0), optimiser=optimiser, infonce_kind="x"
        )


def test_separate_optimisers_per_network():
    actor, critic, batch = _setup(2)
    # A zero learning rate for the critic leaves it unchanged; the actor still moves.
    optimisers = (optax.sgd(0.1), optax.sgd(0.0), optax.sgd(0.1))
    state = equicrl.init_crl_state(actor, critic, optimisers)
    new, _ = _step(state, batch, jr.key(0), optimisers)
    leaves = lambda m: jax.tree_util.tree_leaves(eqx.filter(m, eqx.is_array))  # noqa: E731
    for a, b in zip(leaves(state.critic), leaves(new.critic)):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.allclose(a, b) for a, b in zip(leaves(state.actor), leaves(new.actor))
    )
    with pytest.raises((ValueError, TypeError), match="optimiser"):
        equicrl.init_crl_state(actor, critic, (optax.sgd(0.1), optax.sgd(0.1)))
