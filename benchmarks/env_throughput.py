"""Steady environment steps per second of each env family, at several batch sizes.

For each env, `jax.vmap`'d `reset` and a `lax.scan` of `--unroll` vmapped steps with
random actions are jitted; after a warm-up call the scan is timed until `--budget`
seconds pass. Brax's own ant and humanoid (same `spring` backend) are measured beside
ours for comparison. `train:NAME` is the env as training steps it:
`wrap_for_training(make_env(NAME))` (episodes and the auto-reset with a fresh start
and goal included) against the bare env `NAME` beside it; the table ends with their
ratio. `NAME+feet` is a maze whose walls touch the robot's feet only (the model before
whole-body walls), to show what the release's wall contacts cost; `NAME+brax` has
Brax's floor and self contacts (feet on the floor only) instead of the release's, to
show what those cost (the suffixes combine: `NAME+feet+brax`). `mjx:NAME` is the
physics floor of an arm task: the same model compiled by MuJoCo from the env's MJCF
and stepped by MJX directly (`mjx.step` 25 times per env step, on `mjx.Data`, the
controls mapped from the same random actions), with none of our env's work (Brax's
state, the observation, the metrics); the table ends with ours / floor. Each point
runs in a fresh process.

    python benchmarks/env_throughput.py
    python benchmarks/env_throughput.py --envs point_maze_u_maze --num-envs 1024
    python benchmarks/env_throughput.py --arm    # the four arm tasks and their floors

Writes `benchmarks/results/env_throughput.json` and prints a Markdown table.
"""

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS, run_point  # noqa: E402


DEFAULT_ENVS = [
    "point_maze_u_maze",
    "ant",
    "ant_u_maze",
    "train:ant_u_maze",
    "brax:ant",
    "humanoid",
    "humanoid_u_maze",
    "train:humanoid_u_maze",
    "brax:humanoid",
]
ARM_ENVS = [
    f"{prefix}arm_{task}"
    for task in ("push_easy", "push_hard", "binpick_easy", "binpick_hard")
    for prefix in ("", "mjx:")
]


def mjx_floor(name: str):
    """`(reset, batched_step, action_size)` stepping the arm model of `name` with MJX
    alone: a vmapped `mjx.step`, 25 times per env step, on the model compiled from
    the env's MJCF."""
    import jax
    import mujoco
    from mujoco import mjx

    from equicrl import envs

    env = envs.make_env(name)
    model = mjx.put_model(mujoco.MjModel.from_xml_string(env.xml))

    def reset(key):
        q, _ = env.initial_q(key)
        return mjx.forward(model, mjx.make_data(model).replace(qpos=q))

    def step(data, action):
        data = data.replace(ctrl=env.motor_controls(action))
        data = jax.lax.fori_loop(0, 25, lambda _, d: mjx.step(model, d), data)
        # Something to return per env, as the envs' reward.
        return data, data.qpos[0]

    return jax.vmap(reset), jax.vmap(step), env.action_size


def measure(name: str, num_envs: int, unroll: int, budget: float) -> dict:
    import jax
    import jax.numpy as jnp

    if name.startswith("mjx:"):
        reset, mjx_step, action_size = mjx_floor(name[4:])
        reset = jax.jit(reset)
    elif name.startswith("brax:"):
        from brax import envs as brax_envs

        env = brax_envs.get_environment(name[5:], backend="spring")
    else:
        from equicrl import envs

        # `NAME+feet`: maze walls that touch the feet only (the model before whole-body
        # walls); `NAME+brax`: Brax's floor and self contacts; `NAME+nowalls`: walls
        # that touch nothing (the robot in the open, with the maze's floor and self
        # contacts); `NAME+allpairs`: every wall tested at every substep, no culling.
        base, *options = name.removeprefix("train:").split("+")
        unknown = set(options) - {"feet", "brax", "nowalls", "allpairs"}
        if unknown:
            raise SystemExit(f"unknown env suffix {', '.join(sorted(unknown))}")
        overrides = {}
        if "feet" in options:
            robot = envs.AntGoalEnv if base.startswith("ant") else envs.HumanoidGoalEnv
            overrides["wall_geoms"] = robot.FEET
        if "brax" in options:
            overrides["contacts"] = "brax"
        if "nowalls" in options:
            overrides["wall_geoms"] = ()
        if "allpairs" in options:
            overrides["cull_walls"] = False
        env = envs.make_env(base, **overrides)
    if name.startswith("mjx:"):
        pass
    elif name.startswith("train:"):
        # Already batched; auto-reset included.
        env = envs.wrap_for_training(env)
        reset, batched_step = jax.jit(env.reset), env.step
    else:
        reset, batched_step = jax.jit(jax.vmap(env.reset)), jax.vmap(env.step)

    @jax.jit
    def rollout(state, key):
        def body(state, k):
            action = jax.random.uniform(k, (num_envs, action_size), minval=-1, maxval=1)
            if name.startswith("mjx:"):
                return mjx_step(state, action)
            state = batched_step(state, action)
            return state, state.reward

        return jax.lax.scan(body, state, jax.random.split(key, unroll))

    if not name.startswith("mjx:"):
        action_size = env.action_size
    t0 = time.perf_counter()
    state = reset(jax.random.split(jax.random.key(0), num_envs))
    state, r = rollout(state, jax.random.key(1))
    jax.block_until_ready(r)
    compile_s = time.perf_counter() - t0
    # A second warm-up call: some envs' reset returns weakly typed leaves that the step
    # makes strong, which retraces (and recompiles) the rollout once.
    t0 = time.perf_counter()
    state, r = rollout(state, jax.random.key(1))
    jax.block_until_ready(r)
    compile_s += time.perf_counter() - t0  # reported: both warm-up calls

    steps, calls, start = 0, 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < budget:
        state, r = rollout(state, jax.random.key(2 + calls))
        jax.block_until_ready(r)
        steps += unroll * num_envs
        calls += 1
    elapsed = time.perf_counter() - start
    return dict(
        env=name,
        num_envs=num_envs,
        unroll=unroll,
        compile_s=compile_s,
        steps=steps,
        seconds=elapsed,
        steps_per_s=steps / elapsed,
        finite=bool(
            jnp.all(jnp.isfinite(state.qpos if name.startswith("mjx:") else state.obs))
        ),
        # Episodes that ended in the last call (auto-reset only): resets did happen.
        **({"done_last_call": int(state.done.sum())} if "train:" in name else {}),
    )


