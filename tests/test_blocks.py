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
