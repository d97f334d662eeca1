import equinox as eqx
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import float_arrays
from hypothesis import given

import equicrl


def _np_logsumexp(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _np_infonce(logits, kind, penalty):
    """InfoNCE written out by hand: a softmax classification of the positive pair."""
    logits = np.asarray(logits, np.float64)
    batch = logits.shape[0]

    def one_way(mat):
        losses, lses = [], []
        for i in range(batch):
            lse = np.log(np.sum(np.exp(mat[i] - mat[i].max()))) + mat[i].max()
            losses.append(-(mat[i, i] - lse))
            lses.append(lse)
        return np.mean(losses) + penalty * np.mean(np.square(lses))

    if kind == "forward":
        return one_way(logits)
    if kind == "backward":
        return one_way(logits.T)
    return 0.5 * (one_way(logits) + one_way(logits.T))


_infonce = eqx.filter_jit(equicrl.infonce_loss)

SIZES = st.sampled_from((1, 3, 8))


@pytest.mark.parametrize("kind", equicrl.INFONCE_KINDS)
@pytest.mark.parametrize("penalty", [0.0, 0.1])
@given(data=st.data(), batch=SIZES)
def test_infonce_matches_numpy(kind, penalty, data, batch):
    logits = data.draw(float_arrays((batch, batch), low=-20, high=20))
    np.testing.assert_allclose(
        _infonce(logits, kind=kind, logsumexp_penalty=penalty),
        _np_infonce(logits, kind, penalty),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("kind", equicrl.INFONCE_KINDS)
@given(value=st.floats(-50, 50, width=32, allow_subnormal=False), batch=SIZES)
def test_infonce_of_equal_logits_is_log_batch(kind, value, batch):
    logits = np.full((batch, batch), value, np.float32)
    np.testing.assert_allclose(
        _infonce(logits, kind=kind, logsumexp_penalty=0.0),
        np.log(batch),
        rtol=1e-5,
        atol=1e-5,
    )
    # With the penalty: log(batch) + c * (value + log(batch))^2.
    np.testing.assert_allclose(
        _infonce(logits, kind=kind, logsumexp_penalty=0.1),
        np.log(batch) + 0.1 * (value + np.log(batch)) ** 2,
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("kind", equicrl.INFONCE_KINDS)
@given(data=st.data())
def test_infonce_invariant_to_permuting_the_batch(kind, data):
    logits = data.draw(float_arrays((8, 8), low=-10, high=10))
    perm = np.asarray(data.draw(st.permutations(range(8))))
    # Reordering the pairs reorders rows and columns together.
    permuted = logits[perm][:, perm]
    np.testing.assert_allclose(
        _infonce(permuted, kind=kind), _infonce(logits, kind=kind), rtol=1e-5, atol=1e-5
    )


def test_infonce_decreases_when_the_positive_pair_scores_higher():
    logits = np.zeros((4, 4), np.float32)
    better = logits + 3 * np.eye(4, dtype=np.float32)
    for kind in equicrl.INFONCE_KINDS:
        assert _infonce(better, kind=kind) < _infonce(logits, kind=kind)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(kind="sideways"), "kind"),
        (dict(logsumexp_penalty=-1.0), "logsumexp_penalty"),
        (dict(logsumexp_penalty=float("nan")), "logsumexp_penalty"),
    ],
)
def test_infonce_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        equicrl.infonce_loss(jnp.zeros((3, 3)), **kwargs)


@pytest.mark.parametrize("shape", [(3, 4), (3,), (0, 0), (2, 2, 2)])
def test_infonce_needs_a_square_matrix(shape):
    with pytest.raises((ValueError, TypeError), match="logits"):
        equicrl.infonce_loss(jnp.zeros(shape))


@given(
    log_prob=float_arrays((6,)),
    energy=float_arrays((6,)),
    alpha=st.floats(0.0625, 5.0, width=32),
)
def test_actor_loss_matches_numpy_and_stops_alpha_gradient(log_prob, energy, alpha):
    log_prob, energy = jnp.asarray(log_prob), jnp.asarray(energy)
    loss = equicrl.actor_loss(log_prob, energy, jnp.asarray(alpha))
    np.testing.assert_allclose(
        loss,
        np.mean(alpha * np.float64(log_prob) - np.float64(energy)),
        rtol=1e-5,
        atol=1e-5,
    )
    g_alpha = jax.grad(lambda a: equicrl.actor_loss(log_prob, energy, a))(
        jnp.asarray(alpha)
    )
    assert g_alpha == 0
    g_energy = jax.grad(lambda e: equicrl.actor_loss(log_prob, e, jnp.asarray(alpha)))(
        energy
    )
    np.testing.assert_allclose(g_energy, -np.ones(6) / 6, rtol=1e-6)


@given(
    log_prob=float_arrays((6,)),
    log_alpha=st.floats(-3, 3, width=32),
    target=st.sampled_from((-0.5, -8.5)),
)
def test_alpha_loss_matches_numpy(log_prob, log_alpha, target):
    log_alpha, log_prob = jnp.asarray(log_alpha), jnp.asarray(log_prob)
    loss, g = jax.value_and_grad(equicrl.alpha_loss)(log_alpha, log_prob, target)
    gap = np.mean(-np.asarray(log_prob, np.float64) - target)
    np.testing.assert_allclose(
        loss, np.exp(float(log_alpha)) * gap, rtol=1e-5, atol=1e-5
    )
    # d/dlog_alpha (alpha * gap) = alpha * gap: alpha grows while entropy < target.
    np.testing.assert_allclose(g, np.exp(float(log_alpha)) * gap, rtol=1e-5, atol=1e-5)
    g_logp = jax.grad(lambda lp: equicrl.alpha_loss(log_alpha, lp, target))(log_prob)
    np.testing.assert_array_equal(g_logp, 0)


def test_actor_and_alpha_loss_bad_inputs():
    with pytest.raises((ValueError, TypeError), match="energy"):
        equicrl.actor_loss(jnp.zeros(3), jnp.zeros(4), 1.0)
    with pytest.raises((ValueError, TypeError), match="log_prob"):
        equicrl.actor_loss(jnp.zeros((3, 1)), jnp.zeros(3), 1.0)
    with pytest.raises((ValueError, TypeError), match="log_alpha"):
        equicrl.alpha_loss(jnp.zeros(2), jnp.zeros(3), -1.0)
