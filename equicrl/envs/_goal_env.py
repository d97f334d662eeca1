import abc

import jax
import jax.numpy as jnp
from brax.envs.base import Env, State, Wrapper

from .._checks import check_positive_int


def sample_near_cell(key: jax.Array, centres: jax.Array, spread: float) -> jax.Array:
    """A point uniformly within `spread` (per axis) of a uniformly chosen cell centre.

    `centres` is an `(n, 2)` array of cell centres.
    """
    cell_key, noise_key = jax.random.split(key)
    centre = centres[jax.random.randint(cell_key, (), 0, centres.shape[0])]
    return centre + jax.random.uniform(noise_key, (2,), minval=-spread, maxval=spread)


def stitching_draw(
    layout,
    distances,
    cell_size: float,
    draw: str = "uniform",
) -> tuple[jax.Array, jax.Array] | None:
    """The centres of a stitching task's (start, goal) pairs, `(n, 2, 2)`, and their
    probabilities (see [`equicrl.envs.stitching_pairs`][]); `None` without
    `distances`."""
    from ._layouts import stitching_pairs

    if distances is None:
        return None
    if layout is None:
        raise ValueError("a stitching task (`distances`) needs a maze layout")
    pairs, probabilities = stitching_pairs(layout, tuple(distances), draw)
    return (
        jnp.asarray(pairs * cell_size, jnp.float32),
        jnp.asarray(probabilities, jnp.float32),
    )


def sample_pair(
    key: jax.Array, draw: tuple[jax.Array, jax.Array], start_spread, goal_spread
) -> tuple[jax.Array, jax.Array]:
    """A (start, goal) of a stitching task: a pair drawn with its probability, each
    end uniformly within its spread (per axis) of its cell centre."""
    centres, probabilities = draw
    pair_key, start_key, goal_key = jax.random.split(key, 3)
    pair = centres[jax.random.choice(pair_key, centres.shape[0], p=probabilities)]
    start = pair[0] + jax.random.uniform(
        start_key, (2,), minval=-start_spread, maxval=start_spread
    )
    goal = pair[1] + jax.random.uniform(
        goal_key, (2,), minval=-goal_spread, maxval=goal_spread
    )
    return start, goal


@jax.custom_batching.custom_vmap
def any_in_batch(flag: jax.Array) -> jax.Array:
    """`flag`, and under `jax.vmap` the `any` of it over the batch, unbatched: a
    `lax.cond` on it stays a conditional instead of becoming a select."""
    return flag


@any_in_batch.def_vmap
def _any_in_batch_vmap(axis_size, in_batched, flag):
    (batched,) = in_batched
    return (jnp.any(flag, axis=0) if batched else flag), False


def check_cell_fractions(high: float, why: str, **fractions: float) -> None:
    """Raise naming the argument unless every `fractions` value (a spread of starts
    or goals, as a fraction of a cell) is in `[0, high]`; `why` says where `high`
    comes from."""
    for name, value in fractions.items():
        if not 0 <= value <= high:
            raise ValueError(
                f"`{name}` is a fraction of a cell and must be in [0, {high:g}] "
                f"({why}); got {value}"
            )


def goal_state(
    pipeline_state,
    robot_obs: jax.Array,
    goal: jax.Array,
    metrics: dict,
    done,
    previous: State | None,
) -> State:
    """The `State` of a Brax-based goal env after a reset (`previous` is `None`) or a
    step: observation `concat(robot_obs, goal)`, reward `metrics["success"]`, the
    commanded goal in `info["goal"]`; a step keeps `previous`'s info and updates its
    metrics."""
    obs = jnp.concatenate([robot_obs, goal])
    reward = metrics["success"]
    if previous is None:
        return State(pipeline_state, obs, reward, done, metrics, {"goal": goal})
    return previous.replace(
        pipeline_state=pipeline_state,
        obs=obs,
        reward=reward,
        done=done,
        metrics={**previous.metrics, **metrics},
    )


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


