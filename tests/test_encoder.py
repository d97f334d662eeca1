import equinox as eqx
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import seeds
from hypothesis import given

import equicrl


# A few shapes only: every new shape is a new compilation.
IN_DIM, OUT_DIM, BATCH = 5, 3, 4


@eqx.filter_jit
def _forward(encoder, x):
    return jax.vmap(encoder)(x)


@eqx.filter_jit
def _value_and_grad(encoder, x):
    def loss(encoder):
        return jnp.sum(jnp.sin(jax.vmap(encoder)(x)))

    return eqx.filter_value_and_grad(loss)(encoder)


def _encoder(seed, **kwargs):
    return equicrl.DeepEncoder(IN_DIM, OUT_DIM, key=jr.key(seed), **kwargs)


def _x(seed):
    return jr.normal(jr.key(seed + 1), (BATCH, IN_DIM))


@given(
    seed=seeds,
    width=st.sampled_from((8, 16)),
    depth=st.sampled_from((4, 8, 12)),
)
@pytest.mark.slow
def test_scanned_equals_unrolled(seed, width, depth):
    scanned = _encoder(seed, width=width, depth=depth, scan=True)
    unrolled = _encoder(seed, width=width, depth=depth, scan=False)
    # The same key gives the same parameters whichever way the blocks run.
    for a, b in zip(
        jax.tree_util.tree_leaves(scanned), jax.tree_util.tree_leaves(unrolled)
    ):
        if eqx.is_array(a):
            np.testing.assert_array_equal(a, b)
    x = _x(seed)
    np.testing.assert_allclose(
        _forward(scanned, x), _forward(unrolled, x), rtol=1e-5, atol=1e-5
    )

    # And the unrolled network is what it says: the blocks applied one by one.
    h = jax.vmap(lambda v: jax.nn.swish(scanned.input_norm(scanned.input_linear(v))))(x)
    for i in range(scanned.num_blocks):
        h = jax.vmap(scanned.block(i))(h)
    by_hand = jax.vmap(scanned.output_linear)(h)
    np.testing.assert_allclose(_forward(unrolled, x), by_hand, rtol=1e-5, atol=1e-5)


@given(seed=seeds, depth=st.sampled_from((4, 12)))
def test_remat_gives_same_outputs_and_gradients(seed, depth):
    plain = _encoder(seed, width=8, depth=depth)
    remat = _encoder(seed, width=8, depth=depth, remat=True)
    x = _x(seed)
    value, grads = _value_and_grad(plain, x)
    value_r, grads_r = _value_and_grad(remat, x)
    np.testing.assert_allclose(value, value_r, rtol=1e-6, atol=1e-6)
    # The fused LayerNorm-swish gradient, recomputed under remat, rounds differently
    # from the saved forward (XLA fuses the two differently): gradients then differ
    # by float32 rounding carried through the blocks, measured at up to 1.5e-6 of
    # each parameter's largest gradient over 80 seeds (9e-5 elementwise on a small
    # element). So the check is against each leaf's scale.
    for g, g_r in zip(
        jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(grads_r)
    ):
        scale = float(np.max(np.abs(g))) + 1e-12
        np.testing.assert_allclose(g_r / scale, g / scale, atol=1e-5)


@pytest.mark.parametrize("depth,segments", [(24, 2), (36, 3), (28, 1)])
def test_nested_remat_gives_same_outputs_and_gradients(depth, segments):
    # 6 blocks -> 2 segments of 3; 9 -> 3 of 3; 7 (prime) -> 1 segment of 7.
    plain = _encoder(0, width=8, depth=depth)
    nested = _encoder(0, width=8, depth=depth, remat="nested")
    assert nested.remat_segments == segments
    x = _x(0)
    (v, g), (v_n, g_n) = _value_and_grad(plain, x), _value_and_grad(nested, x)
    np.testing.assert_allclose(v, v_n, rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_n)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nested_remat_keeps_fewer_activations():
    # XLA's temporary buffers of the backward pass at 64 blocks: per-block remat
    # keeps 64 block inputs, nested about 8 + 8 (XLA's buffers for the loops come on
    # top: measured here, 570 KB against 676 KB).
    x = jnp.ones((64, IN_DIM))

    def temp_bytes(remat):
        enc = _encoder(0, width=32, depth=256, remat=remat)
        compiled = _value_and_grad.lower(enc, x).compile().compiled
        return compiled.memory_analysis().temp_size_in_bytes

    block, nested = temp_bytes(True), temp_bytes("nested")
    assert nested < 0.9 * block


