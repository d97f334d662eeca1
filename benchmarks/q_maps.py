"""Q-value maps and goal embeddings of trained runs, side by side, as the paper's
U4-maze figure: for one goal, the critic's energy at every position of the maze, and
the embeddings phi(s, pi(s, g)) of states near the goal with psi(g), projected on
their first two principal components.

    python benchmarks/q_maps.py RUN_D4 RUN_D16 --goal 3 1 --name point_maze_u_maze
    python benchmarks/q_maps.py --replot results/q_maps_point_maze_u_maze.json

The runs must share a maze. For each run (seed index `--seed`), the state of every
grid point is the training env's state after a reset with the robot moved there, and
the action the actor's. Writes `results/q_maps_NAME.json` (the maps' values and the
projected embeddings: the figure is redrawn from it) and `results/q_maps_NAME.png`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS  # noqa: E402


def parse(args=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="*", type=Path, help="run directories")
    parser.add_argument(
        "--goal", type=float, nargs=2, metavar=("X", "Y"), help="the goal's position"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed index in each run")
    parser.add_argument("--per-cell", type=int, default=12, help="grid points a cell")
    parser.add_argument("--name", help="output name (default: the first run's env)")
    parser.add_argument("--out", type=Path, help="output stem (default: results/...)")
    parser.add_argument("--replot", type=Path, metavar="JSON", help="redraw, no runs")
    return parser.parse_args(args)


def run_label(config) -> str:
    if config.actor_depth == config.critic_depth:
        depth = f"depth {config.actor_depth}"
    else:
        depth = f"actor depth {config.actor_depth}, critic depth {config.critic_depth}"
    return f"{depth}, width {config.critic_width}"


def compute(opts) -> dict:
    import equicrl

    if not opts.runs:
        raise SystemExit("give at least one run directory (or --replot JSON)")
    if opts.goal is None:
        raise SystemExit("--goal X Y is needed: the goal every map is drawn for")
    maps, layout = [], None
    for path in opts.runs:
        start = time.perf_counter()
        run = equicrl.load_run(path)
        env = run.env
        if getattr(env, "layout", None) is None:
            raise SystemExit(f"{path}: {run.config.env_name} is no maze")
        if layout is not None and env.layout.rows != layout.rows:
            raise SystemExit(f"{path}: another maze than the first run's")
        layout = env.layout
        m = run.q_value_map(opts.goal, seed=opts.seed, per_cell=opts.per_cell)
        e = run.goal_embeddings(opts.goal, seed=opts.seed)
        maps.append(
            dict(
                run=str(path),
                env_name=run.config.env_name,
                label=run_label(run.config),
                seed=run.config.seed + opts.seed,
                env_steps=run.env_steps,
                xs=m.xs.tolist(),
                ys=m.ys.tolist(),
                values=[
                    [None if np.isnan(v) else float(v) for v in r] for r in m.values
                ],
                embeddings=dict(
                    points=e.points.round(5).tolist(),
                    distance=e.distance.round(5).tolist(),
                    goal_point=e.goal_point.tolist(),
                    explained=e.explained,
                ),
                seconds=round(time.perf_counter() - start, 1),
            )
        )
        print(f"{path}: {maps[-1]['label']} ({maps[-1]['seconds']} s)", flush=True)
    return dict(
        command="python benchmarks/q_maps.py " + " ".join(sys.argv[1:]),
        goal=list(opts.goal),
        layout=dict(name=layout.name, rows=list(layout.rows)),
        cell_size=float(run.env.cell_size),
        machine=machine(),
        maps=maps,
    )


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from equicrl import draw_maze
    from equicrl.envs import MazeLayout

    layout = MazeLayout(results["layout"]["name"], tuple(results["layout"]["rows"]))
    cell = results["cell_size"]
    maps = results["maps"]
    n = len(maps)
    rows, cols = layout.shape
    fig, axes = plt.subplots(
        2, n, figsize=(3.3 * n + 0.6, 0.6 * rows + 4.2), squeeze=False
    )
    gx, gy = results["goal"]
    for k, m in enumerate(maps):
        ax = axes[0, k]
        draw_maze(ax, layout, cell)
        values = np.array(
            [[np.nan if v is None else v for v in r] for r in m["values"]]
        )
        xs, ys = np.asarray(m["xs"]), np.asarray(m["ys"])
        dx, dy = xs[1] - xs[0], ys[1] - ys[0]
        image = ax.imshow(
            np.ma.masked_invalid(values),
            cmap="viridis",
            extent=(ys[0] - dy / 2, ys[-1] + dy / 2, xs[-1] + dx / 2, xs[0] - dx / 2),
            interpolation="nearest",
        )
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="energy f(s, a, g)")
        ax.plot(gy, gx, "*", color="red", markersize=14, markeredgecolor="k")
        ax.set_title(f"{m['label']}\n{m['env_steps']:,} env steps", fontsize=8)
        e = m["embeddings"]
        ax = axes[1, k]
        points = np.asarray(e["points"])
        scatter = ax.scatter(
            points[:, 0], points[:, 1], c=e["distance"], s=6, cmap="plasma"
        )
        ax.plot(*e["goal_point"], "*", color="red", markersize=14, markeredgecolor="k")
        fig.colorbar(scatter, ax=ax, fraction=0.046, pad=0.03, label="distance to goal")
        ax.set_title(
            f"phi(s, a) within a cell of the goal (star: psi(g));\n"
            f"2 principal axes hold {100 * e['explained']:.0f} % of the variance",
            fontsize=7,
        )
        ax.tick_params(labelsize=6)
    fig.suptitle(
        f"{maps[0]['env_name']}: the critic's energy for the goal ({gx:g}, {gy:g}) "
        "(red star),\nwith the actor's action at each position; the rest of the "
        "state as at the start",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args=None) -> dict:
    opts = parse(args)
    if opts.replot is not None:
        results = json.loads(opts.replot.read_text())
        out = opts.replot.with_suffix(".png")
    else:
        results = compute(opts)
        name = opts.name or results["maps"][0]["env_name"]
        stem = opts.out or RESULTS / f"q_maps_{name}"
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps(results) + "\n")
        out = stem.with_suffix(".png")
    plot(results, out)
    print(f"wrote {out}")
    return results


if __name__ == "__main__":
    main()
