import equinox as eqx
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import float_arrays, seeds
from hypothesis import given

import equicrl


WIDTHS = (4, 8)


@eqx.filter_jit
def _apply(block, x):
    return jax.vmap(block)(x)


def _np_layer_norm(h, scale, bias, eps=1e-6):
    mean = h.mean(-1, keepdims=True)
    var = ((h - mean) ** 2).mean(-1, keepdims=True)
    return (h - mean) / np.sqrt(var + eps) * scale + bias


def _np_block(block, x, activation):
    """The block's definition, written out in NumPy (float64)."""
    h = x.astype(np.float64)
    for i, linear in enumerate(block.linears):
        h = h @ np.asarray(linear.weight, np.float64).T + np.asarray(linear.bias)
        if block.norms is not None:
            norm = block.norms[i]
            h = _np_layer_norm(h, np.asarray(norm.weight), np.asarray(norm.bias))
        h = activation(h)
    return x + h if block.use_skip else h


def _np_swish(h):
    return h / (1 + np.exp(-h))


def _np_relu(h):
    return np.maximum(h, 0)


@pytest.mark.parametrize(
    "use_layer_norm,use_skip,activation,np_activation",
    [
        (True, True, jax.nn.swish, _np_swish),
        (False, True, jax.nn.swish, _np_swish),
        (True, False, jax.nn.swish, _np_swish),
        (True, True, jax.nn.relu, _np_relu),
    ],
    ids=["paper", "no_layer_norm", "no_skip", "relu"],
)
@given(seed=seeds, width=st.sampled_from(WIDTHS))
def test_block_matches_numpy_definition(
    use_layer_norm, use_skip, activation, np_activation, seed, width
):
    # Every switch changes the computation exactly as the definition says.
    key, xkey, nkey = jr.split(jr.key(seed), 3)
    block = equicrl.ResidualBlock(
        width,
        use_layer_norm=use_layer_norm,
        use_skip=use_skip,
        activation=activation,
        key=key,
    )
    if use_layer_norm:
        # Non-trivial LayerNorm parameters so a wrong scale/bias use would show.
        scales = jr.normal(nkey, (4, 2, width))
        block = eqx.tree_at(
            lambda b: [n.weight for n in b.norms] + [n.bias for n in b.norms],
            block,
            [1 + 0.1 * s for s in scales[:, 0]] + [0.1 * s for s in scales[:, 1]],
        )
    x = np.asarray(jr.normal(xkey, (3, width)))
    expected = _np_block(block, x, np_activation)
    np.testing.assert_allclose(_apply(block, x), expected, rtol=1e-4, atol=1e-5)


@given(x=float_arrays((2, 8)), seed=seeds)
def test_block_with_zeroed_last_linear_is_identity(x, seed):
    block = equicrl.ResidualBlock(8, key=jr.key(seed))
    last = block.linears[-1]
    block = eqx.tree_at(
        lambda b: (b.linears[-1].weight, b.linears[-1].bias),
        block,
        (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
    )
    np.testing.assert_allclose(_apply(block, x), x, rtol=0, atol=1e-6)


def test_initialisation_follows_the_paper():
    width = 64
    block = equicrl.ResidualBlock(width, key=jr.key(0))
    weights = np.stack([np.asarray(lin.weight) for lin in block.linears])
    bound = 1 / np.sqrt(width)
    assert np.all(np.abs(weights) <= bound)
    # Uniform on [-b, b]: variance b^2 / 3 (variance scaling 1/3, fan-in, uniform).
    np.testing.assert_allclose(weights.var(), bound**2 / 3, rtol=0.05)
    for linear in block.linears:
        np.testing.assert_array_equal(linear.bias, 0)
    for norm in block.norms:
        assert norm.eps == 1e-6
        np.testing.assert_array_equal(norm.weight, 1)
        np.testing.assert_array_equal(norm.bias, 0)
    # Layers get independent initialisations.
    assert not np.allclose(weights[0], weights[1])


def test_layers_per_block():
    block = equicrl.ResidualBlock(8, layers_per_block=2, key=jr.key(0))
    assert len(block.linears) == 2 and len(block.norms) == 2
    assert not equicrl.ResidualBlock(
        8, use_layer_norm=False, key=jr.key(0)
    ).use_layer_norm


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(width=0), ValueError, r"\bwidth\b"),
        (dict(width=-3), ValueError, r"\bwidth\b"),
        (dict(width=2.5), TypeError, r"\bwidth\b"),
        (dict(width=True), TypeError, r"\bwidth\b"),
        (dict(width=8, layers_per_block=0), ValueError, r"\blayers_per_block\b"),
        (dict(width=8, activation="swish"), TypeError, r"\bactivation\b"),
    ],
)
def test_block_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        equicrl.ResidualBlock(**kwargs, key=jr.key(0))


def test_block_bad_input():
    block = equicrl.ResidualBlock(8, key=jr.key(0))
    with pytest.raises((ValueError, TypeError), match="x"):
        block(jnp.ones(7))
    with pytest.raises(TypeError, match=r"\bx\b"):
        block(jnp.ones(8, dtype=jnp.int32))


def _autodiff_norm_swish(y, scale, bias):
    # LayerNorm then swish as Equinox and JAX define them, differentiated by JAX.
    norm = eqx.nn.LayerNorm(y.shape[-1], eps=1e-6)
    norm = eqx.tree_at(lambda n: (n.weight, n.bias), norm, (scale, bias))
    return jax.nn.swish(norm(y))


def _fused_norm_swish(y, scale, bias):
    from equicrl.nn._blocks import _layer_norm_swish

    return _layer_norm_swish(y, scale, bias, 1e-6)


@eqx.filter_jit
def _value_and_grads(fn, y, scale, bias, weights):
    def loss(y, scale, bias):
        return jnp.sum(weights * jax.vmap(fn, in_axes=(0, None, None))(y, scale, bias))

    return jax.value_and_grad(loss, argnums=(0, 1, 2))(y, scale, bias)


@given(
    y=float_arrays((5, 8), low=-4.0, high=4.0),
    params=float_arrays((3, 8), low=-2.0, high=2.0),
)
def test_fused_layer_norm_swish_matches_autodiff(y, params):
    # Rows of nearly equal entries make LayerNorm's gradient ill-conditioned (it
    # divides by their spread), where two float32 orders of the same sums differ by
    # more than the tolerance: hypothesis found a row with spread 0.005.
    hypothesis.assume(float(np.std(y, axis=-1).min()) > 0.05)
    # The batch gradient of the shared scale and bias sums over examples (vmap).
    scale, bias, weights = params
    expected = _value_and_grads(_autodiff_norm_swish, y, scale, bias, weights)
    got = _value_and_grads(_fused_norm_swish, y, scale, bias, weights)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
    for g, e in zip(got[1], expected[1]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def test_other_activations_and_no_norm_take_the_plain_path():
    from equicrl.nn._blocks import norm_and_activate

    norm = eqx.nn.LayerNorm(4, eps=1e-6)
    y = jnp.arange(4.0)
    np.testing.assert_allclose(
        norm_and_activate(norm, jax.nn.relu, y), jax.nn.relu(norm(y))
    )
    np.testing.assert_allclose(norm_and_activate(None, jnp.tanh, y), jnp.tanh(y))
    # The fused path computes the same forward value.
    np.testing.assert_allclose(
        norm_and_activate(norm, jax.nn.swish, y),
        jax.nn.swish(norm(y)),
        rtol=1e-6,
        atol=1e-6,
    )