def test_remat_unrolled_matches_too():
    plain = _encoder(0, width=8, depth=8)
    remat = _encoder(0, width=8, depth=8, remat=True, scan=False)
    x = _x(0)
    (v, g), (v_r, g_r) = _value_and_grad(plain, x), _value_and_grad(remat, x)
    np.testing.assert_allclose(v, v_r, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_r)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("depth,layers_per_block", [(4, 4), (8, 4), (6, 2), (3, 1)])
def test_structure_and_parameter_count(depth, layers_per_block):
    width = 8
    enc = _encoder(0, width=width, depth=depth, layers_per_block=layers_per_block)
    assert enc.num_blocks == depth // layers_per_block
    leaves = jax.tree_util.tree_leaves(eqx.filter(enc, eqx.is_array))
    n_params = sum(x.size for x in leaves)
    dense = lambda i, o: i * o + o  # noqa: E731
    expected = (
        dense(IN_DIM, width)
        + 2 * width
        + depth * (dense(width, width) + 2 * width)
        + dense(width, OUT_DIM)
    )
    assert n_params == expected
    assert enc.blocks.linears[0].weight.shape == (enc.num_blocks, width, width)
    # The output layer is plain: zero bias, no norm after it.
    np.testing.assert_array_equal(enc.output_linear.bias, 0)


def test_no_layer_norm_ablation_removes_every_norm():
    enc = _encoder(0, width=8, depth=8, use_layer_norm=False)
    assert enc.input_norm is None and enc.blocks.norms is None
    assert _forward(enc, _x(0)).shape == (BATCH, OUT_DIM)


def test_scan_does_not_retrace():
    enc = _encoder(0, width=8, depth=8)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def f(enc, x):
        return jax.vmap(enc)(x)

    for seed in range(3):
        f(enc, _x(seed))
    # New parameter values with the same structure do not retrace either.
    f(_encoder(1, width=8, depth=8), _x(0))


def test_depth_not_a_multiple_names_both_numbers():
    with pytest.raises(ValueError, match=r"`depth` \(10\).*`layers_per_block` \(4\)"):
        _encoder(0, width=8, depth=10)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(depth=0), ValueError, r"\bdepth\b"),
        (dict(depth=-4), ValueError, r"\bdepth\b"),
        (dict(width=0), ValueError, r"\bwidth\b"),
        (dict(width=-1), ValueError, r"\bwidth\b"),
        (dict(layers_per_block=0), ValueError, r"\blayers_per_block\b"),
        (dict(depth=4.0), TypeError, r"\bdepth\b"),
        (dict(activation=None), TypeError, r"\bactivation\b"),
        (dict(remat="sometimes"), (ValueError, TypeError), r"\bremat\b"),
        (dict(remat="nested", scan=False), ValueError, r"scan=True"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _encoder(0, **kwargs)


@pytest.mark.parametrize("in_dim,out_dim,name", [(0, 3, "in_dim"), (5, -1, "out_dim")])
def test_bad_sizes(in_dim, out_dim, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        equicrl.DeepEncoder(in_dim, out_dim, width=8, key=jr.key(0))


def test_bad_inputs():
    enc = _encoder(0, width=8, depth=4)
    with pytest.raises((ValueError, TypeError), match="x"):
        enc(jnp.ones(IN_DIM + 1))
    with pytest.raises(TypeError, match=r"\bx\b"):
        enc(jnp.ones(IN_DIM, dtype=jnp.int32))
    # A batch passed without vmap gets told to vmap.
    with pytest.raises((ValueError, TypeError), match="vmap|x"):
        enc(jnp.ones((BATCH, IN_DIM)))


def test_block_index_errors():
    enc = _encoder(0, width=8, depth=8)
    with pytest.raises(IndexError):
        enc.block(2)
