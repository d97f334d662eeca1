"""What the prefill puts in the replay buffer, and what it changes in training: the
release's prefill (the freshly initialised actor, sampling) against uniform random
actions, side by side in one run.

    python benchmarks/prefill.py buffer   # humanoid_u_maze, ant_u_maze: the buffer
    python benchmarks/prefill.py score    # the main job on seeds 0-2 with each prefill

`buffer` runs the prefill exactly as training does (the same compiled collection,
`prefill_rows` 1,000 rounded up to 17 collections of 62 steps, the release's) with
each prefill, in a fresh process per point, and reports the episodes it stored (mean
length of those that ended, the share of steps in episodes that ended) and the spread
of the goals it reached (the achieved-goal coordinates relabelling can draw: their
standard deviation, and how far each episode got from its start). `score` trains the
README's main job (`examples/point_maze.py`, seeds 0, 1, 2 in one program) with each
prefill and reports each seed's score, the mean of its last 5 evaluations.

Writes `benchmarks/results/prefill_buffer.json` / `prefill_score.json` and prints
Markdown tables.
"""

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from _common import machine, RESULTS, run_point  # noqa: E402


PREFILLS = ("actor", "uniform")
BUFFER_ENVS = ("humanoid_u_maze", "ant_u_maze")


def buffer_config(env_name: str, prefill: str, num_envs: int):
    import equicrl

    return equicrl.CRLConfig(
        env_name=env_name,
        num_envs=num_envs,
        prefill=prefill,
        replay_rows=1_054,
        batch_size=256,
        actor_width=256,
        critic_width=64,
        total_env_steps=10_000_000,
        eval_envs=2,
    )


def episodes(ids):
    """`(lengths of the episodes that ended, steps in episodes still running)` of a
    `(rows, envs)` array of episode ids."""
    import numpy as np

    ended, running = [], 0
    for column in np.asarray(ids).T:
        starts = np.flatnonzero(np.diff(column, prepend=column[0] - 1))
        lengths = np.diff(np.append(starts, len(column)))
        ended += list(lengths[:-1])
        running += int(lengths[-1])
    return ended, running


def measure_buffer(env_name: str, prefill: str, num_envs: int) -> dict:
    import jax.numpy as jnp
    import numpy as np

    from equicrl.runs._train import _programs
    from equicrl.training._state import make_parts, seed_keys

    c = buffer_config(env_name, prefill, num_envs)
    start = time.perf_counter()
    parts = make_parts(c)
    programs = _programs(parts)
    ts = programs.init(seed_keys(c))
    uniform = jnp.asarray(c.prefill == "uniform")
    for _ in range(c.prefill_collections):
        ts = programs.collect(uniform, ts)
    rows = c.prefill_collections * c.unroll_length
    states = np.asarray(ts.buffer.data["state"][:rows], np.float64)
    seconds = time.perf_counter() - start
    ended, running = episodes(ts.buffer.episode_id[:rows])
    achieved = states[..., list(parts.env.goal_indices)]
    # How far each episode got from where it started, in the plane.
    ids = np.asarray(ts.buffer.episode_id[:rows])
    reach = []
    for e in range(num_envs):
        for i in np.unique(ids[:, e]):
            xy = achieved[ids[:, e] == i, e, :2]
            reach.append(float(np.linalg.norm(xy - xy[0], axis=1).max()))
    flat = achieved.reshape(-1, achieved.shape[-1])
    return dict(
        env=env_name,
        prefill=prefill,
        num_envs=num_envs,
        rows=rows,
        env_steps=rows * num_envs,
        seconds=seconds,
        episodes_ended=len(ended),
        mean_length_ended=float(np.mean(ended)) if ended else None,
        steps_in_ended=int(np.sum(ended)),
        share_of_steps_in_ended=float(np.sum(ended)) / (rows * num_envs),
        steps_still_running=running,
        achieved_std=[float(s) for s in flat.std(0)],
        achieved_xy_spread=float(np.sqrt(flat[:, :2].var(0).sum())),
        reach_mean=float(np.mean(reach)),
        reach_p90=float(np.percentile(reach, 90)),
        action_abs_mean=float(
            np.abs(np.asarray(ts.buffer.data["action"][:rows])).mean()
        ),
    )


