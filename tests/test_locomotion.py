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
from helpers import physics_jit
from mujoco.mjx._src.collision_driver import geom_pairs

from equicrl import envs
from equicrl.envs._registry import MAZES


N = 2


# Building a maze env takes a second or more (its near-wall tables): each env is
# built once here and shared by the tests that only read it.
_env = functools.cache(envs.make_env)


@functools.cache
def _compiled(name):
    env = _env(name)
    reset = physics_jit(jax.vmap(env.reset))
    step = physics_jit(jax.vmap(env.step))

    # Put the robot in a chosen configuration and score that state.
    def place(state, q, qd):
        ps = env._robot_env.pipeline_init(q, qd)
        return env._state(ps, state.info["goal"], jnp.zeros(env.action_size), state)

    placed = physics_jit(jax.vmap(place))
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
@pytest.mark.slow
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
        # The release's humanoid starts from the keyframe exactly: no joint noise.
        q0 = np.asarray(env.sys.mj_model.qpos0, np.float32)
        np.testing.assert_array_equal(
            state.pipeline_state.q[:, 2:], np.tile(q0[2:], (N, 1))
        )
        np.testing.assert_array_equal(state.pipeline_state.qd, 0)

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


@pytest.mark.slow
def test_humanoid_big_maze_eval_uses_the_humanoid_layout():
    env = _env("humanoid_big_maze_eval")
    assert env.layout.name == "big_maze_eval_humanoid"
    assert env.cell_size == 2.0
    assert _env("ant_big_maze_eval").cell_size == 4.0


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


# The contacts of the release's maze models, from ../shared/PAPER.md ("Contacts of the
# release's maze models"), written here independently of equicrl's own tables.
_ANT_FEET = {"left_foot_geom", "right_foot_geom", "third_foot_geom", "fourth_foot_geom"}
_ANT_HIPS = {f"aux_{i}_geom" for i in range(1, 5)}
_HUMANOID_BODY = {
    "torso1", "head", "uwaist", "lwaist", "butt", "right_thigh1", "right_shin1",
    "right_foot", "left_thigh1", "left_shin1", "left_foot", "right_uarm1", "right_larm",
    "right_hand", "left_uarm1", "left_larm", "left_hand",
}  # fmt: skip


def _release_bits(robot, name):
    if robot == "ant":
        if name in _ANT_FEET:
            return 1, 1
        return (0, 1) if name in {"floor", "torso_geom"} | _ANT_HIPS else (0, 0)
    return (1, 1) if name == "floor" else (1, 0)


def _release_model(robot):
    """Brax's model of `robot` with every geom's contact bits the release's."""
    path = epath.resource_path("brax") / "envs" / "assets" / f"{robot}.xml"
    root = ET.fromstring(path.read_text())
    for geom in root.iter("geom"):
        contype, conaffinity = _release_bits(robot, geom.get("name"))
        geom.set("contype", str(contype))
        geom.set("conaffinity", str(conaffinity))
    return ET.tostring(root, encoding="unicode")


@functools.cache
def _braxs_own(name):
    # Brax's own env, its step and observation code, on its own model with the
    # release's contact bits (no walls).
    robot = name.split("_")[0]
    env = brax_envs.get_environment(
        robot, backend="spring", exclude_current_positions_from_observation=False
    )
    sys = mjcf.loads(_release_model(robot))
    env.sys = sys.replace(opt=env.sys.opt, actuator=env.sys.actuator)
    return env, physics_jit(jax.vmap(env.step))


def _touching(xml, q):
    """The geom pairs CPU MuJoCo finds in contact for joint positions `q` of the
    model `xml`."""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    data.qpos[:] = q
    mujoco.mj_forward(model, data)
    name = functools.partial(mujoco.mj_id2name, model, mujoco.mjtObj.mjOBJ_GEOM)
    return {
        frozenset((name(c.geom1), name(c.geom2))) for c in data.contact[: data.ncon]
    }


