"""bfloat16 matrix products with float32 parameters, optimiser states and losses."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import equicrl


def _encoders(**kwargs):
    make = lambda dtype: equicrl.DeepEncoder(  # noqa: E731
        6, 4, width=32, depth=8, matmul_dtype=dtype, key=jr.key(0), **kwargs
    )
    return make("float32"), make("bfloat16")


def _loss(encoder, x):
    return jnp.mean(jnp.square(jax.vmap(encoder)(x)))


_value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(_loss))


@pytest.mark.parametrize("remat", [False, True])
def test_bf16_encoder_is_close_to_float32_with_float32_parameters(remat):
    f32, bf16 = _encoders(remat=remat)
    x = jr.normal(jr.key(1), (64, 6))
    # Same parameters, all float32.
    for a, b in zip(jax.tree.leaves(f32), jax.tree.leaves(bf16)):
        if eqx.is_array(a):
            assert b.dtype == jnp.float32
            np.testing.assert_array_equal(a, b)
    out32, out16 = jax.vmap(f32)(x), jax.vmap(bf16)(x)
    assert out16.dtype == jnp.float32
    # bfloat16 keeps 8 bits of mantissa: close, but not the same numbers.
    assert not np.array_equal(out32, out16)
    np.testing.assert_allclose(out16, out32, rtol=0.05, atol=0.05)
    (v32, g32), (v16, g16) = _value_and_grad(f32, x), _value_and_grad(bf16, x)
    np.testing.assert_allclose(v16, v32, rtol=0.02)
    for a, b in zip(jax.tree.leaves(g32), jax.tree.leaves(g16)):
        assert b.dtype == jnp.float32
        scale = float(jnp.max(jnp.abs(a))) + 1e-6
        np.testing.assert_allclose(b / scale, a / scale, atol=0.05)


def test_bf16_products_are_really_bfloat16():
    _, bf16 = _encoders()
    jaxpr = str(jax.make_jaxpr(bf16)(jnp.ones(6)))
    assert "dot_general" in jaxpr and "bf16" in jaxpr
    f32, _ = _encoders()
    assert "bf16" not in str(jax.make_jaxpr(f32)(jnp.ones(6)))


def _crl(dtype):
    akey, ckey = jr.split(jr.key(0))
    actor = equicrl.GoalConditionedActor(
        5, 2, 2, width=32, depth=4, matmul_dtype=dtype, key=akey
    )
    critic = equicrl.ContrastiveCritic(
        5, 2, 2, repr_dim=8, width=32, depth=4, matmul_dtype=dtype, key=ckey
    )
    return equicrl.init_crl_state(actor, critic, optax.adam(3e-4))


@eqx.filter_jit
def _step(state, batch, key):
    return equicrl.crl_gradient_step(state, batch, key, optimiser=optax.adam(3e-4))


@pytest.mark.slow
def test_bf16_gradient_step_matches_float32_losses_and_keeps_float32_state():
    k1, k2 = jr.split(jr.key(2))
    state = jr.normal(k1, (32, 5))
    batch = equicrl.Transitions(
        state=state,
        action=jnp.tanh(jr.normal(k2, (32, 2))),
        goal=state[:, :2],
    )
    new32, m32 = _step(_crl("float32"), batch, jr.key(3))
    new16, m16 = _step(_crl("bfloat16"), batch, jr.key(3))
    for name in ("critic_loss", "actor_loss", "alpha_loss"):
        assert m16[name].dtype == jnp.float32
        np.testing.assert_allclose(m16[name], m32[name], rtol=0.02, atol=0.02)
    for leaf in jax.tree.leaves(eqx.filter(new16, eqx.is_inexact_array)):
        assert leaf.dtype == jnp.float32
    # One Adam step moves each parameter by about the learning rate either way.
    for a, b in zip(
        jax.tree.leaves(eqx.filter(new32.critic, eqx.is_array)),
        jax.tree.leaves(eqx.filter(new16.critic, eqx.is_array)),
    ):
        np.testing.assert_allclose(b, a, atol=1e-3)


def test_unknown_matmul_dtype_is_named():
    with pytest.raises(ValueError, match="matmul_dtype"):
        equicrl.DeepEncoder(2, 2, width=4, matmul_dtype="float16", key=jr.key(0))
