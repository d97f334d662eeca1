"""The paper's Franka-arm tasks: push a cube (easy, hard) or carry it between bins
(binpick easy, hard) to a commanded 3-D goal, on Brax's MJX pipeline.

The task facts behind the numbers here are in `docs/arm_tasks.md`."""

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import PipelineEnv, State
from brax.io import mjcf

from ._arm_model import arm_mjcf, ArmTask, CUBE_HALF, TASKS
from ._goal_env import goal_state, GoalEnv
from ._walls import quiet_brax_load


# The arm's pose at every reset: joints 1-7, then the two finger slides (open); see
# docs/arm_tasks.md section 7.
RESET_ARM_Q = (1.571, 0.742, 0.0, -1.571, 0.0, 3.054, 1.449)
RESET_FINGER_Q = (0.04, 0.04)
# Policy action -> absolute control targets of the seven arm actuators: a = -1 gives
# the low value, a = +1 the high one. The action's first four numbers drive joints 1,
# 2, 4 and 6; joints 3, 5 and 7 are held fixed (low = high); see docs/arm_tasks.md
# section 5b.
_CTRL_LOW = (0.3491, 0.0, 0.0, -3.0718, 0.0, 2.3562, 1.4487)
_CTRL_HIGH = (2.7925, 1.48353, 0.0, -0.0698, 0.0, 3.7525, 1.4487)
_ACTION_JOINTS = (0, 1, 3, 5)
_FINGERS_OPEN = 255.0
# Brax link indices (MuJoCo body id - 1) of link7 and the two fingers.
_LINK7, _LEFT_FINGER, _RIGHT_FINGER = 8, 9, 10


