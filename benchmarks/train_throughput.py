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

    python benchmarks/train_throughput.py                       # depths 4, 16, 64
    python benchmarks/train_throughput.py --depths 4 --epochs 3

Writes `benchmarks/results/train_throughput.json` and prints a Markdown table.
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path


START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS, run_point  # noqa: E402


# The research code on this project's 2-core CPU, as the training-loop issue states.
RESEARCH = {
    4: dict(steady_sps=142, compile_s=40, peak_rss_gb=2.5),
    16: dict(steady_sps=91, compile_s=130, peak_rss_gb=2.5),
    64: dict(steady_sps=None, compile_s=">480 (did not finish)", peak_rss_gb=None),
}


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
    parser.add_argument("--point", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: steady throughput needs a second epoch")

    def remat_for(depth: int) -> bool:
        return args.remat == "on" or (args.remat == "auto" and depth >= 16)

    if args.point:
        (depth,) = args.depths
        print(json.dumps(measure(depth, args.epochs, remat_for(depth))))
        return

    results = []
    for depth in args.depths:
        point_args = ["--depths", str(depth), "--epochs", str(args.epochs)]
        point_args += ["--remat", args.remat]
        point = run_point(__file__, point_args, timeout_s=1800)
        point.setdefault("depth", depth)
        print(json.dumps(point), flush=True)
        results.append(point)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "train_throughput.json"
    out.write_text(
        json.dumps(
            dict(
                machine=machine(),
                command="python benchmarks/train_throughput.py "
                + " ".join(sys.argv[1:]),
                research_code_reference=RESEARCH,
                results=results,
            ),
            indent=2,
        )
        + "\n"
    )
    print(
        "\n| depth | remat | steady env steps/s (research code) | first output (s) | "
        "built (s) | prefilled (s) | training from (s) (research code compiles for) | "
        "peak memory GB (research code) |"
    )
    print("|---:|---|---|---:|---:|---:|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['depth']} | | {r['error']} | | | | | |")
            continue
        ref = RESEARCH.get(r["depth"], {})
        print(
            f"| {r['depth']} | {r['remat']} | {r['steady_sps']:,.0f} "
            f"({ref.get('steady_sps', '—')}) | {r['first_output_s']:.1f} | "
            f"{r['built_s']:.1f} | {r['prefilled_s']:.1f} | "
            f"{r['first_epoch_done_s']:.1f} ({ref.get('compile_s', '—')}) | "
            f"{r['peak_rss_gb']:.2f} ({ref.get('peak_rss_gb', '—')}) |"
        )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
