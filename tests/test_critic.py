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


STATE_DIM, ACTION_DIM, GOAL_DIM, REPR_DIM, BATCH = 4, 2, 3, 6, 5


def _np_energy(phi, psi, kind):
    phi, psi = np.asarray(phi, np.float64), np.asarray(psi, np.float64)
    if kind == "l2":
        return -np.linalg.norm(phi - psi, axis=-1)
    if kind == "squared_l2":
        return -np.sum((phi - psi) ** 2, axis=-1)
    if kind == "dot":
        return np.sum(phi * psi, axis=-1)
    return np.sum(phi * psi, axis=-1) / (
        np.linalg.norm(phi, axis=-1) * np.linalg.norm(psi, axis=-1)
    )


@eqx.filter_jit
def _energy_matrix(phi, psi, kind):
    return equicrl.energy_matrix(phi, psi, kind=kind)


@eqx.filter_jit
def _pairwise_by_definition(phi, psi, kind):
    one = lambda p, q: equicrl.energy(p, q, kind=kind)  # noqa: E731
    return jax.vmap(lambda p: jax.vmap(lambda q: one(p, q))(psi))(phi)


@pytest.mark.parametrize("kind", equicrl.ENERGIES)
@given(phi=float_arrays((BATCH, REPR_DIM)), psi=float_arrays((BATCH, REPR_DIM)))
def test_energy_matrix_matches_definition_and_numpy(kind, phi, psi):
    # Keep cosine away from zero-norm vectors, where it is defined only up to eps.
    if kind == "cosine":
        phi = phi + np.where(phi >= 0, 0.5, -0.5).astype(np.float32)
        psi = psi + np.where(psi >= 0, 0.5, -0.5).astype(np.float32)
    fast = _energy_matrix(phi, psi, kind)
    by_pair = _pairwise_by_definition(phi, psi, kind)
    expected = _np_energy(phi[:, None, :], psi[None, :, :], kind)
    np.testing.assert_allclose(by_pair, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fast, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", equicrl.ENERGIES)
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_non_finite_representation_gives_non_finite_logits_and_loss(kind, bad):
    # The L2 energies used to map a NaN distance to 0: one bad goal made every
    # logit exactly 0 and InfoNCE a finite log(batch) + c log(batch)^2.
    rng = np.random.default_rng(0)
    phi, psi = rng.normal(size=(2, BATCH, REPR_DIM)).astype(np.float32)
    bad_psi, bad_phi = psi.copy(), phi.copy()
    bad_psi[3, 1], bad_phi[2, 0] = bad, bad
    for phi, psi, pair in [(phi, bad_psi, (0, 3)), (bad_phi, psi, (2, 0))]:
        logits = _energy_matrix(phi, psi, kind)
        got = np.asarray(logits)
        with np.errstate(invalid="ignore", over="ignore"):
            expected = _np_energy(phi[:, None, :], psi[None, :, :], kind)
        finite = np.isfinite(expected)
        assert not finite.all()
        if kind in ("l2", "squared_l2"):
            # The centring and the split's scale are shared by the batch.
            assert np.isnan(got).all()
        else:
            np.testing.assert_array_equal(np.isfinite(got), finite)
            np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-4)
        for infonce_kind in equicrl.INFONCE_KINDS:
            assert not np.isfinite(equicrl.infonce_loss(logits, kind=infonce_kind))
        i, j = pair
        one = equicrl.energy(jnp.asarray(phi[i]), jnp.asarray(psi[j]), kind=kind)
        assert not np.isfinite(one)


# (batch, repr_dim); few, so the jitted functions compile few times.
NEAR_SIZES = st.sampled_from([(8, 64), (16, 64)])
NEAR_LAYOUTS = ("shared_offset", "diagonal", "off_diagonal")


