"""Is the arm learning? A training run's time at goal against a random policy's.

Two steps, usually on a GPU for the first:

    # time at goal of uniformly random actions (128 episodes of 1000 steps)
    python benchmarks/arm_learning.py random --env arm_push_easy
    # train (stop it whenever: metrics.jsonl holds every finished epoch)
    python examples/arm.py --preset push-easy --eval-every 5 --run-dir runs/push
    # the learning curve with the random policy's level drawn in
    python benchmarks/arm_learning.py plot runs/push

`random` writes `benchmarks/results/arm_random_policy_ENV.json`; `plot` reads the run's
`config.json` and `metrics.jsonl` and writes `arm_learning_ENV.json` (the curve) and
`arm_learning_ENV.png`. Besides random actions, the plot draws the level of an arm that
never touches the cube: episodes whose cube starts within the success threshold of the
goal count every step (in push easy, about 7 % of them), so a policy that learns only
to keep away from the cube scores that much, well above random actions, which knock
the cube about.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS  # noqa: E402


def random_policy(env_name: str, episodes: int, steps: int, seed: int) -> dict:
    """Time at goal (steps within the success threshold) of uniform random actions
    in `[-1, 1]`, over `episodes` episodes of `steps` steps."""
    import jax
    import numpy as np

    from equicrl import envs

    env = envs.make_env(env_name)

    @jax.jit
    def run(key):
        reset_key, act_key = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))

        def body(state, k):
            action = jax.random.uniform(
                k, (episodes, env.action_size), minval=-1, maxval=1
            )
            state = jax.vmap(env.step)(state, action)
            return state, state.metrics["success"]

        return jax.lax.scan(body, state, jax.random.split(act_key, steps))[1]

    t0 = time.perf_counter()
    success = np.asarray(run(jax.random.key(seed)))  # (steps, episodes)
    time_at_goal = success.sum(0)
    return dict(
        env=env_name,
        episodes=episodes,
        episode_length=steps,
        time_at_goal=float(time_at_goal.mean()),
        time_at_goal_stderr=float(time_at_goal.std(ddof=1) / math.sqrt(episodes)),
        success_any=float((time_at_goal > 0).mean()),
        seconds=time.perf_counter() - t0,
    )


def still_level(env_name: str, episode_length: int, draws: int = 1_000_000) -> float:
    """Time at goal of an arm that never touches the cube: the share of (start, goal)
    draws already within the success threshold, times the episode length (Monte
    Carlo over the task's uniform ranges, in NumPy)."""
    import numpy as np

    from equicrl.envs import make_env

    env = make_env(env_name)
    task, rng = env.task, np.random.default_rng(0)
    start = np.asarray(task.cube_start) + rng.uniform(
        -task.cube_noise, task.cube_noise, (draws, 2)
    )
    goal = np.asarray(task.goal_centre) + rng.uniform(
        -task.goal_noise, task.goal_noise, (draws, 2)
    )
    near = np.linalg.norm(start - goal, axis=1) < env.success_threshold
    return float(near.mean() * episode_length)


def plot(run_dir: Path, random_json: Path | None, out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = json.loads((run_dir / "config.json").read_text())
    config = config.get("config", config)
    records = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if line.strip()
    ]
    evals = [r for r in records if "eval/time_at_goal" in r]
    if not evals:
        raise SystemExit(f"{run_dir}/metrics.jsonl holds no evaluation yet")
    env_name = config["env_name"]
    baseline = json.loads(random_json.read_text()) if random_json else None
    curve = dict(
        env=env_name,
        config=config,
        env_steps=[r["env_steps"] for r in evals],
        time_at_goal=[r["eval/time_at_goal"] for r in evals],
        time_at_goal_stderr=[r["eval/time_at_goal_stderr"] for r in evals],
        success=[r["eval/success"] for r in evals],
        sps=[r.get("sps") for r in evals],
        random_policy=baseline,
        cube_left_alone=still_level(env_name, config["episode_length"]),
    )
    fig, ax = plt.subplots(figsize=(6, 3.8))
    x = [s / 1e6 for s in curve["env_steps"]]
    y, e = curve["time_at_goal"], curve["time_at_goal_stderr"]
    ax.plot(
        x,
        y,
        "o-",
        color="C0",
        label=f"CRL, depth {config['critic_depth']} (128 eval episodes, ± s.e.)",
    )
    ax.fill_between(
        x,
        [a - b for a, b in zip(y, e)],
        [a + b for a, b in zip(y, e)],
        color="C0",
        alpha=0.2,
    )
    if baseline:
        ax.axhline(
            baseline["time_at_goal"],
            color="C3",
            linestyle="--",
            label=f"random actions ({baseline['time_at_goal']:.1f})",
        )
    ax.axhline(
        curve["cube_left_alone"],
        color="C2",
        linestyle=":",
        label="cube never touched "
        f"({curve['cube_left_alone']:.1f}: starts within reach of the goal)",
    )
    ax.set_xlabel("env steps (millions)")
    ax.set_ylabel(f"time at goal (of {config['episode_length']} steps)")
    ax.set_title(env_name)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out.with_suffix(".png"), dpi=100)
    out.with_suffix(".json").write_text(json.dumps(curve, indent=2) + "\n")
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("random", help="time at goal of random actions")
    r.add_argument("--env", default="arm_push_easy")
    r.add_argument("--episodes", type=int, default=128)
    r.add_argument("--steps", type=int, default=1000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", type=Path)
    p = sub.add_parser("plot", help="a run's learning curve against random actions")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--random", type=Path, help="the `random` step's JSON")
    p.add_argument("--out", type=Path)
    args = parser.parse_args()

    if args.command == "random":
        result = random_policy(args.env, args.episodes, args.steps, args.seed)
        result = dict(
            benchmark="arm_random_policy",
            command=" ".join(["python", "benchmarks/arm_learning.py", *sys.argv[1:]]),
            machine=machine(),
            **result,
        )
        out = args.out or RESULTS / f"arm_random_policy_{args.env}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(
            f"{args.env}: random actions, {args.episodes} episodes of {args.steps} "
            f"steps: time at goal {result['time_at_goal']:.1f} ± "
            f"{result['time_at_goal_stderr']:.1f}, success {result['success_any']:.2f} "
            f"({result['seconds']:.0f} s); wrote {out}"
        )
    else:
        config = json.loads((args.run_dir / "config.json").read_text())
        env_name = config.get("config", config)["env_name"]
        out = args.out or RESULTS / f"arm_learning_{env_name}"
        curve = plot(args.run_dir, args.random, out)
        print(
            f"{env_name}: {len(curve['env_steps'])} evaluations up to "
            f"{curve['env_steps'][-1]:,} env steps; last time at goal "
            f"{curve['time_at_goal'][-1]:.1f}; wrote {out}.png and .json"
        )


if __name__ == "__main__":
    main()
