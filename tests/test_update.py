import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from helpers import tiny_config

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


# One object, so that the tests using it share `_step`'s compilation.
ADAM = optax.adam(1e-3)


def test_gradient_steps_decrease_the_critic_loss_on_a_fixed_batch():
    actor, critic, batch = _setup()
    optimiser = ADAM
    state = equicrl.init_crl_state(actor, critic, optimiser)
    losses = []
    for i in range(20):
        state, metrics = _step(state, batch, jr.key(i), optimiser)
        losses.append(float(metrics["critic_loss"]))
        assert all(np.isfinite(float(v)) for v in metrics.values())
    assert losses[1] < losses[0]
    assert losses[-1] < losses[0] - 0.1


@pytest.mark.slow
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


def _poisoned(batch, field, row, value):
    poisoned = getattr(batch, field).at[row, 0].set(value)
    return eqx.tree_at(lambda b: getattr(b, field), batch, poisoned)


def test_a_non_finite_goal_or_state_gives_a_non_finite_critic_loss():
    # With one bad row the critic loss used to be log(BATCH) + 0.1 log(BATCH)^2,
    # finite, while the critic's parameters turned NaN.
    actor, critic, batch = _setup()
    optimiser = ADAM
    state = equicrl.init_crl_state(actor, critic, optimiser)
    for field, value in [("goal", np.inf), ("state", np.nan)]:
        poisoned = _poisoned(batch, field, 3, value)
        new_state, metrics = _step(state, poisoned, jr.key(0), optimiser)
        assert not np.isfinite(metrics["critic_loss"])
        critic_leaves = jax.tree_util.tree_leaves(
            eqx.filter(new_state.critic, eqx.is_array)
        )
        assert not all(np.all(np.isfinite(x)) for x in critic_leaves)


def test_divergence_report_names_the_critic_of_a_poisoned_batch():
    from equicrl.runs._run import check_finite
    from equicrl.training._learn import finite_checks, first_nonfinite

    actor, critic, batch = _setup()
    optimiser = ADAM
    state = equicrl.init_crl_state(actor, critic, optimiser)
    # A good step, one with a goal at infinity, then a good one again. At the second
    # the actor's loss is not finite either: its policy sees the goal too.
    checks, losses = [], []
    for i, b in enumerate([batch, _poisoned(batch, "goal", 3, np.inf), batch]):
        state, metrics = _step(state, b, jr.key(i), optimiser)
        checks.append(finite_checks(b, state, metrics))
        losses.append(metrics["critic_loss"])
    assert not checks[1]["actor_loss"]
    first = first_nonfinite(jax.tree.map(lambda *x: jnp.stack(x), *checks))
    config = tiny_config(1)
    record = dict(env_steps=160, critic_loss=float(np.mean(losses)))
    with pytest.raises(FloatingPointError) as error:
        check_finite(first, record, 1, config, None)
    message = str(error.value)
    assert message.startswith("`critic_loss` is not finite (nan) at gradient step 2 of")
    assert "started in the critic, whose batch holds non-finite goals" in message
    # A critic loss that stays finite while the critic's update is not (as the
    # one-bad-goal batch used to give) still names the critic, not the actor.
    first = {k: np.int32(-1) for k in first}
    first.update(batch_goal=1, critic_params=1, actor_loss=1, actor_params=1)
    with pytest.raises(FloatingPointError, match="parameters are not finite") as error:
        check_finite(first, {**record, "actor_loss": float("nan")}, 1, config, None)
    assert "started in the critic" in str(error.value)
