"""What a run is made of: its static parts (envs, optimisers, mesh) and the state it
carries from epoch to epoch, created from one seed's key by a pure function."""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jax.sharding import Mesh
from jaxtyping import Array, Int, Key, PRNGKeyArray, PyTree

from .._checkpoint import load_checkpoint, read_header
from ..nn._actor import GoalConditionedActor
from ..nn._critic import ContrastiveCritic
from ..nn._update import CRLState, init_crl_state
from ._buffer import TrajectoryBuffer
from ._config import CRLConfig
from ._sharding import make_mesh, shard


class TrainState(eqx.Module):
    """Everything a training run carries from one epoch to the next.

    In a run of several seeds (`CRLConfig.num_seeds > 1`), every array has a leading
    axis of seeds; [`equicrl.seed_state`][] takes out one seed's state.
    """

    crl: CRLState
    buffer: TrajectoryBuffer | None
    """The replay buffer; `None` only in a state read from a light checkpoint (see
    `train(checkpoint_buffer=False)`)."""
    env_state: PyTree
    episode_id: Int[Array, " num_envs"]
    key: PRNGKeyArray
    collections: Int[Array, ""]
    """Collections made so far, prefill included: `collections *
    config.env_steps_per_collection` env steps (counted in Python, so that the count
    of env steps never overflows an int32)."""
    collector: CRLState | None = None
    """With `config.collector_depth`: the agent that collects the data (see
    `CRLConfig.collector_depth`); `None` otherwise."""
    learners: tuple[CRLState, ...] | None = None
    """With `config.learner_depths`: the agents that learn from the run's data and
    never act, one per depth; `None` otherwise."""


@dataclasses.dataclass(frozen=True)
class Parts:
    """The static pieces of a run: envs, optimisers, mesh."""

    config: CRLConfig
    env: object  # the GoalEnv
    train_env: object  # wrapped for training (episodes, auto-reset, vmap)
    eval_env: object
    optimisers: tuple
    mesh: Mesh

    @property
    def state_dim(self) -> int:
        return self.env.state_dim


def learning_rate(config: CRLConfig, peak: float) -> float | optax.Schedule:
    """The learning rate `peak` as `config.lr_schedule` shapes it over the run's
    gradient steps (Adam counts its updates, so a resumed run continues the
    schedule where it stopped)."""
    if config.lr_schedule == "constant":
        return peak
    steps = config.num_epochs * config.gradient_steps_per_collection
    return optax.cosine_decay_schedule(peak, decay_steps=steps)


def make_parts(config: CRLConfig, env_overrides: dict | None = None) -> Parts:
    """The envs (training, wrapped; evaluation: the `_eval` variant if registered),
    the three Adam optimisers and the mesh of a run with `config`."""
    from ..envs import list_envs, make_env, wrap_for_training

    env_overrides = env_overrides or {}
    env = make_env(config.env_name, **env_overrides)
    eval_name = config.env_name + "_eval"
    eval_env = make_env(eval_name, **env_overrides) if eval_name in list_envs() else env
    train_env = wrap_for_training(
        env, episode_length=config.episode_length, reset=config.episode_reset
    )
    optimisers = (
        optax.adam(learning_rate(config, config.actor_lr)),
        optax.adam(learning_rate(config, config.critic_lr)),
        optax.adam(config.alpha_lr),
    )
    return Parts(config, env, train_env, eval_env, optimisers, make_mesh(config))


def make_networks(
    parts: Parts, key: PRNGKeyArray, depth: int | None = None
) -> tuple[GoalConditionedActor, ContrastiveCritic]:
    """The run's actor and critic; with `depth`, both at that depth (the
    collector's)."""
    c, env = parts.config, parts.env
    if depth is not None:
        c = c.replace(actor_depth=depth, critic_depth=depth)
    actor_key, critic_key = jr.split(key)
    actor = GoalConditionedActor(
        env.state_dim,
        env.goal_dim,
        env.action_size,
        width=c.actor_width,
        depth=c.actor_depth,
        layers_per_block=c.layers_per_block,
        remat=c.remat,
        matmul_dtype=c.matmul_dtype,
        key=actor_key,
    )
    critic = ContrastiveCritic(
        env.state_dim,
        env.action_size,
        env.goal_dim,
        repr_dim=c.repr_dim,
        width=c.critic_width,
        depth=c.critic_depth,
        energy=c.energy,
        layers_per_block=c.layers_per_block,
        remat=c.remat,
        matmul_dtype=c.matmul_dtype,
        key=critic_key,
    )
    return actor, critic


