"""Maze layouts as data: the grids of D4RL's locomotion mazes, as the paper uses them.

`#` is a wall block, `S` a start cell, `G` a goal cell (goals are drawn uniformly among
them) and `.` a free cell that is never a goal. Cell `(i, j)` (row `i`, column `j`) has
its centre at `x = i * cell_size`, `y = j * cell_size`; each wall is a box filling its
cell.
"""

import dataclasses
from types import MappingProxyType

import numpy as np


_CELLS = frozenset("#SG.")


@dataclasses.dataclass(frozen=True)
class MazeLayout:
    """A maze grid. Rows are strings of `#`, `S`, `G` and `.`, walled all round."""

    name: str
    rows: tuple[str, ...]

    def __post_init__(self):
        rows = tuple(self.rows)
        object.__setattr__(self, "rows", rows)
        if not rows or len({len(r) for r in rows}) != 1:
            raise ValueError(
                f"maze {self.name!r}: rows must be non-empty, equal length"
            )
        bad = set("".join(rows)) - _CELLS
        if bad:
            raise ValueError(
                f"maze {self.name!r}: unknown cell characters {sorted(bad)}; "
                "use '#', 'S', 'G' and '.'"
            )
        border = rows[0] + rows[-1] + "".join(r[0] + r[-1] for r in rows)
        if set(border) != {"#"}:
            raise ValueError(f"maze {self.name!r}: the outer border must be all walls")
        if "S" not in "".join(rows) or "G" not in "".join(rows):
            raise ValueError(f"maze {self.name!r}: needs at least one 'S' and one 'G'")

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0])

    def _mask(self, chars: str) -> np.ndarray:
        return np.array([[c in chars for c in row] for row in self.rows])

    @property
    def walls(self) -> np.ndarray:
        """Boolean `(rows, cols)` array, True at wall cells."""
        return self._mask("#")

    @property
    def wall_cells(self) -> np.ndarray:
        """Integer `(n, 2)` array of the (row, column) of every wall cell."""
        return np.argwhere(self.walls)

    @property
    def start_cells(self) -> np.ndarray:
        return np.argwhere(self._mask("S"))

    @property
    def goal_cells(self) -> np.ndarray:
        return np.argwhere(self._mask("G"))

    def wall_rectangles(self) -> list[tuple[int, int, int, int]]:
        """The wall cells as few non-overlapping rectangles of cells, each
        `(row, col, n_rows, n_cols)`, together covering exactly the walls.

        Greedy, in row order: from the first uncovered wall cell, extend right while
        the cells are uncovered walls, then down while the whole span is. The physics
        then checks a handful of boxes per foot instead of one per wall cell.
        """
        walls = self.walls
        covered = np.zeros_like(walls)
        rows, cols = walls.shape
        out = []
        for i in range(rows):
            for j in range(cols):
                if not walls[i, j] or covered[i, j]:
                    continue
                w = 1
                while j + w < cols and walls[i, j + w] and not covered[i, j + w]:
                    w += 1
                h = 1
                while (
                    i + h < rows
                    and walls[i + h, j : j + w].all()
                    and not covered[i + h, j : j + w].any()
                ):
                    h += 1
                covered[i : i + h, j : j + w] = True
                out.append((i, j, h, w))
        return out

    def corridor(self) -> list[tuple[int, int]]:
        """The cells of the corridor from the start cell to its dead end, in order:
        the "forward path" of the release's stitching mazes (`gen` envs), whose
        corridor runs from one start cell to the goal cell at its other end.

        Walks from the only `S` cell through free cells, never back, until no free
        cell is ahead. Raises `ValueError` for a layout with several start cells or
        a fork anywhere on the way (big and hardest mazes).
        """
        starts = self.start_cells
        if len(starts) != 1:
            raise ValueError(
                f"maze {self.name!r} has {len(starts)} start cells; a corridor "
                "starts from exactly one"
            )
        free = ~self.walls
        path = [tuple(int(v) for v in starts[0])]
        previous = None
        while True:
            i, j = path[-1]
            ahead = [
                (i + di, j + dj)
                for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0))
                if free[i + di, j + dj] and (i + di, j + dj) != previous
            ]
            if not ahead:
                return path
            if len(ahead) > 1:
                raise ValueError(
                    f"maze {self.name!r} forks at cell {(i, j)}: it is not one corridor"
                )
            previous = path[-1]
            path.append(ahead[0])

    def __str__(self) -> str:
        return "\n".join(self.rows)


# How a stitching task draws its (start, goal) pairs: see `stitching_pairs`.
STITCHING_DRAWS = ("uniform", "release")


