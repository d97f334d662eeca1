"""The CRL training loop: collect -> insert -> relabel -> (actor + alpha, critic) steps.

Each epoch (one collection of `unroll_length` steps in every env, then
`gradient_steps_per_collection` gradient steps on relabelled batches) is one jitted
function built from `lax.scan`s; a thin Python loop around epochs evaluates, prints
progress and writes metrics.
"""

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import Array, Bool, Int, PRNGKeyArray, PyTree

from ._actor import GoalConditionedActor
from ._buffer import TrajectoryBuffer
from ._checkpoint import _rewrap_keys, _unwrap_keys, load_checkpoint, save_checkpoint
from ._checks import check_positive_int
from ._config import CRLConfig
from ._critic import ContrastiveCritic
from ._outputs import write_run_outputs
from ._update import crl_gradient_step, CRLState, init_crl_state, Transitions


DATA_AXIS = "data"


class TrainState(eqx.Module):
    """Everything a training run carries from one epoch to the next."""

    crl: CRLState
    buffer: TrajectoryBuffer
    env_state: PyTree
    episode_id: Int[Array, " num_envs"]
    key: PRNGKeyArray
    env_steps: Int[Array, ""]


@dataclasses.dataclass(frozen=True)
class _Parts:
    """The static pieces of a run: envs, optimisers, sizes."""

    config: CRLConfig
    env: object  # the GoalEnv
    train_env: object  # wrapped for training (episodes, auto-reset, vmap)
    eval_env: object
    optimisers: tuple
    mesh: Mesh

    @property
    def state_dim(self) -> int:
        return self.env.state_dim


def _make_parts(config: CRLConfig, env_overrides: dict) -> _Parts:
    from .envs import list_envs, make_env, wrap_for_training

    env = make_env(config.env_name, **env_overrides)
    eval_name = config.env_name + "_eval"
    eval_env = make_env(eval_name, **env_overrides) if eval_name in list_envs() else env
    train_env = wrap_for_training(env, episode_length=config.episode_length)
    optimisers = (
        optax.adam(config.actor_lr),
        optax.adam(config.critic_lr),
        optax.adam(config.alpha_lr),
    )
    return _Parts(config, env, train_env, eval_env, optimisers, make_mesh(config))


def make_mesh(config: CRLConfig) -> Mesh:
    """The one-axis (`"data"`) device mesh a run with `config` trains on.

    `config.num_devices` devices (all of `jax.devices()` if `None`); raises a
    `ValueError` if there are fewer, or if `num_envs`, `batch_size` or `eval_envs` do
    not split evenly across them.
    """
    devices = jax.devices()
    n = len(devices) if config.num_devices is None else config.num_devices
    if n > len(devices):
        raise ValueError(
            f"`num_devices` is {n} but JAX sees {len(devices)} device(s): {devices}"
        )
    config.check_split(n)
    return Mesh(np.asarray(devices[:n]), (DATA_AXIS,))


def _shardings(ts: TrainState, mesh: Mesh) -> PyTree:
    """The data-parallel layout of `ts`'s arrays (a `NamedSharding` per array): env
    states, episode ids and the replay buffer's env axis split across the mesh; the
    networks, optimiser states, RNG key and counters replicated."""

    def like(tree, spec):
        sharding = NamedSharding(mesh, spec)
        return jax.tree.map(lambda _: sharding, eqx.filter(tree, eqx.is_array))

    split, columns, whole = P(DATA_AXIS), P(None, DATA_AXIS), P()
    b = ts.buffer
    # tree_at, not TrainState(...): the leaves are shardings, not arrays.
    return eqx.tree_at(
        lambda t: (
            t.crl,
            t.buffer.data,
            t.buffer.episode_id,
            t.buffer.start,
            t.buffer.size,
            t.env_state,
            t.episode_id,
            t.key,
            t.env_steps,
        ),
        eqx.filter(ts, eqx.is_array),
        (
            like(ts.crl, whole),
            like(b.data, columns),
            like(b.episode_id, columns),
            like(b.start, whole),
            like(b.size, whole),
            like(ts.env_state, split),
            like(ts.episode_id, split),
            like(ts.key, whole),
            like(ts.env_steps, whole),
        ),
    )