def seed_keys(config: CRLConfig) -> Key[Array, "*seeds"]:
    """The key of each seed: `jax.random.key(config.seed + i)`; one key (no axis) for
    a run of one seed, so that seed `i` of a run of several is the run of one seed
    with `seed + i`."""
    if config.num_seeds == 1:
        return jr.key(config.seed)
    return jax.vmap(jr.key)(config.seed + jnp.arange(config.num_seeds))


def split_seed_key(key: PRNGKeyArray) -> tuple[PRNGKeyArray, ...]:
    """`(networks, envs, run, evaluation)` keys from one seed's key."""
    return tuple(jr.split(key, 4))


def initial_state(parts: Parts, key: PRNGKeyArray) -> TrainState:
    """The state of one seed before any step: new networks and optimiser states, reset
    envs, an empty replay buffer. Pure; call it under `jit` (and `vmap` for seeds)."""
    c = parts.config
    net_key, env_key, run_key, _ = split_seed_key(key)
    actor, critic = make_networks(parts, net_key)
    env_state = parts.train_env.reset(jr.split(env_key, c.num_envs))
    example = {
        "state": env_state.obs[:, : parts.state_dim],
        "action": jnp.zeros((c.num_envs, parts.env.action_size)),
    }
    if c.teacher is not None:
        # Distillation learns on the commanded goals.
        example["goal"] = env_state.obs[:, parts.state_dim :]
    collector = None
    if c.collector_depth is not None:
        # Its own key: the learner's networks are those of a run without collector.
        collector = init_crl_state(
            *make_networks(parts, jr.fold_in(net_key, 1), c.collector_depth),
            parts.optimisers,
        )
    learners = None
    if c.learner_depths:
        # Their own keys: the collector's networks are those of a run without them.
        learners = tuple(
            init_crl_state(
                *make_networks(parts, jr.fold_in(net_key, 2 + i), depth),
                parts.optimisers,
            )
            for i, depth in enumerate(c.learner_depths)
        )
    ts = TrainState(
        crl=init_crl_state(actor, critic, parts.optimisers),
        collector=collector,
        learners=learners,
        buffer=TrajectoryBuffer.create(example, c.replay_rows, c.num_envs),
        env_state=env_state,
        episode_id=jnp.zeros(c.num_envs, jnp.int32),
        key=run_key,
        collections=jnp.zeros((), jnp.int32),
    )
    return shard(ts, parts.mesh)


def seeds_initial_state(parts: Parts) -> Callable[[PRNGKeyArray], TrainState]:
    """`initial_state` of every seed of the run: a function of `seed_keys(config)`,
    vmapped over seeds for a run of several."""

    def init(key):
        return initial_state(parts, key)

    return eqx.filter_vmap(init) if parts.config.num_seeds > 1 else init


def read_state(path: Path, parts: Parts) -> tuple[TrainState, int]:
    """The state saved in the checkpoint at `path` and its epoch, read into the
    structure of the run's initial state (found by tracing, nothing compiled). A light
    checkpoint (saved without its replay buffer) gives `buffer=None`."""
    like = eqx.filter_eval_shape(seeds_initial_state(parts), seed_keys(parts.config))
    if not read_header(path).get("buffer", True):
        # tree_at, not dataclasses.replace: no __init__ (and its type checks).
        like = eqx.tree_at(lambda t: t.buffer, like, None)
    ts, meta = load_checkpoint(path, like)
    return ts, int(meta["epoch"])


def env_steps(config: CRLConfig, collections: Int[Array, "*seeds"]) -> int:
    """Env steps after `collections` (every seed's count is the same): a Python int,
    exact past the 2**31 an int32 holds."""
    return int(jnp.ravel(collections)[0]) * config.env_steps_per_collection


def seed_state(ts: TrainState, i: int) -> TrainState:
    """Seed `i`'s state, taken out of the state of a run of several seeds."""
    return take_seed(ts, i)


def take_seed(tree: PyTree, i: int) -> PyTree:
    """Seed `i`'s part of any tree with a leading seed axis on its arrays (a state,
    an actor)."""
    return jax.tree.map(lambda x: x[i] if eqx.is_array(x) else x, tree)
