"""Maze walls for the Brax robots, added to their MJCF models.

The `#` cells of a [`equicrl.envs.MazeLayout`][] become boxes in the model's world
body, on a contact bit of their own, so that the robot's floor and self contacts stay
exactly those of its Brax env.
"""

import contextlib
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence

from brax.io import mjcf
from etils import epath

from ._layouts import MazeLayout


WALL_RGBA = "0.55 0.6 0.7 1"
# Contact bits (MuJoCo collides two geoms when `contype` of one and `conaffinity` of
# the other share a bit). Bit 1 is the robots' own: feet (contype 1) on the floor
# (conaffinity 1). Bit 2 is for the walls alone: robot geoms that must not go
# through a wall get contype 2, which neither the floor nor the robot answers, so the
# robot's floor and self contacts stay exactly those of its Brax env.
_WALL_ONLY_CONTYPE = "2"
_WALL_CONAFFINITY = "3"


def add_maze_walls(
    xml: str,
    layout: MazeLayout,
    cell_size: float,
    *,
    wall_geoms: Sequence[str] | None = None,
) -> str:
    """Return the MJCF `xml` with boxes filling the `#` cells of `layout`.

    Runs of wall cells are merged into one box each
    ([`equicrl.envs.MazeLayout.wall_rectangles`][]): the walls are the same, with
    several times fewer collision candidates. Walls are `cell_size / 2` high; cell
    (i, j) is centred at `x = i * cell_size`, `y = j * cell_size`.

    **Arguments:**

    - `xml`: the robot's MJCF model (with a floor).
    - `layout`, `cell_size`: the maze and the side of its cells.
    - `wall_geoms`: names of the robot's geoms that collide with the walls, besides
        those whose `contype` is already set (the feet); `None` (the default) means
        every geom of the robot. As in the paper's release, the ant passes its
        torso sphere and hip capsules, the humanoid every geom.

    **Returns:**

    The new model as a string. Contacts between the robot and the floor or itself
    are unchanged: the walls use a contact bit of their own.
    """
    root = ET.fromstring(xml)
    world = root.find("worldbody")
    if world is None:
        raise ValueError("the MJCF model has no <worldbody>")
    robot_geoms = [g for body in world.findall("body") for g in body.iter("geom")]
    names = {g.get("name") for g in robot_geoms}
    if wall_geoms is not None:
        unknown = sorted(set(wall_geoms) - names)
        if unknown:
            raise ValueError(
                f"add_maze_walls: no robot geom called {', '.join(unknown)}; the "
                f"robot's geoms are {', '.join(sorted(n for n in names if n))}"
            )
    for geom in robot_geoms:
        if wall_geoms is not None and geom.get("name") not in wall_geoms:
            continue
        if geom.get("contype", "0") == "0":
            geom.set("contype", _WALL_ONLY_CONTYPE)
    height = cell_size / 2
    for i, j, h, w in layout.wall_rectangles():
        # The box spans cells i .. i + h - 1 and j .. j + w - 1.
        x, y = (i + (h - 1) / 2) * cell_size, (j + (w - 1) / 2) * cell_size
        ET.SubElement(
            world,
            "geom",
            name=f"maze_wall_{i}_{j}",
            type="box",
            pos=f"{x} {y} {height / 2}",
            size=f"{h * cell_size / 2} {w * cell_size / 2} {height / 2}",
            contype="1",
            conaffinity=_WALL_CONAFFINITY,
            rgba=WALL_RGBA,
        )
    return ET.tostring(root, encoding="unicode")


@contextlib.contextmanager
def quiet_brax_load() -> Iterator[None]:
    """Silence the one warning Brax's MJCF loader gives on every load (Brax's
    System is no longer maintained): not ours to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Brax System, piplines and environments are not actively",
            category=UserWarning,
        )
        yield


def system_with_walls(
    robot_env, asset: str, layout: MazeLayout | None, cell_size: float, wall_geoms
):
    """The robot env's system, rebuilt from its MJCF with maze walls added."""
    if layout is None:
        return robot_env.sys
    path = epath.resource_path("brax") / "envs" / "assets" / asset
    xml = add_maze_walls(path.read_text(), layout, cell_size, wall_geoms=wall_geoms)
    with quiet_brax_load():
        sys = mjcf.loads(xml)
    # Walls add geoms only: keep the robot env's physics options and actuators.
    return sys.replace(opt=robot_env.sys.opt, actuator=robot_env.sys.actuator)
