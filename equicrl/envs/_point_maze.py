"""A point mass in a maze, in plain JAX: the whole CRL method on a CPU in seconds."""

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import State

from ._goal_env import (
    check_cell_fractions,
    GoalEnv,
    sample_near_cell,
    sample_pair,
    stitching_draw as draw_pairs,
)
from ._layouts import get_layout, MazeLayout


def _key_data(key: jax.Array) -> jax.Array:
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


class PointMaze(GoalEnv):
    """A point mass with velocity control in a maze of square wall cells.

    The state is the position `(x, y)`; the goal is a position; the observation is
    `(x, y, goal_x, goal_y)`. An action in `[-1, 1]^2` is a velocity: the point moves
    by `action * max_step` per step, first along x, then along y, and stops at a wall's
    face (it is a square of half-size `radius` that never overlaps a wall). The maze is
    walled all round, so the point never leaves it.

    Starts are drawn uniformly within `start_noise * cell_size` of a start cell's
    centre; goals uniformly among the goal cells, within `goal_noise * cell_size` of
    the centre.

    **Arguments:**

    - `layout`: a [`equicrl.envs.MazeLayout`][] or the name of one.
    - `cell_size`: side of a maze cell.
    - `max_step`: distance moved per step at full speed (at most
        `cell_size / 2 - radius`, so no step can jump a wall).
    - `radius`: half-size of the point's square body.
    - `success_threshold`: the goal is reached within this distance.
    - `start_noise`, `goal_noise`: spread of starts and goals, in cells.
    - `new_goal_on_success`: when the goal is reached, draw a new one (the episode
        goes on). The registered training mazes do this: an agent that would park at
        the first goal it can reach keeps moving to others, so single episodes hold
        the long paths that hindsight relabelling needs (contrastive RL learns from
        what one episode reached, it cannot stitch episodes together). Evaluation
        variants keep one goal per episode, so time at goal means what it says.
    - `distances`: a stitching task (the release's `gen` mazes): each episode's start
        and goal are a pair of cells `distances[j]` apart along the maze's corridor
        (see [`equicrl.envs.stitching_pairs`][]), instead of a start cell and a goal
        cell drawn independently. Needs `new_goal_on_success=False`: one pair per
        episode.
    - `stitching_draw`: how the pairs are drawn: `"uniform"` (each distance equally
        likely, its pairs too) or `"release"` (the release's weights, which differ
        for tasks made only of distances of 6 and more: see
        [`equicrl.envs.stitching_pairs`][]).
    """

    def __init__(
        self,
        layout: MazeLayout | str = "u_maze",
        *,
        cell_size: float = 1.0,
        max_step: float = 0.1,
        radius: float = 0.1,
        success_threshold: float = 0.25,
        start_noise: float = 0.1,
        goal_noise: float = 0.25,
        new_goal_on_success: bool = False,
        distances: tuple[int, ...] | None = None,
        stitching_draw: str = "uniform",
    ):
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        if not isinstance(self.layout, MazeLayout):
            raise TypeError(f"`layout` must be a MazeLayout or a name, got {layout!r}")
        self.cell_size = float(cell_size)
        self.radius = float(radius)
        self.max_step = float(max_step)
        if not self.cell_size > 0:
            raise ValueError(f"`cell_size` must be > 0, got {cell_size}")
        if not 0 <= self.radius < self.cell_size / 2:
            raise ValueError(f"`radius` must be in [0, cell_size / 2), got {radius}")
        if not 0 < self.max_step <= self.cell_size / 2 - self.radius:
            raise ValueError(
                f"`max_step` must be in (0, cell_size / 2 - radius] = "
                f"(0, {self.cell_size / 2 - self.radius}], got {max_step}"
            )
        if not success_threshold > 0:
            raise ValueError(
                f"`success_threshold` must be > 0, got {success_threshold}"
            )
        check_cell_fractions(
            0.5 - self.radius / self.cell_size,
            "0.5 - radius / cell_size: the point stays in its cell",
            start_noise=start_noise,
            goal_noise=goal_noise,
        )
        self._threshold = float(success_threshold)
        self.new_goal_on_success = bool(new_goal_on_success)
        self.start_noise = float(start_noise)
        self.goal_noise = float(goal_noise)
        self._walls = jnp.asarray(self.layout.walls)
        self._starts = jnp.asarray(
            self.layout.start_cells * self.cell_size, jnp.float32
        )
        self._goals = jnp.asarray(self.layout.goal_cells * self.cell_size, jnp.float32)
        if distances is not None and self.new_goal_on_success:
            raise ValueError(
                "a stitching task (`distances`) draws one (start, goal) pair per "
                "episode: it needs `new_goal_on_success=False`"
            )
        self.distances = None if distances is None else tuple(distances)
        self.stitching_draw = stitching_draw
        self._pairs = draw_pairs(
            self.layout, self.distances, self.cell_size, stitching_draw
        )

    # The goal-conditioned interface.
    state_dim = property(lambda self: 2)
    goal_dim = property(lambda self: 2)
    goal_indices = property(lambda self: (0, 1))
    success_threshold = property(lambda self: self._threshold)
    action_size = property(lambda self: 2)
    backend = property(lambda self: "jax")

    def reset(self, rng: jax.Array) -> State:
        start_key, goal_key, next_goal_key = jax.random.split(rng, 3)
        start_spread = self.start_noise * self.cell_size
        if self._pairs is None:
            position = sample_near_cell(start_key, self._starts, start_spread)
            goal = self._draw_goal(goal_key)
        else:
            position, goal = sample_pair(
                start_key, self._pairs, start_spread, self.goal_noise * self.cell_size
            )
        obs = jnp.concatenate([position, goal])
        dist, success = self._score(position, goal)
        zero = jnp.zeros(())
        info = {"goal": goal}
        if self.new_goal_on_success:
            # Raw key data, so that wrappers can select it with `jnp.where`.
            info["goal_key"] = _key_data(next_goal_key)
        return State(
            pipeline_state=None,
            obs=obs,
            reward=zero,
            done=zero,
            metrics={"dist": dist, "success": success},
            info=info,
        )

    def step(self, state: State, action: jax.Array) -> State:
        velocity = jnp.clip(action, -1.0, 1.0) * self.max_step
        position = state.obs[:2]
        position = position.at[0].set(self._move(position, velocity[0], axis=0))
        position = position.at[1].set(self._move(position, velocity[1], axis=1))
        goal = state.info["goal"]
        dist, success = self._score(position, goal)
        info = state.info
        if self.new_goal_on_success:
            key, goal_key = jax.random.split(jax.random.wrap_key_data(info["goal_key"]))
            goal = jnp.where(success > 0, self._draw_goal(goal_key), goal)
            info = {**info, "goal": goal, "goal_key": _key_data(key)}
        return state.replace(
            obs=jnp.concatenate([position, goal]),
            reward=success,
            metrics={**state.metrics, "dist": dist, "success": success},
            info=info,
        )

    def _draw_goal(self, key: jax.Array) -> jax.Array:
        return sample_near_cell(key, self._goals, self.goal_noise * self.cell_size)

    def _score(self, position, goal):
        dist = jnp.linalg.norm(position - goal)
        return dist, (dist < self._threshold).astype(jnp.float32)

    def _is_wall(self, i, j):
        rows, cols = self._walls.shape
        inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
        return ~inside | self._walls[jnp.clip(i, 0, rows - 1), jnp.clip(j, 0, cols - 1)]

    def _cell(self, coordinate):
        # Cells are centred on multiples of cell_size.
        return jnp.floor(coordinate / self.cell_size + 0.5).astype(jnp.int32)

    def _move(self, position, delta, axis):
        """Move along `axis` by `delta`, stopping at the face of the first wall."""
        c, r = self.cell_size, self.radius
        here, other = position[axis], position[1 - axis]
        target = here + delta
        # The body spans [other - r, other + r] across the motion: the cells it touches.
        # (Shrunk by a hair: sliding flush along a wall does not count as touching it.)
        eps = 1e-4 * c
        lo, hi = self._cell(other - r + eps), self._cell(other + r - eps)
        # The leading edge can reach at most one new cell (max_step <= c / 2 - r).
        edge = target + jnp.sign(delta) * r
        lead = self._cell(edge)
        if axis == 0:
            blocked = self._is_wall(lead, lo) | self._is_wall(lead, hi)
        else:
            blocked = self._is_wall(lo, lead) | self._is_wall(hi, lead)
        # The face of the blocking cell that faces us, minus the body's half-size.
        face = lead * c - jnp.sign(delta) * (c / 2 + r)
        stopped = jnp.where(
            delta > 0, jnp.minimum(target, face), jnp.maximum(target, face)
        )
        return jnp.where(blocked & (delta != 0), stopped, target)

    def wall_boxes(self) -> np.ndarray:
        """`(n, 4)` array of wall boxes `(x_min, y_min, x_max, y_max)`."""
        centres = self.layout.wall_cells * self.cell_size
        half = self.cell_size / 2
        return np.concatenate([centres - half, centres + half], axis=1)
