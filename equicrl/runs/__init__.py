"""The driver and what a run leaves on disk: `train`, the run's schedule, its directory
(config, metrics, checkpoints), `load_run`, its pictures, loggers, the checks before
a run starts, and distillation's runs. Built on `equicrl.training`.

The public names are `equicrl.X`; the modules here are private."""
