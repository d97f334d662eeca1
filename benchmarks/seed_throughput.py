"""Seeds side by side: total env steps per second of N seeds in one compiled program
against one seed, on the README's main job (`examples/point_maze.py --preset cpu`).

For each seed count, `equicrl.train` runs the prefill and `--epochs` epochs; the
steady rate is train's own `sps` after the last epoch (every seed's env steps, from
the end of the first epoch, which includes compilation, to the end of the last; no
evaluation in between). The seed counts are run in turn, `--rounds` times over, in one
process, and each count's best round is kept: this machine is noisy.

    python benchmarks/seed_throughput.py                 # 1, 4 and 8 seeds
    python benchmarks/seed_throughput.py --seeds 1 2 4 --epochs 8

Also timed, to show what bounds the gain: a chain of 20 dense layers of the preset's
width on a batch of its size (tanh between them), for one seed, vmapped over 4 seeds,
and as 4 separate chains in one program (`--no-chain` skips it).

Writes `benchmarks/results/seed_throughput.json` and prints a Markdown table.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from _common import machine, RESULTS  # noqa: E402
from point_maze import PRESETS  # noqa: E402

import equicrl  # noqa: E402


def dense_chain_us(width: int, batch: int, seeds: int = 4) -> dict:
    """Microseconds per call of 20 dense layers: one seed, vmapped, and unrolled."""
    import time

    import jax
    import jax.numpy as jnp
    import jax.random as jr

    x = jr.normal(jr.key(0), (seeds, batch, width))
    w = jr.normal(jr.key(1), (seeds, width, width)) / width**0.5

    def chain(x, w):
        for _ in range(20):
            x = jnp.tanh(x @ w)
        return x

    def timed(fn, *args, reps=300):
        fn = jax.jit(fn)
        jax.block_until_ready(fn(*args))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                out = fn(*args)
            jax.block_until_ready(out)
            best = min(best, (time.perf_counter() - start) / reps * 1e6)
        return round(best, 1)

    return {
        "one_seed": timed(chain, x[0], w[0]),
        f"vmap_{seeds}_seeds": timed(jax.vmap(chain), x, w),
        f"unrolled_{seeds}_seeds": timed(
            lambda x, w: [chain(x[i], w[i]) for i in range(seeds)], x, w
        ),
    }


def main(args=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-chain", action="store_true")
    opts = parser.parse_args(args)
    base = PRESETS["cpu"]
    prefill = base.prefill_collections * base.env_steps_per_collection
    base = base.replace(
        total_env_steps=prefill + opts.epochs * base.env_steps_per_collection
    )
    runs: dict[int, list[float]] = {n: [] for n in opts.seeds}
    for round_ in range(opts.rounds):
        for n in opts.seeds:
            _, history = equicrl.train(
                base.replace(num_seeds=n),
                eval_every=opts.epochs + 1,  # only after the last epoch
                log=lambda _: None,
            )
            sps = history[-1]["sps"]
            runs[n].append(sps)
            print(
                f"round {round_ + 1}: {n} seed(s): {sps:,.0f} env steps/s", flush=True
            )
    best = {n: max(v) for n, v in runs.items()}
    one = best.get(1)
    rows = [
        dict(
            num_seeds=n,
            sps_best=round(best[n]),
            sps_rounds=[round(x) for x in runs[n]],
            ratio_to_one_seed=round(best[n] / one, 2) if one else None,
        )
        for n in opts.seeds
    ]
    chain = None
    if not opts.no_chain:
        chain = dense_chain_us(base.critic_width, base.batch_size)
        print(f"20 dense layers, width {base.critic_width}, batch {base.batch_size}:")
        print("  " + ", ".join(f"{k} {v:,.0f} us" for k, v in chain.items()))
    results = dict(
        command="python benchmarks/seed_throughput.py "
        + " ".join(args or sys.argv[1:]),
        config=dataclasses.asdict(base),
        epochs=opts.epochs,
        machine=machine(),
        results=rows,
        dense_chain_us=chain,
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seed_throughput.json").write_text(json.dumps(results, indent=1) + "\n")
    print("| seeds | env steps/s (all seeds, best round) | rounds | x one seed |")
    print("|---|---|---|---|")
    for r in rows:
        rounds = ", ".join(f"{x:,}" for x in r["sps_rounds"])
        print(
            f"| {r['num_seeds']} | {r['sps_best']:,} | {rounds} | "
            f"{r['ratio_to_one_seed']} |"
        )
    return results


if __name__ == "__main__":
    main()
