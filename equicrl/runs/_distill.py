"""[`equicrl.distill`][]: a student run from a teacher's run directory, through
`train`. It sits above `_train` (which imports the teacher's checks from `_teacher`),
so the runs' modules import one way only."""

from pathlib import Path

from ._teacher import student_config, teacher_env_overrides
from ._train import train


def distill(
    teacher: str | Path,
    *,
    actor_depth: int = 4,
    actor_width: int | None = None,
    total_env_steps: int | None = None,
    loss: str = "action",
    config_changes: dict | None = None,
    run_dir: str | Path | None = None,
    **train_kwargs,
):
    """Distil the trained actor of the run in `teacher` into a new, smaller actor.

    The student starts from the teacher's config (see `student_config`: same env,
    envs, seeds, batch size, learning rate), with its own actor of `actor_depth`
    layers and `actor_width` units (default: the teacher's width), and trains for
    `total_env_steps` (default: a tenth of the teacher's). It drives the envs itself
    (its prefill and every collection), and each gradient step fits its actor to the
    teacher's on a batch of the states it visited, with the goals it was commanded
    there (`loss`: see `CRLConfig.distill_loss`). The teacher stays fixed; the critic
    is not trained. Seed `i` of the student learns from seed `i` of the teacher.

    The student's run is a run like any other ([`equicrl.train`][] makes it, with
    `run_dir` and `train_kwargs`: checkpoints, resume, evaluations, outputs); its
    `config.json` records the teacher (`config.teacher`), and [`equicrl.load_run`][]
    reads it back, without the teacher.

    ```python
    state, history = equicrl.distill("runs/teacher", actor_depth=4, run_dir="runs/s")
    policy = equicrl.load_run("runs/s").policy()  # (state, goal) -> action
    ```

    **Returns:**

    What [`equicrl.train`][] returns: `(state, history)`.
    """
    config = student_config(
        teacher,
        actor_depth=actor_depth,
        actor_width=actor_width,
        total_env_steps=total_env_steps,
        loss=loss,
        **(config_changes or {}),
    )
    train_kwargs.setdefault("env_overrides", teacher_env_overrides(teacher) or None)
    return train(config, run_dir=run_dir, **train_kwargs)
