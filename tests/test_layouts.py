import numpy as np
import pytest

from equicrl import envs


def test_every_layout_is_walled_with_starts_and_goals():
    assert len(envs.LAYOUTS) == 12
    for layout in envs.LAYOUTS.values():
        walls = layout.walls
        assert (
            walls[0].all()
            and walls[-1].all()
            and walls[:, 0].all()
            and walls[:, -1].all()
        )
        assert len(layout.start_cells) >= 1 and len(layout.goal_cells) >= 1
        # Starts and goals are free cells.
        for cells in (layout.start_cells, layout.goal_cells):
            assert not walls[cells[:, 0], cells[:, 1]].any()


@pytest.mark.parametrize(
    "train,evaluation",
    [
        ("u_maze", "u_maze_eval"),
        ("u4_maze", "u4_maze_eval"),
        ("u5_maze", "u5_maze_eval"),
        ("big_maze", "big_maze_eval"),
        ("big_maze", "big_maze_eval_humanoid"),
    ],
)
def test_eval_layouts_keep_walls_and_start_and_only_drop_goals(train, evaluation):
    a, b = envs.get_layout(train), envs.get_layout(evaluation)
    np.testing.assert_array_equal(a.walls, b.walls)
    np.testing.assert_array_equal(a.start_cells, b.start_cells)
    train_goals = {tuple(c) for c in a.goal_cells}
    eval_goals = {tuple(c) for c in b.goal_cells}
    assert eval_goals < train_goals


def test_known_cells():
    u = envs.get_layout("u_maze")
    assert u.shape == (5, 5)
    assert [tuple(c) for c in u.start_cells] == [(1, 1)]
    assert {tuple(c) for c in envs.get_layout("u_maze_eval").goal_cells} == {
        (3, 1),
        (3, 2),
        (3, 3),
    }
    assert envs.get_layout("hardest_maze").shape == (9, 12)
    assert [tuple(c) for c in envs.get_layout("big_maze").start_cells] == [(1, 1)]
    # The humanoid's eval big maze adds row 2, column 5.
    extra = {tuple(c) for c in envs.get_layout("big_maze_eval_humanoid").goal_cells} - {
        tuple(c) for c in envs.get_layout("big_maze_eval").goal_cells
    }
    assert extra == {(2, 5)}


@pytest.mark.parametrize(
    "rows,match",
    [
        (("###", "#S#", "##"), "equal length"),
        (("####", "#SX#", "####"), "unknown cell"),
        (("####", "#SG.", "####"), "border"),
        (("####", "#SS#", "####"), "'G'"),
    ],
)
def test_bad_layouts(rows, match):
    with pytest.raises(ValueError, match=match):
        envs.MazeLayout("bad", rows)


def test_unknown_layout_lists_the_known_ones():
    with pytest.raises(KeyError, match="u_maze.*hardest_maze"):
        envs.get_layout("v_maze")


def test_every_layout_has_a_picture():
    # docs/draw_mazes.py draws them; rerun it when a layout changes.
    from pathlib import Path

    docs = Path(__file__).parent.parent / "docs" / "mazes"
    for name in envs.LAYOUTS:
        assert (docs / f"{name}.png").is_file(), (
            f"run python docs/draw_mazes.py ({name})"
        )


@pytest.mark.parametrize("name", sorted(envs.LAYOUTS))
def test_wall_rectangles_tile_the_walls_exactly(name):
    layout = envs.LAYOUTS[name]
    count = np.zeros(layout.shape, int)
    for i, j, h, w in layout.wall_rectangles():
        assert h >= 1 and w >= 1
        count[i : i + h, j : j + w] += 1
    np.testing.assert_array_equal(count, layout.walls.astype(int))
