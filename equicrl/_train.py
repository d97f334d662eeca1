"""`train`: the pure training core (initial state, collection, learning), compiled
once per run and vmapped over seeds, driven by a thin Python loop that evaluates,
writes the run directory and prints progress."""

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from ._checks import check_positive_int
from ._collect import collect
from ._config import CRLConfig
from ._evaluate import evaluate, evaluate_seeds
from ._learn import learn
from ._outputs import write_run_outputs
from ._run import (
    check_finite,
    combine,
    describe,
    flat,
    progress_line,
    RunDir,
    seed_records,
)
from ._sharding import place
from ._state import (
    initial_state,
    make_parts,
    Parts,
    seed_keys,
    seed_state,
    split_seed_key,
    TrainState,
)


@dataclasses.dataclass(frozen=True)
class _Programs:
    """The compiled core of a run: each takes and returns the state of every seed."""

    init: Callable  # seed key(s) -> TrainState
    collect: Callable  # (random actions?, TrainState) -> TrainState
    learn: Callable  # TrainState -> (TrainState, metrics, first non-finite step)


def _programs(parts: Parts) -> _Programs:
    seeds = parts.config.num_seeds > 1

    def over_seeds(fn, in_axes=eqx.if_array(0)):
        return eqx.filter_vmap(fn, in_axes=in_axes) if seeds else fn

    # The donated states are built under jit, so every leaf is its own buffer.
    return _Programs(
        init=eqx.filter_jit(over_seeds(lambda key: initial_state(parts, key))),
        # `random` is an array, not a Python bool, so that the prefill and the epochs
        # share one compiled collection; it is the same for every seed.
        collect=eqx.filter_jit(
            over_seeds(
                lambda random, ts: collect(parts, ts, random),
                in_axes=(None, eqx.if_array(0)),
            ),
            donate="all-except-first",
        ),
        learn=eqx.filter_jit(over_seeds(lambda ts: learn(parts, ts)), donate="all"),
    )