def _directions(rng, n, repr_dim):
    v = rng.normal(size=(n, repr_dim))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _near_representations(layout, seed, batch, repr_dim, norm, gap):
    """float32 representations of norm up to about `norm` with pairs `gap` apart.

    - `"shared_offset"`: every row of phi and psi is one base vector of norm `norm`
        plus a perturbation of size up to `gap`.
    - `"diagonal"`: rows spread apart, `psi_i` within `gap` of `phi_i`, and the first
        quarter of the pairs coinciding.
    - `"off_diagonal"`: the same, with psi rolled by one row, so the near pairs are
        `(i, i + 1)`: hard negatives.
    """
    rng = np.random.default_rng(seed)
    if layout == "shared_offset":
        base = norm * _directions(rng, 1, repr_dim)
        phi, psi = (
            base
            + gap * rng.uniform(size=(batch, 1)) * _directions(rng, batch, repr_dim)
            for _ in range(2)
        )
    else:
        radii = norm * rng.uniform(0.5, 1, size=(batch, 1))
        phi = radii * _directions(rng, batch, repr_dim)
        psi = phi + gap * rng.uniform(size=(batch, 1)) * _directions(
            rng, batch, repr_dim
        )
        psi[: batch // 4] = phi[: batch // 4]
        if layout == "off_diagonal":
            psi = np.roll(psi, 1, axis=0)
    return phi.astype(np.float32), psi.astype(np.float32)


def _assert_l2_energies_close(energies, phi, psi, kind):
    # The promise: distances within 1e-4 of the exact ones. For "squared_l2" that is
    # the change a 1e-4 move of the distance d makes: 1e-4 (2 d + 1e-4).
    distance = -_np_energy(phi[:, None, :], psi[None, :, :], "l2")
    if kind == "l2":
        np.testing.assert_allclose(energies, -distance, rtol=0, atol=1e-4)
    else:
        error = np.abs(np.asarray(energies, np.float64) + distance**2)
        np.testing.assert_array_less(error, 1e-4 * (2 * distance + 1e-4))


@pytest.mark.parametrize("kind", ["l2", "squared_l2"])
@pytest.mark.parametrize("layout", NEAR_LAYOUTS)
@given(
    seed=seeds,
    size=NEAR_SIZES,
    norm=st.floats(1.0, 29.0),
    gap_exponent=st.integers(-6, 0),
)
def test_l2_energies_accurate_for_near_pairs_of_large_representations(
    kind, layout, seed, size, norm, gap_exponent
):
    phi, psi = _near_representations(layout, seed, *size, norm, 10.0**gap_exponent)
    _assert_l2_energies_close(_energy_matrix(phi, psi, kind), phi, psi, kind)


@jax.jit
def _one_product_l2(phi, psi):
    # The form energy_matrix once used, in full float32 (no TF32).
    dots = jnp.matmul(phi, psi.T, precision=jax.lax.Precision.HIGHEST)
    squared = jnp.sum(phi**2, axis=-1)[:, None] + jnp.sum(psi**2, axis=-1)[None, :]
    return -jnp.sqrt(jnp.maximum(squared - 2 * dots, 0.0))


def test_near_pair_check_catches_the_one_product_form():
    # So the property above can fail: |phi_i . psi_j| ~ 900 cancels down to ~1e-4.
    phi, psi = _near_representations("diagonal", 0, 8, 64, norm=30.0, gap=1e-2)
    naive = _one_product_l2(phi, psi)
    distance = -_np_energy(phi[:, None, :], psi[None, :, :], "l2")
    assert np.max(np.abs(naive - distance)) > 1e-3
    with pytest.raises(AssertionError):
        _assert_l2_energies_close(naive, phi, psi, "l2")
    _assert_l2_energies_close(_energy_matrix(phi, psi, "l2"), phi, psi, "l2")


def test_energy_matrix_computes_in_float32():
    # Mixed-precision encoders may hand over bfloat16 representations.
    phi, psi = _near_representations("diagonal", 1, 8, 64, norm=5.0, gap=1e-1)
    low = _energy_matrix(phi.astype(jnp.bfloat16), psi.astype(jnp.bfloat16), "l2")
    assert low.dtype == jnp.float32
    as_float32 = (np.asarray(a.astype(jnp.bfloat16), np.float32) for a in (phi, psi))
    np.testing.assert_array_equal(low, _energy_matrix(*as_float32, "l2"))


@eqx.filter_jit
def _weighted_energy_grads(phi, psi, weights, kind):
    return jax.grad(
        lambda p, q: jnp.sum(weights * equicrl.energy_matrix(p, q, kind=kind)),
        argnums=(0, 1),
    )(phi, psi)


def _np_weighted_energy_grads(phi, psi, weights, kind):
    phi, psi = np.asarray(phi, np.float64), np.asarray(psi, np.float64)
    difference = phi[:, None, :] - psi[None, :, :]
    if kind == "l2":
        distance = np.linalg.norm(difference, axis=-1)
        # Zero at coinciding vectors, as `energy` chooses.
        coefficient = -weights / np.where(distance > 0, distance, np.inf)
    else:
        coefficient = -2 * weights
    per_pair = coefficient[..., None] * difference
    return per_pair.sum(1), -per_pair.sum(0)


@pytest.mark.parametrize("kind", ["l2", "squared_l2"])
@given(seed=seeds, scale=st.sampled_from([1.0, 10.0]))
def test_l2_gradients_match_float64(kind, seed, scale):
    rng = np.random.default_rng(seed)
    batch, repr_dim = 8, 64
    phi = scale * rng.uniform(0.5, 1, (batch, 1)) * _directions(rng, batch, repr_dim)
    psi = scale * rng.uniform(0.5, 1, (batch, 1)) * _directions(rng, batch, repr_dim)
    # A near positive, a near negative and a coinciding pair.
    psi[1] = phi[1] + 0.1 * _directions(rng, 1, repr_dim)[0]
    psi[3] = phi[2] + 0.1 * _directions(rng, 1, repr_dim)[0]
    psi[0] = phi[0]
    phi, psi = phi.astype(np.float32), psi.astype(np.float32)
    weights = rng.normal(size=(batch, batch)).astype(np.float32)
    # At the coinciding pair any vector of norm <= |w_00| is a valid (sub)gradient, and
    # the matrix form's need not be `energy`'s zero: check it only for finiteness.
    for g in _weighted_energy_grads(phi, psi, weights, kind):
        assert np.all(np.isfinite(g))
    weights[0, 0] = 0.0
    got = _weighted_energy_grads(phi, psi, weights, kind)
    want = _np_weighted_energy_grads(phi, psi, weights, kind)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * np.max(np.abs(w)))


