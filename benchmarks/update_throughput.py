"""How close the CRL gradient step comes to the machine's matrix-product rate.

In one process, for each (depth, batch):

- the machine's dense float32 matrix-product rate for the step's own shapes: chains of
  128 products `(batch, width) @ (width, width)` (forward), `@ (width, width).T`
  (the backward pass's input gradients) and `(width, batch) @ (batch, width)`
  accumulated (its weight gradients), each run by one compiled `lax.scan` so that
  nothing but the products is timed; `matmul_gflops` is their FLOP-weighted rate;
- the CRL gradient step (`equicrl.crl_gradient_step`: actor, temperature and critic
  updates, Adam, one jitted call, state donated), timed; its matrix-product FLOPs are
  counted analytically (`step_flops` below) and `step_gflops = step_flops / time`;
- `fraction = step_gflops / matmul_gflops`, from median times: the issue's target is
  0.6 at depth 64, width 256, batch 512 (the research code's critic step alone reaches
  about 0.3). `fraction_best` is the same from the fastest repetition of each, which
  this noisy machine's background load disturbs least.

Sizes are the humanoid's (state 246, action 17, goal 2), width 256, representations
of 64, actor depth = critic depth.

    python benchmarks/update_throughput.py
    python benchmarks/update_throughput.py --depths 64 --batches 512 --remat on

Writes `benchmarks/results/update_throughput.json` (and `.png`) and prints a Markdown
table.
"""

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import crl_step_inputs, machine, RESULTS, steady_time  # noqa: E402


STATE, ACTION, GOAL, REPR = 246, 17, 2, 64


def encoder_flops(batch: int, width: int, depth: int, d_in: int, d_out: int) -> int:
    """Matrix-product FLOPs of one forward pass of a DeepEncoder over a batch."""
    return 2 * batch * (d_in * width + depth * width * width + width * d_out)


def first_layer_flops(batch: int, width: int, d_in: int) -> int:
    return 2 * batch * d_in * width


def step_flops(batch: int, width: int, depth: int) -> int:
    """Matrix-product FLOPs of one CRL gradient step, counted from what it computes.

    - critic phi(s, a) and psi(g): forward, then weight and input gradients (a
      backward pass is two forward passes' worth of products), less the input
      gradient of the first layer, whose input is data;
    - actor: the same (its first layer's input is data too);
    - phi(s, pi(s, g)) through the frozen critic: forward and input gradients only
      (no weight gradients), down to the actions;
    - the energy matrix: six `(batch, repr) x (repr, batch)` products forward (the
      exact split of `energy_matrix`'s L2 energies) and two for its gradients.
    """
    sa = encoder_flops(batch, width, depth, STATE + ACTION, REPR)
    goal = encoder_flops(batch, width, depth, GOAL, REPR)
    actor = encoder_flops(batch, width, depth, STATE + GOAL, 2 * ACTION)
    trained = 3 * (sa + goal + actor) - (
        first_layer_flops(batch, width, STATE + ACTION)
        + first_layer_flops(batch, width, GOAL)
        + first_layer_flops(batch, width, STATE + GOAL)
    )
    through_frozen = 2 * sa
    energy = 8 * 2 * batch * batch * REPR
    return trained + through_frozen + energy


def matmul_rates(batch: int, width: int, chain: int = 128) -> dict:
    """Dense f32 matrix-product rates (GFLOP/s) for the step's three shapes, each
    from a chain of `chain` products in one compiled call (long enough that the
    call's own overhead does not count)."""
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    k1, k2 = jr.split(jr.key(0))
    # Scaled so the chained values neither blow up nor underflow (denormals are slow).
    weights = jr.normal(k1, (chain, width, width)) / jnp.sqrt(width)
    x = jr.normal(k2, (batch, width))
    xs = jr.normal(k2, (chain, batch, width))

    @jax.jit
    def forward(x, weights):
        return jax.lax.scan(lambda h, w: (h @ w, None), x, weights)[0]

    @jax.jit
    def input_grads(x, weights):
        return jax.lax.scan(lambda h, w: (h @ w.T, None), x, weights)[0]

    @jax.jit
    def weight_grads(xs):
        def body(acc, x):
            return acc + x.T @ x, None

        return jax.lax.scan(body, jnp.zeros((width, width)), xs)[0]

    flops = 2 * batch * width * width * chain
    rates, best = {}, {}
    for name, fn, args in (
        ("forward", forward, (x, weights)),
        ("input_grads", input_grads, (x, weights)),
        ("weight_grads", weight_grads, (xs,)),
    ):
        jax.block_until_ready(fn(*args))
        t = steady_time(lambda: jax.block_until_ready(fn(*args)), budget_s=3.0)
        rates[name] = flops / t["median_s"] / 1e9
        best[name] = flops / t["min_s"] / 1e9
    # A step does about one forward-shaped, one input-gradient-shaped and one
    # weight-gradient-shaped product per forward layer (the frozen pass fewer):
    # weight the three equally, as a harmonic mean (time adds up, not rate).
    rates["combined"] = 3 / sum(1 / rates[k] for k in best)
    rates["combined_best"] = 3 / sum(1 / best[k] for k in best)
    return rates


