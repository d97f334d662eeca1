"""Draw each arm task's scene, from its model's geoms, into docs/arms/.

    python docs/draw_arms.py

Each picture shows the model at its reset pose (cube at the centre of its start range,
goal at the centre of its goal range) from above and from the side, every geom drawn as
the outline of its shape in the model's own colours: the arm's plain capsules are
visual only; the hand capsule, the finger boxes, the cube and (binpick) the bin walls
are the geoms that collide. Dashed rectangles: the ranges the cube's start (blue) and
the goal (red) are drawn from (docs/arm_tasks.md section 7).
"""

from pathlib import Path

import jax
import matplotlib
import mujoco
import numpy as np


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402
from scipy.spatial import ConvexHull  # noqa: E402

from equicrl.envs import make_env, TASKS  # noqa: E402


OUT = Path(__file__).parent / "arms"


def _points(model, data, i: int) -> np.ndarray:
    """Points on the surface of geom `i`, in world coordinates (enough for a hull)."""
    size, kind = model.geom_size[i], model.geom_type[i]
    pos, rot = data.geom_xpos[i], data.geom_xmat[i].reshape(3, 3)
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        corners = np.array(np.meshgrid(*[[-1, 1]] * 3)).reshape(3, -1).T * size
        local = corners
    elif kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        # Two spheres of radius size[0] at +-size[1] along the local z axis.
        u = np.random.default_rng(0).normal(size=(200, 3))
        sphere = size[0] * u / np.linalg.norm(u, axis=1, keepdims=True)
        local = np.concatenate([sphere + [0, 0, size[1]], sphere - [0, 0, size[1]]])
    else:
        return np.zeros((0, 3))
    return pos + local @ rot.T


def draw(ax, model, data, axes: tuple[int, int], depth_axis: int) -> None:
    shapes = []
    for i in range(model.ngeom):
        points = _points(model, data, i)
        if len(points) == 0:
            continue
        flat = points[:, list(axes)]
        hull = flat[ConvexHull(flat).vertices]
        shapes.append((points[:, depth_axis].max(), hull, model.geom_rgba[i]))
    # Far to near: from below for the top view, from -x for the side view.
    for _, hull, rgba in sorted(shapes, key=lambda s: s[0]):
        ax.add_patch(
            Polygon(
                hull,
                facecolor=rgba[:3],
                alpha=max(rgba[3], 0.35),
                edgecolor="k",
                linewidth=0.4,
            )
        )
    ax.set_aspect("equal")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fig_all, axes_all = plt.subplots(1, len(TASKS), figsize=(4.2 * len(TASKS), 4.4))
    for ax_all, (name, task) in zip(axes_all, TASKS.items()):
        env = make_env(name)
        model = mujoco.MjModel.from_xml_string(env.xml)
        data = mujoco.MjData(model)
        cube = (*task.cube_start, 0.03)
        goal = (*task.goal_centre, 0.03)
        # The env's own start (arm pose, gripper, orientations), with the cube and
        # the goal moved to their ranges' centres.
        q = np.array(env.initial_q(jax.random.key(0))[0])
        q[0:3], q[7:10] = cube, goal
        data.qpos[:] = q
        mujoco.mj_forward(model, data)

        fig, (top, side) = plt.subplots(1, 2, figsize=(10, 4.6))
        for ax in (top, ax_all):
            draw(ax, model, data, (0, 1), 2)
            for (cx, cy), noise, colour in (
                (task.cube_start, task.cube_noise, "tab:blue"),
                (task.goal_centre, task.goal_noise, "tab:red"),
            ):
                ax.add_patch(
                    Rectangle(
                        (cx - noise, cy - noise),
                        2 * noise,
                        2 * noise,
                        fill=False,
                        linestyle="--",
                        edgecolor=colour,
                        linewidth=1.5,
                    )
                )
            ax.set_xlim(-0.62, 0.62)
            ax.set_ylim(-0.12, 1.02)
            ax.set_xlabel("x (m)")
            ax.set_ylabel("y (m)")
        top.set_title(f"{name}: from above")
        ax_all.set_title(name)
        draw(side, model, data, (1, 2), 0)
        side.axhline(0, color="#8a7f6a", linewidth=2)
        side.set_xlim(-0.12, 1.02)
        side.set_ylim(-0.05, 1.0)
        side.set_xlabel("y (m)")
        side.set_ylabel("z (m)")
        side.set_title("from the side (+x)")
        fig.text(
            0.5,
            0.01,
            "dashed: cube start range (blue), goal range (red)",
            ha="center",
            fontsize=8,
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(OUT / f"{name}.png", dpi=90)
        plt.close(fig)
    fig_all.tight_layout()
    fig_all.savefig(OUT / "all_arms.png", dpi=70)
    plt.close(fig_all)
    print(f"wrote {len(TASKS) + 1} pictures to {OUT}")


if __name__ == "__main__":
    main()
