"""The MJCF models of the Franka-arm tasks, written from primitive shapes.

The paper's release builds each task from a Menagerie Panda XML with mesh files, which
Brax's loader then simplifies by fusing every body without a joint into its parent.
Only primitive geoms ever collide there (the meshes are visual), so this module writes
the *fused* model directly: the same bodies in the same order (world, cube, goal
marker, link1..link7, left finger, right finger), the same masses and inertias, the
same joints, actuators, contact pairs and solver options, with plain capsules standing
in for the visual meshes. Every number comes from `docs/arm_tasks.md`, the task facts
this repository keeps: Brax's fusing in its section 1, the solver in 2, bodies, masses
and inertias in 3, contact pairs in 4, actuators in 5a, the scene in 6 and the tasks'
ranges and bins in 7.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ArmTask:
    """Where a task puts its cube, its goal and its scenery (metres).

    **Arguments:**

    - `name`: the registered name, e.g. `"arm_push_easy"`.
    - `cube_start`: the (x, y) the cube's start is drawn around.
    - `cube_noise`: the cube's start is `cube_start` plus `U(-cube_noise, cube_noise)`
        on x and on y.
    - `goal_centre`, `goal_noise`: the same for the goal's (x, y); its z is the
        cube's resting height, 0.03.
    - `bins`: whether the regions are walled bins (binpick) or flat pads (push).
    - `region_centres`: the (x, y) of the start region, then of the goal region.
    - `region_half`: half the side of a pad, or the offset of a bin's walls from its
        centre.
    """

    name: str
    cube_start: tuple[float, float]
    cube_noise: float
    goal_centre: tuple[float, float]
    goal_noise: float
    bins: bool
    region_centres: tuple[tuple[float, float], tuple[float, float]]
    region_half: float


TASKS = {
    task.name: task
    for task in (
        ArmTask(
            "arm_push_easy", (-0.1, 0.6), 0.1, (0.1, 0.6), 0.1, False,
            ((-0.1, 0.6), (0.1, 0.6)), 0.1,
        ),
        ArmTask(
            "arm_push_hard", (-0.25, 0.65), 0.25, (0.25, 0.65), 0.25, False,
            ((-0.25, 0.65), (0.25, 0.65)), 0.25,
        ),
        ArmTask(
            "arm_binpick_easy", (-0.15, 0.6), 0.09, (0.17, 0.6), 0.09, True,
            ((-0.17, 0.6), (0.17, 0.6)), 0.14,
        ),
        ArmTask(
            "arm_binpick_hard", (-0.3, 0.6), 0.15, (0.3, 0.6), 0.15, True,
            ((-0.3, 0.6), (0.3, 0.6)), 0.19,
        ),
    )
}  # fmt: skip

CUBE_HALF = 0.03
WALL_HALF_HEIGHT = 0.033
WALL_HALF_THICKNESS = 0.005

# The arm: (name, parent-frame pos, quat (w x y z, as written), joint range or None,
# mass, inertial pos, fullinertia (xx yy zz xy xz yz), visual segment to the next
# joint's origin). Joints are hinges about local z with no damping or armature, and
# only joints 2, 4 and 6 are limited: the class defaults are lost when Brax fuses
# the fixed base into the world.
_LINKS = (
    ("link1", "0 0 0.333", None, None, 4.970684, "0.003875 0.002081 -0.04762",
     "0.70337 0.70661 0.009117 -0.000139 0.006772 0.019169", "0 0 -0.19 0 0 0"),
    ("link2", "0 0 0", "1 -1 0 0", (-1.7628, 1.7628), 0.646926,
     "-0.003141 -0.02872 0.003495",
     "0.007962 0.02811 0.025995 -0.003925 0.010254 0.000704", "0 0 0 0 -0.316 0"),
    ("link3", "0 -0.316 0", "1 1 0 0", None, 3.228604,
     "0.027518 0.039252 -0.066502",
     "0.037242 0.036155 0.01083 -0.004761 -0.011396 -0.012805", "0 0 0 0.0825 0 0"),
    ("link4", "0.0825 0 0", "1 1 0 0", (-3.0718, -0.0698), 3.587895,
     "-0.05317 0.104419 0.027454",
     "0.025853 0.019552 0.028323 0.007796 -0.001332 0.008641",
     "0 0 0 -0.0825 0.384 0"),
    ("link5", "-0.0825 0.384 0", "1 -1 0 0", None, 1.225946,
     "-0.011953 0.041065 -0.038437",
     "0.035549 0.029474 0.008627 -0.002117 -0.004037 0.000229", "0 0 -0.1 0 0 0"),
    ("link6", "0 0 0", "1 1 0 0", (-0.0175, 3.7525), 1.666555,
     "0.060149 -0.014117 -0.010517",
     "0.001964 0.004354 0.005433 0.000109 -0.001158 0.000341", "0 0 0 0.088 0 0"),
    ("link7", "0.088 0 0", "1 1 0 0", None, 0.735522,
     "0.010517 -0.004252 0.061597",
     "0.012516 0.010027 0.004815 -0.000428 -0.001196 -0.000741",
     "0 0 0 0 0 0.107"),
)  # fmt: skip

# Position actuators as `<general>` with an affine bias: (gain, position stiffness,
# velocity damping, ctrlrange, force limit). On joints 3-7 the gain differs from the
# stiffness, so a control c holds the joint at (gain / stiffness) * c, not at c.
_ARM_ACTUATORS = (
    (4500, 4500, 450, (-2.8973, 2.8973), 87),
    (4500, 4500, 450, (-1.7628, 1.7628), 87),
    (2000, 3500, 350, (-2.8973, 2.8973), 87),
    (2000, 3500, 350, (-3.0718, -0.0698), 87),
    (1000, 2000, 200, (-2.8973, 2.8973), 12),
    (1000, 2000, 200, (-0.0175, 3.7525), 12),
    (1000, 2000, 200, (-2.8973, 2.8973), 12),
)
# Each finger: ctrl 255 holds it at 0.08 m (open), 0 at 0 (closed).
_FINGER_ACTUATOR = (0.15686, 500, 50, (0, 255), 500)

# Every contact is an explicit pair with MuJoCo's pair defaults written out: explicit
# pairs do not take their geoms' frictions (the release's finger friction of 10 and
# table friction of 0.2 never act).
_PAIR = (
    'condim="3" friction="1 1 0.005 0.0001 0.0001" solref="0.02 1" '
    'solimp="0.9 0.95 0.001 0.5 2" margin="0" gap="0"'
)

_VISUAL = 'contype="0" conaffinity="0" group="2"'
_ARM_RGBA = "0.92 0.92 0.95 1"


def _fmt(*values: float | int) -> str:
    return " ".join(f"{v:g}" for v in values)


def _walls(task: ArmTask) -> list[tuple[str, str, str]]:
    """(name, pos, half-sizes) of the eight bin walls: four around each bin."""
    h, t, z = task.region_half, WALL_HALF_THICKNESS, WALL_HALF_HEIGHT
    walls = []
    for which, (cx, cy) in zip("AB", task.region_centres):
        for sign in (-1, 1):
            # Walls along x sit at y = cy +- h and span the whole side.
            walls.append(
                (f"bin{which}_y{'-+'[sign > 0]}", _fmt(cx, cy + sign * h, z),
                 _fmt(h + t, t, z))
            )  # fmt: skip
            # Walls along y sit at x = cx +- h, between the others.
            walls.append(
                (f"bin{which}_x{'-+'[sign > 0]}", _fmt(cx + sign * h, cy, z),
                 _fmt(t, h - t, z))
            )  # fmt: skip
    return walls


def arm_mjcf(task: ArmTask) -> str:
    """The MJCF model of `task`, as Brax's loader would leave the release's XML.

    Bodies, and so `qpos`, come in the release's fused order: the cube's free joint
    (`q[0:7]`), the goal marker's (`q[7:14]`), joints 1-7 (`q[14:21]`) and the two
    finger slides (`q[21:23]`).
    """
    lines = [
        f'<mujoco model="{task.name}">',
        '  <compiler angle="radian" autolimits="true"/>',
        # Brax's env overrides the timestep and iterations at load time; written
        # here instead. Binpick adds impratio 10.
        '  <option timestep="0.002" iterations="6" ls_iterations="12" '
        'integrator="implicitfast" solver="Newton" cone="pyramidal"'
        + (' impratio="10"' if task.bins else "")
        + "/>",
        "  <worldbody>",
        # The table: a plane at z = 0 (its collisions ignore its size).
        '    <geom name="table" type="plane" pos="0 0.2 0" size="1.4 1.2 0.01" '
        'contype="0" conaffinity="0" rgba="0.82 0.78 0.7 1"/>',
        # The fixed base, link0 (visual only).
        f'    <geom name="base_visual" type="capsule" fromto="0 0 0 0 0 0.26" '
        f'size="0.06" {_VISUAL} rgba="{_ARM_RGBA}"/>',
    ]
    if task.bins:
        for name, pos, size in _walls(task):
            lines.append(
                f'    <geom name="{name}" type="box" pos="{pos}" size="{size}" '
                'contype="0" conaffinity="0" rgba="0.45 0.5 0.6 1"/>'
            )
    else:
        for which, (cx, cy), rgba in zip(
            "AB", task.region_centres, ("0.3 0.45 0.9 1", "0.9 0.35 0.3 1")
        ):
            h = task.region_half
            lines.append(
                f'    <geom name="pad{which}" type="box" pos="{_fmt(cx, cy, 0.0005)}" '
                f'size="{_fmt(h, h, 0.0005)}" {_VISUAL} rgba="{rgba}"/>'
            )
    cx, cy = task.cube_start
    gx, gy = task.goal_centre
    lines += [
        # The cube: a 6 cm box of density 1000 (0.216 kg), spawned 4 cm up.
        f'    <body name="cube" pos="{_fmt(cx, cy, 0.07)}">',
        '      <freejoint name="cube_joint"/>',
        f'      <geom name="cube" type="box" size="{_fmt(*[CUBE_HALF] * 3)}" '
        'contype="0" conaffinity="0" rgba="0.95 0.75 0.2 1"/>',
        "    </body>",
        # The goal marker floats (gravcomp) and touches nothing; it only shows the
        # goal, but its free joint still takes q[7:14].
        f'    <body name="goal_marker" pos="{_fmt(gx, gy, CUBE_HALF)}" gravcomp="1">',
        '      <freejoint name="goal_joint"/>',
        f'      <geom name="goal_marker" type="box" '
        f'size="{_fmt(*[CUBE_HALF] * 3)}" {_VISUAL} rgba="0.2 0.85 0.3 0.5"/>',
        "    </body>",
    ]
    indent = "    "
    for i, (name, pos, quat, limits, mass, ipos, inertia, seg) in enumerate(_LINKS):
        quat_attr = f' quat="{quat}"' if quat else ""
        lines.append(f'{indent}<body name="{name}" pos="{pos}"{quat_attr}>')
        inner = indent + "  "
        range_attr = f' range="{_fmt(*limits)}"' if limits else ""
        lines += [
            f'{inner}<inertial pos="{ipos}" mass="{mass}" fullinertia="{inertia}"/>',
            f'{inner}<joint name="joint{i + 1}" type="hinge" axis="0 0 1" '
            f'armature="0" damping="0"{range_attr}/>',
            f'{inner}<geom name="{name}_visual" type="capsule" fromto="{seg}" '
            f'size="0.05" {_VISUAL} rgba="{_ARM_RGBA}"/>',
        ]
        indent = inner
    # link7 carries the hand (fused into it, adding no mass) and the fingers.
    lines += [
        f'{indent}<geom name="hand" type="capsule" size="0.04 0.06" '
        'pos="0 0 0.142" quat="0.653282 0.653282 -0.270598 -0.270598" '
        f'contype="0" conaffinity="0" rgba="{_ARM_RGBA}"/>',
    ]
    fingers = (("left", "0.92388 0 0 -0.382683"), ("right", "0.382683 0 0 0.92388"))
    for n, (side, quat) in enumerate(fingers, start=1):
        lines += [
            f'{indent}<body name="{side}_finger" pos="0 0 0.1654" quat="{quat}">',
            f'{indent}  <inertial pos="0 0 0" mass="0.015" '
            'diaginertia="2.375e-06 2.375e-06 7.5e-07"/>',
            f'{indent}  <joint name="finger_joint{n}" type="slide" axis="0 1 0" '
            'range="0 0.08" armature="0.1" damping="5"/>',
            f'{indent}  <geom name="{side}_finger" type="box" '
            'size="0.015 0.005 0.04" pos="0 0.0055 0.035" contype="0" '
            'conaffinity="0" rgba="0.3 0.3 0.32 1"/>',
            f"{indent}</body>",
        ]
    for depth in range(len(_LINKS), 0, -1):
        lines.append("  " * (depth + 1) + "</body>")
    lines.append("  </worldbody>")

    # Contacts: only these pairs exist (every geom has contype = conaffinity = 0).
    robot = ("hand", "left_finger", "right_finger")
    pairs = [("cube", "table")]
    pairs += [("cube", g) for g in robot]
    pairs += [("table", g) for g in robot]
    pairs += [("left_finger", "right_finger")]
    if task.bins:
        for wall, _, _ in _walls(task):
            pairs += [(g, wall) for g in ("cube", *robot)]
    lines.append("  <contact>")
    lines += [f'    <pair geom1="{a}" geom2="{b}" {_PAIR}/>' for a, b in pairs]
    lines.append("  </contact>")

    # The fingers move together: finger_joint1 = finger_joint2.
    lines += [
        "  <equality>",
        '    <joint joint1="finger_joint1" joint2="finger_joint2" '
        'polycoef="0 1 0 0 0" solref="0.005 1" solimp="0.95 0.99 0.001"/>',
        "  </equality>",
        "  <actuator>",
    ]
    actuators = [(f"joint{i + 1}", a) for i, a in enumerate(_ARM_ACTUATORS)]
    actuators += [(f"finger_joint{n}", _FINGER_ACTUATOR) for n in (1, 2)]
    for joint, (gain, kp, kv, ctrl, force) in actuators:
        lines.append(
            f'    <general joint="{joint}" dyntype="none" gaintype="fixed" '
            f'biastype="affine" gainprm="{gain:g}" biasprm="0 {-kp:g} {-kv:g}" '
            f'ctrlrange="{_fmt(*ctrl)}" forcerange="{_fmt(-force, force)}"/>'
        )
    lines += ["  </actuator>", "</mujoco>"]
    return "\n".join(lines) + "\n"
