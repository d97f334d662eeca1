import equinox as eqx
import hypothesis.strategies as st
import jax
import jax.extend
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import seeds
from hypothesis import given

import equicrl
from equicrl.training._buffer import truncated_geometric


CAPACITY, NUM_ENVS = 64, 3


def _rows(t0, n, episode_len):
    """n rows from time t0: data records (time, env); episodes of `episode_len` steps,
    offset per env so boundaries differ between columns."""
    t = jnp.arange(t0, t0 + n)[:, None] + jnp.zeros((1, NUM_ENVS), jnp.int32)
    env = jnp.broadcast_to(jnp.arange(NUM_ENVS), (n, NUM_ENVS))
    episode = (t + 3 * env) // episode_len
    return {"time": t, "env": env, "obs": t.astype(jnp.float32)[..., None]}, episode


@eqx.filter_jit
def _fill(buffer, total, episode_len, chunk=16):
    for t0 in range(0, total, chunk):
        rows, episode = _rows(t0, chunk, episode_len)
        buffer = buffer.insert(rows, episode)
    return buffer


@eqx.filter_jit
def _sample(buffer, key, batch, gamma):
    return buffer.sample_relabelled(key, batch, gamma)


def _empty():
    rows, _ = _rows(0, 1, 10)
    return equicrl.TrajectoryBuffer.create(
        jax.tree.map(lambda x: x[0], rows), CAPACITY, NUM_ENVS
    )


def test_insert_is_fifo_and_works_under_jit():
    buffer = _fill(_empty(), 48, 10)
    assert int(buffer.size) == 48 and int(buffer.start) == 0
    buffer = _fill(buffer, 48, 10)  # 96 rows in all: the oldest 32 are dropped
    assert int(buffer.size) == CAPACITY
    chronological = (int(buffer.start) + np.arange(CAPACITY)) % CAPACITY
    times = np.asarray(buffer.data["time"])[chronological, 0]
    # The second fill restarted time at 0: the buffer now holds rows 32..47, 0..47.
    np.testing.assert_array_equal(times, np.r_[np.arange(32, 48), np.arange(48)])


@given(
    seed=seeds,
    episode_len=st.sampled_from((1, 5, 13)),
    gamma=st.sampled_from((0.5, 0.99)),
)
def test_relabelled_goals_come_from_the_same_episode_and_the_future(
    seed, episode_len, gamma
):
    buffer = _fill(_empty(), 96, episode_len)  # wrapped: oldest rows dropped
    now, future, info = _sample(buffer, jr.key(seed), 256, gamma)
    same_env = np.asarray(now["env"]) == np.asarray(future["env"])
    assert same_env.all()

    def episode(d):
        return (np.asarray(d["time"]) + 3 * np.asarray(d["env"])) // episode_len

    np.testing.assert_array_equal(episode(now), episode(future))
    offset, horizon = np.asarray(info["offset"]), np.asarray(info["horizon"])
    np.testing.assert_array_equal(
        np.asarray(future["time"]) - np.asarray(now["time"]), offset
    )
    assert np.all((offset >= 1) | (horizon == 0))
    assert np.all(offset <= horizon)
    np.testing.assert_array_equal(offset[horizon == 0], 0)


@eqx.filter_jit
def _steps_left(buffer, env, time):
    return buffer._steps_left(env, time)


@given(seed=seeds, lengths=st.lists(st.integers(1, 20), min_size=1, max_size=12))
def test_steps_left_matches_brute_force(seed, lengths):
    # Episode ids from random episode lengths; one column, compared with a direct count.
    ids = np.repeat(np.arange(len(lengths)), lengths)[:CAPACITY]
    ids = np.pad(ids, (0, max(0, 40 - len(ids))), mode="edge")[:CAPACITY]
    n = len(ids)
    rows = {"time": jnp.arange(n)[:, None].repeat(NUM_ENVS, 1)}
    buffer = equicrl.TrajectoryBuffer.create(
        {"time": jnp.zeros(NUM_ENVS, jnp.int32)}, CAPACITY, NUM_ENVS
    )
    buffer = buffer.insert(rows, jnp.asarray(ids)[:, None].repeat(NUM_ENVS, 1))
    time = jnp.arange(n)
    left = np.asarray(_steps_left(buffer, jnp.zeros(n, jnp.int32), time))
    expected = [int(np.sum(ids[t + 1 :] == ids[t])) for t in range(n)]
    np.testing.assert_array_equal(left, expected)


