"""Collection: every training env takes `unroll_length` steps, and the trajectories
go into the replay buffer."""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Bool

from ..nn._actor import act
from ._sharding import shard
from ._state import Parts, TrainState


def collect(parts: Parts, ts: TrainState, random: Bool[Array, ""]) -> TrainState:
    """Roll every env `unroll_length` steps and append the trajectories to the buffer.

    Actions are uniformly random if `random` (the prefill), else the actor's, as
    `config.expl_actor` says (a sample by default; see [`equicrl.act`][]): one
    compiled function serves both. Pure: one seed's state in, its next state out.
    """
    env, sd = parts.train_env, parts.state_dim
    num_envs, steps = parts.config.num_envs, parts.config.unroll_length
    action_size = parts.env.action_size
    # The collector experiment: another agent's actor collects.
    agent = ts.crl if ts.collector is None else ts.collector
    mode = parts.config.expl_actor

    def uniform(state, goal, key):
        return jr.uniform(key, (num_envs, action_size), minval=-1, maxval=1)

    def from_actor(state, goal, key):
        keys = jr.split(key, num_envs)
        return jax.vmap(
            lambda s, g, k: act(
                agent.actor, s, g, mode=mode, key=k, critic=agent.critic
            )
        )(state, goal, keys)

    def body(carry, key):
        env_state, episode_id = carry
        state, goal = env_state.obs[:, :sd], env_state.obs[:, sd:]
        action = jax.lax.cond(random, uniform, from_actor, state, goal, key)
        next_state = env.step(env_state, action)
        row = {"state": state, "action": action}
        if parts.config.teacher is not None:
            row["goal"] = goal  # distillation learns on the commanded goals
        next_id = episode_id + next_state.done.astype(jnp.int32)
        return (next_state, next_id), (row, episode_id)

    key, collect_key = jr.split(ts.key)
    (env_state, episode_id), (rows, ids) = jax.lax.scan(
        body, (ts.env_state, ts.episode_id), jr.split(collect_key, steps)
    )
    ts = TrainState(
        crl=ts.crl,
        buffer=ts.buffer.insert(rows, ids),
        env_state=env_state,
        episode_id=episode_id,
        key=key,
        collections=ts.collections + 1,
        collector=ts.collector,
        learners=ts.learners,
    )
    return shard(ts, parts.mesh)
