"""The paper's collector experiment, as the paper designed it: collector depth x
learner depth, a 2 x 2.

For each collector depth (shallow and deep) one run, whose own networks (of that
depth) collect and learn as usual, while two learners, a shallow and a deep one
(`CRLConfig.learner_depths`), learn from every batch of the same data in the same
program and never act. The paper's finding (`PAPER.md`, "Collector"): with a deep
collector the deep learner clearly beats the shallow one; with a shallow collector both
are equally poor.

    python benchmarks/collector_2x2.py                  # CPU: the point U-maze
    python benchmarks/collector_2x2.py --preset gpu     # the paper's humanoid
    python benchmarks/collector_2x2.py --replot         # JSON -> PNG and table

Each run's seeds train side by side in one program (`--seeds`); its run directory
(`--runs/collectorC`) is resumed if it holds the run, or only read back when finished.
A learner's score, and the collector's, are the paper's: the mean of the last 5
evaluations per seed. Writes `results/collector_2x2_PRESET.json` and `.png`.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import LAST, machine, RESULTS, score, summarise  # noqa: E402


def presets() -> dict:
    """`(base config, evaluation interval)` of each preset."""
    from sweep import PRESETS

    import equicrl

    cpu = PRESETS["width-depth"]
    return {
        # The width-depth sweep's point-maze config (500k env steps, width 64).
        "cpu": (cpu.base.replace(num_seeds=cpu.seeds), cpu.eval_every),
        # The paper's humanoid settings (512 envs, batch 512, width 256, 100M steps).
        "gpu": (
            equicrl.CRLConfig(
                env_name="humanoid", total_env_steps=100_000_000, num_seeds=3
            ),
            1,
        ),
    }


def parse(args=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--shallow", type=int, default=4)
    p.add_argument("--deep", type=int, default=16)
    p.add_argument("--seeds", type=int, help="seeds per run (default: the preset's)")
    p.add_argument("--runs", type=Path, default=Path("runs/collector_2x2"))
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="change fields, e.g. total_env_steps=100000")  # fmt: skip
    p.add_argument("--eval-every", type=int, help="epochs (default: the preset's)")
    p.add_argument("--out", type=Path, help="the JSON (default: results/...)")
    p.add_argument("--replot", action="store_true")
    return p.parse_args(args)


def main(args=None) -> dict:
    opts = parse(args)
    out = opts.out or RESULTS / f"collector_2x2_{opts.preset}.json"
    if opts.replot:
        results = json.loads(out.read_text())
        plot(results, out.with_suffix(".png"))
        print(table(results))
        return results
    import equicrl
    from equicrl.runs._rundir import num_epochs

    base, eval_every = presets()[opts.preset]
    from sweep import _value, expand

    changes = dict(kv.split("=", 1) for kv in opts.set)
    base = base.replace(**expand({k: _value(v) for k, v in changes.items()}))
    eval_every = opts.eval_every or eval_every
    if opts.seeds:
        base = base.replace(num_seeds=opts.seeds)
    evaluations = -(-num_epochs(base) // eval_every)
    if evaluations < LAST:
        sys.exit(
            f"{evaluations} evaluations (every {eval_every} of {num_epochs(base)} "
            f"epochs); a score needs {LAST}: lower --eval-every"
        )
    depths = (opts.shallow, opts.deep)
    results: dict = {
        "command": "python benchmarks/collector_2x2.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "score": f"mean of the last {LAST} evaluations per seed",
        "depths": list(depths),
        "cells": {},
        "wall_s": {},
    }
    for collector in depths:
        config = base.replace(
            actor_depth=collector, critic_depth=collector, learner_depths=depths
        )
        run = opts.runs / f"collector{collector}"
        start = time.perf_counter()
        _, history = equicrl.train(
            config,
            run_dir=run,
            eval_every=eval_every,
            checkpoint_every=eval_every,
            resume=(run / "config.json").exists(),
            outputs=False,
        )
        results["config"] = {
            k: v
            for k, v in dataclasses.asdict(config).items()
            if k not in ("actor_depth", "critic_depth")
        }
        results["wall_s"][str(collector)] = round(time.perf_counter() - start, 1)
        seeds = None if config.num_seeds == 1 else range(config.num_seeds)
        for who, prefix in [("collector", "")] + [
            (f"learner {d}", f"learner{d}_") for d in depths
        ]:
            per_seed = [
                {k: v for k, v in score(history, i, prefix).items() if k != "curve"}
                for i in (seeds or [None])
            ]
            cell = {**summarise(per_seed), "seeds": per_seed, "run": str(run)}
            results["cells"][f"collector {collector}, {who}"] = cell
        out.write_text(json.dumps(results, indent=1) + "\n")
    plot(results, out.with_suffix(".png"))
    print(table(results))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return results


def table(results: dict) -> str:
    """The 2 x 2 (and each collector's own score) as Markdown."""
    shallow, deep = results["depths"]
    lines = [
        "| collector depth | learner depth | time at goal | success | each seed "
        "(time at goal) |",
        "|---:|---|---:|---:|---|",
    ]
    for collector in (shallow, deep):
        for who in ("collector", f"learner {shallow}", f"learner {deep}"):
            c = results["cells"].get(f"collector {collector}, {who}")
            if c is None:
                continue
            learner = "(the collector itself)" if who == "collector" else who[8:]
            lines.append(
                f"| {collector} | {learner} | {c['time_at_goal']:.1f} ± "
                f"{c['time_at_goal_stderr']:.1f} | {c['success']:.2f} ± "
                f"{c['success_stderr']:.2f} | "
                + ", ".join(f"{s['time_at_goal']:.0f}" for s in c["seeds"])
                + " |"
            )
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shallow, deep = results["depths"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric, label in (
        (axes[0], "time_at_goal", "time at goal"),
        (axes[1], "success", "success"),
    ):
        for j, collector in enumerate((shallow, deep)):
            for k, learner in enumerate((shallow, deep)):
                c = results["cells"].get(f"collector {collector}, learner {learner}")
                if c is None:
                    continue
                x = j + (k - 0.5) * 0.35
                ax.bar(
                    x,
                    c[metric],
                    width=0.33,
                    yerr=c[metric + "_stderr"],
                    capsize=3,
                    color=("tab:orange", "tab:blue")[k],
                    label=f"learner depth {learner}" if j == 0 else None,
                )
                seeds = [s[metric] for s in c["seeds"]]
                ax.scatter([x] * len(seeds), seeds, s=8, color="k", zorder=3)
        ax.set_xticks([0, 1], [f"collector depth {shallow}", f"collector depth {deep}"])
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    env = results.get("config", {}).get("env_name", "")
    fig.suptitle(
        f"{env}: learners on a collector's data, mean ± s.e. over seeds (dots: each "
        f"seed; the mean of the last {LAST} evaluations)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
