"""Training throughput, time to first progress and peak memory of `equicrl.train`.

The issue's comparison point: humanoid_u_maze, 32 envs, batch 256, width 256, 62-step
unrolls and 124 gradient steps per collection (one per 16 env steps), replay 10,000
rows, episodes of 1000 steps, actor depth = critic depth. For each depth, in a fresh
process, `train` runs the prefill (1,000 rows of random actions) and `--epochs`
epochs. Recorded:

- `first_output_s`: process start to train's first progress line (imports included);
- `built_s`: ... to the envs, networks and replay buffer built (env reset compiled);
- `prefilled_s`: ... to the prefill done (the collection compiled, once for the prefill
  and the epochs, and 17 x 62 rows of random actions collected);
- `first_epoch_done_s`: ... to the end of the first epoch (its gradient steps
  compiled and run): from here on the run is training at its steady rate;
- `learn_compile_s`: the first epoch's time minus a steady epoch's (compiling the
  gradient steps, about);
- `steady_sps`: env steps per second over the epochs after the first (train's own
  `sps`, measured before the last epoch's evaluation);
- `peak_rss_gb`: the process's peak resident memory (`ru_maxrss`).

With `--release DIR --release-python PY`, the release's own `train.py` (a checkout
of github:wang-kevin3290/scaling-crl in DIR, run by PY, a Python with the versions
its `pyproject.toml` pins; see `release_runner.py`) runs the same settings in the
same way, depth by depth, alternating with equicrl in one run: 32 envs, batch 256,
width 256, unroll 62, `--num_sgd_batches_per_training_step 124`, replay 10,000,
`--min_replay_size 1000` (17 collections), one collection per epoch, residual
blocks of 4 layers (`--*_skip_connections 4`), 2 eval envs, no checkpoints, logging
or rendering. Its stages come from its own output: `built_s` at its `obs_size`
line (the env reset compiled), `prefilled_s` at `starting training`, and the epochs
from the `training/sps` it prints for each (measured before its evaluation).

    python benchmarks/train_throughput.py                       # depths 4, 16, 64
    python benchmarks/train_throughput.py --depths 4 --epochs 3
    python benchmarks/train_throughput.py --depths 4 16 --epochs 3 \
        --release /tmp/release --release-python /tmp/relvenv/bin/python

Writes `benchmarks/results/train_throughput.json` and prints a Markdown table.
"""

import argparse
import json
import re
import resource
import sys
import time
from pathlib import Path


START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS, run_point, run_release  # noqa: E402


def config(depth: int, epochs: int, remat: bool):
    import equicrl

    num_envs, unroll, prefill = 32, 62, 1_000
    c = equicrl.CRLConfig(
        env_name="humanoid_u_maze",
        num_envs=num_envs,
        unroll_length=unroll,
        episode_length=1000,
        replay_rows=10_000,
        prefill_rows=prefill,
        batch_size=256,
        env_steps_per_gradient_step=16,  # 1,984 / 16 = 124 gradient steps per epoch
        actor_width=256,
        critic_width=256,
        actor_depth=depth,
        critic_depth=depth,
        remat=remat,
        total_env_steps=num_envs * unroll,
        eval_envs=2,
    )
    # The prefill is rounded up to whole collections: 1,000 rows -> 17 x 62.
    return c.replace(
        total_env_steps=(c.prefill_collections + epochs) * c.env_steps_per_collection
    )


def measure(depth: int, epochs: int, remat: bool) -> dict:
    import equicrl

    c = config(depth, epochs, remat)
    times: dict[str, float] = {}

    def log(line: str) -> None:
        now = time.perf_counter() - START
        times.setdefault("first_output_s", now)
        if line.startswith("built the envs"):
            times["built_s"] = now
        if line.startswith("prefilled the buffer"):
            times["prefilled_s"] = now
        if line.startswith("compiled and ran the first epoch"):
            times["first_epoch_done_s"] = now
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"[{now:7.1f} s, peak {rss:.2f} GB] {line}", file=sys.stderr, flush=True)

    _, history = equicrl.train(c, eval_every=10**6, log=log, outputs=False)
    steady_sps = history[-1]["sps"]
    steady_epoch_s = c.env_steps_per_collection / steady_sps
    first_epoch_s = c.env_steps_per_collection / history[0]["sps"]
    return dict(
        depth=depth,
        remat=remat,
        epochs=epochs,
        gradient_steps_per_epoch=c.gradient_steps_per_collection,
        steady_sps=steady_sps,
        steady_epoch_s=steady_epoch_s,
        learn_compile_s=first_epoch_s - steady_epoch_s,
        peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        **times,
    )


_SPS = re.compile(r"'training/sps': ([0-9.eE+-]+)")


def release_flags(depth: int, epochs: int) -> list[str]:
    """The release's `train.py` flags for the settings `config` gives equicrl."""
    num_envs, unroll, prefill_rows = 32, 62, 1_000
    return [
        "--env_id", "humanoid_u_maze", "--eval_env_id", "humanoid_u_maze",
        "--num_envs", str(num_envs), "--unroll_length", str(unroll),
        "--episode_length", "1000", "--batch_size", "256",
        "--max_replay_size", "10000", "--min_replay_size", str(prefill_rows),
        "--num_sgd_batches_per_training_step", "124",
        "--critic_network_width", "256", "--actor_network_width", "256",
        "--critic_depth", str(depth), "--actor_depth", str(depth),
        "--critic_skip_connections", "4", "--actor_skip_connections", "4",
        "--num_eval_envs", "2", "--num_epochs", str(epochs),
        # One collection (and its 124 gradient steps) per epoch, after the prefill.
        "--total_env_steps", str(prefill_rows * num_envs + epochs * num_envs * unroll),
        "--no-track", "--no-checkpoint", "--no-capture-vis",
    ]  # fmt: skip


