"""The release's goal-conditioned reacher: Brax's two-link planar arm, commanded to
put its fingertip on a target.

The cheapest goal-conditioned Brax task the release trains, so the one where equicrl
and the release can be trained side by side on a CPU (see
`benchmarks/reproduce_release.py`).
"""

import jax
import jax.numpy as jnp
import numpy as np
from brax import base
from brax.envs.base import State
from brax.envs.reacher import Reacher

from ._goal_env import goal_state, GoalEnv
from ._walls import quiet_brax_load


# The fingertip: the second link's frame moved 0.11 along its x axis.
_TIP = np.array([0.11, 0.0, 0.0], np.float32)


class ReacherGoalEnv(GoalEnv):
    """Brax's Reacher (spring backend) commanded to put its fingertip on a target, as
    the release's `envs/reacher.py` has it.

    Physics: Brax's `reacher.xml` as Brax's own `Reacher` sets it up for the spring
    backend, which is what the release changes too: timestep 0.005, actuator gear 25
    on both joints, 4 frames per step (0.02 s a step). The target is a body on two
    slide joints that nothing pushes (its
    height sags a few millimetres under the spring backend, as in the release).

    Reset: the arm's joints at their initial positions plus `U(-0.1, 0.1)`, all
    velocities `U(-0.005, 0.005)`; the target at a point drawn in a disc of radius
    `target_radius` (0.2; radius `0.2 * U(0, 1)`, angle `2 pi U(0, 1)`, so the
    draw is denser near the centre, as the release's) with zero velocity.

    State (10): cos and sin of the two arm joints, the fingertip's position (3) and
    velocity (3); `goal_indices` are the fingertip's position (4, 5, 6). Goal: the
    target's position (3; its height starts at 0.01), read from the simulation at
    every step as the release does. Success: the fingertip within
    `success_threshold` (0.05) of the target. Nothing ends an episode but its length
    (the release trains with episodes of 1000 steps).

    Actions in `[-1, 1]` are the motors' controls (their ctrlrange is `[-1, 1]`).
    """

    # What the achieved goal is, for pictures of its paths.
    ACHIEVED = "fingertip"

    def __init__(
        self,
        *,
        success_threshold: float = 0.05,
        target_radius: float = 0.2,
        backend: str = "spring",
    ):
        if not success_threshold > 0:
            raise ValueError(
                f"`success_threshold` must be > 0, got {success_threshold}"
            )
        if not target_radius > 0:
            raise ValueError(f"`target_radius` must be > 0, got {target_radius}")
        if backend not in ("spring", "positional"):
            # Brax's Reacher keeps gear 200 and 2 frames on the other backends: not
            # the release's task.
            raise ValueError(
                "`backend` must be 'spring' or 'positional' (the release's reacher "
                f"is Brax's spring or positional setup); got {backend!r}"
            )
        self._threshold = float(success_threshold)
        self.target_radius = float(target_radius)
        with quiet_brax_load():
            self._robot_env = Reacher(backend=backend)

    state_dim = property(lambda self: 10)
    goal_dim = property(lambda self: 3)
    goal_indices = property(lambda self: (4, 5, 6))
    success_threshold = property(lambda self: self._threshold)
    action_size = property(lambda self: self._robot_env.action_size)
    backend = property(lambda self: self._robot_env.backend)
    dt = property(lambda self: self._robot_env.dt)
    sys = property(lambda self: self._robot_env.sys)

    def target(self, key: jax.Array) -> jax.Array:
        """A target's `(x, y)`: radius `target_radius * U(0, 1)`, angle
        `2 pi U(0, 1)`."""
        radius_key, angle_key = jax.random.split(key)
        radius = self.target_radius * jax.random.uniform(radius_key)
        angle = 2 * jnp.pi * jax.random.uniform(angle_key)
        return radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])

    def reset(self, rng: jax.Array) -> State:
        q_key, qd_key, target_key = jax.random.split(rng, 3)
        sys = self.sys
        q = sys.init_q + jax.random.uniform(
            q_key, (sys.q_size(),), minval=-0.1, maxval=0.1
        )
        qd = jax.random.uniform(qd_key, (sys.qd_size(),), minval=-0.005, maxval=0.005)
        q = q.at[2:].set(self.target(target_key))
        qd = qd.at[2:].set(0.0)
        pipeline_state = self._robot_env.pipeline_init(q, qd)
        return self._state(pipeline_state, pipeline_state.x.pos[2], None)

    def step(self, state: State, action: jax.Array) -> State:
        pipeline_state = self._robot_env.pipeline_step(state.pipeline_state, action)
        # The goal is the target as simulated, as in the release: the spring
        # backend lets it sag a few millimetres below its 0.01.
        state = self._state(pipeline_state, pipeline_state.x.pos[2], state)
        return state.replace(info={**state.info, "goal": pipeline_state.x.pos[2]})

    def _state(self, pipeline_state, goal, previous: State | None) -> State:
        tip = base.Transform.create(pos=jnp.asarray(_TIP))
        theta = pipeline_state.q[:2]
        robot_obs = jnp.concatenate(
            [
                jnp.cos(theta),
                jnp.sin(theta),
                pipeline_state.x.take(1).do(tip).pos,
                tip.do(pipeline_state.xd.take(1)).vel,
            ]
        )
        dist = jnp.linalg.norm(robot_obs[4:7] - goal)
        metrics = {
            "dist": dist,
            "success": (dist < self._threshold).astype(jnp.float32),
        }
        done = jnp.zeros((), jnp.float32)
        return goal_state(pipeline_state, robot_obs, goal, metrics, done, previous)