def _rate(steps_per_s: float) -> str:
    """Steps per second to print: whole numbers, but two decimals below 100 (MJX on a
    CPU steps a few env steps per second)."""
    return f"{steps_per_s:,.0f}" if steps_per_s >= 100 else f"{steps_per_s:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=DEFAULT_ENVS)
    parser.add_argument(
        "--arm", action="store_true", help="the arm tasks and their MJX floors"
    )
    parser.add_argument("--num-envs", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--unroll", type=int, default=20, help="steps per jitted call")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "env_throughput.json")
    parser.add_argument("--point", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.arm:
        args.envs = ARM_ENVS
        if args.out == RESULTS / "env_throughput.json":
            args.out = RESULTS / "env_throughput_arm.json"
    if args.point:
        name, n, unroll, budget = args.point
        print(json.dumps(measure(name, int(n), int(unroll), float(budget))))
        return

    points = []
    for name in args.envs:
        for n in args.num_envs:
            result = run_point(
                __file__,
                [name, str(n), str(args.unroll), str(args.budget)],
                args.timeout,
            )
            result = dict(dict(env=name, num_envs=n), **result)
            points.append(result)
            if "error" in result:
                print(f"{name:22s} {n:6d} envs: {result['error']}", flush=True)
            else:
                print(
                    f"{name:22s} {n:6d} envs: {_rate(result['steps_per_s']):>12} "
                    "steps/s "
                    f"(compile {result['compile_s']:.1f} s)",
                    flush=True,
                )
    out = dict(
        benchmark="env_throughput",
        command=" ".join(["python", "benchmarks/env_throughput.py", *sys.argv[1:]]),
        machine=machine(),
        points=points,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print("| env | envs | steps/s | compile (s) |\n|---|---:|---:|---:|")
    for p in points:
        if "error" in p:
            print(f"| {p['env']} | {p['num_envs']} | {p['error']} | |")
        else:
            print(
                f"| {p['env']} | {p['num_envs']} | {_rate(p['steps_per_s'])} | "
                f"{p['compile_s']:.1f} |"
            )
    by_point = {(p["env"], p["num_envs"]): p for p in points if "error" not in p}
    ratios = [
        (env, n, p["steps_per_s"] / by_point[env[6:], n]["steps_per_s"])
        for (env, n), p in by_point.items()
        if env.startswith("train:") and (env[6:], n) in by_point
    ]
    if ratios:
        print("\n| training wrapper / bare env | envs | ratio |\n|---|---:|---:|")
        for env, n, ratio in ratios:
            print(f"| {env[6:]} | {n} | {ratio:.2f} |")
    floors = [
        (env, n, by_point[env, n]["steps_per_s"] / p["steps_per_s"])
        for (floor, n), p in by_point.items()
        if floor.startswith("mjx:") and ((env := floor[4:]), n) in by_point
    ]
    if floors:
        print("\n| arm env / MJX floor | envs | ratio |\n|---|---:|---:|")
        for env, n, ratio in floors:
            print(f"| {env} | {n} | {ratio:.2f} |")
    contacts = [
        (env, n, by_point[env, n]["steps_per_s"] / p["steps_per_s"])
        for (other, n), p in by_point.items()
        if other.endswith("+brax") and ((env := other[: -len("+brax")]), n) in by_point
    ]
    if contacts:
        print("\n| release's contacts / Brax's | envs | ratio |\n|---|---:|---:|")
        for env, n, ratio in contacts:
            print(f"| {env} | {n} | {ratio:.2f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
