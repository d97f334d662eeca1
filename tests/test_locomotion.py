"""Smoke tests of the Brax ant and humanoid goal envs: one compiled reset/step each.

Brax compiles slowly on a CPU, so every test shares the module-level functions below.
"""

import functools
import xml.etree.ElementTree as ET

import jax
import jax.numpy as jnp
import jax.random as jr
import mujoco
import numpy as np
import pytest
from brax import envs as brax_envs
from brax.envs.base import State
from brax.io import mjcf
from etils import epath

from equicrl import envs
from equicrl.envs._registry import MAZES


N = 2


@functools.cache
def _compiled(name):
    env = envs.make_env(name)
    reset = jax.jit(jax.vmap(env.reset))
    step = jax.jit(jax.vmap(env.step))

    # Put the robot in a chosen configuration and score that state.
    def place(state, q, qd):
        ps = env._robot_env.pipeline_init(q, qd)
        return env._state(ps, state.info["goal"], jnp.zeros(env.action_size), state)

    placed = jax.jit(jax.vmap(place))
    return env, reset, step, placed


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
    env, reset, step, placed = _compiled(name)
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

    # As in the release: the robot at a start cell's centre (up to its Brax env's
    # joint noise on x, y), the goal at a goal cell's centre exactly.
    achieved = np.asarray(env.achieved_goal(state.obs))
    starts = env.layout.start_cells * env.cell_size
    offsets = np.abs(achieved[:, None, :2] - starts[None]).max(-1).min(-1)
    assert np.all(offsets <= env.reset_noise_scale + 1e-6)
    goals = np.asarray(state.info["goal"])
    centres = {tuple(c) for c in env.layout.goal_cells * env.cell_size}
    assert {tuple(g) for g in goals[:, :2]} <= centres
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
    q, qd = state.pipeline_state.q, state.pipeline_state.qd
    for z, done in [
        (low - 0.05, 1),
        (low + 0.05, 0),
        (high - 0.05, 0),
        (high + 0.05, 1),
    ]:
        moved = placed(state, q.at[:, 2].set(z), qd)
        np.testing.assert_array_equal(moved.done, done)
    # And through a step: a torso well above the range stays out of it for one step.
    moved = placed(state, q.at[:, 2].set(high + 0.3), qd)
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


@functools.cache
def _braxs_own(name):
    robot = name.split("_")[0]
    env = brax_envs.get_environment(
        robot, backend="spring", exclude_current_positions_from_observation=False
    )
    return env, jax.jit(jax.vmap(env.step))


@pytest.mark.parametrize("name", ["ant_u_maze", "humanoid_u_maze"])
def test_steps_like_braxs_own_env(name):
    # Brax's own Ant / Humanoid (its own model, no walls) is the reference: the same
    # state and the same action in (-1, 1) give the same next joint positions and
    # robot observation (the humanoid's includes the actuator forces). Far from the
    # walls, the maze changes nothing.
    env, reset, step, _ = _compiled(name)
    brax_env, brax_step = _braxs_own(name)
    state = reset(jr.split(jr.key(0), N))
    actions = jr.uniform(jr.key(1), (N, env.action_size), minval=-1, maxval=1)
    ours = step(state, actions)
    zeros = jnp.zeros(N)
    theirs = brax_step(
        State(
            state.pipeline_state,
            state.obs[:, : env.state_dim],
            zeros,
            zeros,
            {k: zeros for k in jax.eval_shape(brax_env.reset, jr.key(0)).metrics},
        ),
        actions,
    )
    np.testing.assert_allclose(
        ours.pipeline_state.q, theirs.pipeline_state.q, rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        ours.obs[:, : env.state_dim], theirs.obs, rtol=1e-6, atol=1e-5
    )


@pytest.mark.parametrize("name", ["ant_u_maze", "humanoid_u_maze"])
def test_actions_map_linearly_onto_the_models_ctrlrange(name):
    env = _compiled(name)[0]
    # The model's ranges as MuJoCo reads them (the humanoid's are +-0.4).
    low, high = env.sys.mj_model.actuator_ctrlrange.T
    a = np.linspace(-1, 1, 5)[:, None] * np.ones(env.action_size)
    expected = (a + 1) * (high - low) / 2 + low
    np.testing.assert_allclose(jax.vmap(env.motor_controls)(a), expected, atol=1e-7)
    if name.startswith("humanoid"):
        np.testing.assert_allclose(high, 0.4)


# A robot thrown at a wall: (env, torso orientation, axis of approach). The ant is
# rolled onto its side so that its torso, not its feet, meets the wall; the humanoid
# walks upright into it. Without whole-body walls both torsos went through (ant by
# 0.73 m, humanoid by over 1 m).
_THROWS = [
    ("ant_u_maze", (np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0), 1, 0.25),
    ("humanoid_u_maze", (1.0, 0.0, 0.0, 0.0), 0, 0.07),
]


