import abc

import jax
import jax.numpy as jnp
from brax.envs.base import Env, State, Wrapper


def sample_near_cell(key: jax.Array, centres: jax.Array, spread: float) -> jax.Array:
    """A point uniformly within `spread` (per axis) of a uniformly chosen cell centre.

    `centres` is an `(n, 2)` array of cell centres.
    """
    cell_key, noise_key = jax.random.split(key)
    centre = centres[jax.random.randint(cell_key, (), 0, centres.shape[0])]
    return centre + jax.random.uniform(noise_key, (2,), minval=-spread, maxval=spread)


class GoalEnv(Env):
    """A goal-conditioned Brax environment: the interface equicrl's training relies on.

    - The observation is `concat(state, goal)`: `state_dim` numbers describing the
      agent, then the `goal_dim` numbers of the commanded goal.
    - `goal_indices` are the positions in the state that form the *achieved* goal, so
      `state[goal_indices]` of any future state is a goal that was reached (hindsight
      relabelling reads goals this way).
    - `State.metrics` holds at least `dist` (distance from the achieved to the commanded
      goal) and `success` (1.0 when `dist < success_threshold`), so the sum of
      `success` over an episode is its "time at goal".
    - `State.info["goal"]` holds the commanded goal.
    """

    @property
    @abc.abstractmethod
    def state_dim(self) -> int: ...

    @property
    @abc.abstractmethod
    def goal_dim(self) -> int: ...

    @property
    @abc.abstractmethod
    def goal_indices(self) -> tuple[int, ...]: ...

    @property
    @abc.abstractmethod
    def success_threshold(self) -> float: ...

    @property
    def observation_size(self) -> int:
        return self.state_dim + self.goal_dim

    def achieved_goal(self, obs: jax.Array) -> jax.Array:
        """The achieved goal of an observation (or a batch of them)."""
        return obs[..., jnp.asarray(self.goal_indices)]

    def commanded_goal(self, obs: jax.Array) -> jax.Array:
        """The commanded goal of an observation (or a batch of them)."""
        return obs[..., self.state_dim :]


class GoalAutoResetWrapper(Wrapper):
    """Resets an environment when its episode ends, with a *new* goal.

    Brax's `AutoResetWrapper` restores the first state of the env, so every episode of
    an env slot would chase the same goal. This wrapper instead calls `reset` with a
    fresh key (kept in `info["reset_key"]`) and takes the new state where `done`.
    The observation returned with `done = 1` is already the new episode's first one;
    the last observation of the finished episode is kept in `info["last_obs"]`.

    It works on one environment: apply it before `VmapWrapper` (as
    [`equicrl.envs.wrap_for_training`][] does).
    """

    def reset(self, rng: jax.Array) -> State:
        key, reset_key = jax.random.split(rng)
        state = self.env.reset(key)
        state.info["reset_key"] = reset_key
        state.info["last_obs"] = state.obs
        return state

    def step(self, state: State, action: jax.Array) -> State:
        if "steps" in state.info:
            steps = state.info["steps"]
            state.info.update(steps=jnp.where(state.done, jnp.zeros_like(steps), steps))
        state = state.replace(done=jnp.zeros_like(state.done))
        state = self.env.step(state, action)
        reset_key, next_key = jax.random.split(state.info["reset_key"])
        fresh = self.env.reset(reset_key)

        def where_done(new, old):
            return jnp.where(state.done, new, old)

        info = dict(state.info)
        info["last_obs"] = state.obs
        for k in fresh.info:
            if k in info and k not in ("steps", "truncation"):
                info[k] = jax.tree.map(where_done, fresh.info[k], info[k])
        info["reset_key"] = next_key
        return state.replace(
            pipeline_state=jax.tree.map(
                where_done, fresh.pipeline_state, state.pipeline_state
            ),
            obs=where_done(fresh.obs, state.obs),
            info=info,
        )
