"""Optional metric loggers for [`equicrl.train`][]: TensorBoard and Weights & Biases.

Neither is required: each imports its package only when it is created, and says which
extra to install if it is missing. A logger is any callable taking one epoch's record
(a dict of floats with an `env_steps` entry); these two also have `close()`.
"""

from pathlib import Path


class TensorBoardLogger:
    """Writes every scalar of each epoch's record as a TensorBoard summary, against
    env steps, to event files in `log_dir` (`pip install 'equicrl[tensorboard]'`;
    view with `tensorboard --logdir DIR`)."""

    def __init__(self, log_dir: str | Path):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError(
                "TensorBoard logging needs tensorboardX: "
                "pip install 'equicrl[tensorboard]'"
            ) from e
        self.log_dir = Path(log_dir)
        self._writer = SummaryWriter(str(self.log_dir))

    def __call__(self, record: dict) -> None:
        step = int(record["env_steps"])
        for name, value in record.items():
            if name != "env_steps":
                self._writer.add_scalar(name, float(value), step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbLogger:
    """Logs each epoch's record to a Weights & Biases run, against env steps
    (`pip install 'equicrl[wandb]'`). Keyword arguments go to `wandb.init` (e.g.
    `project`, `name`, `config`, `mode="offline"`)."""

    def __init__(self, **init_kwargs):
        try:
            import wandb
        except ImportError as e:
            raise ImportError(
                "Weights & Biases logging needs wandb: pip install 'equicrl[wandb]'"
            ) from e
        self._run = wandb.init(**init_kwargs)

    def __call__(self, record: dict) -> None:
        self._run.log(dict(record), step=int(record["env_steps"]))

    def close(self) -> None:
        self._run.finish()
