"""The paper's collector experiment at CPU scale: a deep learner trained only on the
data of a shallow collector, against the same networks collecting their own data.

    python benchmarks/collector.py           # trains runs/collector, or reads it
    python benchmarks/collector.py --replot benchmarks/results/collector.json

The run is the width-depth sweep's config (the main job's U-maze at 500k env steps, 3
seeds) with a depth-16 learner and a depth-4 collector (`collector_depth=4`); a run
directory that holds it is resumed, or only read back when finished. Its learner and
collector are scored as the paper scores (the mean of the last 5 evaluations per
seed) and set beside the depth-16 and depth-4 points of
`results/sweep_width-depth.json` (same config, same seeds, each collecting its own
data). Writes `results/collector.json` and `results/collector.png`.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import LAST, machine, RESULTS, score, summarise  # noqa: E402
from sweep import PRESETS  # noqa: E402


def parse(args=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/collector"))
    parser.add_argument("--learner-depth", type=int, default=16)
    parser.add_argument("--collector-depth", type=int, default=4)
    parser.add_argument("--replot", type=Path, metavar="JSON")
    return parser.parse_args(args)


def scores(history: list[dict], prefix: str, seeds: int) -> list[dict]:
    """Each seed's score (without its curve) of the evaluations called `prefix`."""
    return [
        {k: v for k, v in score(history, i, prefix).items() if k != "curve"}
        for i in range(seeds)
    ]


def main(args=None) -> dict:
    opts = parse(args)
    if opts.replot is not None:
        results = json.loads(opts.replot.read_text())
        plot(results, opts.replot.with_suffix(".png"))
        return results
    import equicrl

    preset = PRESETS["width-depth"]
    config = preset.base.replace(
        num_seeds=preset.seeds,
        actor_depth=opts.learner_depth,
        critic_depth=opts.learner_depth,
        collector_depth=opts.collector_depth,
    )
    start = time.perf_counter()
    _, history = equicrl.train(
        config,
        run_dir=opts.run,
        eval_every=preset.eval_every,
        checkpoint_every=preset.eval_every,
        resume=(opts.run / "config.json").exists(),
    )
    sweep = json.loads((RESULTS / "sweep_width-depth.json").read_text())
    own = {}
    for p in sweep["points"]:
        f = p["fields"]
        if f["actor_width"] == config.actor_width and f["actor_depth"] in (
            opts.learner_depth,
            opts.collector_depth,
        ):
            own[f"depth {f['actor_depth']}, its own data"] = p
    rows = {
        f"depth {opts.learner_depth}, the collector's data (learner)": scores(
            history, "", config.num_seeds
        ),
        f"depth {opts.collector_depth}, collector": scores(
            history, "collector_", config.num_seeds
        ),
    }
    results = {
        "command": "python benchmarks/collector.py " + " ".join(sys.argv[1:]),
        "config": dataclasses.asdict(config),
        "run": str(opts.run),
        "wall_s": round(time.perf_counter() - start, 1),
        "score": f"mean of the last {LAST} evaluations per seed",
        "machine": machine(),
        "rows": {
            **{k: {**summarise(v), "seeds": v} for k, v in rows.items()},
            **{
                k: {
                    **summarise(p["seeds"]),
                    "seeds": [
                        {n: s[n] for n in ("time_at_goal", "success")}
                        for s in p["seeds"]
                    ],
                    "from": "results/sweep_width-depth.json",
                }
                for k, p in own.items()
            },
        },
    }
    path = RESULTS / "collector.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    plot(results, path.with_suffix(".png"))
    for name, r in results["rows"].items():
        print(
            f"{name}: time at goal {r['time_at_goal']:.1f} ± "
            f"{r['time_at_goal_stderr']:.1f}, success {r['success']:.2f} ± "
            f"{r['success_stderr']:.2f}"
        )
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["rows"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, metric, label in (
        (axes[0], "time_at_goal", "time at goal"),
        (axes[1], "success", "success rate"),
    ):
        for i, name in enumerate(names):
            r = results["rows"][name]
            seeds = [s[metric] for s in r["seeds"]]
            ax.scatter(seeds, [i] * len(seeds), s=10, color="#999999", zorder=2)
            ax.errorbar(r[metric], i, xerr=r[metric + "_stderr"], marker="o", capsize=4)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[1].set_yticks(range(len(names)), [""] * len(names))
    fig.suptitle(
        f"{results['config']['env_name']}: mean of the last {LAST} evaluations, "
        "mean ± s.e. over 3 seeds (grey: each seed)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
