"""Goal-conditioned environments: point-mass mazes in JAX, Brax ant and humanoid."""

from ._goal_env import GoalAutoResetWrapper as GoalAutoResetWrapper, GoalEnv as GoalEnv
from ._layouts import (
    get_layout as get_layout,
    LAYOUTS as LAYOUTS,
    MazeLayout as MazeLayout,
)
from ._locomotion import AntGoalEnv as AntGoalEnv, HumanoidGoalEnv as HumanoidGoalEnv
from ._point_maze import PointMaze as PointMaze
from ._registry import (
    list_envs as list_envs,
    make_env as make_env,
    register_env as register_env,
    wrap_for_training as wrap_for_training,
)
from ._walls import add_maze_walls as add_maze_walls