def _evaluate(parts: Parts, ts: TrainState, eval_keys, epoch: int) -> list[dict]:
    c = parts.config
    kwargs = dict(
        num_episodes=c.eval_envs, episode_length=c.episode_length, mesh=parts.mesh
    )
    if c.num_seeds == 1:
        key = jr.fold_in(eval_keys, epoch)
        return [evaluate(ts.crl.actor, parts.eval_env, key=key, **kwargs)]
    keys = jax.vmap(jr.fold_in, in_axes=(0, None))(eval_keys, epoch)
    return evaluate_seeds(ts.crl.actor, parts.eval_env, keys=keys, **kwargs)


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
        optimiser states, temperature, replay buffer, env states, RNG, counters; of
        every seed) to `run_dir/checkpoint.eqx` every this many epochs and after the
        last. No pickle; written atomically.
    - `resume`: continue the run in `run_dir` from its checkpoint. The config must be
        the same; a resumed run ends with exactly the parameters and metrics of an
        uninterrupted one (same seed, same machine).
    - `env_overrides`: keyword arguments for [`equicrl.envs.make_env`][].
    - `log`: where progress lines go (default: print to stdout, flushed). The first
        line says what will run; then one line per epoch with env steps, steady env
        steps per second (after the first epoch, which includes compilation), ETA,
        losses and the latest evaluation (for several seeds: means, with the range
        over seeds).
    - `loggers`: callables given each epoch's record (a flat dict of floats; each
        seed's as `seed_I/NAME`), e.g. [`equicrl.TensorBoardLogger`][].
    - `outputs`: with `run_dir`, write at the end `learning_curve.png` and, from the
        eval env (the first seed's actor), `trajectories.png` (point mazes) or
        `rollout.html` (Brax envs).

    With `config.num_seeds > 1`, the seeds `seed, seed + 1, ...` train side by side in
    one compiled program (a `vmap` of the whole core over seeds): each has its own
    networks, optimiser states, buffer, envs and keys, and seed `seed + i` ends where
    a run of one seed with that seed would (up to float rounding).

    Training is data parallel over `config.num_devices` devices (all by default; see
    [`equicrl.make_mesh`][]). For several hosts, call `jax.distributed.initialize()`
    first and run the same call in one process per host: all of them train, and
    process 0 alone prints, writes `run_dir` (on a file system every host sees, for
    resuming) and calls `loggers`.

    **Returns:**

    `(state, history)`: the final [`equicrl.TrainState`][] (with a leading seed axis
    for several seeds; see [`equicrl.seed_state`][]) and one record per epoch: a dict
    of floats, and for several seeds the means over seeds (`eval/NAME_stderr`: the
    standard error over seeds) with each seed's own record under `"seeds"`.
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
    log(describe(c, epochs))

    parts, programs, ts, eval_keys, history, start_epoch, files = _start(
        c, run_dir, resume, env_overrides, log, main_process
    )
    try:
        ts, history = _loop(
            parts, programs, ts, history, start_epoch, epochs, eval_keys, files,
            eval_every=eval_every, checkpoint_every=checkpoint_every, log=log,
            loggers=loggers if main_process else (),
        )  # fmt: skip
    finally:
        if files is not None:
            files.close()
    if files is not None and outputs:
        _outputs(parts, ts, history, files.path, eval_keys, log)
    return ts, history


def _start(c: CRLConfig, run_dir, resume: bool, env_overrides, log, main_process):
    """Build the run: parts, compiled core, initial state (or the checkpoint's, on
    resume), evaluation keys and run directory."""
    built = time.perf_counter()
    parts = make_parts(c, env_overrides)
    programs = _programs(parts)
    keys = seed_keys(c)
    split = jax.vmap(split_seed_key) if c.num_seeds > 1 else split_seed_key
    eval_keys = split(keys)[3]
    ts = programs.init(keys)
    n = parts.mesh.devices.size
    log(
        f"built the envs, networks and replay buffer in "
        f"{time.perf_counter() - built:.1f} s; training on {n} "
        f"{parts.mesh.devices.flat[0].platform} device{'s' if n > 1 else ''}"
        + (" (data parallel)" if n > 1 else "")
    )
    history, start_epoch, files = [], 0, None
    if run_dir is not None:
        files = RunDir(run_dir, c, main_process=main_process)
        if resume:
            ts, start_epoch, history = files.resume(ts)
            ts = place(ts, parts.mesh, seed_axis=c.num_seeds > 1)
            log(f"resumed {files.path} at epoch {start_epoch}")
        files.start(history)
    return parts, programs, ts, eval_keys, history, start_epoch, files


def _loop(
    parts, programs, ts, history, start_epoch, epochs, eval_keys, files, *,
    eval_every, checkpoint_every, log, loggers,
):  # fmt: skip
    """The epochs: collect and learn (compiled), then evaluate, record, checkpoint and
    print progress."""
    c = parts.config
    if start_epoch == 0:
        start = time.perf_counter()
        for _ in range(c.prefill_collections):
            ts = programs.collect(jnp.asarray(True), ts)
        log(
            f"prefilled the buffer in {time.perf_counter() - start:.1f} s "
            "(compiling the collection included)"
        )
    # Steady throughput is measured from the end of this process's first epoch, which
    # includes compilation.
    clock, epoch_at_clock, first = time.perf_counter(), start_epoch, True
    last_eval = next((r for r in reversed(history) if "eval/success" in r), None)
    for i in range(start_epoch, epochs):
        ts, metrics, first_nonfinite = programs.learn(
            programs.collect(jnp.asarray(False), ts)
        )
        seeds = seed_records(metrics, c.num_seeds)
        elapsed = time.perf_counter() - clock
        epoch_time = elapsed / (i + 1 - epoch_at_clock)
        env_steps = int(jnp.ravel(ts.env_steps)[0])
        sps = c.env_steps_per_collection * c.num_seeds / max(epoch_time, 1e-9)
        if first:
            log(f"compiled and ran the first epoch in {elapsed:.1f} s")
        saved = files is not None and files.checkpoint.exists() and checkpoint_every
        check_finite(
            first_nonfinite,
            combine(seeds, {"env_steps": env_steps}),
            i + 1,
            c,
            files.checkpoint if saved else None,
        )
        if (i + 1) % eval_every == 0 or i + 1 == epochs:
            for seed, result in zip(seeds, _evaluate(parts, ts, eval_keys, i + 1)):
                seed.update({f"eval/{k}": v for k, v in result.items()})
        record = combine(seeds, dict(epoch=i + 1, env_steps=env_steps, sps=sps))
        history.append(record)
        last_eval = record if "eval/success" in record else last_eval
        if files is not None:
            files.write(record)
            if checkpoint_every is not None and (
                (i + 1) % checkpoint_every == 0 or i + 1 == epochs
            ):
                files.save(ts, i + 1)
        for logger in loggers:
            logger(flat(record))
        eta = (epochs - i - 1) * epoch_time
        log(progress_line(record, last_eval, (i + 1) / epochs, eta))
        if first:
            # Everything of the first iteration, evaluation included, is left out.
            clock, epoch_at_clock, first = time.perf_counter(), i + 1, False
    return ts, history


def _outputs(parts, ts, history, run_dir, eval_keys, log) -> None:
    if jax.process_count() > 1:
        log("learning curve and rollout pictures are skipped in multi-host runs")
        return
    first = parts.config.num_seeds > 1
    written = write_run_outputs(
        (seed_state(ts, 0) if first else ts).crl.actor,
        parts.eval_env,
        run_dir,
        history,
        key=jr.fold_in(eval_keys[0] if first else eval_keys, 0),
        episode_length=parts.config.episode_length,
        log=log,
    )
    if written:
        log("wrote " + ", ".join(str(p) for p in written))
