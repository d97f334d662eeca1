"""The main job's tuning: a candidate preset on seeds side by side, with how stable
each seed's evaluated success is.

Trains `examples/point_maze.py`'s preset as it was before the tuning (1M env
steps, constant learning rates), changed by a JSON object of `CRLConfig` fields, on
`--seeds` seeds from `--seed0` as one program, evaluating every 2 epochs (so that
the swings between evaluations show). Per seed: its score as the README's command
computes it (the mean success of the last 5 evaluations at the CLI's default
spacing, every 10 epochs and the last), its final evaluation, and over the second
half of the run the standard deviation and minimum of its success.

    python benchmarks/main_job_tuning.py base '{}'
    python benchmarks/main_job_tuning.py cos_1500k \\
        '{"lr_schedule": "cosine", "total_env_steps": 1500000}'
    python benchmarks/main_job_tuning.py before_test '{}' --seed0 5

Adds an entry to `benchmarks/results/main_job_tuning.json` (every candidate tried,
in the order tried) and prints its line.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS  # noqa: E402

import equicrl  # noqa: E402


# The main job's preset before the tuning (the base every candidate changes).
BEFORE = equicrl.CRLConfig(
    env_name="point_maze_u_maze",
    num_envs=64,
    unroll_length=50,
    episode_length=200,
    replay_rows=2_000,
    prefill_rows=200,
    batch_size=256,
    env_steps_per_gradient_step=20,
    repr_dim=32,
    actor_width=64,
    critic_width=64,
    total_env_steps=1_000_000,
    eval_envs=128,
)
EVAL_EVERY = 2  # epochs; the README's command evaluates every 10
SCORE_EVERY = 10


def main(args=None) -> dict:
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("changes", help="a JSON object of CRLConfig fields")
    p.add_argument("--seed0", type=int, default=0)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--runs", type=Path, default=Path("runs/main_job_tuning"))
    p.add_argument("--out", type=Path, default=RESULTS / "main_job_tuning.json")
    opts = p.parse_args(args)
    changes = json.loads(opts.changes)
    config = BEFORE.replace(seed=opts.seed0, num_seeds=opts.seeds, **changes)
    run_dir = opts.runs / opts.name
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    _, history = equicrl.train(
        config,
        run_dir=run_dir,
        eval_every=EVAL_EVERY,
        log=lambda s: None,
        outputs=False,
    )
    wall = time.perf_counter() - start
    evals = [r for r in history if "eval/success" in r]
    success = np.array(
        [[s["eval/success"] for s in r.get("seeds", [r])] for r in evals]
    )  # evaluations x seeds
    epochs = np.array([r["epoch"] for r in evals])
    last = epochs[-1]
    # The evaluations the README's command makes: every 10 epochs and the last.
    scored = [i for i, e in enumerate(epochs) if e % SCORE_EVERY == 0 or e == last]
    score, final = success[scored[-5:]].mean(0), success[-1]
    half = epochs > last / 2
    entry = dict(
        name=opts.name,
        changes=changes,
        command=" ".join(
            ["python benchmarks/main_job_tuning.py", opts.name, f"'{opts.changes}'"]
            + ([f"--seed0 {opts.seed0}"] if opts.seed0 else [])
        ),
        date=time.strftime("%Y-%m-%d"),
        machine=machine(),
        wall_s=wall,
        seeds=list(range(opts.seed0, opts.seed0 + opts.seeds)),
        score=score.tolist(),
        final=final.tolist(),
        second_half_std=success[half].std(0).tolist(),
        second_half_min=success[half].min(0).tolist(),
        epochs=epochs.tolist(),
        curve=success.tolist(),
    )
    entries = json.loads(opts.out.read_text()) if opts.out.exists() else []
    opts.out.write_text(json.dumps(entries + [entry], indent=1) + "\n")
    print(
        f"{opts.name}: {wall:.0f} s; score {np.round(score, 3)} (mean "
        f"{score.mean():.3f}, worst {score.min():.3f}); final {np.round(final, 3)}; "
        f"largest |final - score| {np.abs(final - score).max():.3f}"
    )
    return entry


if __name__ == "__main__":
    main()
