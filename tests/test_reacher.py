"""The release's reacher (`make_env("reacher")`) against Brax's own Reacher and against
values computed by hand in NumPy (PAPER.md, "The release's reacher")."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brax.envs.reacher import Reacher
from helpers import physics_jit

from equicrl import envs


@functools.cache
def _env():
    return envs.make_env("reacher")


@functools.cache
def _programs():
    env = _env()
    braxs = Reacher(backend="spring")
    return (
        env,
        braxs,
        physics_jit(jax.vmap(env.reset)),
        physics_jit(jax.vmap(env.step)),
        physics_jit(jax.vmap(braxs.step)),
        physics_jit(jax.vmap(braxs.reset)),
    )


def _quat_rotate(q, v):
    """`v` rotated by the unit quaternion `q` (w, x, y, z), in NumPy float64."""
    w, x, y, z = q
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    return r @ v


def test_the_release_physics_and_sizes():
    env = _env()
    # The release's changes for the spring backend: timestep 0.005, gear 25, 4
    # frames: 0.02 s a step.
    assert float(env.sys.opt.timestep) == pytest.approx(0.005)
    assert env.dt == pytest.approx(0.02)
    np.testing.assert_allclose(np.asarray(env.sys.actuator.gear), [25.0, 25.0])
    assert (env.state_dim, env.goal_dim, env.observation_size) == (10, 3, 13)
    assert env.goal_indices == (4, 5, 6)
    assert env.action_size == 2
    assert env.success_threshold == 0.05
    assert "reacher" in envs.list_envs()
    with pytest.raises(ValueError, match="backend"):
        envs.make_env("reacher", backend="generalized")
    with pytest.raises(ValueError, match="success_threshold"):
        envs.make_env("reacher", success_threshold=0.0)


def _rollout(n=16, steps=25):
    """`n` episodes of uniform random actions: every state and action."""
    env, _, reset, step, _, _ = _programs()
    state = reset(jr.split(jr.key(3), n))
    states, actions = [state], []
    for key in jr.split(jr.key(4), steps):
        action = jr.uniform(key, (n, 2), minval=-1, maxval=1)
        state = step(state, action)
        states.append(state)
        actions.append(action)
    return states, actions


def test_steps_like_braxs_own_reacher():
    # Same pipeline state and action -> same next pipeline state as Brax's Reacher
    # with the release's spring setup.
    _, braxs, _, _, brax_step, brax_reset = _programs()
    states, actions = _rollout()
    theirs = brax_reset(jr.split(jr.key(0), 16))
    for state, action, after in zip(states[:-1], actions, states[1:]):
        theirs = theirs.replace(pipeline_state=state.pipeline_state)
        next_theirs = brax_step(theirs, action)
        for ours, ref in zip(
            jax.tree.leaves(after.pipeline_state),
            jax.tree.leaves(next_theirs.pipeline_state),
        ):
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    last = states[-1].pipeline_state
    assert np.isfinite(np.asarray(last.q)).all()
    # The arm moved: the comparison is not of states at rest.
    assert (
        np.abs(np.asarray(last.q[:, :2] - states[0].pipeline_state.q[:, :2])).max()
        > 0.05
    )


def test_observation_goal_and_success_by_hand():
    env = _env()
    states, _ = _rollout()
    for state in states[::6]:
        ps = state.pipeline_state
        for i in range(4):
            q = np.asarray(ps.q[i], np.float64)
            pos1 = np.asarray(ps.x.pos[i, 1], np.float64)
            rot1 = np.asarray(ps.x.rot[i, 1], np.float64)
            vel1 = np.asarray(ps.xd.vel[i, 1], np.float64)
            ang1 = np.asarray(ps.xd.ang[i, 1], np.float64)
            tip = pos1 + _quat_rotate(rot1, np.array([0.11, 0.0, 0.0]))
            # The release's fingertip velocity: the second link's, moved by the
            # offset (0.11, 0, 0) as Brax's Transform moves a Motion.
            tip_vel = vel1 + np.cross(ang1, np.array([0.11, 0.0, 0.0]))
            target = np.asarray(ps.x.pos[i, 2], np.float64)
            expected = np.concatenate(
                [np.cos(q[:2]), np.sin(q[:2]), tip, tip_vel, target]
            )
            obs = np.asarray(state.obs[i], np.float64)
            np.testing.assert_allclose(obs, expected, rtol=0, atol=1e-5)
            np.testing.assert_allclose(env.achieved_goal(state.obs[i]), tip, atol=1e-5)
            np.testing.assert_allclose(state.info["goal"][i], target, atol=1e-6)
            dist = np.linalg.norm(tip - target)
            assert float(state.metrics["dist"][i]) == pytest.approx(dist, abs=1e-5)
            assert float(state.metrics["success"][i]) == float(dist < 0.05)
            assert float(state.done[i]) == 0.0


def test_success_when_the_fingertip_is_on_the_target():
    # Put the target exactly under the fingertip (its x, y), then 0.06 away.
    env, _, reset, _, _, _ = _programs()
    state = jax.tree.map(lambda x: x[0], reset(jr.split(jr.key(5), 1)))
    tip = state.obs[4:7]
    for offset, success in ((0.0, 1.0), (0.06, 0.0)):
        q = state.pipeline_state.q.at[2:].set(tip[:2] + jnp.array([offset, 0.0]))
        ps = env._robot_env.pipeline_init(q, jnp.zeros_like(state.pipeline_state.qd))
        moved = env.step(state.replace(pipeline_state=ps), jnp.zeros(2))
        target = np.asarray(moved.pipeline_state.x.pos[2])
        expected = np.linalg.norm(np.asarray(moved.obs[4:7]) - target)
        assert float(moved.metrics["dist"]) == pytest.approx(expected, abs=1e-6)
        assert float(moved.metrics["success"]) == success


def test_reset_distribution():
    # The release's reset: arm joints init + U(-0.1, 0.1), velocities
    # U(-0.005, 0.005), the target in a disc of radius 0.2 (radius 0.2 U, so a
    # half of the targets within 0.1), at rest.
    env, _, reset, _, _, _ = _programs()
    n = 2048
    state = reset(jr.split(jr.key(6), n))
    ps = state.pipeline_state
    q, qd = np.asarray(ps.q), np.asarray(ps.qd)
    init = np.asarray(env.sys.init_q)
    assert np.abs(q[:, :2] - init[:2]).max() <= 0.1
    assert np.abs(q[:, :2] - init[:2]).max() > 0.09
    assert np.abs(qd[:, :2]).max() <= 0.005
    np.testing.assert_array_equal(qd[:, 2:], 0.0)
    radius = np.linalg.norm(q[:, 2:], axis=1)
    assert radius.max() <= 0.2
    # Radius uniform in [0, 0.2]: its median is 0.1 (s.e. about 0.002 here).
    assert np.median(radius) == pytest.approx(0.1, abs=0.01)
    angle = np.arctan2(q[:, 3], q[:, 2])
    assert np.mean(angle > 0) == pytest.approx(0.5, abs=0.05)
    np.testing.assert_allclose(np.asarray(state.obs[:, 10:12]), q[:, 2:], atol=1e-6)
    np.testing.assert_allclose(np.asarray(state.obs[:, 12]), 0.01, atol=1e-6)