class ArmGoalEnv(GoalEnv, PipelineEnv):
    """A Franka arm moving a cube to a commanded 3-D goal (the paper's arm tasks).

    The model is written from primitive shapes (see `equicrl.envs._arm_model`) and is
    the release's physics: MJX, 25 substeps of 2 ms per env step (20 Hz), 6 Newton
    iterations, implicit-fast integration, and contacts only between the cube, the
    table, the hand capsule, the two finger boxes and (binpick) the bin walls.

    - **Action** (5 numbers in `[-1, 1]`): the first four map linearly onto absolute
        targets of joints 1, 2, 4 and 6; joints 3, 5 and 7 hold fixed targets. The
        fifth closes the gripper when `> 0` and opens it otherwise.
    - **State** (17): the cube's centre (3), joints 1-7 (7), the origin of link7 (the
        flange, 3) and its linear velocity (3), the distance between the fingers (1).
    - **Goal** (3): the cube's commanded centre, so `goal_indices` are `(0, 1, 2)`.
    - **Metrics**: `dist` (3-D distance from cube to goal), `success` (`dist <
        success_threshold`, 0.1 m; also the reward), `success_easy` (< 0.3 m) and
        `success_hard` (< 0.03 m). Episodes never terminate: their length is the
        training wrapper's (1000 steps).

    Every reset puts the arm in the same pose with the gripper open, drops the cube
    from 4 cm above the table at `cube_start` plus uniform noise on x and y, and draws
    the goal at `goal_centre` plus uniform noise, at the cube's resting height.

    **Arguments:**

    - `task`: an [`ArmTask`][equicrl.envs.ArmTask] or the name of one
        (`"arm_push_easy"`, `"arm_push_hard"`, `"arm_binpick_easy"`,
        `"arm_binpick_hard"`).
    - `success_threshold`: the distance in metres that counts as reaching the goal.
    """

    def __init__(self, task: ArmTask | str, *, success_threshold: float = 0.1):
        if isinstance(task, str):
            try:
                task = TASKS[task]
            except KeyError:
                raise ValueError(
                    f"unknown arm task {task!r}; the arm tasks are {', '.join(TASKS)}"
                ) from None
        if not success_threshold > 0:
            raise ValueError(
                f"`success_threshold` must be > 0, got {success_threshold}"
            )
        self.task = task
        self._threshold = float(success_threshold)
        self.xml = arm_mjcf(task)
        with quiet_brax_load():
            sys = mjcf.loads(self.xml)
        PipelineEnv.__init__(self, sys, backend="mjx", n_frames=25)
        low, high = np.asarray(_CTRL_LOW), np.asarray(_CTRL_HIGH)
        self._ctrl_mid = jnp.asarray((low + high) / 2, jnp.float32)
        self._ctrl_half = jnp.asarray((high - low) / 2, jnp.float32)

    state_dim = property(lambda self: 17)
    goal_dim = property(lambda self: 3)
    goal_indices = property(lambda self: (0, 1, 2))
    success_threshold = property(lambda self: self._threshold)
    # Nine actuators, driven by five numbers.
    action_size = property(lambda self: 5)

    def motor_controls(self, action: jax.Array) -> jax.Array:
        """The nine actuator controls for a policy action: the arm's absolute joint
        targets, then both fingers' (255, open, unless `action[4] > 0`)."""
        per_joint = jnp.zeros(7).at[jnp.array(_ACTION_JOINTS)].set(action[:4])
        arm = self._ctrl_mid + self._ctrl_half * per_joint
        fingers = jnp.where(action[4] > 0, 0.0, _FINGERS_OPEN)
        return jnp.concatenate([arm, jnp.stack([fingers, fingers])])

    def _draw(self, key, centre, noise) -> jax.Array:
        return jnp.asarray(centre) + jax.random.uniform(
            key, (2,), minval=-noise, maxval=noise
        )

    def initial_q(self, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The joint positions an episode starts from, and its goal.

        The cube at `task.cube_start` plus `U(-cube_noise, cube_noise)` on x and y,
        4 cm above its resting height; the goal marker at the goal (`goal_centre`
        plus uniform noise, z = 0.03); the arm in its reset pose, gripper open.
        """
        cube_key, goal_key = jax.random.split(rng)
        task = self.task
        cube = self._draw(cube_key, task.cube_start, task.cube_noise)
        goal_xy = self._draw(goal_key, task.goal_centre, task.goal_noise)
        goal = jnp.concatenate([goal_xy, jnp.array([CUBE_HALF])])
        identity = jnp.array([1.0, 0.0, 0.0, 0.0])
        q = jnp.concatenate(
            [
                cube,
                jnp.array([0.07]),
                identity,
                goal,
                identity,
                jnp.asarray(RESET_ARM_Q + RESET_FINGER_Q),
            ]
        )
        return q, goal

    def reset(self, rng: jax.Array) -> State:
        q, goal = self.initial_q(rng)
        pipeline_state = self.pipeline_init(q, jnp.zeros(self.sys.qd_size()))
        return self._state(pipeline_state, goal, None)

    def step(self, state: State, action: jax.Array) -> State:
        pipeline_state = self.pipeline_step(
            state.pipeline_state, self.motor_controls(action)
        )
        return self._state(pipeline_state, state.info["goal"], state)

    def _state(self, pipeline_state, goal, previous: State | None) -> State:
        ps = pipeline_state
        fingers = jnp.linalg.norm(ps.x.pos[_LEFT_FINGER] - ps.x.pos[_RIGHT_FINGER])
        robot_obs = jnp.concatenate(
            [
                ps.q[0:3],
                ps.q[14:21],
                ps.x.pos[_LINK7],
                ps.xd.vel[_LINK7],
                fingers[None],
            ]
        )
        dist = jnp.linalg.norm(robot_obs[:3] - goal)
        metrics = {
            "dist": dist,
            "success": (dist < self._threshold).astype(jnp.float32),
            "success_easy": (dist < 0.3).astype(jnp.float32),
            "success_hard": (dist < 0.03).astype(jnp.float32),
        }
        return goal_state(ps, robot_obs, goal, metrics, jnp.zeros(()), previous)
