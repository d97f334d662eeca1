"""Memory of one CRL gradient step, by depth, with and without rematerialisation.

One full CRL gradient step (`equicrl.crl_gradient_step`: actor + temperature update
through the critic, then the critic's InfoNCE update) at critic depth 64, 256 and 1024
(actor depth = critic depth), width 256, batch 512, representation 64, 4 layers per
block, blocks run by `lax.scan`, Adam 3e-4; ant-like shapes (state 29, action 8,
goal 2). Each depth is run with `remat=False`, `remat=True` (each block checkpointed)
and `remat="nested"` (segments of about sqrt(blocks) blocks checkpointed too), on both
the actor and the critic, each point in a fresh Python process. The step is jitted
with the `CRLState` donated (`eqx.filter_jit(donate="all-except-first")`; the batch
and key are the first, not donated, argument), so the new state reuses the old one's
buffers.
Recorded per point:

- `params_opt_bytes`: parameters + Adam states of actor, critic and temperature (the
  nbytes of the `CRLState`'s array leaves);
- from XLA's memory analysis of the compiled step (`Compiled.memory_analysis()`):
  `argument_bytes` (state, batch, key), `output_bytes` (new state, metrics),
  `alias_bytes` (outputs written into donated arguments), `temp_bytes` (everything
  else the step allocates: the activations kept for the backward pass, the
  gradients (parameter-sized) and the workspace; reported as the activation memory),
  and, as XLA reports them, `generated_code_bytes` and `xla_peak_bytes` (on the CPU
  backend of JAX 0.10 these are 0 and the argument size: neither measures the step);
- `rss_before_compile_gb` (current) and `peak_rss_before_compile_gb`,
  `peak_rss_after_compile_gb`, `peak_rss_gb` (`ru_maxrss` of the process after
  building the state, after compiling, and after running the step);
- `compile_s` (trace, lower and compile), `first_call_s`, and the steady step time
  `step_s` (median; `step_min_s`, `reps`).

Per depth and remat mode, `activation_ratio = temp_bytes(remat) / temp_bytes(no
remat)` and `slowdown = step_s(remat) / step_s(no remat)`; the target at depth 1024 is
an activation ratio <= 0.25 and a slowdown <= 1.5. The temp bytes include one
parameter-sized buffer of gradients in every mode, which is counted against remat
here.

    python benchmarks/memory.py                     # depths 64, 256, 1024
    python benchmarks/memory.py --depths 64 --batch 256 --no-plot

Writes `benchmarks/results/memory.json` and `memory.png` (when matplotlib imports), and
prints Markdown tables.
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    crl_step_inputs,
    machine,
    RESULTS,
    run_point,
    steady_time,
)


STATE_DIM, ACTION_DIM, GOAL_DIM = 29, 8, 2  # ant
REPR_DIM, LAYERS_PER_BLOCK = 64, 4
TARGET_RATIO, TARGET_SLOWDOWN, TARGET_DEPTH = 0.25, 1.5, 1024
# CompiledMemoryStats attribute -> recorded name (JAX 0.10).
MEMORY_STATS = dict(
    argument_size_in_bytes="argument_bytes",
    output_size_in_bytes="output_bytes",
    alias_size_in_bytes="alias_bytes",
    temp_size_in_bytes="temp_bytes",
    generated_code_size_in_bytes="generated_code_bytes",
    peak_memory_in_bytes="xla_peak_bytes",
)


def peak_rss_gb() -> float:
    """The process's peak resident memory so far (`ru_maxrss` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def rss_gb() -> float | None:
    """The process's current resident memory, or `None` without /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


REMATS = {"none": False, "remat": True, "nested": "nested"}


def measure(depth: int, remat: bool | str, width: int, batch: int) -> dict:
    """Build, compile, analyse and time one step in this process."""
    import equinox as eqx
    import jax
    import jax.random as jr

    import equicrl

    state, batch_data, optimiser = crl_step_inputs(
        STATE_DIM,
        ACTION_DIM,
        GOAL_DIM,
        REPR_DIM,
        batch,
        width=width,
        depth=depth,
        layers_per_block=LAYERS_PER_BLOCK,
        scan=True,
        remat=remat,
    )
    key = jr.key(1)
    leaves = jax.tree_util.tree_leaves(eqx.filter(state, eqx.is_array))
    params_opt_bytes = sum(x.nbytes for x in leaves)
    param_leaves = jax.tree_util.tree_leaves(
        eqx.filter((state.actor, state.critic, state.log_alpha), eqx.is_array)
    )
    params_bytes = sum(x.nbytes for x in param_leaves)
    n_params = sum(x.size for x in param_leaves)
    jax.block_until_ready(leaves)
    del leaves, param_leaves

    # Only the state is donated: the first argument (batch and key) is reused.
    @eqx.filter_jit(donate="all-except-first")
    def step(data, state):
        batch_data, key = data
        return equicrl.crl_gradient_step(state, batch_data, key, optimiser=optimiser)

    data = (batch_data, key)
    rss_before = rss_gb()
    peak_before = peak_rss_gb()
    t0 = time.perf_counter()
    compiled = step.lower(data, state).compile()
    compile_s = time.perf_counter() - t0
    peak_after_compile = peak_rss_gb()
    analysis = compiled.compiled.memory_analysis()
    stats = {
        name: int(getattr(analysis, attr))
        for attr, name in MEMORY_STATS.items()
        if analysis is not None and hasattr(analysis, attr)
    }

    # Call the compiled executable itself: the same one, compiled once.
    t0 = time.perf_counter()
    state, metrics = compiled(data, state)
    jax.block_until_ready((state, metrics))
    first_call_s = time.perf_counter() - t0
    holder = [state]
    del state

    def one():
        holder[0], metrics = compiled(data, holder[0])
        jax.block_until_ready((holder[0], metrics))

    one()  # warm-up after the first call
    timing = steady_time(one, min_reps=2, max_reps=10, budget_s=10.0)
    return dict(
        depth=depth,
        remat=remat,
        width=width,
        batch=batch,
        params=int(n_params),
        params_bytes=int(params_bytes),
        params_opt_bytes=int(params_opt_bytes),
        **stats,
        donated_state=True,
        rss_before_compile_gb=rss_before,
        peak_rss_before_compile_gb=peak_before,
        peak_rss_after_compile_gb=peak_after_compile,
        peak_rss_gb=peak_rss_gb(),
        compile_s=compile_s,
        first_call_s=first_call_s,
        step_s=timing["median_s"],
        step_min_s=timing["min_s"],
        reps=timing["reps"],
    )


def compare(points: list[dict]) -> list[dict]:
    """Per depth and remat mode: activation memory and step time relative to no
    remat."""
    rows = []
    for depth in sorted({p["depth"] for p in points}):
        by = {p["remat"]: p for p in points if p["depth"] == depth and "error" not in p}
        for mode in (True, "nested"):
            if mode in by and False in by:
                rows.append(_ratios(depth, mode, by[mode], by[False]))
    return rows


def _ratios(depth: int, mode, on: dict, off: dict) -> dict:
    row = dict(
        depth=depth,
        remat=mode,
        activation_ratio=on["temp_bytes"] / off["temp_bytes"]
        if off.get("temp_bytes")
        else None,
        slowdown=on["step_s"] / off["step_s"],
    )
    if depth == TARGET_DEPTH and row["activation_ratio"] is not None:
        row["target_met"] = (
            row["activation_ratio"] <= TARGET_RATIO
            and row["slowdown"] <= TARGET_SLOWDOWN
        )
    return row


def plot(points: list[dict], cpu: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [p for p in points if "error" not in p]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for remat, style in ((False, "o-"), (True, "s-"), ("nested", "d-")):
        pts = sorted((p for p in ok if p["remat"] == remat), key=lambda p: p["depth"])
        if not pts:
            continue
        depths = [p["depth"] for p in pts]
        label = {False: "no remat", True: "remat", "nested": "nested remat"}[remat]
        axes[0].plot(
            depths,
            [p["temp_bytes"] / 2**20 for p in pts],
            style,
            label=f"activations (XLA temp), {label}",
        )
        axes[1].plot(depths, [p["step_s"] for p in pts], style, label=label)
    pts = sorted(
        {p["depth"]: p for p in ok}.values(), key=lambda p: p["depth"]
    )  # the same with and without remat
    if pts:
        axes[0].plot(
            [p["depth"] for p in pts],
            [p["params_opt_bytes"] / 2**20 for p in pts],
            "^--",
            color="grey",
            label="parameters + Adam states",
        )
    for ax, title in zip(axes, ("memory (MiB)", "steady step time (s)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth of actor and critic (Linear layers in residual blocks)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    batch = ok[0]["batch"] if ok else "?"
    width = ok[0]["width"] if ok else "?"
    fig.suptitle(
        f"one CRL gradient step, batch {batch}, width {width}: {cpu}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def mib(x) -> str:
    return "—" if x is None else f"{x / 2**20:,.1f}"


def table(points: list[dict], comparison: list[dict]) -> str:
    rows = [
        "| depth | remat | params + Adam (MiB) | XLA arguments (MiB) | "
        "XLA outputs (MiB) | aliased (MiB) | activations: XLA temp (MiB) | "
        "RSS before compile (GB) | peak RSS after compile (GB) | peak RSS (GB) | "
        "compile (s) | step (s) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        if "error" in p:
            rows.append(f"| {p['depth']} | {p['remat']} | {p['error']} |" + " |" * 9)
            continue
        rows.append(
            f"| {p['depth']} | {p['remat']} | {mib(p['params_opt_bytes'])} | "
            f"{mib(p.get('argument_bytes'))} | {mib(p.get('output_bytes'))} | "
            f"{mib(p.get('alias_bytes'))} | {mib(p.get('temp_bytes'))} | "
            f"{p['rss_before_compile_gb']:.2f} | "
            f"{p['peak_rss_after_compile_gb']:.2f} | {p['peak_rss_gb']:.2f} | "
            f"{p['compile_s']:.1f} | {p['step_s']:.2f} |"
        )
    rows += [
        "",
        f"| depth | remat | activation ratio vs no remat (target <= {TARGET_RATIO}) | "
        f"slowdown vs no remat (target <= {TARGET_SLOWDOWN}) |",
        "|---:|---|---:|---:|",
    ]
    for c in comparison:
        ratio = "—" if c["activation_ratio"] is None else f"{c['activation_ratio']:.3f}"
        met = ""
        if "target_met" in c:
            met = " (target met)" if c["target_met"] else " (target missed)"
        rows.append(
            f"| {c['depth']} | {c['remat']} | {ratio}{met} | {c['slowdown']:.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument(
        "--remat", nargs="+", choices=list(REMATS), default=list(REMATS)
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="per point (s)")
    parser.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    parser.add_argument(
        "--plot",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the plot next to --out (default: when matplotlib imports)",
    )
    parser.add_argument(
        "--point",
        nargs=4,
        metavar=("DEPTH", "REMAT", "WIDTH", "BATCH"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()

    if args.point:
        depth, remat, width, batch = args.point
        result = measure(int(depth), REMATS[remat], int(width), int(batch))
        print(json.dumps(result))
        return

    start = time.perf_counter()
    points: list[dict] = []
    for depth in args.depths:
        for name in args.remat:
            remat = REMATS[name]
            t0 = time.perf_counter()
            result = run_point(
                __file__,
                [str(depth), name, str(args.width), str(args.batch)],
                args.timeout,
            )
            result = dict(dict(depth=depth, remat=remat), **result)
            points.append(result)
            if "error" in result:
                print(f"depth {depth:5d} remat {remat!s:5s} {result['error']}")
                continue
            print(
                f"depth {depth:5d} remat {remat!s:5s} "
                f"temp {mib(result.get('temp_bytes')):>10s} MiB  "
                f"peak RSS {result['peak_rss_gb']:.2f} GB  "
                f"compile {result['compile_s']:6.1f} s  step {result['step_s']:.2f} s"
                f"  (wall {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )

    comparison = compare(points)
    info = machine()
    out = dict(
        benchmark="memory",
        command=" ".join(["python", "benchmarks/memory.py", *sys.argv[1:]]),
        wall_s=time.perf_counter() - start,
        machine=info,
        shapes=dict(
            state_dim=STATE_DIM,
            action_dim=ACTION_DIM,
            goal_dim=GOAL_DIM,
            repr_dim=REPR_DIM,
            layers_per_block=LAYERS_PER_BLOCK,
            width=args.width,
            batch=args.batch,
        ),
        optimiser="adam(3e-4)",
        donated_state=True,
        target=dict(
            depth=TARGET_DEPTH,
            activation_ratio_max=TARGET_RATIO,
            slowdown_max=TARGET_SLOWDOWN,
        ),
        points=points,
        comparison=comparison,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    if args.plot:
        try:
            plot(points, info["cpu"], args.out.with_suffix(".png"))
        except ImportError:
            print("matplotlib is not installed: no plot (pip install 'equicrl[plot]')")
    print(table(points, comparison))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
