"""Goal-conditioned Brax ant and humanoid, in the open or in a maze.

Both build on the MJCF models and environments that ship inside the `brax` package:
the maze walls are added to the model programmatically (boxes covering the `#`
cells, see `_walls`), and the robot's own Brax environment supplies the physics and
observations.
"""

import contextlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.ant import Ant
from brax.envs.base import State
from brax.envs.humanoid import Humanoid

from .._checks import check_choice
from ._goal_env import (
    check_cell_fractions,
    goal_state,
    GoalEnv,
    sample_near_cell,
    sample_pair,
    stitching_draw as draw_pairs,
)
from ._layouts import get_layout, MazeLayout
from ._near_walls import NearWalls
from ._walls import quiet_brax_load, robot_system


CONTACTS = ("release", "brax")
# Brax's pipelines a robot can run on.
BACKENDS = ("spring", "positional", "generalized", "mjx")


def check_backend(backend: str, layout, cull_walls: bool) -> None:
    """Raise in one line unless `backend` is one of `BACKENDS` and works with the
    walls as asked."""
    check_choice("backend", backend, BACKENDS)
    if backend == "generalized" and layout is not None and cull_walls:
        # Its constraint solver sizes its Jacobian by the contacts of the model's
        # pairs, which the near-wall contacts change: it fails inside lax.scan.
        raise ValueError(
            "near-wall culling (`cull_walls=True`) does not work with "
            "backend='generalized'; pass cull_walls=False (every wall pair tested) "
            "or use backend='spring' (the release's) or 'positional'"
        )