def _on_the_floor(name, q):
    """Joint positions that make the release's extra contacts happen, at the start
    cell, away from the walls: the humanoid lying on its back along the corridor,
    head towards +y; the ant with its two front feet swung onto each other."""
    q = np.array(q)
    if name.startswith("humanoid"):
        q[1] += 0.8
        q[2] = 0.06
        q[3:7] = (0.5, -0.5, -0.5, -0.5)  # body x up, y along world x, z along y
    else:
        # hip_1 and hip_2 swing legs (1, 1) and (-1, 1) towards +y, ankles straight:
        # the feet (radius 0.08) overlap by 4 cm.
        q[7:11] = (0.95, 0.0, -0.95, 0.0)
    return q


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ant_u_maze", "humanoid_u_maze"])
def test_steps_like_braxs_own_env(name):
    # Brax's own Ant / Humanoid, on its model with the release's contact bits (no
    # walls), is the reference: the same state and the same action in (-1, 1) give
    # the same next joint positions and robot observation (the humanoid's includes
    # the actuator forces). The first env stands at its start; the second lies on
    # the floor (humanoid) or crosses its feet (ant), which only the release's
    # contacts resist. Far from the walls, the maze changes nothing.
    env, reset, step, placed = _compiled(name)
    brax_env, brax_step = _braxs_own(name)
    state = reset(jr.split(jr.key(0), N))
    q = np.asarray(state.pipeline_state.q).copy()
    q[1] = _on_the_floor(name, q[1])
    # CPU MuJoCo on the two models: the second state touches in pairs that Brax's
    # own contact bits do not have.
    robot = name.split("_")[0]
    braxs_xml = (
        epath.resource_path("brax") / "envs/assets" / f"{robot}.xml"
    ).read_text()
    release_only = _touching(_release_model(robot), q[1]) - _touching(braxs_xml, q[1])
    assert len(release_only) >= (1 if robot == "ant" else 3), release_only
    # The robot's pipeline state at `q`, from the compiled `placed` (op by op, this
    # pipeline_init would compile each of its operations).
    state = state.replace(
        pipeline_state=placed(
            state, jnp.asarray(q), state.pipeline_state.qd
        ).pipeline_state
    )
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
@pytest.mark.slow
def test_a_torso_thrown_at_a_wall_stays_out_of_it(name, quat, axis, radius):
    env, reset, step, placed = _compiled(name)
    state = reset(jr.split(jr.key(0), N))
    # Wall cell (0, 1) or (1, 0) borders the start cell (1, 1): its face is half a
    # cell from the start cell's centre.
    face = env.cell_size / 2
    q, qd = state.pipeline_state.q, state.pipeline_state.qd
    q = q.at[:, axis].set(face + 0.5).at[:, 3:7].set(jnp.asarray(quat))
    qd = qd.at[:, axis].set(-4.0)  # 4 m/s at the wall
    thrown = state.replace(pipeline_state=placed(state, q, qd).pipeline_state)
    nearest = []
    for _ in range(30):
        thrown = step(thrown, jnp.zeros((N, env.action_size)))
        nearest.append(np.asarray(thrown.pipeline_state.x.pos[:, 0, axis]))
    penetration = face + radius - np.min(nearest)
    assert penetration < 0.1
    assert np.all(np.isfinite(thrown.obs))


def _wall_contacts(name: str, qpos_of) -> set[str]:
    """Names of the robot geoms MuJoCo finds touching a wall when the robot of the
    env `name` is put inside the first wall cell, as `qpos_of(model, centre)`
    places it."""
    env = _env(name)
    model = env.sys.mj_model
    data = mujoco.MjData(model)
    data.qpos[:] = qpos_of(model, env.layout.wall_cells[0] * env.cell_size)
    mujoco.mj_forward(model, data)
    names = set()
    for contact in data.contact[: data.ncon]:
        pair = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
                for g in (contact.geom1, contact.geom2)]  # fmt: skip
        walls = [n for n in pair if n and n.startswith("maze_wall")]
        if len(walls) == 1:
            names |= set(pair) - set(walls)
    return names


@pytest.mark.slow
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
    assert ant == {"torso_geom"} | _ANT_HIPS | _ANT_FEET
    if f"humanoid_{maze}" in envs.list_envs():
        humanoid = _wall_contacts(f"humanoid_{maze}", humanoid_lying_inside)
        assert humanoid == _HUMANOID_BODY


def _pairs(model) -> set[frozenset[str]]:
    """The geom pairs MuJoCo may collide in `model`: its contype / conaffinity bits,
    same-body and parent-child filters, as MJX's collision driver lists them for the
    physics."""
    name = functools.partial(mujoco.mj_id2name, model, mujoco.mjtObj.mjOBJ_GEOM)
    return {frozenset((name(g1), name(g2))) for g1, g2, _ in geom_pairs(model)}


def _expected_pairs(robot, walls, *, contacts="release", maze=True):
    """The release's geom pairs (../shared/PAPER.md), or Brax's floor contacts with
    the release's walls, for the wall geoms `walls`."""
    if robot == "ant":
        feet, touching = _ANT_FEET, {"torso_geom"} | _ANT_HIPS | _ANT_FEET
        if contacts == "release" and maze:
            pairs = {("floor", f) for f in feet}  # 4
            pairs |= {(f, g) for f in feet for g in feet if f < g}  # 6
            pairs |= {(f, g) for f in feet for g in {"torso_geom"} | _ANT_HIPS}  # 20
        else:  # Brax's ant.xml, which is also the release's open-floor ant
            pairs = {("floor", f) for f in feet}
    else:
        touching = _HUMANOID_BODY
        floor = _HUMANOID_BODY if contacts == "release" else {"left_foot", "right_foot"}
        pairs = {("floor", g) for g in floor}
    pairs |= {(w, g) for w in walls for g in touching}
    return {frozenset(p) for p in pairs}


