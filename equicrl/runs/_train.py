"""`train`: the pure training core (initial state, collection, learning), compiled
once per run and vmapped over seeds, driven by a thin Python loop that evaluates,
writes the run directory and prints progress."""

import dataclasses
import functools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._checks import check_positive_int
from ..training._collect import collect
from ..training._config import CRLConfig
from ..training._evaluate import evaluate, evaluate_seeds
from ..training._learn import learn
from ..training._sharding import place
from ..training._state import (
    env_steps,
    make_parts,
    Parts,
    read_state,
    seed_keys,
    seed_state,
    seeds_initial_state,
    split_seed_key,
    TrainState,
)
from ._outputs import write_run_outputs
from ._preflight import check_run
from ._run import (
    check_finite,
    combine,
    describe,
    flat,
    prefill_source,
    progress_line,
    seed_records,
)
from ._rundir import (
    CHECKPOINT,
    num_epochs,
    prefill_steps,
    read_metrics,
    run_options,
    RunDir,
)


@dataclasses.dataclass(frozen=True)
class _Programs:
    """The compiled core of a run: each takes and returns the state of every seed."""

    init: Callable  # seed key(s) -> TrainState
    collect: Callable  # (random actions?, TrainState) -> TrainState
    learn: Callable  # TrainState -> (TrainState, metrics, first non-finite step)


def _programs(parts: Parts, teacher=None) -> _Programs:
    """The compiled core; with a `teacher` actor (every seed's), `learn` distils it
    (an argument of the compiled program, not a constant in it)."""
    seeds = parts.config.num_seeds > 1

    def over_seeds(fn, in_axes=eqx.if_array(0)):
        return eqx.filter_vmap(fn, in_axes=in_axes) if seeds else fn

    # The donated states are built under jit, so every leaf is its own buffer.
    return _Programs(
        init=eqx.filter_jit(seeds_initial_state(parts)),
        # `random` is an array, not a Python bool, so that the prefill and the epochs
        # share one compiled collection; it is the same for every seed.
        collect=eqx.filter_jit(
            over_seeds(
                lambda random, ts: collect(parts, ts, random),
                in_axes=(None, eqx.if_array(0)),
            ),
            donate="all-except-first",
        ),
        learn=functools.partial(
            eqx.filter_jit(
                over_seeds(lambda teacher, ts: learn(parts, ts, teacher)),
                donate="all-except-first",
            ),
            teacher,
        ),
    )


class Preempted(Exception):
    """Raised by [`equicrl.train`][] when SIGTERM or SIGUSR1 stopped a run (see its
    `preemption`): `signal` (its name), `epoch` (of the checkpoint written, or 0
    if the run had not started its epochs and none was) and `checkpoint` (its
    path, or `None`)."""

    def __init__(self, signal: str, epoch: int, checkpoint: Path | None):
        self.signal, self.epoch, self.checkpoint = signal, epoch, checkpoint
        where = (
            f"a checkpoint of epoch {epoch} is in {checkpoint}"
            if checkpoint is not None
            else "no checkpoint was written (the run had not started its epochs)"
        )
        super().__init__(f"stopped by {signal}; {where}")