class _LocomotionGoalEnv(GoalEnv):
    """Shared logic: goal sampling, metrics and termination around a Brax robot env."""

    _robot_env: Ant | Humanoid

    def __init__(
        self,
        robot_env,
        asset: str,
        *,
        layout: MazeLayout | str | None,
        cell_size: float,
        success_threshold: float,
        goal_dim: int,
        healthy_z_range: tuple[float, float],
        reset_noise_scale: float,
        start_noise: float,
        goal_noise: float,
        wall_geoms: Sequence[str] | None,
        contacts: str,
        cull_walls: bool,
        distances: tuple[int, ...] | None = None,
        timestep: float | None = None,
        stitching_draw: str = "uniform",
    ):
        self.contacts = check_choice("contacts", contacts, CONTACTS)
        if isinstance(layout, str):
            layout = get_layout(layout)
        self.layout = layout
        self.cell_size = float(cell_size)
        if not self.cell_size > 0:
            raise ValueError(f"`cell_size` must be > 0, got {cell_size}")
        if not success_threshold > 0:
            raise ValueError(
                f"`success_threshold` must be > 0, got {success_threshold}"
            )
        self._threshold = float(success_threshold)
        check_cell_fractions(
            0.5,
            "draws stay in their cell",
            start_noise=start_noise,
            goal_noise=goal_noise,
        )
        self.start_noise, self.goal_noise = float(start_noise), float(goal_noise)
        self._goal_dim = goal_dim
        self.healthy_z_range = tuple(float(z) for z in healthy_z_range)
        self.reset_noise_scale = float(reset_noise_scale)
        self._robot_env = robot_env
        bits, default_bits = self._contact_bits(contacts, layout)
        robot_env.sys = robot_system(
            robot_env,
            asset,
            layout=layout,
            cell_size=self.cell_size,
            wall_geoms=wall_geoms,
            contact_bits=bits,
            default_bits=default_bits,
        )
        if timestep is not None:
            if not timestep > 0:
                raise ValueError(f"`timestep` must be > 0, got {timestep}")
            robot_env.sys = robot_env.sys.tree_replace({"opt.timestep": timestep})
        self.cull_walls = bool(cull_walls)
        self._near_walls = None
        # Brax's spring, positional and generalized pipelines take their contacts
        # from brax.contact.get; its MJX pipeline runs MJX's driver (all pairs).
        if layout is not None and self.cull_walls and robot_env.backend != "mjx":
            self._near_walls = NearWalls(robot_env.sys, layout, self.cell_size)
        # The policy acts in (-1, 1); the motors take their ctrlrange (the humanoid's
        # is +-0.4): map linearly, as Brax's Humanoid and the paper's release do.
        ctrl_range = np.asarray(robot_env.sys.actuator.ctrl_range, np.float32)
        self._action_low = jnp.asarray(ctrl_range[:, 0])
        self._action_half_span = jnp.asarray((ctrl_range[:, 1] - ctrl_range[:, 0]) / 2)
        probe = jax.eval_shape(
            lambda key: self._robot_obs(
                robot_env.reset(key).pipeline_state, jnp.zeros(self.action_size)
            ),
            jax.random.key(0),
        )
        self._state_dim = probe.shape[0]
        if layout is not None:
            self._starts = jnp.asarray(layout.start_cells * self.cell_size, jnp.float32)
            self._goals = jnp.asarray(layout.goal_cells * self.cell_size, jnp.float32)
        self.distances = None if distances is None else tuple(distances)
        self.stitching_draw = stitching_draw
        self._pairs = draw_pairs(layout, self.distances, self.cell_size, stitching_draw)

    state_dim = property(lambda self: self._state_dim)
    goal_dim = property(lambda self: self._goal_dim)
    goal_indices = property(lambda self: tuple(range(self._goal_dim)))
    success_threshold = property(lambda self: self._threshold)
    action_size = property(lambda self: self._robot_env.action_size)
    backend = property(lambda self: self._robot_env.backend)
    dt = property(lambda self: self._robot_env.dt)
    sys = property(lambda self: self._robot_env.sys)

    def _contact_bits(
        self, contacts: str, layout: MazeLayout | None
    ) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
        """`(contype, conaffinity)` by geom name, and those of the other robot
        geoms, for the floor and self contacts called `contacts`."""
        raise NotImplementedError

    def _braxs_contact_bits(self):
        """Brax's models (`ant.xml`, `humanoid.xml`): the feet (contype 1) on the
        floor (conaffinity 1), nothing else."""
        return {"floor": (0, 1), **{f: (1, 0) for f in self.FEET}}, (0, 0)

    def _open_goal(self, key) -> jax.Array:
        raise NotImplementedError

    def _goal(self, key) -> jax.Array:
        if self.layout is None:
            return self._open_goal(key)
        return self._complete_goal(
            sample_near_cell(key, self._goals, self.goal_noise * self.cell_size)
        )

    def _complete_goal(self, xy: jax.Array) -> jax.Array:
        return xy

    def _velocity_noise(self, key) -> jax.Array:
        raise NotImplementedError

    def reset(self, rng: jax.Array) -> State:
        noise_key, start_key, goal_key = jax.random.split(rng, 3)
        # As the robot's Brax env: uniform joint-position noise, and its own velocity
        # noise.
        q_key, qd_key = jax.random.split(noise_key)
        s = self.reset_noise_scale
        q = self.sys.init_q + jax.random.uniform(
            q_key, (self.sys.q_size(),), minval=-s, maxval=s
        )
        qd = self._velocity_noise(qd_key)
        # Move the robot (its free joint's x, y) to a start cell: its centre, as in
        # the release, unless `start_noise` spreads it.
        spread = self.start_noise * self.cell_size
        if self._pairs is not None:
            start, goal = sample_pair(
                start_key, self._pairs, spread, self.goal_noise * self.cell_size
            )
            q = q.at[:2].add(start)
            goal = self._complete_goal(goal)
        else:
            if self.layout is not None:
                q = q.at[:2].add(sample_near_cell(start_key, self._starts, spread))
            goal = self._goal(goal_key)
        pipeline_state = self._robot_env.pipeline_init(q, qd)
        return self._state(pipeline_state, goal, jnp.zeros(self.action_size), None)

    def motor_controls(self, action: jax.Array) -> jax.Array:
        """The motors' controls for a policy action in `[-1, 1]`: the linear map onto
        each motor's ctrlrange, `(a + 1) * (max - min) / 2 + min`."""
        return (action + 1) * self._action_half_span + self._action_low

    def step(self, state: State, action: jax.Array) -> State:
        controls = self.motor_controls(action)
        near_walls = self._near_walls
        with (
            contextlib.nullcontext() if near_walls is None else near_walls.patched()
        ) as taken:
            pipeline_state = self._robot_env.pipeline_step(
                state.pipeline_state, controls
            )
        if taken is not None:
            taken.check(self.backend)
        return self._state(pipeline_state, state.info["goal"], controls, state)

    def _robot_obs(self, pipeline_state, controls) -> jax.Array:
        raise NotImplementedError

    def _state(self, pipeline_state, goal, controls, previous: State | None) -> State:
        robot_obs = self._robot_obs(pipeline_state, controls)
        achieved = robot_obs[jnp.asarray(self.goal_indices)]
        dist = jnp.linalg.norm(achieved - goal)
        success = (dist < self._threshold).astype(jnp.float32)
        z = pipeline_state.x.pos[0, 2]
        low, high = self.healthy_z_range
        done = ((z < low) | (z > high)).astype(jnp.float32)
        metrics = {"dist": dist, "success": success}
        return goal_state(pipeline_state, robot_obs, goal, metrics, done, previous)