@pytest.mark.parametrize("gamma,horizon", [(0.9, 20), (0.99, 200), (0.5, 3)])
def test_offsets_follow_the_truncated_geometric_distribution(gamma, horizon):
    draws = 200_000
    k = np.asarray(
        jax.jit(truncated_geometric, static_argnums=1)(
            jr.key(0), gamma, jnp.full((draws,), horizon)
        )
    )
    assert k.min() >= 1 and k.max() <= horizon
    expected = gamma ** np.arange(1, horizon + 1)
    expected = draws * expected / expected.sum()
    observed = np.bincount(k, minlength=horizon + 1)[1:]
    # Pool sparse tail bins so every bin expects at least 5 draws.
    keep = expected >= 5
    obs = np.r_[observed[keep], observed[~keep].sum()]
    exp = np.r_[expected[keep], expected[~keep].sum()]
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    chi2 = np.sum((obs - exp) ** 2 / exp)
    dof = len(exp) - 1
    # Wilson-Hilferty approximation of the chi-square 99.9 % quantile.
    z = 3.09
    critical = dof * (1 - 2 / (9 * dof) + z * np.sqrt(2 / (9 * dof))) ** 3
    assert chi2 < critical, (chi2, critical, dof)


def test_zero_horizon_gives_zero_offset():
    k = truncated_geometric(jr.key(0), 0.99, jnp.array([0, 1, 0, 5]))
    assert int(k[0]) == 0 and int(k[2]) == 0 and int(k[1]) == 1 and 1 <= int(k[3]) <= 5


def _jaxprs_in_params(params):
    # As `jax.extend.core.jaxprs_in_params`, which only jax >= 0.10 has.
    for value in params.values():
        for v in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, jax.extend.core.ClosedJaxpr):
                yield v.jaxpr
            elif isinstance(v, jax.extend.core.Jaxpr):
                yield v


def test_sampling_never_builds_a_T_by_T_array():
    capacity = 1000
    example = {"obs": jnp.zeros((2, 7))}
    buffer = equicrl.TrajectoryBuffer.create(example, capacity, 2)
    jaxpr = jax.make_jaxpr(lambda b, k: b.sample_relabelled(k, 64, 0.99))(
        buffer, jr.key(0)
    )

    def sizes(jaxpr):
        for eqn in jaxpr.eqns:
            for var in eqn.outvars:
                yield int(np.prod(var.aval.shape))
            for sub in _jaxprs_in_params(eqn.params):
                yield from sizes(sub)

    assert max(sizes(jaxpr.jaxpr)) < capacity * capacity


def test_bad_buffer_arguments():
    with pytest.raises((ValueError, TypeError), match="capacity"):
        equicrl.TrajectoryBuffer.create({"x": jnp.zeros(3)}, 0, 3)
    with pytest.raises(ValueError, match="num_envs"):
        equicrl.TrajectoryBuffer.create({"x": jnp.zeros(4)}, 10, 3)
    buffer = equicrl.TrajectoryBuffer.create({"x": jnp.zeros(3)}, 10, 3)
    with pytest.raises(ValueError, match="episode_id"):
        buffer.insert({"x": jnp.zeros((2, 3))}, jnp.zeros((2, 4), jnp.int32))
    with pytest.raises(ValueError, match="do not fit"):
        buffer.insert({"x": jnp.zeros((11, 3))}, jnp.zeros((11, 3), jnp.int32))
    with pytest.raises(ValueError, match="gamma"):
        buffer.sample_relabelled(jr.key(0), 4, 1.0)
