"""Goal-conditioned environments: point-mass mazes in JAX, Brax ant and humanoid, and
the Franka-arm push and binpick tasks on MJX."""

import contextlib
import importlib
import io
import sys


# mujoco.mjx (imported by brax) prints "Failed to import warp: ..." and "Failed to
# import mujoco_warp: ..." to stdout when the optional `warp` package is missing.
# Import it first with stdout captured, and pass on any other line it prints.
if "mujoco.mjx" not in sys.modules:
    with contextlib.redirect_stdout(io.StringIO()) as _out:
        importlib.import_module("mujoco.mjx")
    for _line in _out.getvalue().splitlines():
        if not _line.startswith(
            ("Failed to import warp: ", "Failed to import mujoco_warp: ")
        ):
            print(_line)

from ._arm import ArmGoalEnv as ArmGoalEnv
from ._arm_model import arm_mjcf as arm_mjcf, ArmTask as ArmTask, TASKS as TASKS
from ._goal_env import (
    FirstStateAutoResetWrapper as FirstStateAutoResetWrapper,
    GoalAutoResetWrapper as GoalAutoResetWrapper,
    GoalEnv as GoalEnv,
)
from ._layouts import (
    get_layout as get_layout,
    LAYOUTS as LAYOUTS,
    MazeLayout as MazeLayout,
    stitching_pairs as stitching_pairs,
)
from ._locomotion import AntGoalEnv as AntGoalEnv, HumanoidGoalEnv as HumanoidGoalEnv
from ._near_walls import NearWalls as NearWalls
from ._point_maze import PointMaze as PointMaze
from ._reacher import ReacherGoalEnv as ReacherGoalEnv
from ._registry import (
    is_env as is_env,
    list_envs as list_envs,
    make_env as make_env,
    register_env as register_env,
    wrap_for_training as wrap_for_training,
)
from ._walls import (
    add_maze_walls as add_maze_walls,
    set_contact_bits as set_contact_bits,
)
