"""humanoid_u_maze on a GPU: env steps per second, compile time and peak device memory.

For each depth (actor = critic depth; default 4, 64 and 256), in a fresh process,
`equicrl.train` runs the paper's settings (512 envs, 62-step unrolls, batch 512, one
gradient step per 40 env steps, width 256, replay 10,000 rows) for the prefill and
`--epochs` epochs (31,744 env steps each). Recorded:

- `steady_sps`: env steps per second over the epochs after the first (train's own);
- `first_epoch_done_s`: process start to the end of the first epoch (the env reset,
  the collection and the gradient steps compiled, the prefill and one epoch run);
- `peak_device_gb`: the device's `peak_bytes_in_use` (`Device.memory_stats()`);
- `peak_rss_gb`: the process's peak resident memory.

The paper's implied throughput on one 80 GB GPU is about 19k env steps/s at depth 4
and 2.5k at depth 64; the issue's target is twice that at depth 64.

    python benchmarks/gpu_humanoid.py                    # needs a GPU
    python benchmarks/gpu_humanoid.py --depths 64 --epochs 5 --remat on
    python benchmarks/gpu_humanoid.py --depths 4 --num-envs 32 --epochs 2 --allow-cpu

Writes `benchmarks/results/gpu_humanoid.json` (only from a GPU run, unless
`--allow-cpu`, which writes `gpu_humanoid_cpu_check.json` instead) and prints a
Markdown table.
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


PAPER_SPS = {4: 19_000, 64: 2_500}


def config(depth: int, epochs: int, remat: bool, num_envs: int):
    import equicrl

    c = equicrl.CRLConfig(
        env_name="humanoid_u_maze",
        num_envs=num_envs,
        actor_depth=depth,
        critic_depth=depth,
        remat=remat,
        eval_envs=num_envs,
    )
    return c.replace(
        total_env_steps=(c.prefill_collections + epochs) * c.env_steps_per_collection
    )


def measure(depth: int, epochs: int, remat: bool, num_envs: int) -> dict:
    import jax

    import equicrl

    times = {}

    def log(line: str) -> None:
        now = time.perf_counter() - START
        if line.startswith("compiled and ran the first epoch"):
            times["first_epoch_done_s"] = now
        print(f"[{now:7.1f} s] {line}", file=sys.stderr, flush=True)

    c = config(depth, epochs, remat, num_envs)
    _, history = equicrl.train(c, eval_every=10**6, log=log, outputs=False)
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return dict(
        depth=depth,
        remat=remat,
        num_envs=num_envs,
        epochs=epochs,
        env_steps_per_epoch=c.env_steps_per_collection,
        gradient_steps_per_epoch=c.gradient_steps_per_collection,
        steady_sps=history[-1]["sps"],
        peak_device_gb=None if peak is None else peak / 2**30,
        peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        backend=jax.devices()[0].platform,
        **times,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 64, 256])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--remat", choices=["on", "off"], default="off")
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run without a GPU (a check of the script; results go to a separate file)",
    )
    parser.add_argument("--point", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: steady throughput needs a second epoch")
    remat = args.remat == "on"

    if args.point:
        (depth,) = args.depths
        print(json.dumps(measure(depth, args.epochs, remat, args.num_envs)))
        return

    import jax

    backend = jax.devices()[0].platform
    if backend != "gpu" and not args.allow_cpu:
        parser.error(f"no GPU (JAX's backend is {backend}); --allow-cpu to check")

    results = []
    for depth in args.depths:
        point_args = ["--depths", str(depth), "--epochs", str(args.epochs)]
        point_args += ["--num-envs", str(args.num_envs), "--remat", args.remat]
        point = run_point(__file__, point_args, timeout_s=3600)
        point.setdefault("depth", depth)
        print(json.dumps(point), flush=True)
        results.append(point)

    name = "gpu_humanoid.json" if backend == "gpu" else "gpu_humanoid_cpu_check.json"
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / name
    out.write_text(
        json.dumps(
            dict(
                machine=machine(),
                command="python benchmarks/gpu_humanoid.py " + " ".join(sys.argv[1:]),
                paper_implied_sps=PAPER_SPS,
                results=results,
            ),
            indent=2,
        )
        + "\n"
    )
    print(
        "\n| depth | steady env steps/s (paper's implied) | first epoch done (s) | "
        "peak device memory (GB) | peak RSS (GB) |"
    )
    print("|---:|---|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['depth']} | {r['error']} | | | |")
            continue
        device_gb = r["peak_device_gb"]
        print(
            f"| {r['depth']} | {r['steady_sps']:,.0f} "
            f"({PAPER_SPS.get(r['depth'], '—')}) | {r['first_epoch_done_s']:.1f} | "
            f"{'—' if device_gb is None else f'{device_gb:.2f}'} | "
            f"{r['peak_rss_gb']:.2f} |"
        )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