def measure_release(
    depth: int, epochs: int, release: str, python: str, timeout_s: float
) -> dict:
    """The release's `train.py` at `depth` in a fresh process (`release_runner.py`),
    its stages read from its stamped output."""
    lines: list[tuple[float, float, str]] = []
    start = time.perf_counter()

    def on_line(t: float, gb: float, line: str) -> None:
        lines.append((t, gb, line))
        stamp = f"[{t:8.1f} s {gb:5.2f} GB] {line}"
        print(f"  release depth {depth}: {stamp[:160]}", file=sys.stderr)

    cmd, code = run_release(
        python, release, release_flags(depth, epochs), timeout_s, on_line
    )
    point: dict = dict(depth=depth, epochs=epochs, command=" ".join(cmd[1:]))
    if not lines:
        return dict(point, error=f"exit {code}, no output")
    point["peak_rss_gb"] = lines[-1][1]
    point["first_output_s"] = lines[0][0]
    for t, _, line in lines:
        if line.startswith("obs_size"):
            point.setdefault("built_s", t)
        if line.startswith("starting training"):
            point.setdefault("prefilled_s", t)
    sps = [float(m.group(1)) for _, _, line in lines for m in [_SPS.search(line)] if m]
    if len(sps) < epochs:
        done = f"{len(sps)} of {epochs} epochs"
        if time.perf_counter() - start > timeout_s:
            return dict(point, error=f"timed out after {timeout_s:.0f} s ({done})")
        tail = " | ".join(line for _, _, line in lines[-3:])
        return dict(point, error=f"exit {code} after {done}: {tail}")
    steady_sps = sum(sps[1:]) / len(sps[1:])
    rows = 32 * 62
    point.update(
        steady_sps=steady_sps,
        steady_epoch_s=rows / steady_sps,
        learn_compile_s=rows / sps[0] - rows / steady_sps,
        # The first epoch's end: the prefill done, then its training (its
        # evaluation, which follows, is left out).
        first_epoch_done_s=point.get("prefilled_s", float("nan")) + rows / sps[0],
        epoch_sps=sps,
    )
    return point


def _cell(r: dict | None, key: str, fmt: str) -> str:
    if r is None:
        return "—"
    if "error" in r:
        if key != "steady_sps":
            return "—"
        return "timed out" if r["error"].startswith("timed out") else "failed"
    value = r.get(key)
    return "—" if value is None else format(value, fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--remat",
        choices=["auto", "on", "off"],
        default="auto",
        help="auto: remat at depth >= 16 (faster on this CPU, see compile_time.py)",
    )
    parser.add_argument(
        "--release",
        metavar="DIR",
        help="a checkout of the release (github:wang-kevin3290/scaling-crl) to run "
        "side by side, depth by depth",
    )
    parser.add_argument(
        "--release-python",
        metavar="PY",
        help="the Python that runs the release: its pinned versions installed",
    )
    parser.add_argument(
        "--release-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds before a release run is stopped and recorded as timed out",
    )
    parser.add_argument(
        "--out",
        default="train_throughput.json",
        metavar="NAME",
        help="the results file, in benchmarks/results/",
    )
    parser.add_argument("--point", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: steady throughput needs a second epoch")
    if bool(args.release) != bool(args.release_python):
        parser.error("--release and --release-python go together")
    if args.release and not (Path(args.release) / "train.py").is_file():
        parser.error(f"--release {args.release}: no train.py there")

    def remat_for(depth: int) -> bool:
        return args.remat == "on" or (args.remat == "auto" and depth >= 16)

    if args.point:
        (depth,) = args.depths
        print(json.dumps(measure(depth, args.epochs, remat_for(depth))))
        return

    results, release = [], []
    for depth in args.depths:
        point_args = ["--depths", str(depth), "--epochs", str(args.epochs)]
        point_args += ["--remat", args.remat]
        point = run_point(__file__, point_args, timeout_s=1800)
        point.setdefault("depth", depth)
        print(json.dumps(point), flush=True)
        results.append(point)
        if args.release:
            point = measure_release(
                depth,
                args.epochs,
                args.release,
                args.release_python,
                args.release_timeout,
            )
            print(json.dumps(point), flush=True)
            release.append(point)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / args.out
    out.write_text(
        json.dumps(
            dict(
                machine=machine(),
                command="python benchmarks/train_throughput.py "
                + " ".join(sys.argv[1:]),
                results=results,
                release=release,
            ),
            indent=2,
        )
        + "\n"
    )
    by_depth = {r["depth"]: r for r in release}
    if args.release:
        print("\nEach cell: equicrl (the release).")
    print(
        "\n| depth | remat | steady env steps/s | first output (s) | built (s) | "
        "prefilled (s) | training from (s) | peak memory GB |"
    )
    print("|---:|---|---|---|---|---|---|---|")
    for r in results:
        ref = by_depth.get(r["depth"]) if args.release else None
        cells = [
            f"{_cell(r, key, fmt)} ({_cell(ref, key, fmt)})" if args.release
            else _cell(r, key, fmt)
            for key, fmt in [
                ("steady_sps", ",.0f"),
                ("first_output_s", ".1f"),
                ("built_s", ".1f"),
                ("prefilled_s", ".1f"),
                ("first_epoch_done_s", ".1f"),
                ("peak_rss_gb", ".2f"),
            ]
        ]  # fmt: skip
        print(f"| {r['depth']} | {r.get('remat', '')} | " + " | ".join(cells) + " |")
    for r in [*results, *release]:
        if "error" in r:
            print(f"depth {r['depth']}: {r['error']}")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
