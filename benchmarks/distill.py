"""Distillation: a small student against its deep teacher, in score and in latency.

Distils the teacher run (`--teacher`: a trained run directory with a checkpoint; its
seeds all distilled side by side) into a student of `--actor-depth` and
`--actor-width`, once per `--losses` entry, for `--fraction` of the teacher's env steps.
A score is the paper's: per seed, the mean of the last 5 evaluations of time at goal
and of success (the teacher's from its own metrics); the student keeps
`student / teacher` of it (means over seeds). Then the per-action latency of both
mean-action policies (`Run.policy(mode=0)`, jitted) at batch 1 and 1,024, side by
side, and their parameter counts.

    python examples/point_maze.py --num-seeds 3 --actor-depth 16 --critic-depth 16 \
        --total-env-steps 1000000 --lr-schedule constant --eval-actor 0 \
        --run-dir runs/pm_u_d16       # the committed results' teacher (about 40 min)
    python benchmarks/distill.py --teacher runs/pm_u_d16

Writes `benchmarks/results/distill.json` (every seed's curve and score, the ratios,
latencies) and prints a Markdown table. A student whose run directory (under
`--runs`) holds a finished run is read back, not retrained.
"""

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS, score, steady_time, summarise  # noqa: E402

import equicrl  # noqa: E402


def parse(args=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", type=Path, required=True)
    p.add_argument("--losses", nargs="+", default=["action", "kl"])
    p.add_argument("--actor-depth", type=int, default=4)
    p.add_argument("--actor-width", type=int, default=None)
    p.add_argument("--fraction", type=float, default=0.1, help="of the teacher's steps")
    p.add_argument("--eval-every", type=int, default=2)
    p.add_argument("--runs", type=Path, default=Path("runs/distill"))
    p.add_argument("--out", type=Path, default=RESULTS / "distill.json")
    return p.parse_args(args)


def seed_scores(run) -> list[dict]:
    n = run.config.num_seeds
    return [score(run.history, i if n > 1 else None) for i in range(n)]


def latency(policy, state_dim: int, goal_dim: int) -> dict:
    """Median seconds per call of the jitted policy at batch 1 and 1,024."""
    import jax
    import jax.numpy as jnp

    out = {}
    for batch in (1, 1024):
        s = jnp.ones((batch, state_dim)) * 0.1
        g = jnp.ones((batch, goal_dim)) * 0.2

        def call(s=s, g=g):
            jax.block_until_ready(policy(s, g))

        call()  # compile
        t = steady_time(call, min_reps=200, max_reps=2000, budget_s=3.0)
        out[f"batch_{batch}_s"] = t["median_s"]
    return out


def main(args=None) -> dict:
    opts = parse(args)
    teacher = equicrl.load_run(opts.teacher)
    tc = teacher.config
    steps = max(int(tc.total_env_steps * opts.fraction), tc.env_steps_per_collection)
    results = {
        "command": " ".join(["python", "benchmarks/distill.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "teacher": {
            "path": str(opts.teacher),
            "config": json.loads(json.dumps(teacher.meta["config"])),
            "env_steps": teacher.env_steps,
            "scores": seed_scores(teacher),
        },
        "students": {},
    }
    results["teacher"]["summary"] = summarise(results["teacher"]["scores"])
    t_sum = results["teacher"]["summary"]
    policies = {"teacher": teacher.policy(mode=0)}
    for loss in opts.losses:
        run_dir = opts.runs / f"{opts.teacher.name}-student-d{opts.actor_depth}-{loss}"
        started = time.perf_counter()
        done = (run_dir / "checkpoint.eqx").exists()
        if done:
            print(f"{loss}: reading back the student in {run_dir}", flush=True)
        else:
            equicrl.distill(
                opts.teacher,
                actor_depth=opts.actor_depth,
                actor_width=opts.actor_width,
                total_env_steps=steps,
                loss=loss,
                run_dir=run_dir,
                overwrite=run_dir.exists(),
                eval_every=opts.eval_every,
                checkpoint_every=opts.eval_every * 10,
            )
        student = equicrl.load_run(run_dir)
        scores = seed_scores(student)
        summary = summarise(scores)
        kept = {
            # None: the teacher scored 0, nothing to keep.
            name: summary[name] / t_sum[name] if t_sum[name] else None
            for name in ("time_at_goal", "success")
        }
        results["students"][loss] = {
            "path": str(run_dir),
            "actor_depth": student.config.actor_depth,
            "actor_width": student.config.actor_width,
            "env_steps": student.env_steps,
            "fraction_of_teacher_steps": student.env_steps / teacher.env_steps,
            "wall_s": None if done else time.perf_counter() - started,
            "scores": scores,
            "summary": summary,
            "kept": kept,
        }
        policies[f"student ({loss})"] = student.policy(mode=0)
        opts.out.write_text(json.dumps(results, indent=2) + "\n")
    results["latency"] = {
        name: {
            "params": p.num_params,
            **latency(p, teacher.env.state_dim, teacher.env.goal_dim),
        }
        for name, p in policies.items()
    }
    opts.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"wrote {opts.out}")
    return results


def _percent(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def table(results: dict) -> str:
    t = results["teacher"]
    rows = [
        "| actor | depth x width | env steps | time at goal | success | kept "
        "(time at goal, success) |",
        "|---|---|---:|---|---|---|",
    ]

    def cell(summary, name, fmt):
        mean, stderr = summary[name], summary[f"{name}_stderr"]
        return f"{format(mean, fmt)} ± {format(stderr, fmt)}"

    c = t["config"]
    rows.append(
        f"| teacher | {c['actor_depth']} x {c['actor_width']} | {t['env_steps']:,} | "
        f"{cell(t['summary'], 'time_at_goal', '.1f')} | "
        f"{cell(t['summary'], 'success', '.3f')} | |"
    )
    for loss, s in results["students"].items():
        rows.append(
            f"| student, {loss} loss | {s['actor_depth']} x {s['actor_width']} | "
            f"{s['env_steps']:,} | {cell(s['summary'], 'time_at_goal', '.1f')} | "
            f"{cell(s['summary'], 'success', '.3f')} | "
            f"{_percent(s['kept']['time_at_goal'])}, "
            f"{_percent(s['kept']['success'])} |"
        )
    rows += ["", "| policy | parameters | batch 1 (µs) | batch 1,024 (µs) |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for name, r in results.get("latency", {}).items():
        rows.append(
            f"| {name} | {r['params']:,} | {1e6 * r['batch_1_s']:.0f} | "
            f"{1e6 * r['batch_1024_s']:.0f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
