import re
from collections.abc import Callable

from brax.envs.base import Env
from brax.envs.wrappers.training import EpisodeWrapper, VmapWrapper

from .._checks import check_choice, check_positive_int
from ._arm import ArmGoalEnv
from ._arm_model import TASKS as ARM_TASKS
from ._goal_env import FirstStateAutoResetWrapper, GoalAutoResetWrapper, GoalEnv
from ._locomotion import AntGoalEnv, HumanoidGoalEnv
from ._point_maze import PointMaze
from ._reacher import ReacherGoalEnv


_REGISTRY: dict[str, Callable[..., GoalEnv]] = {}

# How a training env starts its next episode (`wrap_for_training`'s `reset`).
RESETS = ("fresh", "first")

# Layout of every maze env, and the layout of its evaluation variant.
MAZES = {
    "u_maze": "u_maze_eval",
    "u4_maze": "u4_maze_eval",
    "u5_maze": "u5_maze_eval",
    "big_maze": "big_maze_eval",
    "hardest_maze": None,
}


# The release's stitching mazes (`ant_maze_generalization`): ROBOT_LAYOUT_gen_DISTANCES,
# e.g. `point_maze_u_maze_gen_1f2f3f` (distances 1, 2 and 3 along the corridor).
STITCHING_LAYOUTS = ("u_maze", "u2_maze", "u3_maze", "u4_maze", "u5_maze")
_STITCHING = re.compile(r"(point_maze|ant)_([a-z0-9_]+?_maze)_gen_((?:\d+f)+)")


def parse_stitching(name: str) -> tuple[str, str, tuple[int, ...]] | None:
    """`(robot, layout, distances)` of a stitching env's name, e.g.
    `("ant", "u4_maze", (1, 2, 3))` for `ant_u4_maze_gen_1f2f3f`; `None` if `name`
    is not one. Raises `ValueError` for a stitching name whose layout has no
    corridor or whose distances are not on it."""
    from ._layouts import get_layout, stitching_pairs

    match = _STITCHING.fullmatch(name)
    if match is None:
        return None
    robot, layout, config = match.groups()
    if layout not in STITCHING_LAYOUTS:
        raise ValueError(
            f"{name!r}: stitching mazes are {', '.join(STITCHING_LAYOUTS)}, not "
            f"{layout}"
        )
    distances = tuple(int(k) for k in config.split("f")[:-1])
    stitching_pairs(get_layout(layout), distances)  # raises for a bad distance
    return robot, layout, distances


def is_env(name: str) -> bool:
    """Whether [`equicrl.envs.make_env`][] builds `name`: a registered env or a
    stitching maze (`ROBOT_LAYOUT_gen_DISTANCES`)."""
    return name in _REGISTRY or parse_stitching(name) is not None


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

    Besides the registered names, the release's stitching mazes:
    `ROBOT_LAYOUT_gen_DISTANCES` with `ROBOT` `point_maze` or `ant`, `LAYOUT` one of
    `u_maze`, `u2_maze`, `u3_maze`, `u4_maze`, `u5_maze`, and `DISTANCES` such as
    `1f2f3f`: each episode starts and ends on cells 1, 2 or 3 apart along the
    corridor (see [`equicrl.envs.stitching_pairs`][]). `point_maze_u_maze_gen_6f`
    evaluates on the corridor's whole length.
    """
    stitching = parse_stitching(name)
    if stitching is not None:
        robot, layout, distances = stitching
        if robot == "ant":
            return AntGoalEnv(layout, **{"distances": distances, **overrides})
        return PointMaze(layout, **{"distances": distances, **overrides})
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown environment {name!r}; known environments: "
            f"{', '.join(list_envs())}; and the stitching mazes "
            "ROBOT_LAYOUT_gen_DISTANCES, e.g. point_maze_u_maze_gen_1f2f3f"
        ) from None
    return factory(**overrides)


def wrap_for_training(
    env: GoalEnv,
    *,
    episode_length: int = 1000,
    action_repeat: int = 1,
    reset_pool_size: int = 4,
    reset: str = "fresh",
) -> Env:
    """Episodes of `episode_length` steps, batched over envs, reset when they end.

    `EpisodeWrapper` (step count and truncation), then `VmapWrapper` (`reset` takes a
    batch of keys, `step` a batch of actions), then the auto-reset that `reset`
    names:

    - `"fresh"` (default, equicrl's): [`equicrl.envs.GoalAutoResetWrapper`][], a
        fresh start and goal when an episode ends, from a pool of `reset_pool_size`
        reset states per env;
    - `"first"` (the release's): [`equicrl.envs.FirstStateAutoResetWrapper`][],
        each env slot goes back to its own first state, so it keeps one start and one
        goal for the whole run (32 envs: 32 goals), as Brax's `AutoResetWrapper` does
        in the release's training.
    """
    check_positive_int("episode_length", episode_length)
    check_positive_int("action_repeat", action_repeat)
    check_choice("reset", reset, RESETS)
    env = VmapWrapper(EpisodeWrapper(env, episode_length, action_repeat))
    if reset == "first":
        return FirstStateAutoResetWrapper(env)
    return GoalAutoResetWrapper(env, pool_size=reset_pool_size)


def _register_point_mazes() -> None:
    for maze, eval_maze in MAZES.items():
        register_env(
            f"point_maze_{maze}",
            lambda maze=maze, **kw: PointMaze(
                maze, **{"new_goal_on_success": True, **kw}
            ),
        )
        # Evaluation never redraws a goal on success, so that time at goal counts
        # steps at one goal. The hardest maze has no far-goals layout: its
        # evaluation variant keeps its goals.
        register_env(
            f"point_maze_{maze}_eval",
            lambda maze=eval_maze or maze, **kw: PointMaze(maze, **kw),
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


def _register_reacher() -> None:
    # The release's reacher: training and evaluation draw targets from the same disc.
    register_env("reacher", lambda **kw: ReacherGoalEnv(**kw))


def _register_arms() -> None:
    # The arm tasks have no evaluation variants: training and evaluation draw starts
    # and goals from the same ranges.
    for name in ARM_TASKS:
        register_env(name, lambda name=name, **kw: ArmGoalEnv(name, **kw))


_register_point_mazes()
_register_locomotion()
_register_reacher()
_register_arms()