# What Brax's `EpisodeWrapper` keeps in `info` about the current episode. At a done
# step it describes the episode that just ended (as Brax's own `AutoResetWrapper`
# leaves it), and the next step starts it over: the step count is zeroed where `done`,
# and `episode_done` tells `EpisodeWrapper` to zero the sums in `episode_metrics`.
_EPISODE_INFO = ("steps", "truncation", "episode_done", "episode_metrics")


def _step_on(env: Env, state: State, own: tuple[str, ...], action) -> tuple:
    """Step a batch of envs on from `state` as an auto-reset wrapper does: the
    wrapper's `own` info taken out (returned, by name), the step count zeroed where
    the last step ended an episode. Returns `(next state, done as bools, own)`."""
    info = dict(state.info)
    taken = {name: info.pop(name) for name in own}
    if "steps" in info:
        steps = info["steps"]
        info["steps"] = jnp.where(state.done, jnp.zeros_like(steps), steps)
    state = state.replace(done=jnp.zeros_like(state.done), info=info)
    state = env.step(state, action)
    return state, state.done.astype(bool), taken


def _restart_where_done(state: State, done, fresh: dict, **own) -> State:
    """`state` with the envs that are `done` restarted from `fresh` (a batch of
    pipeline states, observations and the env's own info), the finished episode's
    last observation in `info["last_obs"]`, and the wrapper's `own` info put back.
    Brax's episode bookkeeping stays the finished episode's (see `_EPISODE_INFO`)."""

    def where_done(new, old):
        return jnp.where(done.reshape(done.shape + (1,) * (old.ndim - 1)), new, old)

    info = dict(state.info)
    info["last_obs"] = state.obs
    for name, value in fresh["info"].items():
        if name in info and name not in _EPISODE_INFO:
            info[name] = jax.tree.map(where_done, value, info[name])
    info.update(own)
    return state.replace(
        pipeline_state=jax.tree.map(
            where_done, fresh["pipeline_state"], state.pipeline_state
        ),
        obs=where_done(fresh["obs"], state.obs),
        info=info,
    )