@eqx.filter_jit
def _grads_at(phi, psi, kind):
    single = jax.grad(lambda p, q: equicrl.energy(p, q, kind=kind), argnums=(0, 1))(
        phi[0], psi[0]
    )
    matrix = jax.grad(
        lambda p, q: jnp.sum(equicrl.energy_matrix(p, q, kind=kind)), argnums=(0, 1)
    )(phi, psi)
    loss = jax.grad(
        lambda p, q: equicrl.infonce_loss(equicrl.energy_matrix(p, q, kind=kind)),
        argnums=(0, 1),
    )(phi, psi)
    return single, matrix, loss


@pytest.mark.parametrize("kind", equicrl.ENERGIES)
@given(x=float_arrays((BATCH, REPR_DIM)))
def test_gradients_finite_at_coinciding_representations(kind, x):
    # phi_i == psi_j for every pair on the diagonal, and all-equal rows too.
    for phi, psi in [(x, x), (x[:1].repeat(BATCH, 0), x[:1].repeat(BATCH, 0))]:
        for g in jax.tree_util.tree_leaves(_grads_at(phi, psi, kind)):
            assert np.all(np.isfinite(g))


def test_l2_gradient_at_zero_distance_is_zero():
    x = jnp.array([1.0, -2.0, 0.5])
    g = jax.grad(lambda p: equicrl.energy(p, x, kind="l2"))(x)
    np.testing.assert_array_equal(g, 0)
    # Away from zero it is the unit vector towards psi.
    y = x + jnp.array([3.0, 0.0, 4.0])
    np.testing.assert_allclose(
        jax.grad(lambda p: equicrl.energy(p, y, kind="l2"))(x),
        [0.6, 0.0, 0.8],
        rtol=1e-6,
    )


def _critic(seed, **kwargs):
    return equicrl.ContrastiveCritic(
        STATE_DIM,
        ACTION_DIM,
        GOAL_DIM,
        repr_dim=REPR_DIM,
        width=8,
        key=jr.key(seed),
        **kwargs,
    )