def stitching_pairs(
    layout: MazeLayout, distances: tuple[int, ...], draw: str = "uniform"
) -> tuple[np.ndarray, np.ndarray]:
    """The (start, goal) cell pairs of a stitching task and the probability of each.

    For each distance `k` in `distances`, the pairs `(path[i], path[i + k])` along
    `layout.corridor()`, forward only. With `draw="uniform"` (the default), every
    distance has the same total probability, shared equally among its pairs: what
    the release's `ant_maze_generalization` draws whenever a distance from 1 to 5 is
    among `distances`.

    `draw="release"` gives the release's weights as its code computes them: it
    counts the pairs of distances 1 to 5 only (a distance `i` counts when the text
    `"{i}f"` is in the task's name), so a task made only of distances of 6 and more
    weighs every pair 0, and the release's draw (`jax.random.choice` on those
    weights) then always takes the first pair: `(path[0], path[k])` for the first
    distance `k`. On the U-maze this changes nothing (its corridor has 7 cells, so
    one pair 6 apart); on U2-U5 the far distances are other evaluation tasks.

    **Returns:**

    `(pairs, probabilities)`: an integer `(n, 2, 2)` array of (start cell, goal
    cell), each `(row, column)`, and a float `(n,)` array summing to 1.
    """
    path = layout.corridor()
    longest = len(path) - 1
    distances = tuple(distances)
    if not distances:
        raise ValueError("a stitching task needs at least one distance")
    for k in distances:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"distances must be ints, got {k!r}")
        if not 1 <= k <= longest:
            raise ValueError(
                f"distance {k} is not on maze {layout.name!r}: its corridor has "
                f"{len(path)} cells, so distances run from 1 to {longest}"
            )
    if len(set(distances)) != len(distances):
        raise ValueError(f"distances repeat: {distances}")
    if draw not in STITCHING_DRAWS:
        raise ValueError(
            f"`draw` must be one of {', '.join(map(repr, STITCHING_DRAWS))}; got "
            f"{draw!r}"
        )
    pairs, probabilities = [], []
    for k in distances:
        n = len(path) - k
        pairs += [(path[i], path[i + k]) for i in range(n)]
        probabilities += [1 / (len(distances) * n)] * n
    probabilities = np.asarray(probabilities)
    if draw == "release":
        name = "".join(f"{k}f" for k in distances)
        counted = sum(len(path) - i for i in range(1, 6) if f"{i}f" in name)
        if counted == 0:
            probabilities = np.zeros(len(pairs))
            probabilities[0] = 1.0
    return np.asarray(pairs, np.int32), probabilities


def _layout(name: str, text: str) -> MazeLayout:
    return MazeLayout(name, tuple(text.split()))


# fmt: off
_ALL = [
    _layout("u_maze", """
        #####
        #SGG#
        ###G#
        #GGG#
        #####"""),
    _layout("u_maze_eval", """
        #####
        #S..#
        ###.#
        #GGG#
        #####"""),
    # The release's stitching layouts U2 and U3: the U-maze with a longer corridor.
    _layout("u2_maze", """
        ######
        #SGGG#
        ####G#
        #GGGG#
        ######"""),
    _layout("u3_maze", """
        #######
        #SGGGG#
        #####G#
        #GGGGG#
        #######"""),
    _layout("u4_maze", """
        #####
        #GGG#
        #S#G#
        ###G#
        #G#G#
        #GGG#
        #####"""),
    _layout("u4_maze_eval", """
        #####
        #...#
        #S#.#
        ###.#
        #G#.#
        #GGG#
        #####"""),
    _layout("u5_maze", """
        ########
        #GGGGGG#
        #S####G#
        ######G#
        #G####G#
        #GGGGGG#
        ########"""),
    _layout("u5_maze_eval", """
        ########
        #......#
        #S####.#
        ######.#
        #G####G#
        #GGGGGG#
        ########"""),
    _layout("big_maze", """
        ########
        #SG##GG#
        #GG#GGG#
        ##GGG###
        #GG#GGG#
        #G#GG#G#
        #GGG#GG#
        ########"""),
    _layout("big_maze_eval", """
        ########
        #S.##GG#
        #..#..G#
        ##...###
        #..#...#
        #.#G.#G#
        #.GG#GG#
        ########"""),
    # The humanoid's evaluation big maze also counts row 2, column 5 as a goal.
    _layout("big_maze_eval_humanoid", """
        ########
        #S.##GG#
        #..#.GG#
        ##...###
        #..#...#
        #.#G.#G#
        #.GG#GG#
        ########"""),
    _layout("hardest_maze", """
        ############
        #SGGG#GGGGG#
        #G##G#G#G#G#
        #GGGGGG#GGG#
        #G####G###G#
        #GG#G#GGGGG#
        ##G#G#G#G###
        #GG#GGG#GGG#
        ############"""),
]
# fmt: on

LAYOUTS: "MappingProxyType[str, MazeLayout]" = MappingProxyType(
    {m.name: m for m in _ALL}
)


def get_layout(name: str) -> MazeLayout:
    """The layout called `name`; an unknown name raises a `KeyError` listing them."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(
            f"unknown maze layout {name!r}; known layouts: {', '.join(LAYOUTS)}"
        ) from None
