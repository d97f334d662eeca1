from collections.abc import Callable

from brax.envs.base import Env
from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper

from .._checks import check_positive_int
from ._arm import ArmGoalEnv
from ._arm_model import TASKS as ARM_TASKS
from ._goal_env import GoalAutoResetWrapper, GoalEnv
from ._locomotion import AntGoalEnv, HumanoidGoalEnv
from ._point_maze import PointMaze


_REGISTRY: dict[str, Callable[..., GoalEnv]] = {}

# Layout of every maze env, and the layout of its evaluation variant.
MAZES = {
    "u_maze": "u_maze_eval",
    "u4_maze": "u4_maze_eval",
    "u5_maze": "u5_maze_eval",
    "big_maze": "big_maze_eval",
    "hardest_maze": None,
}


def register_env(name: str, factory: Callable[..., GoalEnv]) -> None:
    """Register `factory(**overrides)` under `name` for [`equicrl.envs.make_env`][]."""
    if name in _REGISTRY:
        raise ValueError(f"an environment called {name!r} is already registered")
    _REGISTRY[name] = factory


def list_envs() -> list[str]:
    """The names [`equicrl.envs.make_env`][] accepts, sorted."""
    return sorted(_REGISTRY)


def make_env(name: str, **overrides) -> GoalEnv:
    """Build the goal-conditioned environment called `name`.

    **Arguments:**

    - `name`: one of [`equicrl.envs.list_envs`][]`()`, e.g. `"point_maze_u_maze"` or
        `"humanoid_u_maze"`; an `_eval` suffix gives the evaluation variant (far goals
        only) where there is one.
    - `overrides`: keyword arguments of the environment's constructor, e.g.
        `success_threshold=0.3`.

    **Returns:**

    A [`equicrl.envs.GoalEnv`][] (a Brax `Env`), unwrapped: see
    [`equicrl.envs.wrap_for_training`][] for episodes, auto-reset and batching.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown environment {name!r}; known environments: "
            f"{', '.join(list_envs())}"
        ) from None
    return factory(**overrides)


def wrap_for_training(
    env: GoalEnv,
    *,
    episode_length: int = 1000,
    action_repeat: int = 1,
    reset_pool_size: int = 4,
) -> Env:
    """Episodes of `episode_length` steps, batched over envs, reset with a new goal.

    `EpisodeWrapper` (step count and truncation), then `VmapWrapper` (`reset` takes a
    batch of keys, `step` a batch of actions), then
    [`equicrl.envs.GoalAutoResetWrapper`][] (a fresh start and goal when an episode
    ends, from a pool of `reset_pool_size` reset states per env).
    """
    check_positive_int("episode_length", episode_length)
    check_positive_int("action_repeat", action_repeat)
    env = EpisodeWrapper(env, episode_length, action_repeat)
    return GoalAutoResetWrapper(VmapWrapper(env), pool_size=reset_pool_size)


def _register_point_mazes() -> None:
    for maze, eval_maze in MAZES.items():
        register_env(
            f"point_maze_{maze}",
            lambda maze=maze, **kw: PointMaze(
                maze, **{"new_goal_on_success": True, **kw}
            ),
        )
        if eval_maze is not None:
            register_env(
                f"point_maze_{maze}_eval",
                lambda maze=eval_maze, **kw: PointMaze(maze, **kw),
            )


def _register_locomotion() -> None:
    register_env("ant", lambda **kw: AntGoalEnv(None, **kw))
    register_env("humanoid", lambda **kw: HumanoidGoalEnv(None, **kw))
    for maze, eval_maze in MAZES.items():
        register_env(f"ant_{maze}", lambda maze=maze, **kw: AntGoalEnv(maze, **kw))
        if eval_maze is not None:
            register_env(
                f"ant_{maze}_eval", lambda maze=eval_maze, **kw: AntGoalEnv(maze, **kw)
            )
    # The paper's humanoid mazes: U, big (whose eval layout adds a goal cell) and
    # hardest.
    for maze, eval_maze in (
        ("u_maze", "u_maze_eval"),
        ("big_maze", "big_maze_eval_humanoid"),
        ("hardest_maze", None),
    ):
        register_env(
            f"humanoid_{maze}", lambda maze=maze, **kw: HumanoidGoalEnv(maze, **kw)
        )
        if eval_maze is not None:
            register_env(
                f"humanoid_{maze}_eval",
                lambda maze=eval_maze, **kw: HumanoidGoalEnv(maze, **kw),
            )


def _register_arms() -> None:
    # The arm tasks have no evaluation variants: training and evaluation draw starts
    # and goals from the same ranges.
    for name in ARM_TASKS:
        register_env(name, lambda name=name, **kw: ArmGoalEnv(name, **kw))


_register_point_mazes()
_register_locomotion()
_register_arms()
