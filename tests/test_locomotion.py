"""Smoke tests of the Brax ant and humanoid goal envs: one compiled reset/step each.

Brax compiles slowly on a CPU, so every test shares the module-level functions below.
"""

import functools
import xml.etree.ElementTree as ET

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brax.io import mjcf
from etils import epath

from equicrl import envs


N = 2


@functools.cache
def _compiled(name):
    env = envs.make_env(name)
    reset = jax.jit(jax.vmap(env.reset))
    step = jax.jit(jax.vmap(env.step))

    # Place the torso at a chosen height and score that state (to test termination).
    def place(state, z):
        ps = env._robot_env.pipeline_init(
            state.pipeline_state.q.at[2].set(z), state.pipeline_state.qd
        )
        return env._state(ps, state.info["goal"], jnp.zeros(env.action_size), state)

    at_height = jax.jit(jax.vmap(place))
    return env, reset, step, at_height


def _cell_of(env, xy):
    return np.floor(np.asarray(xy) / env.cell_size + 0.5).astype(int)


@pytest.mark.parametrize(
    "name,state_dim,goal_dim,action_dim,z_range",
    [
        ("ant_u_maze", 29, 2, 8, (0.2, 1.0)),
        ("humanoid_u_maze", None, 3, 17, (1.0, 2.0)),
    ],
)
def test_reset_step_shapes_goals_metrics_and_termination(
    name, state_dim, goal_dim, action_dim, z_range
):
    env, reset, step, at_height = _compiled(name)
    if state_dim is not None:
        assert env.state_dim == state_dim
    assert env.goal_dim == goal_dim and env.action_size == action_dim
    assert env.goal_indices == tuple(range(goal_dim))
    assert env.backend == "spring"

    state = reset(jr.split(jr.key(0), N))
    assert state.obs.shape == (N, env.state_dim + goal_dim)
    assert state.obs.dtype == jnp.float32
    # Determinism for a fixed key.
    np.testing.assert_array_equal(state.obs, reset(jr.split(jr.key(0), N)).obs)

    # Starts in the start cell, goals in goal cells; the observation carries the goal.
    achieved = env.achieved_goal(state.obs)
    assert {tuple(c) for c in _cell_of(env, achieved[:, :2])} <= {
        tuple(c) for c in env.layout.start_cells
    }
    goals = state.info["goal"]
    assert {tuple(c) for c in _cell_of(env, goals[:, :2])} <= {
        tuple(c) for c in env.layout.goal_cells
    }
    np.testing.assert_array_equal(env.commanded_goal(state.obs), goals)
    if goal_dim == 3:
        np.testing.assert_array_equal(goals[:, 2], 1.25)

    actions = jr.uniform(jr.key(1), (N, action_dim), minval=-1, maxval=1)
    next_state = step(state, actions)
    assert np.all(np.isfinite(next_state.obs))
    dist = np.linalg.norm(
        np.asarray(env.achieved_goal(next_state.obs)) - np.asarray(goals), axis=1
    )
    np.testing.assert_allclose(next_state.metrics["dist"], dist, rtol=1e-5)
    np.testing.assert_array_equal(
        next_state.metrics["success"], (dist < env.success_threshold).astype(np.float32)
    )
    np.testing.assert_array_equal(next_state.done, 0)

    # Outside the healthy height range the episode ends.
    low, high = z_range
    for z, done in [
        (low - 0.05, 1),
        (low + 0.05, 0),
        (high - 0.05, 0),
        (high + 0.05, 1),
    ]:
        moved = at_height(state, jnp.full((N,), z))
        np.testing.assert_array_equal(moved.done, done)
    # And through a step: a torso well above the range stays out of it for one step.
    moved = at_height(state, jnp.full((N,), high + 0.3))
    np.testing.assert_array_equal(step(moved, jnp.zeros((N, action_dim))).done, 1)


def test_every_paper_env_is_registered_with_its_eval_variant():
    names = set(envs.list_envs())
    for name in [
        "ant", "ant_u_maze", "ant_u4_maze", "ant_u5_maze", "ant_big_maze",
        "ant_hardest_maze", "humanoid", "humanoid_u_maze", "humanoid_big_maze",
        "humanoid_hardest_maze",
    ]:  # fmt: skip
        assert name in names
    for name in ["ant_u_maze", "ant_u4_maze", "ant_u5_maze", "ant_big_maze",
                 "humanoid_u_maze", "humanoid_big_maze"]:  # fmt: skip
        assert f"{name}_eval" in names


def test_humanoid_big_maze_eval_uses_the_humanoid_layout():
    env = envs.make_env("humanoid_big_maze_eval")
    assert env.layout.name == "big_maze_eval_humanoid"
    assert env.cell_size == 2.0
    assert envs.make_env("ant_big_maze_eval").cell_size == 4.0


@pytest.mark.parametrize("layout_name", ["u_maze", "big_maze", "hardest_maze"])
@pytest.mark.parametrize("asset,cell_size", [("ant.xml", 4.0), ("humanoid.xml", 2.0)])
def test_maze_builder_covers_exactly_the_wall_cells_with_merged_boxes(
    layout_name, asset, cell_size
):
    layout = envs.get_layout(layout_name)
    base = (epath.resource_path("brax") / "envs" / "assets" / asset).read_text()
    xml = envs.add_maze_walls(base, layout, cell_size)

    walls = [
        g
        for g in ET.fromstring(xml).iter("geom")
        if g.get("name", "").startswith("maze_wall")
    ]
    # Runs of wall cells are merged: far fewer boxes than wall cells.
    assert len(walls) == len(layout.wall_rectangles()) < int(layout.walls.sum()) / 2
    cells = []
    for geom in walls:
        assert geom.get("type") == "box"
        x, y, z = map(float, geom.get("pos").split())
        sx, sy, sz = map(float, geom.get("size").split())
        assert z == sz == cell_size / 4  # walls cell_size / 2 high, standing on z = 0
        # The box's faces lie on cell boundaries; list the cells it fills.
        rows = np.arange(
            round((x - sx) / cell_size + 0.5), round((x + sx) / cell_size + 0.5)
        )
        cols = np.arange(
            round((y - sy) / cell_size + 0.5), round((y + sy) / cell_size + 0.5)
        )
        assert len(rows) * cell_size == pytest.approx(2 * sx)
        assert len(cols) * cell_size == pytest.approx(2 * sy)
        cells += [(i, j) for i in rows for j in cols]
    # Together the boxes fill every wall cell once and no free cell.
    assert sorted(cells) == sorted(tuple(c) for c in layout.wall_cells)
    # The robot itself is untouched and the model loads.
    n_base = len(list(ET.fromstring(base).iter("geom")))
    assert len(list(ET.fromstring(xml).iter("geom"))) == n_base + len(walls)
    sys = mjcf.loads(xml)
    assert sys.mj_model.ngeom == mjcf.loads(base).mj_model.ngeom + len(walls)
