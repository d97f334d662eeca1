"""Maze walls and contact bits for the Brax robots, written into their MJCF models.

MuJoCo collides two geoms when the `contype` of one shares a bit with the
`conaffinity` of the other (and they are not on the same or a parent-child body).
Bit 1 carries the robot's floor and self contacts, which
[`equicrl.envs.set_contact_bits`][] sets geom by geom (the release's or Brax's).
Bit 2 carries the walls alone: the walls answer it (`conaffinity` 2) and the robot
geoms that must not pass through a wall add it to their `contype`, so the choice of
wall geoms never changes a floor or self contact, and the choice of floor and self
contacts never changes a wall.
"""

import contextlib
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence

from brax.io import mjcf
from etils import epath

from ._layouts import MazeLayout


WALL_RGBA = "0.55 0.6 0.7 1"
_WALL_BIT = 2


def _robot_geoms(root: ET.Element) -> list[ET.Element]:
    world = root.find("worldbody")
    if world is None:
        raise ValueError("the MJCF model has no <worldbody>")
    return [g for body in world.findall("body") for g in body.iter("geom")]


def set_contact_bits(
    xml: str,
    bits: Mapping[str, tuple[int, int]],
    *,
    default: tuple[int, int] = (0, 0),
) -> str:
    """Return the MJCF `xml` with every geom's `contype` and `conaffinity` set.

    **Arguments:**

    - `xml`: an MJCF model.
    - `bits`: `(contype, conaffinity)` by geom name.
    - `default`: the bits of every other geom of the model's bodies (geoms directly
        in the world body, such as the floor, keep theirs unless `bits` names them).

    **Returns:**

    The new model as a string. Raises `ValueError` if `bits` names a geom the model
    does not have.
    """
    root = ET.fromstring(xml)
    robot = _robot_geoms(root)
    every = {g.get("name"): g for g in root.iter("geom")}
    unknown = sorted(set(bits) - set(every))
    if unknown:
        raise ValueError(
            f"set_contact_bits: no geom called {', '.join(unknown)}; the model's "
            f"geoms are {', '.join(sorted(n for n in every if n))}"
        )
    for geom in robot:
        contype, conaffinity = bits.get(geom.get("name"), default)
        geom.set("contype", str(contype))
        geom.set("conaffinity", str(conaffinity))
    for name, (contype, conaffinity) in bits.items():
        every[name].set("contype", str(contype))
        every[name].set("conaffinity", str(conaffinity))
    return ET.tostring(root, encoding="unicode")


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
    - `wall_geoms`: names of the robot's geoms that collide with the walls;
        `None` (the default) means every geom of the robot. As in the paper's
        release, the ant passes its torso sphere, hip capsules and feet, the
        humanoid every geom.

    **Returns:**

    The new model as a string. Contacts between the robot and the floor or itself
    are unchanged: the walls use a contact bit of their own (bit 2), which the
    chosen robot geoms add to their `contype`.
    """
    root = ET.fromstring(xml)
    world = root.find("worldbody")
    robot_geoms = _robot_geoms(root)
    names = {g.get("name") for g in robot_geoms}
    if wall_geoms is not None:
        unknown = sorted(set(wall_geoms) - names)
        if unknown:
            raise ValueError(
                f"add_maze_walls: no robot geom called {', '.join(unknown)}; the "
                f"robot's geoms are {', '.join(sorted(n for n in names if n))}"
            )
    # A geom without its own contype has the model's default (MuJoCo's is 1).
    default = root.find("default/geom")
    default_contype = "1" if default is None else default.get("contype", "1")
    for geom in robot_geoms:
        if wall_geoms is not None and geom.get("name") not in wall_geoms:
            continue
        contype = int(geom.get("contype", default_contype))
        geom.set("contype", str(contype | _WALL_BIT))
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
            contype="0",
            conaffinity=str(_WALL_BIT),
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


def robot_system(
    robot_env,
    asset: str,
    *,
    layout: MazeLayout | None,
    cell_size: float,
    wall_geoms: Sequence[str] | None,
    contact_bits: Mapping[str, tuple[int, int]],
    default_bits: tuple[int, int],
):
    """The robot env's system, rebuilt from its Brax MJCF with the given floor and
    self contacts ([`equicrl.envs.set_contact_bits`][]) and, with a layout, maze
    walls."""
    path = epath.resource_path("brax") / "envs" / "assets" / asset
    xml = set_contact_bits(path.read_text(), contact_bits, default=default_bits)
    if layout is not None:
        xml = add_maze_walls(xml, layout, cell_size, wall_geoms=wall_geoms)
    with quiet_brax_load():
        sys = mjcf.loads(xml)
    # Keep the physics options and actuators the robot's Brax env set (its spring
    # time step, the humanoid's gears).
    return sys.replace(opt=robot_env.sys.opt, actuator=robot_env.sys.actuator)
