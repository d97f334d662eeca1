"""The deployable policy's two modes: the mean action, and a sample whose actions
follow the actor's tanh-Gaussian (checked in float64 against the actor's own mean and
standard deviation); what a policy file keeps of its mode."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import equicrl


STATE_DIM, GOAL_DIM, ACTION_DIM = 4, 2, 3


@pytest.fixture(scope="module")
def actor():
    return equicrl.GoalConditionedActor(
        STATE_DIM, GOAL_DIM, ACTION_DIM, width=8, key=jr.key(0)
    )


def _example(n=None):
    s = jr.normal(jr.key(1), (STATE_DIM,))
    g = jr.normal(jr.key(2), (GOAL_DIM,))
    if n is None:
        return s, g
    return jnp.broadcast_to(s, (n, STATE_DIM)), jnp.broadcast_to(g, (n, GOAL_DIM))


def test_a_sampling_policy_draws_from_the_actors_tanh_gaussian(actor):
    # 20,000 copies of one example in a batch: atanh of the actions is Gaussian with
    # the actor's mean and exp(log_std), independently in every row.
    n = 20_000
    s, g = _example(n)
    actions = np.asarray(equicrl.Policy(actor, mode=1)(s, g, jr.key(3)), np.float64)
    assert np.all(np.abs(actions) < 1)
    pre = np.arctanh(actions)
    mean, log_std = (np.asarray(x, np.float64) for x in actor(s[0], g[0]))
    std = np.exp(log_std)
    np.testing.assert_array_less(np.abs(pre.mean(0) - mean), 5 * std / np.sqrt(n))
    np.testing.assert_allclose(pre.std(0), std, rtol=0.03)
    # Independent across the action's entries and the batch's rows.
    corr = np.corrcoef(pre.T)
    np.testing.assert_array_less(np.abs(corr - np.eye(ACTION_DIM)), 0.04)
    lag = np.corrcoef(pre[:-1, 0], pre[1:, 0])[0, 1]
    assert abs(lag) < 0.04


def test_a_sampling_policy_acts_as_the_evaluation_does(actor):
    # One example: the action `equicrl.act(mode=1)` takes with the same key, which is
    # what a run's evaluation with eval_actor=1 plays.
    s, g = _example()
    policy, key = equicrl.Policy(actor, mode=1), jr.key(4)
    np.testing.assert_allclose(
        policy(s, g, key), equicrl.act(actor, s, g, mode=1, key=key), atol=1e-6
    )
    np.testing.assert_array_equal(policy(s, g, key), policy(s, g, key))
    assert not np.allclose(policy(s, g, key), policy(s, g, jr.key(5)))
    # A batch with leading axes (2, 3): each example its own noise.
    sb, gb = _example(6)
    out = np.asarray(policy(sb.reshape(2, 3, -1), gb.reshape(2, 3, -1), key))
    assert out.shape == (2, 3, ACTION_DIM)
    assert len({tuple(row) for row in out.reshape(6, -1)}) == 6
    with pytest.raises(ValueError, match="pass a `key`"):
        policy(s, g)


def test_a_mean_action_policy_ignores_a_key(actor):
    s, g = _example()
    policy = equicrl.Policy(actor)
    assert policy.mode == 0
    np.testing.assert_array_equal(policy(s, g, jr.key(0)), policy(s, g))
    np.testing.assert_allclose(
        policy(s, g), actor.deterministic_action(s, g), atol=1e-6
    )


@pytest.mark.parametrize("mode", [2, -1, True, 1.0])
def test_a_policy_refuses_other_modes(actor, mode):
    # A float is refused by the signature's type check (a TypeError) where it runs.
    with pytest.raises((ValueError, TypeError), match="mode|int"):
        equicrl.Policy(actor, mode=mode)


def test_a_policy_file_keeps_its_mode(actor, tmp_path):
    from equicrl._checkpoint import save_checkpoint
    from equicrl.nn._policy import _architecture, _KIND

    s, g = _example()
    saved = equicrl.Policy(actor, {"run": "r"}, mode=1)
    loaded = equicrl.load_policy(saved.save(tmp_path / "p.eqx"))
    assert (loaded.mode, loaded.info) == (1, {"run": "r"})
    np.testing.assert_array_equal(loaded(s, g, jr.key(1)), saved(s, g, jr.key(1)))
    # A file written before policies could sample (no mode in its header) holds a
    # mean-action policy.
    old = tmp_path / "old.eqx"
    save_checkpoint(old, actor, {"kind": _KIND, **_architecture(actor), "info": {}})
    assert equicrl.load_policy(old).mode == 0