class AntGoalEnv(_LocomotionGoalEnv):
    """Brax's Ant (spring backend) commanded to reach an (x, y) goal.

    State: the 15 joint positions (torso x, y, z and orientation included) and 14
    velocities, 29 numbers; goal: torso (x, y); observation 31. Success within
    `success_threshold` (0.5) of the goal; the episode ends when the torso's z leaves
    `[0.2, 1.0]`. With no layout, goals lie on a circle of radius 10 around the start;
    in a maze (cells of 4 m) they are drawn among the layout's goal cells.

    Actions in `[-1, 1]` map linearly onto the motors' ctrlrange (for the ant that is
    `[-1, 1]` itself). The robot starts at the centre of a start cell (plus Brax's
    joint noise, `reset_noise_scale` 0.1, as the release) and the goal is the centre
    of a goal cell; `start_noise` and `goal_noise` (fractions of a cell, default 0)
    spread them uniformly around the centres instead. `distances` makes it a
    stitching task, as the release's `AntMazeGeneralization`: each episode's start
    and goal are a pair of cells that far apart along the maze's corridor (see
    [`equicrl.envs.stitching_pairs`][]); `stitching_draw="release"` draws them with
    the release's weights instead of uniformly (they differ for tasks made only of
    distances of 6 and more).

    Contacts, by default the release's (`contacts="release"`): in a maze, its
    `ant_maze.xml`, where the four feet touch the floor, each other, the torso and
    the hips (30 pairs), and the torso sphere, hip capsules and feet touch the walls
    (`WALL_GEOMS`); in the open, its `ant.xml`, which is Brax's: the feet on the
    floor and nothing else. `contacts="brax"` gives Brax's floor and self contacts
    in a maze too (feet on the floor only). `wall_geoms` names the geoms that touch
    the walls (see [`equicrl.envs.add_maze_walls`][]); `AntGoalEnv.FEET` (the feet
    alone) steps several times faster on a CPU but is not the paper's physics.

    `cull_walls` (default `True`) tests each robot geom only against the walls
    around it, and only when their bounding boxes meet, with MJX's own contact
    routines: the same contacts as testing every wall at every substep
    (`cull_walls=False`, as the release and MJX's collision driver do), at a
    fraction of the cost (see [`equicrl.envs.NearWalls`][]). It applies to Brax's
    spring and positional backends; `backend="mjx"` always tests all pairs, and
    `backend="generalized"` needs `cull_walls=False` (it is refused otherwise).
    """

    FEET = ("left_foot_geom", "right_foot_geom", "third_foot_geom", "fourth_foot_geom")
    HIPS = ("aux_1_geom", "aux_2_geom", "aux_3_geom", "aux_4_geom")
    # The geoms that touch maze walls in the release's model: torso, hips and feet.
    WALL_GEOMS = ("torso_geom", *HIPS, *FEET)

    def __init__(
        self,
        layout: MazeLayout | str | None = None,
        *,
        cell_size: float = 4.0,
        success_threshold: float = 0.5,
        goal_radius: float = 10.0,
        reset_noise_scale: float = 0.1,
        start_noise: float = 0.0,
        goal_noise: float = 0.0,
        wall_geoms: Sequence[str] | None = WALL_GEOMS,
        contacts: str = "release",
        cull_walls: bool = True,
        backend: str = "spring",
        distances: tuple[int, ...] | None = None,
        stitching_draw: str = "uniform",
    ):
        self.goal_radius = float(goal_radius)
        check_backend(backend, layout, cull_walls)
        with quiet_brax_load():
            robot = Ant(
                backend=backend,
                reset_noise_scale=reset_noise_scale,
                exclude_current_positions_from_observation=False,
                terminate_when_unhealthy=True,
            )
        super().__init__(
            robot,
            "ant.xml",
            layout=layout,
            cell_size=cell_size,
            success_threshold=success_threshold,
            goal_dim=2,
            healthy_z_range=(0.2, 1.0),
            reset_noise_scale=reset_noise_scale,
            start_noise=start_noise,
            goal_noise=goal_noise,
            wall_geoms=wall_geoms,
            contacts=contacts,
            cull_walls=cull_walls,
            distances=distances,
            stitching_draw=stitching_draw,
        )

    def _contact_bits(self, contacts, layout):
        if contacts == "brax" or layout is None:
            # The release's open-floor ant is Brax's ant.xml.
            return self._braxs_contact_bits()
        # The release's ant_maze.xml: the floor, torso and hips answer contacts
        # (conaffinity 1), the feet make and answer them (1 / 1), legs and ankles
        # take no part.
        return {
            "floor": (0, 1),
            "torso_geom": (0, 1),
            **{h: (0, 1) for h in self.HIPS},
            **{f: (1, 1) for f in self.FEET},
        }, (0, 0)

    def _robot_obs(self, pipeline_state, controls):
        return jnp.concatenate([pipeline_state.q, pipeline_state.qd])

    def _velocity_noise(self, key):
        # As Brax's Ant: Gaussian.
        return self.reset_noise_scale * jax.random.normal(key, (self.sys.qd_size(),))

    def _open_goal(self, key):
        angle = jax.random.uniform(key, (), minval=0, maxval=2 * np.pi)
        return self.goal_radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])