@pytest.mark.slow
def test_contact_pairs_are_the_releases_in_every_maze_of_both_robots():
    counts = {}
    for name in envs.list_envs():
        robot = name.split("_")[0]
        if robot not in ("ant", "humanoid"):
            continue
        model = _env(name).sys.mj_model
        walls = [
            model.geom(g).name
            for g in range(model.ngeom)
            if model.geom(g).name.startswith("maze_wall")
        ]
        assert (len(walls) > 0) == (name not in ("ant", "humanoid"))
        expected = _expected_pairs(robot, walls, maze=bool(walls))
        assert _pairs(model) == expected, name
        counts[name] = len(expected) - len(walls) * (9 if robot == "ant" else 17)
    assert counts["ant_u_maze"] == counts["ant_hardest_maze"] == 30
    assert counts["humanoid_u_maze"] == counts["humanoid"] == 17
    assert counts["ant"] == 4
    # Brax's floor and self contacts, with the release's walls, as an option.
    for name, robot in [("ant_u_maze", "ant"), ("humanoid_u_maze", "humanoid")]:
        model = _env(name, contacts="brax").sys.mj_model
        walls = [model.geom(g).name for g in range(model.ngeom)]
        walls = [w for w in walls if w.startswith("maze_wall")]
        assert _pairs(model) == _expected_pairs(robot, walls, contacts="brax")
    with pytest.raises(ValueError, match="`contacts` must be one of"):
        envs.make_env("ant_u_maze", contacts="mujoco")


def test_humanoid_resets_have_no_joint_noise_by_default():
    # The release's HumanoidMaze and Humanoid use reset_noise_scale 0.0.
    for name in envs.list_envs():
        if name.startswith("humanoid"):
            assert _env(name).reset_noise_scale == 0.0, name
    assert _env("ant_u_maze").reset_noise_scale == 0.1


def test_start_and_goal_noise_are_options():
    env = envs.AntGoalEnv("u_maze", start_noise=0.1, goal_noise=0.25)
    goals = np.stack([env._goal(k) for k in jr.split(jr.key(0), 8)])
    offsets = goals[:, None] - env.layout.goal_cells[None] * env.cell_size
    nearest = np.abs(offsets).max(-1).min(-1)
    assert np.all(nearest <= 0.25 * env.cell_size) and np.any(nearest > 0.1)
    for bad in (dict(start_noise=-0.1), dict(goal_noise=0.6)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            envs.AntGoalEnv("u_maze", **bad)


@pytest.mark.slow
def test_the_open_humanoid_steps_as_the_release_ran():
    # Reference: the release's own Humanoid stepped on its pinned stack (brax
    # 0.10.1; benchmarks/release_humanoid_reference.py), where the spring pipeline
    # integrated with the XML's 0.003, not the 0.0015 its code sets. Same state and
    # action -> same next state, for equicrl's default; Brax's 0.0015 does not.
    import json
    from pathlib import Path

    path = (
        Path(__file__).parents[1] / "benchmarks/results/release_humanoid_reference.json"
    )
    ref = json.loads(path.read_text())
    assert ref["dt"] == pytest.approx(0.03) and ref["n_frames"] == 10
    steps = ref["steps"]
    # Its model has a target body on two slide joints after the robot's: left out.
    q, qd, action, next_q, next_qd = (
        jnp.asarray([s[k] for s in steps], jnp.float32)[:, :n]
        for k, n in (
            ("q", -2), ("qd", -2), ("action", None), ("next_q", -2), ("next_qd", -2),
        )
    )  # fmt: skip
    errors = {}
    for name, kw in (("default", {}), ("brax", {"timestep": 0.0015})):
        env = _env("humanoid", **kw)
        robot = env._robot_env

        @physics_jit
        def one(q, qd, a):
            state = jax.vmap(robot.pipeline_init)(q, qd)
            controls = jax.vmap(env.motor_controls)(a)
            return jax.vmap(robot.pipeline_step)(state, controls)

        out = one(q, qd, action)
        errors[name] = (
            float(jnp.abs(out.q - next_q).max()),
            float(jnp.abs(out.qd - next_qd).max()),
        )
        if name == "default":
            assert env.dt == pytest.approx(0.03)
            # The torso at 1 m/s moves 0.03 m in one env step, as in the release.
            assert float(out.q[-1, 0] - q[-1, 0]) == pytest.approx(0.0299, abs=2e-4)
    # Measured: at most 3.5e-4 (q) and 1.2e-5 (qd), against 0.03-0.06 and 0.8-1.8
    # for 0.0015.
    assert errors["default"][0] < 1e-3 and errors["default"][1] < 1e-4, errors
    assert errors["brax"][0] > 1e-2 and errors["brax"][1] > 0.1, errors
    assert _env("humanoid", timestep=0.0015).dt == pytest.approx(0.015)
    assert _env("humanoid_u_maze").dt == pytest.approx(0.015)