def _write(benchmark: str, **results) -> Path:
    """`results/BENCHMARK.json`: the results with the command and the machine."""
    out = dict(
        benchmark=benchmark,
        command=" ".join(["python", "benchmarks/prefill.py", *sys.argv[1:]]),
        machine=machine(),
        **results,
    )
    path = RESULTS / f"{benchmark}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    return path


def buffer(args) -> None:
    points = []
    for env_name in args.envs:
        for prefill in PREFILLS:
            result = run_point(
                __file__,
                [env_name, prefill, str(args.num_envs)],
                args.timeout,
            )
            result = dict(dict(env=env_name, prefill=prefill), **result)
            points.append(result)
            print(json.dumps(result), flush=True)
    path = _write("prefill_buffer", points=points)
    print(
        "| env | prefill | episodes ended | mean length (ended) | steps in ended "
        "episodes | achieved x, y spread (m) | reach from start (mean / p90, m) | "
        "mean abs(action) |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )
    for p in points:
        if "error" in p:
            print(f"| {p['env']} | {p['prefill']} | {p['error']} |")
            continue
        length = p["mean_length_ended"]
        print(
            f"| {p['env']} | {p['prefill']} | {p['episodes_ended']} | "
            f"{'-' if length is None else f'{length:.0f}'} | "
            f"{100 * p['share_of_steps_in_ended']:.0f} % | "
            f"{p['achieved_xy_spread']:.2f} | {p['reach_mean']:.2f} / "
            f"{p['reach_p90']:.2f} | {p['action_abs_mean']:.2f} |"
        )
    print(f"wrote {path}")


def score(args) -> None:
    from _common import score as seed_score, summarise
    from point_maze import PRESETS

    import equicrl

    results = []
    for prefill in PREFILLS:
        config = PRESETS["cpu"].replace(num_seeds=3, seed=0, prefill=prefill)
        start = time.perf_counter()
        _, history = equicrl.train(
            config, eval_every=args.eval_every, outputs=False, log=print
        )
        scores = [seed_score(history, i) for i in range(config.num_seeds)]
        results.append(
            dict(
                prefill=prefill,
                seconds=time.perf_counter() - start,
                seeds=[0, 1, 2],
                scores=scores,
                summary=summarise(scores),
            )
        )
        print(
            f"prefill {prefill}: success "
            + ", ".join(f"{s['success']:.2f}" for s in scores)
            + " (seeds 0, 1, 2)",
            flush=True,
        )
    path = _write(
        "prefill_score",
        config=json.loads(json.dumps(PRESETS["cpu"].__dict__)),
        results=results,
    )
    print(
        "| prefill | seed 0 | seed 1 | seed 2 | mean ± s.e. | time at goal (mean) |"
        "\n|---|---:|---:|---:|---:|---:|"
    )
    for r in results:
        s, m = r["scores"], r["summary"]
        print(
            f"| {r['prefill']} | "
            + " | ".join(f"{x['success']:.2f}" for x in s)
            + f" | {m['success']:.2f} ± {m['success_stderr']:.2f} | "
            f"{m['time_at_goal']:.1f} |"
        )
    print(f"wrote {path}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--point":
        env_name, prefill, num_envs = sys.argv[2:5]
        print(json.dumps(measure_buffer(env_name, prefill, int(num_envs))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("buffer", help="what each prefill stores")
    b.add_argument("--envs", nargs="+", default=list(BUFFER_ENVS))
    b.add_argument("--num-envs", type=int, default=32)
    b.add_argument("--timeout", type=float, default=1800.0)
    s = sub.add_parser("score", help="the main job's score with each prefill")
    s.add_argument("--eval-every", type=int, default=10, help="as the example")
    args = parser.parse_args()
    {"buffer": buffer, "score": score}[args.what](args)


if __name__ == "__main__":
    main()