@eqx.filter_jit
def _critic_outputs(critic, s, a, g):
    logits = critic.logits(s, a, g)
    pair = jax.vmap(lambda si, ai: jax.vmap(lambda gj: critic(si, ai, gj))(g))(s, a)
    return logits, pair


@pytest.mark.parametrize("kind", equicrl.ENERGIES)
@given(seed=seeds)
def test_logits_equal_per_pair_energy(kind, seed):
    critic = _critic(seed, energy=kind)
    ks, ka, kg = jr.split(jr.key(seed + 1), 3)
    s = jr.normal(ks, (BATCH, STATE_DIM))
    a = jr.uniform(ka, (BATCH, ACTION_DIM), minval=-1, maxval=1)
    g = jr.normal(kg, (BATCH, GOAL_DIM))
    logits, pair = _critic_outputs(critic, s, a, g)
    assert logits.shape == (BATCH, BATCH)
    np.testing.assert_allclose(logits, pair, rtol=1e-4, atol=1e-4)


def test_encoders_see_the_right_inputs():
    critic = _critic(0)
    assert critic.sa_encoder.in_dim == STATE_DIM + ACTION_DIM
    assert critic.goal_encoder.in_dim == GOAL_DIM
    assert critic.sa_encoder.out_dim == critic.goal_encoder.out_dim == REPR_DIM
    # Separate parameters, same structure.
    assert not np.allclose(
        critic.sa_encoder.blocks.linears[0].weight,
        critic.goal_encoder.blocks.linears[0].weight,
    )
    s, a, g = jnp.ones(STATE_DIM), jnp.zeros(ACTION_DIM), jnp.ones(GOAL_DIM)
    phi = critic.encode_state_action(s, a)
    np.testing.assert_allclose(
        phi, critic.sa_encoder(jnp.concatenate([s, a])), rtol=1e-6
    )
    np.testing.assert_allclose(
        critic(s, a, g), -np.linalg.norm(phi - critic.encode_goal(g)), rtol=1e-5
    )


def test_unknown_energy():
    with pytest.raises((ValueError, TypeError), match=r"(?s)energy.*'l2'.*'cosine'"):
        _critic(0, energy="euclid")
    with pytest.raises((ValueError, TypeError), match="kind"):
        equicrl.energy(jnp.ones(3), jnp.ones(3), kind="manhattan")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(depth=6), "depth"),
        (dict(repr_dim=0), "repr_dim"),
        (dict(width=-8), "width"),
    ],
)
def test_bad_critic_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        equicrl.ContrastiveCritic(
            STATE_DIM, ACTION_DIM, GOAL_DIM, **{"width": 8, **kwargs}, key=jr.key(0)
        )
    with pytest.raises((ValueError, TypeError), match="goal_dim"):
        equicrl.ContrastiveCritic(STATE_DIM, ACTION_DIM, 0, width=8, key=jr.key(0))


def test_bad_critic_inputs():
    critic = _critic(0)
    s, a, g = (
        jnp.ones((BATCH, STATE_DIM)),
        jnp.ones((BATCH, ACTION_DIM)),
        jnp.ones((BATCH, GOAL_DIM)),
    )
    with pytest.raises((ValueError, TypeError), match="actions"):
        critic.logits(s, a[:-1], g)
    with pytest.raises((ValueError, TypeError), match="goals"):
        critic.logits(s, a, jnp.ones((BATCH, GOAL_DIM + 1)))
    with pytest.raises((ValueError, TypeError), match="state"):
        critic(jnp.ones(STATE_DIM + 1), a[0], g[0])
    with pytest.raises((ValueError, TypeError), match="goal"):
        critic(s[0], a[0], jnp.ones(GOAL_DIM, jnp.int32))


def test_bad_energy_inputs():
    with pytest.raises((ValueError, TypeError)):
        equicrl.energy_matrix(jnp.ones((3, 4)), jnp.ones((3, 5)))
    with pytest.raises((ValueError, TypeError)):
        equicrl.energy_matrix(jnp.ones((3, 4)), jnp.ones((2, 4)))
    with pytest.raises((ValueError, TypeError)):
        equicrl.energy(jnp.ones(4), jnp.ones(5))