def _shard(ts: TrainState, mesh: Mesh) -> TrainState:
    """`ts` constrained to its data-parallel layout, inside `jit`."""
    arrays = jax.tree.map(
        jax.lax.with_sharding_constraint,
        eqx.filter(ts, eqx.is_array),
        _shardings(ts, mesh),
    )
    return eqx.combine(arrays, ts)


def _place(ts: TrainState, mesh: Mesh) -> TrainState:
    """`ts` (e.g. read from a checkpoint, the same on every host) put on the mesh in
    its data-parallel layout."""
    arrays = eqx.filter(ts, eqx.is_array)
    # `device_put` cannot put typed PRNG keys on another process's devices (a
    # multi-host mesh): put their raw data there and wrap it again.
    raw = jax.device_put(_unwrap_keys(arrays), _shardings(ts, mesh))
    arrays = _rewrap_keys(raw, arrays)
    return eqx.combine(arrays, ts)


def _networks(parts: _Parts, key: PRNGKeyArray):
    c, env = parts.config, parts.env
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


def _collect(parts: _Parts, ts: TrainState, random: Bool[Array, ""]) -> TrainState:
    """Roll every env `unroll_length` steps and append the trajectories to the buffer.

    Actions are uniformly random if `random` (the prefill), else sampled from the actor:
    one compiled function serves both.
    """
    env, sd = parts.train_env, parts.state_dim
    num_envs, steps = parts.config.num_envs, parts.config.unroll_length
    action_size = parts.env.action_size
    actor = ts.crl.actor

    def uniform(state, goal, key):
        return jr.uniform(key, (num_envs, action_size), minval=-1, maxval=1)

    def from_actor(state, goal, key):
        keys = jr.split(key, num_envs)
        action, _ = jax.vmap(lambda s, g, k: actor.sample(s, g, key=k))(
            state, goal, keys
        )
        return action

    def body(carry, key):
        env_state, episode_id = carry
        state, goal = env_state.obs[:, :sd], env_state.obs[:, sd:]
        action = jax.lax.cond(random, uniform, from_actor, state, goal, key)
        next_state = env.step(env_state, action)
        row = {"state": state, "action": action}
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
        env_steps=ts.env_steps + steps * num_envs,
    )
    return _shard(ts, parts.mesh)


_LOSSES = ("critic_loss", "actor_loss", "alpha_loss")


def _learn(parts: _Parts, ts: TrainState) -> tuple[TrainState, dict, dict]:
    """`gradient_steps_per_collection` CRL gradient steps on relabelled batches."""
    c, goal_indices = parts.config, jnp.asarray(parts.env.goal_indices)

    crl_params, crl_static = eqx.partition(ts.crl, eqx.is_array)

    def body(crl_params, key):
        crl = eqx.combine(crl_params, crl_static)
        sample_key, step_key = jr.split(key)
        now, future, _ = ts.buffer.sample_relabelled(
            sample_key, c.batch_size, c.gamma, mesh=parts.mesh
        )
        batch = Transitions(
            state=now["state"],
            action=now["action"],
            goal=future["state"][:, goal_indices],
        )
        crl, metrics = crl_gradient_step(
            crl,
            batch,
            step_key,
            optimiser=parts.optimisers,
            infonce_kind=c.infonce_kind,
            logsumexp_penalty=c.logsumexp_penalty,
        )
        return eqx.filter(crl, eqx.is_array), metrics

    key, learn_key = jr.split(ts.key)
    crl_params, metrics = jax.lax.scan(
        body, crl_params, jr.split(learn_key, c.gradient_steps_per_collection)
    )
    crl = eqx.combine(crl_params, crl_static)
    # For each loss, the first gradient step of the epoch where it was not finite
    # (-1 if none), so that a divergence can be reported exactly.
    first_nonfinite = {
        name: jnp.where(
            jnp.all(jnp.isfinite(metrics[name])),
            -1,
            jnp.argmin(jnp.isfinite(metrics[name])),
        )
        for name in _LOSSES
    }
    metrics = jax.tree.map(jnp.mean, metrics)
    ts = eqx.tree_at(lambda t: (t.crl, t.key), ts, (crl, key))
    return _shard(ts, parts.mesh), metrics, first_nonfinite