class GoalAutoResetWrapper(Wrapper):
    """Resets a *batch* of environments when their episodes end, each with a new start
    and goal, computing resets only when they are needed.

    Brax's `AutoResetWrapper` restores the first state of the env, so every episode of
    an env slot would chase the same goal. This wrapper gives each new episode a fresh
    start and goal instead. Computing a fresh reset for every env at every step (and
    selecting it where `done`) would cost a quarter of the humanoid's speed, so each
    env keeps a small pool of `pool_size` fresh reset states, drawn from its own key
    (`info["reset_key"]`): an episode that ends takes the next unused state of its
    env's pool. The pools are only refilled, all at once (one batched reset of
    `num_envs * pool_size` states under a `lax.cond`), at a step where some env needs
    a state and has used up its pool; so resets cost about one per few episodes
    rather than one per env and step.

    The observation returned with `done = 1` is already the new episode's first one,
    and the env's own `info` (such as `info["goal"]`) the new episode's; the last
    observation of the finished episode is kept in `info["last_obs"]`. The episode
    bookkeeping of Brax's `EpisodeWrapper` (`steps`, `truncation`, `episode_done` and
    `episode_metrics`) stays the finished episode's at that step, as Brax's
    `AutoResetWrapper` leaves it.

    It works on a batch of envs: apply it after `VmapWrapper` (as
    [`equicrl.envs.wrap_for_training`][] does). Under a further `jax.vmap` (say, over
    seeds) the refill stays a `lax.cond`, taken when any member of the batch needs it
    (a plain `vmap` would turn it into a select and compute it at every step); the
    members that do not need it keep their pools, so each gives what it would alone.

    **Arguments:**

    - `env`: a batched env: `reset` takes a batch of keys, `step` a batch of actions.
    - `pool_size`: fresh reset states kept per env.
    """

    _OWN = ("reset_pool", "pool_used", "reset_key")

    def __init__(self, env: Env, *, pool_size: int = 4):
        super().__init__(env)
        self.pool_size = check_positive_int("pool_size", pool_size)

    def _fresh(self, keys: jax.Array) -> dict:
        """`pool_size` fresh reset states per key, shaped `(len(keys), pool_size)`."""
        n, k = keys.shape[0], self.pool_size
        pool_keys = jax.vmap(lambda key: jax.random.split(key, k))(keys)
        state = self.env.reset(pool_keys.reshape((n * k,) + pool_keys.shape[2:]))
        pool = {
            "pipeline_state": state.pipeline_state,
            "obs": state.obs,
            # Step count and truncation go on from the finished episode's: the next
            # step zeroes the step count where `done`, as Brax's wrappers expect.
            # (The pool keeps the reset's episode sums, unused, so that checkpoints
            # of earlier runs still load: see `step`.)
            "info": {
                name: value
                for name, value in state.info.items()
                if name not in ("steps", "truncation")
            },
        }
        return jax.tree.map(lambda x: x.reshape((n, k) + x.shape[1:]), pool)

    def reset(self, rng: jax.Array) -> State:
        keys = jax.vmap(lambda key: jax.random.split(key, 3))(rng)
        state = self.env.reset(keys[:, 0])
        state.info["reset_pool"] = self._fresh(keys[:, 1])
        state.info["pool_used"] = jnp.zeros(rng.shape[0], jnp.int32)
        state.info["reset_key"] = keys[:, 2]
        state.info["last_obs"] = state.obs
        return state

    def step(self, state: State, action: jax.Array) -> State:
        state, done, own = _step_on(self.env, state, self._OWN, action)
        pool, used, key = (own[name] for name in self._OWN)

        def refill(pool, used, key):
            keys = jax.vmap(jax.random.split)(key)
            return self._fresh(keys[:, 0]), jnp.zeros_like(used), keys[:, 1]

        def keep(pool, used, key):
            return pool, used, key

        def refill_where_exhausted(pool, used, key):
            new = refill(pool, used, key)
            # Under a vmap (over seeds) the branch runs for the whole batch when any
            # member needs it; the others keep their own pools.
            return jax.tree.map(
                lambda a, b: jnp.where(exhausted, a, b), new, (pool, used, key)
            )

        exhausted = jnp.any(done & (used >= self.pool_size))
        pool, used, key = jax.lax.cond(
            any_in_batch(exhausted), refill_where_exhausted, keep, pool, used, key
        )
        slot = jnp.minimum(used, self.pool_size - 1)
        rows = jnp.arange(done.shape[0])
        fresh = jax.tree.map(lambda x: x[rows, slot], pool)
        return _restart_where_done(
            state,
            done,
            fresh,
            reset_pool=pool,
            pool_used=used + done.astype(used.dtype),
            reset_key=key,
        )


class FirstStateAutoResetWrapper(Wrapper):
    """Resets a *batch* of environments when their episodes end by putting each env
    slot back to *its own first state*: the release's training behaviour (Brax's
    `AutoResetWrapper`), where every env slot keeps one start and one goal for the
    whole run.

    Brax's `AutoResetWrapper` restores the first pipeline state and observation; a
    goal env also keeps its commanded goal in `info` (`info["goal"]`), so this
    wrapper restores the env's own `info` with them, and so gives each slot exactly
    its first episode's start and goal again (plus nothing random: the dynamics of a
    Brax env are deterministic). As [`equicrl.envs.GoalAutoResetWrapper`][], the
    observation returned with `done = 1` is already the next episode's first one, the
    finished episode's last observation is in `info["last_obs"]`, and Brax's episode
    bookkeeping stays the finished episode's at that step.

    Apply it after `VmapWrapper`, as [`equicrl.envs.wrap_for_training`][] does with
    `reset="first"`.
    """

    _OWN = ("first_state",)

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        state.info["first_state"] = {
            "pipeline_state": state.pipeline_state,
            "obs": state.obs,
            "info": {
                name: value
                for name, value in state.info.items()
                if name not in _EPISODE_INFO
            },
        }
        state.info["last_obs"] = state.obs
        return state

    def step(self, state: State, action: jax.Array) -> State:
        state, done, own = _step_on(self.env, state, self._OWN, action)
        first = own["first_state"]
        return _restart_where_done(state, done, first, first_state=first)