def measure_step(
    batch: int, width: int, depth: int, remat: bool, matmul_dtype: str
) -> dict:
    import equinox as eqx
    import jax
    import jax.random as jr

    import equicrl

    state, batch_data, optimiser = crl_step_inputs(
        STATE,
        ACTION,
        GOAL,
        REPR,
        batch,
        width=width,
        depth=depth,
        remat=remat,
        matmul_dtype=matmul_dtype,
    )

    @eqx.filter_jit(donate="all-except-first")
    def step(batch_data, state, key):
        return equicrl.crl_gradient_step(state, batch_data, key, optimiser=optimiser)

    t0 = time.perf_counter()
    state, metrics = step(batch_data, state, jr.key(1))
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    box = [state]
    keys = iter(jr.split(jr.key(2), 1000))

    def run():
        box[0], metrics = step(batch_data, box[0], next(keys))
        jax.block_until_ready(metrics)

    t = steady_time(run, min_reps=3, budget_s=8.0)
    return dict(
        compile_s=compile_s, step_s=t["median_s"], step_min_s=t["min_s"], reps=t["reps"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 64, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument(
        "--remat",
        choices=["off", "on", "both"],
        default="both",
        help="gradient checkpointing of the blocks (both: measure each)",
    )
    parser.add_argument(
        "--matmul-dtype", choices=["float32", "bfloat16"], default="float32"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "update_throughput.json")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    remats = {"off": [False], "on": [True], "both": [False, True]}[args.remat]

    results = []
    rates_by_batch = {b: matmul_rates(b, args.width) for b in args.batches}
    for depth in args.depths:
        for batch in args.batches:
            rates = rates_by_batch[batch]
            flops = step_flops(batch, args.width, depth)
            for remat in remats:
                step = measure_step(batch, args.width, depth, remat, args.matmul_dtype)
                step_gflops = flops / step["step_s"] / 1e9
                point = dict(
                    depth=depth,
                    batch=batch,
                    width=args.width,
                    remat=remat,
                    matmul_dtype=args.matmul_dtype,
                    matmul_gflops=rates,
                    step_flops=flops,
                    step_gflops=step_gflops,
                    fraction=step_gflops / rates["combined"],
                    # The same from the fastest repetitions of each (less noise).
                    fraction_best=flops
                    / step["step_min_s"]
                    / 1e9
                    / rates["combined_best"],
                    **step,
                )
                print(json.dumps(point), flush=True)
                results.append(point)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            dict(
                machine=machine(),
                command="python benchmarks/update_throughput.py "
                + " ".join(sys.argv[1:]),
                results=results,
            ),
            indent=2,
        )
        + "\n"
    )
    print(
        "\n| depth | batch | remat | matrix products GFLOP/s (fwd / dX / dW) | step "
        "GFLOP (analytic) | step ms | step GFLOP/s | fraction of products' rate "
        "(fastest repetitions) |"
    )
    print("|---:|---:|---|---|---:|---:|---:|---|")
    for r in results:
        m = r["matmul_gflops"]
        print(
            f"| {r['depth']} | {r['batch']} | {r['remat']} | {m['combined']:.0f} "
            f"({m['forward']:.0f} / {m['input_grads']:.0f} / {m['weight_grads']:.0f})"
            f" | {r['step_flops'] / 1e9:.2f} | {1e3 * r['step_s']:.1f} | "
            f"{r['step_gflops']:.0f} | **{r['fraction']:.2f}** "
            f"({r['fraction_best']:.2f}) |"
        )
    print(f"\nwrote {args.out}")
    if not args.no_plot:
        plot(results, args.out.with_suffix(".png"))


def plot(results: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [
        f"d{r['depth']} b{r['batch']}" + (" remat" if r["remat"] else "")
        for r in results
    ]
    ax.bar(labels, [r["fraction"] for r in results], color="tab:blue")
    ax.axhline(0.6, color="tab:red", ls="--", label="target 0.6 (depth 64, batch 512)")
    ax.set_ylabel("CRL step GFLOP/s / matrix-product GFLOP/s")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", rotation=60)
    ax.legend()
    ax.set_title(f"CRL gradient step vs dense matmul, {machine()['cpu'][:30]}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