class HumanoidGoalEnv(_LocomotionGoalEnv):
    """Brax's Humanoid (spring backend) commanded to reach an (x, y, z) goal.

    State: Brax's humanoid observation with the torso position included (joint
    positions and velocities, centre-of-mass inertia and velocity of each body, actuator
    forces); the goal is the torso's (x, y, z) with z fixed at 1.25, so `goal_indices`
    are the first three state entries. Success within `success_threshold` (0.5, a 3-D
    distance); the episode ends when the torso's z leaves `[1.0, 2.0]`. With no layout,
    the goal is at a uniform angle and a distance uniform in `[1, 5]`; in a maze (cells
    of 2 m) it is drawn among the layout's goal cells.

    Actions in `[-1, 1]` map linearly onto the motors' ctrlrange `[-0.4, 0.4]`, as in
    Brax's Humanoid and the release (passed unscaled, Brax would clip 60 % of every
    axis away). Starts and goals are at cell centres unless `start_noise` /
    `goal_noise` (fractions of a cell) spread them. As in the release, every episode
    starts from the model's keyframe exactly (`reset_noise_scale=0.0`); Brax's
    Humanoid adds uniform noise of `+-0.01` on every joint position and velocity
    (`reset_noise_scale=0.01`).

    Contacts, by default the release's (`contacts="release"`, its `humanoid.xml`
    and `humanoid_maze.xml`): every geom of the body touches the floor (17 pairs, no
    self contacts) and, in a maze, the walls. `contacts="brax"` gives Brax's floor
    contacts: the two feet alone, so a fallen body sinks through the floor.
    `wall_geoms` names the geoms that touch the walls (`None`, the default: all);
    `HumanoidGoalEnv.FEET` steps several times faster on a CPU but lets the body pass
    through walls, unlike the paper's. `cull_walls` (default `True`): walls tested
    only near each geom, the same contacts as all pairs (`False`), as for
    [`equicrl.envs.AntGoalEnv`][].

    Timestep (`timestep`, the simulation's; an env step is 10 of them on the spring
    backend): by default what the release ran. In the open that is 0.003, an env step
    of 0.03 s: the release's `envs/humanoid.py` sets 0.0015, but on the Brax it pins
    the spring pipeline integrates with `sys.dt`, which keeps the XML's 0.003, so the
    paper's open-humanoid numbers came from 0.03 s steps. In a maze it is 0.0015
    (0.015 s a step), which the release's `humanoid_maze.py` sets in a way that takes
    effect. `timestep=HumanoidGoalEnv.BRAX_TIMESTEP` (0.0015) gives the open humanoid
    the step the release's code meant and Brax's own Humanoid uses.
    """

    GOAL_HEIGHT = 1.25
    FEET = ("left_foot", "right_foot")
    # The simulation timestep the release's open humanoid ran at: its code sets
    # 0.0015, but Brax 0.10.1's spring pipeline integrates with `sys.dt`, which kept
    # the XML's 0.003 (`benchmarks/release_humanoid_reference.py` measures it).
    RELEASE_OPEN_TIMESTEP = 0.003
    # What Brax's Humanoid and the release's code set for the spring backend.
    BRAX_TIMESTEP = 0.0015

    def __init__(
        self,
        layout: MazeLayout | str | None = None,
        *,
        cell_size: float = 2.0,
        success_threshold: float = 0.5,
        goal_distance: tuple[float, float] = (1.0, 5.0),
        reset_noise_scale: float = 0.0,
        start_noise: float = 0.0,
        goal_noise: float = 0.0,
        wall_geoms: Sequence[str] | None = None,
        contacts: str = "release",
        cull_walls: bool = True,
        backend: str = "spring",
        timestep: float | None = None,
    ):
        self.goal_distance = tuple(float(d) for d in goal_distance)
        if timestep is None and layout is None and backend in ("spring", "positional"):
            # The release's open humanoid as it ran (see the class docstring).
            timestep = self.RELEASE_OPEN_TIMESTEP
        check_backend(backend, layout, cull_walls)
        with quiet_brax_load():
            robot = Humanoid(
                backend=backend,
                reset_noise_scale=reset_noise_scale,
                exclude_current_positions_from_observation=False,
                terminate_when_unhealthy=True,
            )
        super().__init__(
            robot,
            "humanoid.xml",
            layout=layout,
            cell_size=cell_size,
            success_threshold=success_threshold,
            goal_dim=3,
            healthy_z_range=(1.0, 2.0),
            reset_noise_scale=reset_noise_scale,
            start_noise=start_noise,
            goal_noise=goal_noise,
            wall_geoms=wall_geoms,
            contacts=contacts,
            cull_walls=cull_walls,
            timestep=timestep,
        )

    def _contact_bits(self, contacts, layout):
        if contacts == "brax":
            return self._braxs_contact_bits()
        # The release's: every body geom has contype 1 (its default class), the
        # floor 1 / 1.
        return {"floor": (1, 1)}, (1, 0)

    def _robot_obs(self, pipeline_state, controls):
        # Its actuator forces are those of the motor controls, as in Brax's Humanoid.
        return self._robot_env._get_obs(pipeline_state, controls)

    def _velocity_noise(self, key):
        # As Brax's Humanoid: uniform.
        s = self.reset_noise_scale
        return jax.random.uniform(key, (self.sys.qd_size(),), minval=-s, maxval=s)

    def _complete_goal(self, xy):
        return jnp.concatenate([xy, jnp.array([self.GOAL_HEIGHT])])

    def _open_goal(self, key):
        angle_key, distance_key = jax.random.split(key)
        angle = jax.random.uniform(angle_key, (), minval=0, maxval=2 * np.pi)
        low, high = self.goal_distance
        distance = jax.random.uniform(distance_key, (), minval=low, maxval=high)
        xy = distance * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        return self._complete_goal(xy)