# Module level, with the env, episode count and length static: repeated evaluations
# of one run reuse the compiled rollout instead of recompiling it each time.
@eqx.filter_jit
def _evaluation_rollout(
    actor, env, key, num_episodes: int, episode_length: int, mesh: Mesh | None
):
    sd = env.state_dim
    state = jax.vmap(env.reset)(jr.split(key, num_episodes))
    if mesh is not None:
        # Episodes split across the devices, like the training envs.
        state = jax.lax.with_sharding_constraint(
            state, NamedSharding(mesh, P(DATA_AXIS))
        )

    def body(carry, _):
        state, alive, last_dist = carry
        action = jax.vmap(actor.deterministic_action)(
            state.obs[:, :sd], state.obs[:, sd:]
        )
        state = jax.vmap(env.step)(state, action)
        at_goal = state.metrics["success"] * alive
        last_dist = jnp.where(alive > 0, state.metrics["dist"], last_dist)
        alive = alive * (1 - state.done)
        return (state, alive, last_dist), at_goal

    init = (state, jnp.ones(num_episodes), state.metrics["dist"])
    (_, _, final_dist), at_goal = jax.lax.scan(body, init, None, length=episode_length)
    results = at_goal.sum(0), (at_goal.sum(0) > 0).astype(jnp.float32), final_dist
    if mesh is not None:
        # Replicated (a tiny all-gather), so that every process of a multi-host run
        # can read the per-episode results.
        results = jax.lax.with_sharding_constraint(results, NamedSharding(mesh, P()))
    return results


