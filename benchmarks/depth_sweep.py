"""The paper's depth figure: score against network depth, mean +- standard error over
seeds.

Each depth (actor and critic alike, as in the paper) is one run of `--seeds` seeds
trained side by side in one compiled program (`CRLConfig.num_seeds`). A seed's score
is the paper's: the mean of its last 5 evaluations of time at goal and of success.
Each depth's run directory (config, metrics, checkpoint, learning curve) is kept under
`--runs`, and the JSON is rewritten after every depth. A depth whose run directory
already holds a checkpoint is resumed from it (a finished one is only read back), so
an interrupted sweep goes on where it stopped; a different config there is refused.

    python benchmarks/depth_sweep.py                          # the main job's maze
    python benchmarks/depth_sweep.py --preset humanoid        # the paper's, on a GPU
    python benchmarks/depth_sweep.py --depths 4 8 --seeds 2 --set total_env_steps=200000

Writes `OUT.json` (per depth: each seed's score and curve, mean, standard error,
wall time) and `OUT.png` (time at goal and success against depth).
"""

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from _common import machine, RESULTS  # noqa: E402
from point_maze import PRESETS as POINT_MAZE_PRESETS  # noqa: E402

import equicrl  # noqa: E402


POINT_MAZE = POINT_MAZE_PRESETS["cpu"]

LAST = 5  # evaluations averaged into a score, as in the paper

PRESETS = {
    # The README's main job (examples/point_maze.py --preset cpu), as it was when the
    # sweep was run: the U-maze, 500k env steps.
    "point-maze": (
        POINT_MAZE.replace(total_env_steps=500_000),
        dict(depths=(4, 8, 16, 32), seeds=3, eval_every=10),
    ),
    # A harder maze: the U-maze of 4 rows (its far side, point_maze_u4_maze_eval, is
    # about twice as far from the start), with 300-step episodes.
    "u4": (
        POINT_MAZE.replace(
            env_name="point_maze_u4_maze",
            episode_length=300,
            total_env_steps=600_000,
        ),
        dict(depths=(4, 8), seeds=3, eval_every=10),
    ),
    # The paper's humanoid sweep (its settings: 512 envs, batch 512, width 256,
    # 100M env steps; one GPU per depth takes hours, see PAPER.md).
    "humanoid": (
        equicrl.CRLConfig(env_name="humanoid", total_env_steps=100_000_000),
        dict(depths=(4, 8, 16, 32, 64), seeds=3, eval_every=10),
    ),
}


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse(args=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="point-maze")
    parser.add_argument("--depths", type=int, nargs="+")
    parser.add_argument("--seeds", type=int, help="seeds per depth (default: preset's)")
    parser.add_argument("--eval-every", type=int)
    parser.add_argument(
        "--set",
        metavar="FIELD=VALUE",
        nargs="+",
        default=[],
        help="change CRLConfig fields, e.g. --set total_env_steps=200000",
    )
    parser.add_argument("--out", type=Path, help="output stem (default: results/...)")
    parser.add_argument("--runs", type=Path, help="run directories (default: runs/)")
    return parser.parse_args(args)


def score(history: list[dict], seed: int | None) -> dict:
    """One seed's score (mean of its last 5 evaluations) and its evaluation curve."""
    evals = [r for r in history if "eval/success" in r]
    if len(evals) < LAST:
        raise ValueError(f"a score needs {LAST} evaluations, the run made {len(evals)}")
    own = [r["seeds"][seed] if seed is not None else r for r in evals]
    out = {
        name: sum(r[f"eval/{name}"] for r in own[-LAST:]) / LAST
        for name in ("time_at_goal", "success")
    }
    out["curve"] = {
        "env_steps": [r["env_steps"] for r in evals],
        "time_at_goal": [r["eval/time_at_goal"] for r in own],
        "success": [r["eval/success"] for r in own],
    }
    return out


