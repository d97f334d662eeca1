"""Where the main job's policies fail: success by goal cell.

For every run directory given (default: the single runs `main_job_seeds.py` made),
its final actor's mean action (the policy the main job saved before it sampled)
plays 1,024 episodes of the evaluation maze (`point_maze_u_maze_eval`: start in the
top-left cell, goals in the three cells of the bottom corridor), the same episodes
for every run, and the success and mean time at goal are split by the goal's cell.

    python benchmarks/main_job_goals.py
    python benchmarks/main_job_goals.py runs/main_job_seeds/*-seed5

Writes `benchmarks/results/main_job_goals.json` and prints a table.
"""

import argparse
import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import provenance, RESULTS  # noqa: E402


ROOT = Path(__file__).parents[1]
EPISODES = 1024


def by_goal_cell(run_dir: Path) -> dict:
    import equinox as eqx
    import jax
    import jax.random as jr
    import numpy as np

    import equicrl
    from equicrl.training._evaluate import _rollout

    run = equicrl.load_run(run_dir)
    env, key = run.eval_env, jr.key(2026)
    goals = np.asarray(
        jax.vmap(env.reset)(jr.split(key, EPISODES)).obs[:, env.state_dim :]
    )
    rollout = eqx.filter_jit(
        lambda actor: _rollout(
            actor, env, key, EPISODES, run.config.episode_length, None
        )
    )
    time_at_goal, success, _ = (np.asarray(x) for x in rollout(run.actor))
    cells = np.floor(goals / env.cell_size + 0.5).astype(int)
    out = {}
    for cell in sorted({tuple(int(i) for i in c) for c in cells}):
        mask = (cells == cell).all(1)
        out[f"{cell[0]},{cell[1]}"] = dict(
            episodes=int(mask.sum()),
            success=float(success[mask].mean()),
            time_at_goal=float(time_at_goal[mask].mean()),
        )
    return dict(seed=run.config.seed, run_dir=str(run_dir), cells=out)


def main(args=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", type=Path)
    p.add_argument("--out", type=Path, default=RESULTS / "main_job_goals.json")
    opts = p.parse_args(args)
    runs = opts.runs or sorted(
        (ROOT / "runs" / "main_job_seeds").glob("*-seed*"),
        key=lambda d: int(d.name.rsplit("seed", 1)[1]),
    )
    if not runs:
        raise SystemExit("no runs: give run directories, or run main_job_seeds.py")
    results = dict(
        **provenance(__file__, args),
        episodes=EPISODES,
        runs=[by_goal_cell(d) for d in runs],
    )
    opts.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return results


def table(r: dict) -> str:
    cells = list(r["runs"][0]["cells"])
    lines = [
        "| seed | " + " | ".join(f"goal cell ({c}): success" for c in cells) + " |",
        "|---" + "|---:" * len(cells) + "|",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['seed']} | "
            + " | ".join(f"{run['cells'][c]['success']:.2f}" for c in cells)
            + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