def evaluate(
    actor: GoalConditionedActor,
    env,
    *,
    num_episodes: int,
    episode_length: int,
    key: PRNGKeyArray,
    mesh: Mesh | None = None,
) -> dict[str, float]:
    """Run `num_episodes` episodes with the deterministic actor.

    With a `mesh` (as [`equicrl.make_mesh`][] makes), the episodes are split across
    its devices; `num_episodes` must then be a multiple of their number.

    **Returns:**

    Means and standard errors over episodes of `time_at_goal` (steps within the
    success threshold), `success` (1 if the goal was ever reached) and `final_dist`
    (distance at the last step, or at termination).
    """
    results = _evaluation_rollout(actor, env, key, num_episodes, episode_length, mesh)
    time_at_goal, success, final_dist = (np.asarray(x) for x in results)
    out = {}
    for name, values in (
        ("time_at_goal", time_at_goal),
        ("success", success),
        ("final_dist", final_dist),
    ):
        out[name] = float(values.mean())
        out[name + "_stderr"] = float(values.std(ddof=1) / math.sqrt(len(values)))
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata

    out = {}
    for name in ("equicrl", "jax", "jaxlib", "equinox", "optax", "brax", "mujoco"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def train(
    config: CRLConfig,
    *,
    run_dir: str | Path | None = None,
    eval_every: int = 1,
    checkpoint_every: int | None = None,
    resume: bool = False,
    env_overrides: dict | None = None,
    log: Callable[[str], None] | None = None,
    loggers: Sequence[Callable[[dict], None]] = (),
    outputs: bool = True,
) -> tuple[TrainState, list[dict]]:
    """Train contrastive RL as `config` says.

    **Arguments:**

    - `config`: a [`equicrl.CRLConfig`][].
    - `run_dir`: if given, `config.json` (with the package versions) and
        `metrics.jsonl` (one line per epoch) are written there.
    - `eval_every`: evaluate on the env's eval variant every this many epochs (and
        after the last).
    - `checkpoint_every`: with `run_dir`, save the whole training state (networks,
        optimiser states, temperature, replay buffer, env states, RNG, counters) to
        `run_dir/checkpoint.eqx` every this many epochs and after the last. No pickle;
        written atomically.
    - `resume`: continue the run in `run_dir` from its checkpoint. The config must be
        the same; a resumed run ends with exactly the parameters and metrics of an
        uninterrupted one (same seed, same machine).
    - `env_overrides`: keyword arguments for [`equicrl.envs.make_env`][].
    - `log`: where progress lines go (default: print to stdout, flushed). The first
        line says what will run; then one line per epoch with env steps, steady env
        steps per second (after the first epoch, which includes compilation), ETA,
        losses and the latest evaluation.
    - `loggers`: callables given each epoch's record (a dict of floats), e.g.
        [`equicrl.TensorBoardLogger`][] or [`equicrl.WandbLogger`][].
    - `outputs`: with `run_dir`, write at the end `learning_curve.png` and, from the
        eval env, `trajectories.png` (point mazes) or `rollout.html` (Brax envs).

    Training is data parallel over `config.num_devices` devices (all by default; see
    [`equicrl.make_mesh`][]). For several hosts, call `jax.distributed.initialize()`
    first and run the same call in one process per host: all of them train, and
    process 0 alone prints, writes `run_dir` (on a file system every host sees, for
    resuming) and calls `loggers`.

    **Returns:**

    `(state, history)`: the final [`equicrl.TrainState`][] and one dict of metrics per
    epoch.
    """
    c = config
    # In a multi-host run every process trains; process 0 prints and writes files.
    main_process = jax.process_index() == 0
    if log is None:

        def log(line: str) -> None:
            if main_process:
                print(line, file=sys.stdout, flush=True)

    check_positive_int("eval_every", eval_every)
    if (checkpoint_every is not None or resume) and run_dir is None:
        raise ValueError("`checkpoint_every` and `resume` need a `run_dir`")
    if checkpoint_every is not None:
        check_positive_int("checkpoint_every", checkpoint_every)
    prefill_steps = c.prefill_collections * c.env_steps_per_collection
    epochs = max(1, (c.total_env_steps - prefill_steps) // c.env_steps_per_collection)
    log(
        f"equicrl: {c.env_name}, {c.num_envs} envs, critic depth {c.critic_depth}, "
        f"actor depth {c.actor_depth}; a prefill of {prefill_steps:,} random steps "
        f"({c.prefill_collections} collections of {c.unroll_length}), then {epochs} "
        f"epochs of {c.env_steps_per_collection:,} env steps and "
        f"{c.gradient_steps_per_collection} gradient steps (batch {c.batch_size})"
    )
    built = time.perf_counter()
    parts = _make_parts(c, env_overrides or {})
    key = jr.key(c.seed)
    net_key, env_key, run_key, eval_key = jr.split(key, 4)
    actor, critic = _networks(parts, net_key)

    # Built under jit so that every leaf is its own buffer (the epochs donate them).
    @eqx.filter_jit
    def initial_state(actor, critic, env_key, run_key):
        env_state = parts.train_env.reset(jr.split(env_key, c.num_envs))
        example = {
            "state": env_state.obs[:, : parts.state_dim],
            "action": jnp.zeros((c.num_envs, parts.env.action_size)),
        }
        ts = TrainState(
            crl=init_crl_state(actor, critic, parts.optimisers),
            buffer=TrajectoryBuffer.create(example, c.replay_rows, c.num_envs),
            env_state=env_state,
            episode_id=jnp.zeros(c.num_envs, jnp.int32),
            key=run_key,
            env_steps=jnp.zeros((), jnp.int32),
        )
        return _shard(ts, parts.mesh)

    ts = initial_state(actor, critic, env_key, run_key)
    n = parts.mesh.devices.size
    log(
        f"built the envs, networks and replay buffer in "
        f"{time.perf_counter() - built:.1f} s; training on {n} "
        f"{parts.mesh.devices.flat[0].platform} device{'s' if n > 1 else ''}"
        + (" (data parallel)" if n > 1 else "")
    )

    history: list[dict] = []
    start_epoch = 0
    config_dict = dataclasses.asdict(c)
    if run_dir is not None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint_path = run_dir / "checkpoint.eqx"
        if resume:
            if not checkpoint_path.exists():
                raise FileNotFoundError(f"no checkpoint to resume from in {run_dir}")
            ts, meta = load_checkpoint(checkpoint_path, ts)
            ts = _place(ts, parts.mesh)
            if meta.get("config") != json.loads(json.dumps(config_dict)):
                saved = meta.get("config") or {}
                differ = sorted(
                    k for k in config_dict if saved.get(k) != config_dict[k]
                )
                raise ValueError(
                    f"checkpoint {checkpoint_path} was made with a different config "
                    f"(fields: {', '.join(differ) or 'unknown'})"
                )
            start_epoch = int(meta["epoch"])
            lines = (run_dir / "metrics.jsonl").read_text().splitlines()
            history = [json.loads(line) for line in lines]
            # Drop metrics of epochs after the checkpoint (a kill before the next save).
            history = [r for r in history if r["epoch"] <= start_epoch]
            log(f"resumed {run_dir} at epoch {start_epoch}")
    metrics_file = None
    if run_dir is not None and main_process:
        meta = {"config": config_dict, "versions": _versions()}
        (run_dir / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        metrics_file = open(run_dir / "metrics.jsonl", "w")
        for record in history:
            metrics_file.write(json.dumps(record) + "\n")
        metrics_file.flush()

    # `random` is an array, not a Python bool, so that the prefill and the epochs
    # share one compiled collection.
    collect = eqx.filter_jit(
        lambda random, ts: _collect(parts, ts, random), donate="all-except-first"
    )
    random_actions, actor_actions = jnp.asarray(True), jnp.asarray(False)
    learn = eqx.filter_jit(lambda ts: _learn(parts, ts), donate="all")

    if start_epoch == 0:
        start = time.perf_counter()
        for _ in range(c.prefill_collections):
            ts = collect(random_actions, ts)
        log(
            f"prefilled the buffer in {time.perf_counter() - start:.1f} s "
            "(compiling the collection included)"
        )

    # Steady throughput is measured from the end of this process's first epoch, which
    # includes compilation.
    clock, steps_at_clock = time.perf_counter(), int(ts.env_steps)
    first = True
    latest_eval: dict = {}
    try:
        for i in range(start_epoch, epochs):
            ts, metrics, first_nonfinite = learn(collect(actor_actions, ts))
            record = {k: float(v) for k, v in metrics.items()}
            record.update(epoch=i + 1, env_steps=int(ts.env_steps))
            elapsed = time.perf_counter() - clock
            sps = (record["env_steps"] - steps_at_clock) / max(elapsed, 1e-9)
            record.update(sps=sps)
            if first:
                log(f"compiled and ran the first epoch in {elapsed:.1f} s")
            bad = {k: int(v) for k, v in first_nonfinite.items() if int(v) >= 0}
            if bad:
                name = min(bad, key=bad.get)
                step = bad[name]
                raise FloatingPointError(
                    f"`{name}` is not finite ({record[name]}) at gradient step "
                    f"{step + 1} of {c.gradient_steps_per_collection} in epoch {i + 1} "
                    f"(gradient step {i * c.gradient_steps_per_collection + step + 1} "
                    f"of the run, env step {record['env_steps']:,}); training stopped"
                    + (
                        f", the last good checkpoint is {checkpoint_path}"
                        if checkpoint_every is not None and checkpoint_path.exists()
                        else ""
                    )
                )
            if (i + 1) % eval_every == 0 or i + 1 == epochs:
                latest_eval = evaluate(
                    ts.crl.actor,
                    parts.eval_env,
                    num_episodes=c.eval_envs,
                    episode_length=c.episode_length,
                    key=jr.fold_in(eval_key, i + 1),
                    mesh=parts.mesh,
                )
                record.update({f"eval/{k}": v for k, v in latest_eval.items()})
            history.append(record)
            if metrics_file is not None:
                metrics_file.write(json.dumps(record) + "\n")
                metrics_file.flush()
            if checkpoint_every is not None and (
                (i + 1) % checkpoint_every == 0 or i + 1 == epochs
            ):
                save_checkpoint(
                    checkpoint_path, ts, {"config": config_dict, "epoch": i + 1}
                )
            for logger in loggers if main_process else ():
                logger(record)
            eta = (epochs - i - 1) * c.env_steps_per_collection / sps
            line = (
                f"[{100 * (i + 1) / epochs:5.1f}%] env steps {record['env_steps']:,} | "
                f"{sps:,.0f} sps | ETA {_fmt_time(eta)} | "
                f"critic {record['critic_loss']:.3f} "
                f"actor {record['actor_loss']:.3f} alpha {record['alpha']:.3f}"
            )
            if latest_eval:
                line += (
                    f" | eval: time at goal {latest_eval['time_at_goal']:.1f}, "
                    f"success {latest_eval['success']:.2f}, "
                    f"final dist {latest_eval['final_dist']:.2f}"
                )
            log(line)
            if first:
                # Everything of the first iteration, evaluation included, is left out.
                clock, steps_at_clock = time.perf_counter(), record["env_steps"]
                first = False
    finally:
        if metrics_file is not None:
            metrics_file.close()
    if run_dir is not None and outputs and jax.process_count() > 1:
        log("learning curve and rollout pictures are skipped in multi-host runs")
    elif run_dir is not None and outputs:
        written = write_run_outputs(
            ts.crl.actor,
            parts.eval_env,
            run_dir,
            history,
            key=jr.fold_in(eval_key, 0),
            episode_length=c.episode_length,
            log=log,
        )
        if written:
            log("wrote " + ", ".join(str(p) for p in written))
    return ts, history