class _Signals:
    """SIGTERM and SIGUSR1 noted while a run trains (see `train`'s `preemption`),
    acted on between epochs."""

    NAMES = ("SIGTERM", "SIGUSR1")

    def __init__(self, install: bool | None):
        import signal
        import threading

        self.received: str | None = None
        self._previous = {}
        wanted = [getattr(signal, n) for n in self.NAMES if hasattr(signal, n)]
        if (
            install is False
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        if install is None and any(
            signal.getsignal(s) not in (signal.SIG_DFL, None) for s in wanted
        ):
            return  # the caller handles them

        def note(signum, frame):
            self.received = signal.Signals(signum).name

        for s in wanted:
            self._previous[s] = signal.signal(s, note)

    def restore(self) -> None:
        import signal

        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def stop_if_asked(self, done, epoch: int, log) -> None:
        """If a signal came: checkpoint `done` (`(files, state, saved)` of the epoch
        just finished; `None` before the epochs) and raise `Preempted`."""
        if self.received is None:
            return
        started = time.perf_counter()
        checkpoint = None
        if done is not None:
            files, ts, saved = done
            if files is not None:
                if not saved:
                    files.save(ts, epoch)
                checkpoint = files.checkpoint
        log(
            f"received {self.received}: "
            + (
                f"saved a checkpoint of epoch {epoch} in "
                f"{time.perf_counter() - started:.1f} s ({checkpoint})"
                if checkpoint is not None
                else "stopping before the first epoch, with no checkpoint"
            )
        )
        raise Preempted(self.received, epoch if checkpoint else 0, checkpoint)


def _evaluate(parts: Parts, ts: TrainState, eval_keys, epoch: int) -> list[dict]:
    c = parts.config
    kwargs = dict(
        num_episodes=c.eval_envs,
        episode_length=c.episode_length,
        mesh=parts.mesh,
        mode=c.eval_actor,
    )
    # The critic only where the mode ranks actions by it.
    ranked = c.eval_actor >= 2
    if c.num_seeds == 1:
        key = jr.fold_in(eval_keys, epoch)

        def run(agent):
            critic = agent.critic if ranked else None
            return [
                evaluate(agent.actor, parts.eval_env, key=key, critic=critic, **kwargs)
            ]
    else:
        keys = jax.vmap(jr.fold_in, in_axes=(0, None))(eval_keys, epoch)

        def run(agent):
            critics = agent.critic if ranked else None
            return evaluate_seeds(
                agent.actor, parts.eval_env, keys=keys, critics=critics, **kwargs
            )

    results = run(ts.crl)
    others = [("collector_", ts.collector)] if ts.collector is not None else []
    if ts.learners is not None:
        others += [
            (f"learner{depth}_", learner)
            for depth, learner in zip(c.learner_depths, ts.learners)
        ]
    # The collector experiment: the other agents too, on the same episodes.
    for prefix, agent in others:
        for mine, theirs in zip(results, run(agent)):
            mine.update({f"{prefix}{k}": v for k, v in theirs.items()})
    return results


def train(
    config: CRLConfig,
    *,
    run_dir: str | Path | None = None,
    eval_every: int | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    keep_checkpoints: int | None = None,
    checkpoint_buffer: bool | None = None,
    env_overrides: dict | None = None,
    log: Callable[[str], None] | None = None,
    loggers: Sequence[Callable[[dict], None]] = (),
    outputs: bool = True,
    record: dict | None = None,
    preemption: bool | None = None,
) -> tuple[TrainState, list[dict]]:
    """Train contrastive RL as `config` says.

    **Arguments:**

    - `config`: a [`equicrl.CRLConfig`][].
    - `run_dir`: if given, `config.json` (the config, the training options, the
        package versions and, after each resume, what resumed it) and `metrics.jsonl`
        (one line per epoch) are written there. A directory that already holds a run
        is refused unless `resume` or `overwrite`.
    - `eval_every`: evaluate on the env's eval variant every this many epochs (and
        after the last). Default 1.
    - `checkpoint_every`: with `run_dir`, save the whole training state (networks,
        optimiser states, temperature, replay buffer, env states, RNG, counters; of
        every seed) to `run_dir/checkpoint.eqx` every this many epochs and after the
        last. No pickle; written to a temporary file and renamed, so a kill at any
        moment leaves the previous checkpoint whole. Default: no checkpoints (and so
        a run that cannot be resumed or extended).
    - `resume`: continue the run in `run_dir` from its checkpoint. The config must be
        the same except for `total_env_steps` (to extend the run); the fields that
        differ are named before anything is built. `eval_every`, `checkpoint_every`,
        `keep_checkpoints`, `checkpoint_buffer` and `env_overrides`, where not given
        (`None`), are the run's own, as its `config.json` records them; other
        `env_overrides` than the run's are refused (a run keeps its env). A run with
        no checkpoint starts over only if it was stopped before its first epoch or
        its first checkpoint; one whose metrics no checkpoint holds (trained without
        `checkpoint_every`) is refused, so that none of them is lost. A resumed run
        ends with exactly the parameters and metrics of an uninterrupted one (same
        seed, same machine); `metrics.jsonl` keeps every record until the resumed
        run writes its first.
    - `overwrite`: replace the run in `run_dir`, if any (its config, metrics,
        checkpoints and pictures are deleted).
    - `keep_checkpoints`: keep this many newest checkpoints (the older ones as
        `checkpoint-epochN.eqx`). Default 1.
    - `checkpoint_buffer`: `False` leaves the replay buffer out of checkpoints
        (light: the buffer is most of a checkpoint, ~5 GB at the paper's humanoid
        sizes). A run resumed from a light checkpoint refills its buffer with
        `prefill_rows` collected as the prefill is (`config.prefill`: with the
        resumed actor, or uniform actions; counted in `env_steps`), so it does not
        end exactly as an uninterrupted run would. Default `True`.
    - `env_overrides`: keyword arguments for [`equicrl.envs.make_env`][] (JSON
        values: they are recorded in `config.json`). Default none.
    - `log`: where progress lines go (default: print to stdout, flushed). The first
        line says what will run; then one line per epoch with env steps, steady env
        steps per second (after the first epoch, which includes compilation), ETA,
        losses and the latest evaluation (for several seeds: means, with the range
        over seeds).
    - `loggers`: callables given each epoch's record (a flat dict of floats; each
        seed's as `seed_I/NAME`), e.g. [`equicrl.TensorBoardLogger`][].
    - `outputs`: with `run_dir`, write at the end `learning_curve.png` and, from the
        eval env (the first seed's actor, acting as evaluations do: `eval_actor`),
        `trajectories.png` (its episodes from above, every env) and, for Brax envs,
        `rollout.html`.
    - `record`: more JSON-serialisable facts for `config.json` (the command line
        records its preset and command).
    - `preemption`: with `run_dir`, what SIGTERM and SIGUSR1 (the signals a cluster
        such as SLURM sends before it stops a job) do during the run: the epoch under
        way finishes (its compiled collection and gradient steps; its evaluation, if
        due), a checkpoint of it is written (atomically: a second signal only asks
        again), and [`equicrl.Preempted`][] is raised, naming the epoch and the
        checkpoint; `train(..., resume=True)` then goes on exactly as if never
        stopped. A signal while the envs are built or the buffer prefilled stops the
        run there, with no checkpoint (resuming starts it over, to the same
        result). `None` (default): the handlers are installed unless the caller has
        its own for those signals (or this is not the main thread); `True`: always;
        `False`: signals are left alone. The previous handlers are restored when
        `train` returns. Stopping takes the rest of one epoch (and its evaluation,
        if due) and a checkpoint write: keep an epoch well inside the scheduler's
        grace (SLURM's default is 30 s).

    Every check that needs nothing compiled (the config, the env name, the devices,
    the run directory and checkpoint header) runs before the build. See
    [`equicrl.load_run`][] to use a trained run.

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

    given = dict(
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints,
        checkpoint_buffer=checkpoint_buffer,
        env_overrides=env_overrides,
    )
    for name in ("eval_every", "checkpoint_every", "keep_checkpoints"):
        if given[name] is not None:
            check_positive_int(name, given[name])
    if checkpoint_every is not None and run_dir is None:
        raise ValueError("`checkpoint_every` needs a `run_dir`")
    header = check_run(c, run_dir, resume=resume, overwrite=overwrite)
    # On resume, what was not given is the run's own.
    options = run_options(run_dir, resume=resume, **given)
    if c.teacher is not None:
        from ._teacher import check_same_teacher, student_env_overrides

        options["env_overrides"] = student_env_overrides(c, options["env_overrides"])
        if resume and header is not None:
            check_same_teacher(c, run_dir)
    eval_every = options["eval_every"]
    checkpoint_every = options["checkpoint_every"]
    env_overrides = options["env_overrides"]
    epochs = num_epochs(c)
    start_epoch = 0 if header is None else int(header["epoch"])
    if start_epoch >= epochs:
        # Nothing to train, and nothing in the run directory is written.
        log(
            f"the run in {run_dir} is finished (epoch {start_epoch} of {epochs}): "
            "nothing to do; a larger `total_env_steps` (`--total-env-steps N` on the "
            "command line, with `--resume`) extends it"
        )
        ts, _ = read_state(Path(run_dir) / CHECKPOINT, make_parts(c, env_overrides))
        return ts, read_metrics(Path(run_dir), up_to=start_epoch)
    files, history = None, []
    if c.teacher is not None:
        from ._teacher import teacher_record

        record = {**(record or {}), "teacher": teacher_record(c)}
    if run_dir is not None:
        files, history = _open_run_dir(
            c, run_dir, start_epoch if resume else None, options, record, main_process
        )
        log(f"run directory: {files.path}")
    signals = _Signals(preemption if run_dir is not None else False)
    try:
        refill = header is not None and not header.get("buffer", True)
        log(describe(c, epochs, start_epoch=start_epoch, refill=refill))
        if resume and header is None:
            log(f"no checkpoint in {run_dir} yet: the run starts from the beginning")
        parts, programs, ts, eval_keys = _start(c, files, header, env_overrides, log)
        signals.stop_if_asked(None, 0, log)
        ts, history = _loop(
            parts, programs, ts, history, start_epoch, epochs, eval_keys, files,
            eval_every=eval_every, checkpoint_every=checkpoint_every, log=log,
            loggers=loggers if main_process else (),
            refill=refill, signals=signals,
        )  # fmt: skip
    finally:
        signals.restore()
        if files is not None:
            files.close()
    if files is not None and outputs:
        _outputs(parts, ts, history, files.path, eval_keys, log)
    return ts, history


def _open_run_dir(c, run_dir, resumed_at, options, record, main_process):
    """The run directory, its `config.json` (and a new run's `metrics.jsonl`) written
    before the build, so that a run killed at any moment can resume; and the history
    so far."""
    files = RunDir(
        run_dir,
        c,
        main_process=main_process,
        keep_checkpoints=options["keep_checkpoints"],
        checkpoint_buffer=options["checkpoint_buffer"],
    )
    history = [] if resumed_at is None else read_metrics(files.path, up_to=resumed_at)
    files.start(history, {"options": options, **(record or {})}, resumed_at=resumed_at)
    return files, history


def _start(c: CRLConfig, files, header, env_overrides, log):
    """Build the run: parts, compiled core, initial state (or the checkpoint's, on
    resume) and evaluation keys."""
    built = time.perf_counter()
    parts = make_parts(c, env_overrides)
    teacher = None
    if c.teacher is not None:
        from ._teacher import load_teacher

        teacher = load_teacher(c)
    programs = _programs(parts, teacher)
    keys = seed_keys(c)
    split = jax.vmap(split_seed_key) if c.num_seeds > 1 else split_seed_key
    eval_keys = split(keys)[3]
    if header is None:
        ts = programs.init(keys)
    else:
        ts, start_epoch = read_state(files.checkpoint, parts)
        if ts.buffer is None:  # a light checkpoint: a new, empty buffer
            ts = dataclasses.replace(ts, buffer=programs.init(keys).buffer)
        ts = place(ts, parts.mesh, seed_axis=c.num_seeds > 1)
    n = parts.mesh.devices.size
    log(
        f"built the envs, networks and replay buffer in "
        f"{time.perf_counter() - built:.1f} s; training on {n} "
        f"{parts.mesh.devices.flat[0].platform} device{'s' if n > 1 else ''}"
        + (" (data parallel)" if n > 1 else "")
    )
    if header is not None:
        log(f"resumed {files.path} at epoch {start_epoch}")
    return parts, programs, ts, eval_keys


def prefill(
    programs: _Programs, ts: TrainState, c: CRLConfig, signals=None, log=print
) -> TrainState:
    """The prefill (or a light checkpoint's refill): `prefill_collections`
    collections by the current actor, sampling (`config.prefill="actor"`), or of
    uniform actions, in the compiled collection of the epochs."""
    uniform = jnp.asarray(c.prefill == "uniform")
    for _ in range(c.prefill_collections):
        ts = programs.collect(uniform, ts)
        if signals is not None:
            signals.stop_if_asked(None, 0, log)
    return ts


def _loop(
    parts, programs, ts, history, start_epoch, epochs, eval_keys, files, *,
    eval_every, checkpoint_every, log, loggers, refill, signals=None,
):  # fmt: skip
    """The epochs: collect and learn (compiled), then evaluate, record, checkpoint and
    print progress."""
    c = parts.config
    if start_epoch == 0 or refill:
        start = time.perf_counter()
        ts = prefill(programs, ts, c, signals, log)
        log(
            f"{'refilled' if refill else 'prefilled'} the buffer with "
            f"{prefill_steps(c):,} steps {prefill_source(c, refill)} in "
            f"{time.perf_counter() - start:.1f} s (compiling the collection included)"
            + (" (the checkpoint holds no buffer)" if refill else "")
        )
    # Steady throughput is measured from the end of this process's first epoch, which
    # includes compilation.
    clock, epoch_at_clock, first = time.perf_counter(), start_epoch, True
    evaluated = False
    last_eval = next((r for r in reversed(history) if "eval/success" in r), None)
    for i in range(start_epoch, epochs):
        ts, metrics, first_nonfinite = programs.learn(
            programs.collect(jnp.asarray(False), ts)
        )
        seeds = seed_records(metrics, c.num_seeds)
        elapsed = time.perf_counter() - clock
        epoch_time = elapsed / (i + 1 - epoch_at_clock)
        steps = env_steps(c, ts.collections)
        sps = c.env_steps_per_collection * c.num_seeds / max(epoch_time, 1e-9)
        if first:
            log(f"compiled and ran the first epoch in {elapsed:.1f} s")
        saved = files is not None and files.checkpoint.exists() and checkpoint_every
        check_finite(
            first_nonfinite,
            combine(seeds, {"env_steps": steps}),
            i + 1,
            c,
            files.checkpoint if saved else None,
        )
        if (i + 1) % eval_every == 0 or i + 1 == epochs:
            started = time.perf_counter()
            for seed, result in zip(seeds, _evaluate(parts, ts, eval_keys, i + 1)):
                seed.update({f"eval/{k}": v for k, v in result.items()})
            if not evaluated and not first:
                # The first evaluation compiles its rollout: leave that out of the
                # steady throughput and the ETA, as the first epoch is.
                clock += time.perf_counter() - started
            evaluated = True
        record = combine(seeds, dict(epoch=i + 1, env_steps=steps, sps=sps))
        history.append(record)
        last_eval = record if "eval/success" in record else last_eval
        saved = False
        if files is not None:
            files.write(record)
            if checkpoint_every is not None and (
                (i + 1) % checkpoint_every == 0 or i + 1 == epochs
            ):
                files.save(ts, i + 1)
                saved = True
        for logger in loggers:
            logger(flat(record))
        # The first epoch compiles: no estimate from it.
        eta = None if first else (epochs - i - 1) * epoch_time
        log(progress_line(record, last_eval, (i + 1) / epochs, eta))
        if first:
            # Everything of the first iteration, evaluation included, is left out.
            clock, epoch_at_clock, first = time.perf_counter(), i + 1, False
        if signals is not None and i + 1 < epochs:
            signals.stop_if_asked((files, ts, saved), i + 1, log)
    return ts, history


def _outputs(parts, ts, history, run_dir, eval_keys, log) -> None:
    if jax.process_count() > 1:
        log("learning curve and rollout pictures are skipped in multi-host runs")
        return
    first = parts.config.num_seeds > 1
    agent = (seed_state(ts, 0) if first else ts).crl
    mode = parts.config.eval_actor  # as the evaluations acted
    written = write_run_outputs(
        agent.actor,
        parts.eval_env,
        run_dir,
        history,
        key=jr.fold_in(eval_keys[0] if first else eval_keys, 0),
        episode_length=parts.config.episode_length,
        log=log,
        mode=mode,
        critic=agent.critic if mode >= 2 else None,
    )
    if written:
        log("wrote " + ", ".join(str(p) for p in written))
