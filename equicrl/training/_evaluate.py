"""Evaluation: episodes of the deterministic actor on the eval env, with time at goal,
success and final distance."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import Array, Key, PRNGKeyArray

from ..nn._actor import act, check_actor_mode, GoalConditionedActor
from ..nn._critic import ContrastiveCritic
from ._sharding import DATA_AXIS


def action_keys(key, mode: int, episode_length: int, num_episodes: int):
    """The actions' noise of `num_episodes` episodes played from `key`: a key per step
    and episode for a sampling mode (the episodes, drawn from `key` itself, are those
    of mode 0), `None` for the mean action, which needs none."""
    if not mode:
        return None
    return jr.split(jr.fold_in(key, 1), (episode_length, num_episodes))


def step_actions(actor, obs, state_dim: int, keys, mode: int, critic):
    """One step's actions of a batch of episodes (`obs`: `concat(state, goal)` rows),
    the actor acting in `mode` with that step's `keys` (`None`: the mean action)."""
    s, g = obs[:, :state_dim], obs[:, state_dim:]
    if keys is None:
        return jax.vmap(actor.deterministic_action)(s, g)
    return jax.vmap(lambda s, g, k: act(actor, s, g, mode=mode, key=k, critic=critic))(
        s, g, keys
    )


def _rollout(
    actor, env, key, num_episodes: int, episode_length: int, mesh, critic=None, mode=0
):
    sd = env.state_dim
    state = jax.vmap(env.reset)(jr.split(key, num_episodes))
    keys = action_keys(key, mode, episode_length, num_episodes)
    if mesh is not None:
        # Episodes split across the devices, like the training envs.
        state = jax.lax.with_sharding_constraint(
            state, NamedSharding(mesh, P(DATA_AXIS))
        )

    def body(carry, keys):
        state, alive, last_dist = carry
        action = step_actions(actor, state.obs, sd, keys, mode, critic)
        state = jax.vmap(env.step)(state, action)
        at_goal = state.metrics["success"] * alive
        last_dist = jnp.where(alive > 0, state.metrics["dist"], last_dist)
        alive = alive * (1 - state.done)
        return (state, alive, last_dist), at_goal

    init = (state, jnp.ones(num_episodes), state.metrics["dist"])
    (_, _, final_dist), at_goal = jax.lax.scan(body, init, keys, length=episode_length)
    results = at_goal.sum(0), (at_goal.sum(0) > 0).astype(jnp.float32), final_dist
    if mesh is not None:
        # Replicated (a tiny all-gather), so that every process of a multi-host run
        # can read the per-episode results.
        results = jax.lax.with_sharding_constraint(results, NamedSharding(mesh, P()))
    return results


# Module level, with the env, episode count and length static: repeated evaluations
# of one run reuse the compiled rollout instead of recompiling it each time.
_evaluation_rollout = eqx.filter_jit(_rollout)
# The same for a run of several seeds: actors and keys with a leading seed axis.
_seeds_rollout = eqx.filter_jit(eqx.filter_vmap(_rollout))


def _summary(time_at_goal, success, final_dist) -> dict[str, float]:
    out = {}
    for name, values in (
        ("time_at_goal", time_at_goal),
        ("success", success),
        ("final_dist", final_dist),
    ):
        out[name] = float(values.mean())
        if len(values) > 1:  # one episode has no standard error
            out[name + "_stderr"] = float(values.std(ddof=1) / math.sqrt(len(values)))
    return out


def evaluate(
    actor: GoalConditionedActor,
    env,
    *,
    num_episodes: int,
    episode_length: int,
    key: PRNGKeyArray,
    mesh: Mesh | None = None,
    mode: int = 0,
    critic: ContrastiveCritic | None = None,
) -> dict[str, float]:
    """Run `num_episodes` episodes of the actor: the deterministic one (its mean
    action, `mode=0`), or as another `mode` of [`equicrl.act`][] says (sampling, or
    the best of `mode` samples by `critic`; `CRLConfig.eval_actor`).

    With a `mesh` (as [`equicrl.make_mesh`][] makes), the episodes are split across
    its devices; `num_episodes` must then be a multiple of their number.

    **Returns:**

    Means and standard errors (`NAME_stderr`; left out for one episode) over episodes
    of `time_at_goal` (steps within the success threshold), `success` (1 if the goal
    was ever reached) and `final_dist` (distance at the last step, or at
    termination).
    """
    check_actor_mode("mode", mode)
    results = _evaluation_rollout(
        actor, env, key, num_episodes, episode_length, mesh, critic, mode
    )
    return _summary(*(np.asarray(x) for x in results))


def evaluate_seeds(
    actors: GoalConditionedActor,
    env,
    *,
    num_episodes: int,
    episode_length: int,
    keys: Key[Array, " seeds"],
    mesh: Mesh | None = None,
    mode: int = 0,
    critics: ContrastiveCritic | None = None,
) -> list[dict[str, float]]:
    """[`equicrl.evaluate`][] for a stack of actors (one per seed, as in the state of a
    run of several seeds; `critics` likewise), in one compiled rollout: one dict per
    seed, each seed with its own key from `keys`."""
    check_actor_mode("mode", mode)
    results = _seeds_rollout(
        actors, env, keys, num_episodes, episode_length, mesh, critics, mode
    )
    results = [np.asarray(x) for x in results]
    return [_summary(*(x[i] for x in results)) for i in range(len(results[0]))]
