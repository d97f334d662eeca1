"""What the command line does once its input is checked: train (progress lines, an
optional bar, Ctrl-C), evaluate a trained run, and print the summary."""

import dataclasses
import datetime
import json
import os
import shlex
import signal
import sys
from pathlib import Path

from ..training._config import CRLConfig
from ._options import _Plan, TrainOptions


def _say(*args, **kwargs) -> None:
    """Print to standard output, flushed. Once nobody reads it any more (`| head`
    closed the pipe), the rest goes to `os.devnull`: training goes on, with no
    traceback, and its files are written as usual."""
    kwargs["flush"] = True
    try:
        print(*args, **kwargs)
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured, say)
        sys.stdout = open(os.devnull, "w")
        return
    # On the descriptor itself, so that what is still buffered, and the flush at
    # exit, go nowhere instead of raising again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def run_training(plan: _Plan, program: str, argv: list[str], *, finished: bool):
    """Train as planned; a finished run (nothing to do) gets no loggers, so that
    nothing in it is written."""
    import jax

    from ..runs._train import Preempted, train

    config, run_dir, options = plan.config, plan.run_dir, plan.options
    main_process = jax.process_index() == 0
    if plan.resume:
        _say(f"resuming {run_dir} with the config saved in it")
    loggers = _make_loggers(options, config, run_dir, main_process and not finished)
    log, bar = _progress(options, config, main_process, bar=not finished)
    record = {
        "program": program,
        "command": [program, *argv],
        "preset": options.preset,
        "cli": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in dataclasses.asdict(options).items()
            if k not in ("config", "preset")
        },
    }
    interrupted = preempted = None
    try:
        state, history = train(
            config,
            run_dir=run_dir,
            eval_every=options.eval_every,
            checkpoint_every=options.checkpoint_every,
            resume=plan.resume,
            overwrite=options.overwrite,
            keep_checkpoints=options.keep_checkpoints,
            checkpoint_buffer=not options.light_checkpoints,
            log=log,
            loggers=[*loggers, *([bar] if bar else [])],
            record=record,
            preemption=True,
        )
    except KeyboardInterrupt:
        interrupted = True
    except Preempted as e:
        preempted = e
    finally:
        for logger in [*loggers, *([bar] if bar else [])]:
            logger.close()
    if preempted is not None:
        # One line, then the exit status of the signal's default action (128 + its
        # number: 143 for SIGTERM, 138 for SIGUSR1), as a scheduler expects.
        command = shlex.join(["python", sys.argv[0], "--resume", str(run_dir)])
        print(
            f"{program}: {preempted}; resume with: {command}",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(128 + int(getattr(signal, preempted.signal)))
    if interrupted:
        _interrupted(program, run_dir)
        # Not SystemExit: interpreter shutdown while XLA is still compiling can
        # crash (seen as a segfault). The run's files are closed by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    if main_process:
        _print_summary(config, history, run_dir)
    return state, history, run_dir


def _interrupted(program: str, run_dir: Path) -> None:
    from .._checkpoint import read_header
    from ..runs._rundir import CHECKPOINT

    checkpoint = run_dir / CHECKPOINT
    try:
        where = (
            f"the last checkpoint is epoch {read_header(checkpoint)['epoch']} "
            f"({checkpoint})"
        )
    except (OSError, ValueError, KeyError):
        where = "there is no checkpoint yet, so resuming starts the run over"
    command = shlex.join(["python", sys.argv[0], "--resume", str(run_dir)])
    print(
        f"\n{program}: interrupted; {where}. Resume with:\n  {command}",
        file=sys.stderr,
        flush=True,
    )


class _Bar:
    """A rich progress bar over epochs, fed the epoch records; progress lines are
    printed above it."""

    def __init__(self, total: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TimeElapsedColumn(),
        )
        self.task = self.progress.add_task("train", total=total)
        self.progress.start()

    def log(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def __call__(self, record: dict) -> None:
        self.progress.update(self.task, completed=record["epoch"])

    def close(self) -> None:
        self.progress.stop()


def _progress(
    options: TrainOptions, config: CRLConfig, main_process: bool, *, bar: bool
):
    """`(log, bar)`: progress lines printed, and a bar if asked for and stdout is a
    terminal (`bar` is then also the logger that moves it)."""
    from ..runs._rundir import num_epochs

    def log(line: str) -> None:
        if main_process:
            _say(line)

    if not (bar and options.progress_bar and main_process and sys.stdout.isatty()):
        return log, None
    try:
        bar = _Bar(num_epochs(config))
    except ImportError:
        return log, None
    return bar.log, bar


def evaluate_run(run):
    """Evaluate the run's actor into a new subfolder `eval-DATE-TIME` of the run:
    `eval.json` and the pictures of the final policy."""
    import jax.random as jr

    from ..runs._load import EVAL_ONLY_KEY
    from ..runs._outputs import write_run_outputs
    from ..training._state import seed_keys, seed_state, split_seed_key

    c = run.config
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = run.path / f"eval-{stamp}"
    out.mkdir()
    _say(
        f"evaluating {run.path} (checkpoint at epoch {run.epoch}, {run.env_steps:,} "
        f"env steps): {c.eval_envs} episodes on {c.env_name}'s eval env, into {out}"
    )
    results = run.evaluate(fold=EVAL_ONLY_KEY)
    summary = {
        "run": str(run.path),
        "epoch": run.epoch,
        "env_steps": run.env_steps,
        "episodes": c.eval_envs,
        "fold": EVAL_ONLY_KEY,
        "seeds": {str(c.seed + i): r for i, r in enumerate(results)},
    }
    (out / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    for i, r in enumerate(results):
        _say(
            f"seed {c.seed + i}: success {r['success']:.2f} ± "
            f"{r['success_stderr']:.2f}, time at goal {r['time_at_goal']:.1f}, "
            f"final distance {r['final_dist']:.2f}"
        )
    first = run.state if c.num_seeds == 1 else seed_state(run.state, 0)
    key = seed_keys(c) if c.num_seeds == 1 else seed_keys(c)[0]
    written = write_run_outputs(
        first.crl.actor,
        run.eval_env,
        out,
        [],
        key=jr.fold_in(split_seed_key(key)[3], EVAL_ONLY_KEY),
        episode_length=c.episode_length,
        log=print,
        mode=c.eval_actor,
        critic=first.crl.critic if c.eval_actor >= 2 else None,
    )
    files = ", ".join(p.name for p in [out / "eval.json", *written])
    _say(f"outputs in {out}/: {files}")
    return run, results, out


def _make_loggers(
    options: TrainOptions, config: CRLConfig, run_dir: Path, main_process: bool
) -> list:
    """The optional loggers the flags ask for, on the main process only."""
    from ..runs._loggers import TensorBoardLogger, WandbLogger

    loggers = []
    if options.tensorboard and main_process:
        loggers.append(TensorBoardLogger(run_dir / "tensorboard"))
    if options.wandb_project is not None and main_process:
        loggers.append(
            WandbLogger(
                project=options.wandb_project,
                name=run_dir.name,
                config=dataclasses.asdict(config),
                dir=str(run_dir),
            )
        )
    return loggers


def _print_summary(config: CRLConfig, history: list[dict], run_dir: Path) -> None:
    """The last evaluation's metrics and each seed's score (the paper's: the mean of
    the last 5 evaluations), if any, and the files the run wrote."""
    evals = [r for r in history if "eval/success" in r]
    if evals:
        last = evals[-1]
        over = (
            f"mean over {config.num_seeds} seeds ± standard error over seeds"
            if config.num_seeds > 1
            else "± standard error"
        )
        _say(
            f"final evaluation ({config.eval_envs} episodes on the eval env, {over}): "
            f"success {last['eval/success']:.2f} ± {last['eval/success_stderr']:.2f}, "
            f"time at goal {last['eval/time_at_goal']:.1f}, final distance "
            f"{last['eval/final_dist']:.2f}"
        )
    if len(evals) >= 5:
        for i in range(config.num_seeds):
            own = [r["seeds"][i] if "seeds" in r else r for r in evals[-5:]]
            success = sum(r["eval/success"] for r in own) / 5
            time_at_goal = sum(r["eval/time_at_goal"] for r in own) / 5
            _say(
                f"seed {config.seed + i}: mean of the last 5 evaluations: success "
                f"{success:.2f}, time at goal {time_at_goal:.1f}"
            )
    files = sorted(p.name for p in run_dir.iterdir())
    _say(f"outputs in {run_dir}/: {', '.join(files)}")
