"""What a command line asks for: the options of a training run, and the plan the
command line makes of them (read by `_main`, carried out by `_run`)."""

import dataclasses
from pathlib import Path

from ..training._config import CRLConfig


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """A training run: the config (every field a flag) and what to do around it."""

    config: CRLConfig
    preset: str = ""
    """Named starting config; the other flags change fields of it."""
    run_dir: Path | None = None
    """Where outputs go (default: runs/ENV_NAME-seedSEED-DATE-TIME). A directory that
    holds a run is refused unless --resume or --overwrite."""
    resume: Path | None = None
    """Continue the run in this directory from its checkpoint, with its saved config.
    Config flags are refused, except --total-env-steps (to extend a finished run)."""
    overwrite: bool = False
    """Replace the run in --run-dir, if there is one (its files are deleted)."""
    eval_only: Path | None = None
    """Evaluate the trained policy of this run directory and draw it, into a new
    subfolder eval-DATE-TIME; nothing else in the run is touched."""
    eval_every: int = 10
    """Evaluate every this many epochs (and after the last)."""
    checkpoint_every: int = 10
    """Save a checkpoint every this many epochs (and after the last)."""
    keep_checkpoints: int = 1
    """Keep this many newest checkpoints (older ones as checkpoint-epochN.eqx)."""
    light_checkpoints: bool = False
    """Leave the replay buffer out of checkpoints: far smaller, but a run resumed from
    one refills its buffer as the prefill fills it and is not bit-exact."""
    progress_bar: bool = True
    """Show a progress bar when stdout is a terminal (rich, installed with tyro)."""
    tensorboard: bool = False
    """Also log metrics for TensorBoard to RUN_DIR/tensorboard (needs tensorboardX)."""
    wandb_project: str | None = None
    """Also log metrics to this Weights & Biases project (needs wandb)."""
    compilation_cache: bool = True
    """Keep JAX's compiled programs in your cache directory
    ($XDG_CACHE_HOME/equicrl/jax, else ~/.cache/equicrl/jax; yours alone), so that
    running again with a flag changed starts without compiling again what is
    unchanged. Also off with EQUICRL_COMPILATION_CACHE=0; a cache JAX already has
    (JAX_COMPILATION_CACHE_DIR) is used instead."""
    distributed: bool = False
    """Multi-host: call `jax.distributed.initialize()` first (one process per host;
    under SLURM it reads the job's layout itself). Then `num_devices` counts every
    host's devices."""


@dataclasses.dataclass(frozen=True)
class _Plan:
    config: CRLConfig
    run_dir: Path
    resume: bool
    options: TrainOptions