def summarise(scores: list[dict]) -> dict:
    out = {}
    for name in ("time_at_goal", "success"):
        values = [s[name] for s in scores]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
        out[name] = mean
        out[name + "_stderr"] = math.sqrt(var / len(values)) if len(values) > 1 else 0.0
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = sorted(results["depths"], key=int)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, name, label in (
        (axes[0], "time_at_goal", f"time at goal (of {results['episode_length']})"),
        (axes[1], "success", "success rate"),
    ):
        means = [results["depths"][d][name] for d in depths]
        errs = [results["depths"][d][name + "_stderr"] for d in depths]
        xs = [int(d) for d in depths]
        for d, x in zip(depths, xs):
            seeds = [s[name] for s in results["depths"][d]["seeds"]]
            ax.scatter([x] * len(seeds), seeds, s=10, color="#999999", zorder=2)
        ax.errorbar(xs, means, yerr=errs, marker="o", capsize=4, zorder=3)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel("depth (dense layers of actor and critic encoders)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    n = len(results["depths"][depths[0]]["seeds"])
    fig.suptitle(
        f"{results['config']['env_name']}: mean of the last {LAST} evaluations, "
        f"mean ± s.e. over {n} seeds (grey: each seed)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args=None) -> dict:
    opts = parse(args)
    base, defaults = PRESETS[opts.preset]
    changes = dict(kv.split("=", 1) for kv in opts.set)
    fields = {f.name for f in dataclasses.fields(equicrl.CRLConfig)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise SystemExit(f"--set: unknown CRLConfig fields: {', '.join(unknown)}")
    base = base.replace(**{k: _value(v) for k, v in changes.items()})
    depths = opts.depths or defaults["depths"]
    seeds = opts.seeds or defaults["seeds"]
    eval_every = opts.eval_every or defaults["eval_every"]
    out = opts.out or RESULTS / f"depth_sweep_{base.env_name}"
    runs = opts.runs or Path("runs") / f"depth_sweep_{base.env_name}"
    base = base.replace(num_seeds=seeds)
    results = {
        "command": "python benchmarks/depth_sweep.py " + " ".join(args or sys.argv[1:]),
        "preset": opts.preset,
        "config": dataclasses.asdict(base),
        "eval_every": eval_every,
        "episode_length": base.episode_length,
        "score": f"mean of the last {LAST} evaluations per seed",
        "machine": machine(),
        "depths": {},
    }
    json_path = out.with_suffix(".json")
    for depth in depths:
        config = base.replace(actor_depth=depth, critic_depth=depth)
        run_dir = runs / f"depth_{depth}"
        # A run directory is never replaced: one this sweep started is resumed
        # (from the start if it was stopped before its first checkpoint).
        resume = (run_dir / "config.json").exists()
        start = time.perf_counter()
        _, history = equicrl.train(
            config,
            run_dir=run_dir,
            eval_every=eval_every,
            checkpoint_every=eval_every,
            resume=resume,
        )
        wall = time.perf_counter() - start
        per_seed = [score(history, i if seeds > 1 else None) for i in range(seeds)]
        for i, s in enumerate(per_seed):
            s["seed"] = base.seed + i
        results["depths"][str(depth)] = {
            **summarise(per_seed),
            "seeds": per_seed,
            # Of this invocation: a resumed run's earlier epochs are not counted.
            "wall_s": round(wall, 1),
            "resumed": resume,
            "steady_sps": round(history[-1]["sps"]),
        }
        r = results["depths"][str(depth)]
        print(
            f"depth {depth}: time at goal {r['time_at_goal']:.1f} ± "
            f"{r['time_at_goal_stderr']:.1f}, success {r['success']:.2f} ± "
            f"{r['success_stderr']:.2f} ({seeds} seeds, {wall / 60:.1f} min)",
            flush=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1) + "\n")
        plot(results, out.with_suffix(".png"))
    return results


if __name__ == "__main__":
    main()
