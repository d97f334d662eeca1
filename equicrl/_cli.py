"""The command-line interface the examples share: presets of `CRLConfig`, every field
as a flag (by tyro, `pip install 'equicrl[examples]'`), a run directory, resume and
optional loggers."""

import argparse
import dataclasses
import datetime
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._config import CRLConfig


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """A training run: the config (every field a flag) and what to do around it."""

    config: CRLConfig
    preset: str = ""
    """Named starting config; the other flags change fields of it."""
    run_dir: Path | None = None
    """Where outputs go (default: runs/ENV_NAME-DATE-TIME)."""
    resume: Path | None = None
    """Continue the run in this directory from its checkpoint, with its saved config
    (the config flags are then ignored)."""
    eval_every: int = 10
    """Evaluate every this many epochs (and after the last)."""
    checkpoint_every: int = 10
    """Save a checkpoint every this many epochs (and after the last)."""
    tensorboard: bool = False
    """Also log metrics for TensorBoard to RUN_DIR/tensorboard (needs tensorboardX)."""
    wandb_project: str | None = None
    """Also log metrics to this Weights & Biases project (needs wandb)."""
    distributed: bool = False
    """Multi-host: call `jax.distributed.initialize()` first (one process per host;
    under SLURM it reads the job's layout itself). Then `num_devices` counts every
    host's devices."""


def train_cli(
    presets: Mapping[str, CRLConfig],
    *,
    description: str,
    args: Sequence[str] | None = None,
    prog: str | None = None,
):
    """Parse a command line into a [`equicrl.CRLConfig`][] and run
    [`equicrl.train`][] with it: the examples' whole `main`.

    `--preset NAME` picks one of `presets` (the first is the default); every config
    field is then a flag (`--num-envs 64`, `--critic-depth 64`, ...); `--help` lists
    them with the chosen preset's values. `--resume RUN_DIR` continues a run.

    **Returns:**

    `(state, history, run_dir)`.
    """
    import jax

    from ._train import train

    options, preset_config = _parse_options(presets, description, args, prog)
    if options.distributed:
        jax.distributed.initialize()
    config, run_dir = _config_and_run_dir(options, preset_config)
    main_process = jax.process_index() == 0
    loggers = _make_loggers(options, config, run_dir, main_process)
    try:
        state, history = train(
            config,
            run_dir=run_dir,
            eval_every=options.eval_every,
            checkpoint_every=options.checkpoint_every,
            resume=options.resume is not None,
            loggers=loggers,
        )
    finally:
        for logger in loggers:
            logger.close()
    if main_process:
        _print_summary(config, history, run_dir)
    return state, history, run_dir


def _parse_options(
    presets: Mapping[str, CRLConfig],
    description: str,
    args: Sequence[str] | None,
    prog: str | None,
) -> tuple[TrainOptions, CRLConfig]:
    """The parsed options, and the config of the preset they start from."""
    import tyro

    if not presets:
        raise ValueError("`presets` must name at least one config")
    names = list(presets)
    # A first pass finds the preset, so that `--help` shows its values as defaults.
    pre = argparse.ArgumentParser(add_help=False, prog=prog)
    pre.add_argument("--preset", choices=names, default=names[0])
    known, _ = pre.parse_known_args(args)
    description = (
        f"{description}\n\nPresets (--preset): {', '.join(names)}; default "
        f"{names[0]}. The defaults below are those of --preset {known.preset}."
    )
    default = TrainOptions(config=presets[known.preset], preset=known.preset)
    options = tyro.cli(
        TrainOptions,
        default=default,
        args=args,
        prog=prog,
        description=description,
        config=(tyro.conf.OmitArgPrefixes,),
    )
    return options, presets[known.preset]


def _config_and_run_dir(
    options: TrainOptions, preset_config: CRLConfig
) -> tuple[CRLConfig, Path]:
    """The run's config and directory: the saved ones under `--resume`, else the
    flags' config and `--run-dir` (or a new dated directory)."""
    if options.resume is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        config = options.config
        return config, options.run_dir or Path("runs") / f"{config.env_name}-{stamp}"
    run_dir = options.resume
    if options.config != preset_config:
        raise SystemExit(
            "--resume continues with the config saved in the run directory; "
            "leave out the config flags"
        )
    saved = run_dir / "config.json"
    if not saved.exists():
        raise SystemExit(f"--resume: {saved} does not exist")
    config = CRLConfig(**json.loads(saved.read_text())["config"])
    print(f"resuming {run_dir} with the config saved in {saved}", flush=True)
    return config, run_dir


def _make_loggers(
    options: TrainOptions, config: CRLConfig, run_dir: Path, main_process: bool
) -> list:
    """The optional loggers the flags ask for, on the main process only."""
    from ._loggers import TensorBoardLogger, WandbLogger

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
        print(
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
            print(
                f"seed {config.seed + i}: mean of the last 5 evaluations: success "
                f"{success:.2f}, time at goal {time_at_goal:.1f}"
            )
    files = sorted(p.name for p in run_dir.iterdir())
    print(f"outputs in {run_dir}/: {', '.join(files)}", flush=True)
