"""Distillation's runs, below `train`: a student run's config from its teacher's run
directory, the checks of that teacher and what a student records of it
([`equicrl.distill`][], which calls `train`, is in `_distill.py`; the losses in
`nn/_distill.py`)."""

import json
from pathlib import Path

from .._checkpoint import read_header
from ..nn._actor import GoalConditionedActor
from ..training._config import CRLConfig
from ._rundir import (
    CHECKPOINT,
    config_dict,
    config_from_dict,
    latest_options,
    read_meta,
    steps_at_epoch,
)


def _teacher_config(teacher: str | Path) -> CRLConfig:
    """The config saved in the teacher's run directory, or a `FileNotFoundError`."""
    meta_file = Path(teacher) / "config.json"
    if not meta_file.exists():
        raise FileNotFoundError(
            f"no teacher run in {teacher} (`teacher`): {meta_file} does not exist"
        )
    return config_from_dict(json.loads(meta_file.read_text())["config"])


def check_teacher(config: CRLConfig) -> CRLConfig:
    """The teacher's config, read without building anything; raises naming the
    problem if `config.teacher` holds no trained run, or one of another env or
    number of seeds."""
    path = Path(config.teacher)
    teacher = _teacher_config(path)
    if not (path / CHECKPOINT).exists():
        raise FileNotFoundError(
            f"the teacher run in {path} (`teacher`) has no checkpoint ({CHECKPOINT}): "
            "train it with checkpoints"
        )
    if teacher.env_name != config.env_name:
        raise ValueError(
            f"the teacher in {path} was trained on {teacher.env_name}, not on "
            f"{config.env_name} (`env_name`): a student learns in its teacher's env"
        )
    if teacher.num_seeds != config.num_seeds:
        raise ValueError(
            f"the teacher in {path} has {teacher.num_seeds} seed(s) and this run "
            f"{config.num_seeds} (`num_seeds`): seed i of a student learns from seed "
            "i of its teacher"
        )
    return teacher


def teacher_record(config: CRLConfig) -> dict:
    """What a student's `config.json` records of its teacher: its run directory (as
    given and resolved), the epoch and env steps of its checkpoint, and its config.
    (`train` has checked the teacher already.)"""
    path = Path(config.teacher)
    teacher = _teacher_config(path)
    epoch = int(read_header(path / CHECKPOINT)["epoch"])
    return dict(
        path=str(path),
        resolved=str(path.resolve()),
        epoch=epoch,
        env_steps=steps_at_epoch(teacher, epoch),
        config=config_dict(teacher),
    )


def load_teacher(config: CRLConfig) -> GoalConditionedActor:
    """The trained actor of `config.teacher` (every seed's, stacked); `train` has
    checked the teacher already (`check_teacher`)."""
    from ._load import load_run

    return load_run(config.teacher).actor


def student_config(
    teacher: str | Path,
    *,
    actor_depth: int = 4,
    actor_width: int | None = None,
    total_env_steps: int | None = None,
    loss: str = "action",
    **changes,
) -> CRLConfig:
    """The config of a student of the run in `teacher`: the teacher's config (env,
    envs, seeds, batch, learning rates, ...) with an actor `actor_depth` deep and
    `actor_width` wide (default: the teacher's width), `total_env_steps` (default: a
    tenth of the teacher's), the distillation `loss` and any other `changes`."""
    c = _teacher_config(teacher)
    config = c.replace(
        teacher=str(Path(teacher)),
        actor_depth=actor_depth,
        actor_width=actor_width or c.actor_width,
        total_env_steps=total_env_steps
        or max(c.total_env_steps // 10, c.env_steps_per_collection),
        distill_loss=loss,
        **changes,
    )
    check_teacher(config)
    return config


def teacher_env_overrides(teacher: str | Path) -> dict:
    """The `env_overrides` the teacher's run was trained with."""
    meta = json.loads((Path(teacher) / "config.json").read_text())
    return latest_options(meta).get("env_overrides") or {}


def student_env_overrides(config: CRLConfig, env_overrides: dict) -> dict:
    """A student's `env_overrides`: its teacher's, which it must learn in. Given
    none, the teacher's are carried over; given others, they are refused."""
    teacher = teacher_env_overrides(config.teacher)
    if not env_overrides:
        return teacher
    if json.loads(json.dumps(env_overrides)) != json.loads(json.dumps(teacher)):
        raise ValueError(
            f"the teacher in {config.teacher} was trained with env_overrides="
            f"{teacher!r}, not {env_overrides!r}: a student learns in its "
            "teacher's env (leave out `env_overrides` to use the teacher's)"
        )
    return teacher


def check_same_teacher(config: CRLConfig, run_dir: str | Path) -> None:
    """On resuming a student: raise unless its teacher's checkpoint is the one it
    started from (the epoch its `config.json` records), so that a resumed student
    never silently learns from a teacher trained on since."""
    recorded = read_meta(Path(run_dir)).get("teacher")
    if recorded is None:
        return
    path = Path(config.teacher)
    epoch = int(read_header(path / CHECKPOINT)["epoch"])
    if epoch != recorded["epoch"]:
        raise ValueError(
            f"the student in {run_dir} learned from its teacher's checkpoint at "
            f"epoch {recorded['epoch']}, but the teacher in {path} is now at epoch "
            f"{epoch}: resuming would change its teacher; distil the new teacher "
            "into a new run directory"
        )