@pytest.mark.parametrize("name,quat,axis,radius", _THROWS)
def test_a_torso_thrown_at_a_wall_stays_out_of_it(name, quat, axis, radius):
    env, reset, step, placed = _compiled(name)
    state = reset(jr.split(jr.key(0), N))
    # Wall cell (0, 1) or (1, 0) borders the start cell (1, 1): its face is half a
    # cell from the start cell's centre.
    face = env.cell_size / 2
    q, qd = state.pipeline_state.q, state.pipeline_state.qd
    q = q.at[:, axis].set(face + 0.5).at[:, 3:7].set(jnp.asarray(quat))
    qd = qd.at[:, axis].set(-4.0)  # 4 m/s at the wall
    thrown = state.replace(pipeline_state=jax.vmap(env._robot_env.pipeline_init)(q, qd))
    nearest = []
    for _ in range(30):
        thrown = step(thrown, jnp.zeros((N, env.action_size)))
        nearest.append(np.asarray(thrown.pipeline_state.x.pos[:, 0, axis]))
    penetration = face + radius - np.min(nearest)
    assert penetration < 0.1
    assert np.all(np.isfinite(thrown.obs))


def _wall_contacts(name: str, qpos_of) -> set[str]:
    """Names of the robot geoms MuJoCo finds touching a wall when the robot is put
    inside the first wall cell, as `qpos_of(model, centre)` places it."""
    env_cls = envs.AntGoalEnv if name.startswith("ant") else envs.HumanoidGoalEnv
    cell_size = 4.0 if name.startswith("ant") else 2.0
    layout = envs.get_layout(name.split("_", 1)[1])
    asset = "ant.xml" if name.startswith("ant") else "humanoid.xml"
    base = (epath.resource_path("brax") / "envs" / "assets" / asset).read_text()
    xml = envs.add_maze_walls(
        base, layout, cell_size, wall_geoms=getattr(env_cls, "WALL_GEOMS", None)
    )
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    data.qpos[:] = qpos_of(model, layout.wall_cells[0] * cell_size)
    mujoco.mj_forward(model, data)
    names = set()
    for contact in data.contact[: data.ncon]:
        pair = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
                for g in (contact.geom1, contact.geom2)]  # fmt: skip
        walls = [n for n in pair if n and n.startswith("maze_wall")]
        if len(walls) == 1:
            names |= set(pair) - set(walls)
    return names


@pytest.mark.parametrize("maze", list(MAZES))
def test_mujoco_finds_the_releases_wall_contacts_in_every_maze(maze):
    # MuJoCo itself (not Brax) decides which geoms collide. Inside a wall, the ant
    # touches it with its torso, hips and feet; the humanoid (lying flat, so that
    # all of it is inside the wall's height) with every geom.
    def ant_inside(model, centre):
        qpos = model.qpos0.copy()
        qpos[:3] = (*centre, 1.0)
        return qpos

    def humanoid_lying_inside(model, centre):
        qpos = model.qpos0.copy()
        # Pitched onto its back, head towards +x: all of it within the corner cell.
        qpos[:3] = (centre[0] + 0.5, centre[1], 0.5)
        qpos[3:7] = (np.sqrt(0.5), 0.0, np.sqrt(0.5), 0.0)
        return qpos

    ant = _wall_contacts(f"ant_{maze}", ant_inside)
    feet = {f"{leg}_foot_geom" for leg in ("left", "right", "third", "fourth")}
    assert ant == set(envs.AntGoalEnv.WALL_GEOMS) | feet
    if f"humanoid_{maze}" in envs.list_envs():
        humanoid = _wall_contacts(f"humanoid_{maze}", humanoid_lying_inside)
        base = (epath.resource_path("brax") / "envs/assets/humanoid.xml").read_text()
        body = {
            g.get("name")
            for b in ET.fromstring(base).find("worldbody").findall("body")
            for g in b.iter("geom")
        }
        assert humanoid == body


def test_start_and_goal_noise_are_options():
    env = envs.AntGoalEnv("u_maze", start_noise=0.1, goal_noise=0.25)
    goals = np.stack([env._goal(k) for k in jr.split(jr.key(0), 8)])
    offsets = goals[:, None] - env.layout.goal_cells[None] * env.cell_size
    nearest = np.abs(offsets).max(-1).min(-1)
    assert np.all(nearest <= 0.25 * env.cell_size) and np.any(nearest > 0.1)
    for bad in (dict(start_noise=-0.1), dict(goal_noise=0.6)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            envs.AntGoalEnv("u_maze", **bad)
