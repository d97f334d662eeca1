"""The main job's final policies acting in each of the actor's modes.

For every run directory given (default: the single runs of `main_job_seeds.py`, seeds
0-9 and the fresh seeds 10-19), its final actor plays the same 1,024 episodes of the
evaluation maze in each mode of [`equicrl.act`][] (`CRLConfig.eval_actor`, the
release's `--eval_actor`): 0, the mean action (what the main job evaluated and
deployed until it adopted sampling); 1, a sample of the actor's distribution (what it
does now); K >= 2, the best of K samples by the run's critic. Success (the goal ever
reached) and time at goal (steps within the threshold, of 200) per run and mode.

An exploratory reading of trained runs, which led to the main job's test of
`eval_actor=1` (the training guide): training does not depend on the mode, only what is
evaluated does.

    python benchmarks/main_job_modes.py
    python benchmarks/main_job_modes.py runs/main_job_seeds/*-seed5 --modes 0 1
    python benchmarks/main_job_modes.py runs/main_job_seeds/*-program \\
        --out benchmarks/results/main_job_modes_program.json

A run of several seeds (`--num-seeds`) gives one entry per seed, each seed playing
the same episodes.

Writes `benchmarks/results/main_job_modes.json` (or `--out`) and prints a line a seed.
"""

import argparse
import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import provenance, RESULTS  # noqa: E402


ROOT = Path(__file__).parents[1]
EPISODES = 1024


def main(args=None) -> dict:
    import jax.numpy as jnp
    import jax.random as jr

    import equicrl

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", type=Path)
    p.add_argument("--modes", type=int, nargs="+", default=[0, 1, 4, 16])
    p.add_argument("--out", type=Path, default=RESULTS / "main_job_modes.json")
    opts = p.parse_args(args)
    runs = opts.runs or sorted(
        [
            *ROOT.glob("runs/main_job_seeds/*-seed?"),
            *ROOT.glob("runs/main_job_seeds_fresh/*-seed1?"),
        ],
        key=lambda r: int(r.name.rsplit("seed", 1)[1]),
    )
    if not runs:
        raise SystemExit("no run directories: run benchmarks/main_job_seeds.py first")
    key = jr.PRNGKey(2**31 - 1)  # the same episodes for every run and mode
    results = []
    for run_dir in runs:
        run = equicrl.load_run(run_dir)
        c = run.config
        entries = [
            dict(
                seed=c.seed + i, run_dir=str(run_dir), program=c.num_seeds > 1, modes={}
            )
            for i in range(c.num_seeds)
        ]
        for mode in opts.modes:
            kwargs = dict(num_episodes=EPISODES, episode_length=c.episode_length)
            if c.num_seeds == 1:
                critic = dict(critic=run.critic) if mode >= 2 else {}
                seeds = [
                    equicrl.evaluate(
                        run.actor, run.eval_env, key=key, mode=mode, **kwargs, **critic
                    )
                ]
            else:  # a program of seeds: every seed plays the same episodes
                critics = dict(critics=run.critic) if mode >= 2 else {}
                seeds = equicrl.evaluate_seeds(
                    run.actor,
                    run.eval_env,
                    keys=jnp.stack([key] * c.num_seeds),
                    mode=mode,
                    **kwargs,
                    **critics,
                )
            for entry, m in zip(entries, seeds, strict=True):
                entry["modes"][str(mode)] = {k: float(v) for k, v in m.items()}
        for r in entries:
            print(
                f"seed {r['seed']}{' (program)' if r['program'] else ''}: "
                + ", ".join(
                    f"mode {k} {v['success']:.3f}" for k, v in r["modes"].items()
                ),
                flush=True,
            )
        results += entries
    out = dict(
        **provenance(__file__, args),
        episodes=EPISODES,
        modes=opts.modes,
        runs=results,
    )
    opts.out.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
