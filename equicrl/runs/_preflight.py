"""The checks of a run that need nothing built or compiled: the env, the devices and
the run directory. `train` runs them first, and the command line before anything else,
so that a mistake is reported in a second, not after the build."""

from pathlib import Path

from ..training._config import CRLConfig
from ..training._sharding import make_mesh
from ._rundir import check_run_dir


def check_run(
    config: CRLConfig,
    run_dir: str | Path | None,
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> dict | None:
    """Raise naming the problem if `config.env_name` is not registered, the devices
    are too few or do not split the work evenly, the `teacher` (if any) is no trained
    run of the same env and seeds, or the run directory cannot be used as asked (see
    `check_run_dir`).

    **Returns:**

    The header of the checkpoint a resumed run starts from, or `None`.
    """
    from ..envs import is_env, list_envs

    if not is_env(config.env_name):
        raise ValueError(
            f"unknown environment {config.env_name!r} (`env_name`); known "
            f"environments: {', '.join(list_envs())}; and the stitching mazes "
            "ROBOT_LAYOUT_gen_DISTANCES, e.g. point_maze_u_maze_gen_1f2f3f"
        )
    make_mesh(config)
    if config.teacher is not None:
        from ._teacher import check_teacher

        check_teacher(config)
    if run_dir is None:
        if resume or overwrite:
            raise ValueError("`resume` and `overwrite` need a `run_dir`")
        return None
    return check_run_dir(run_dir, config, resume=resume, overwrite=overwrite)
