"""Compile time and steady step time of one CRL gradient step, by depth.

For each depth, the full CRL gradient step (actor + temperature update through the
critic, then the critic's InfoNCE update; `equicrl.crl_gradient_step`) and the critic
update alone are compiled and timed, with the blocks run by `lax.scan`, by `lax.scan`
with rematerialisation (`remat=True`), and unrolled (as the research code does; up to
depth 256, and only while compiling takes less than `--unrolled-bound` seconds).
Each point runs in a fresh Python process. Shapes are the paper's Humanoid (state 268,
action 17, goal 3), width 256, representation 64, batch 256.

    python benchmarks/compile_time.py            # all depths, writes results/
    python benchmarks/compile_time.py --depths 4 64 --modes scan remat

Writes `benchmarks/results/compile_time.json` and `compile_time.png`, and prints a
Markdown table.
"""

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS, run_point, steady_time  # noqa: E402


STATE_DIM, ACTION_DIM, GOAL_DIM = 268, 17, 3
MODES = ("scan", "remat", "unrolled")


def measure(depth: int, mode: str, which: str, width: int, batch: int) -> dict:
    """Build, compile and time one step in this process."""
    import equinox as eqx
    import jax
    import jax.random as jr
    import optax

    import equicrl

    scan = mode != "unrolled"
    remat = mode == "remat"
    akey, ckey, dkey = jr.split(jr.key(0), 3)
    kw = dict(width=width, depth=depth, scan=scan, remat=remat)
    actor = equicrl.GoalConditionedActor(
        STATE_DIM, GOAL_DIM, ACTION_DIM, key=akey, **kw
    )
    critic = equicrl.ContrastiveCritic(STATE_DIM, ACTION_DIM, GOAL_DIM, key=ckey, **kw)
    optimiser = optax.adam(3e-4)
    k1, k2, k3 = jr.split(dkey, 3)
    batch_data = equicrl.Transitions(
        state=jr.normal(k1, (batch, STATE_DIM)),
        action=jr.uniform(k2, (batch, ACTION_DIM), minval=-1, maxval=1),
        goal=jr.normal(k3, (batch, GOAL_DIM)),
    )

    if which == "full":
        state = equicrl.init_crl_state(actor, critic, optimiser)

        # Donating the state lets XLA write the new parameters and optimiser state
        # into the old buffers instead of fresh (page-faulting) allocations.
        @eqx.filter_jit(donate="all-except-first")
        def step(batch_data, state, key):
            return equicrl.crl_gradient_step(
                state, batch_data, key, optimiser=optimiser
            )

        carry = state
    else:
        opt_state = optimiser.init(eqx.filter(critic, eqx.is_array))

        @eqx.filter_jit(donate="all-except-first")
        def step(batch_data, carry, key):
            critic, opt_state = carry

            def loss_fn(c):
                return equicrl.infonce_loss(
                    c.logits(batch_data.state, batch_data.action, batch_data.goal)
                )

            loss, grads = eqx.filter_value_and_grad(loss_fn)(critic)
            updates, opt_state = optimiser.update(
                grads, opt_state, eqx.filter(critic, eqx.is_array)
            )
            return (eqx.apply_updates(critic, updates), opt_state), loss

        carry = (critic, opt_state)

    key = jr.key(1)
    t0 = time.perf_counter()
    lowered = step.lower(batch_data, carry, key)
    trace_s = time.perf_counter() - t0
    lowered.compile()
    compile_s = time.perf_counter() - t0
    del lowered  # the jit cache below compiles (and caches) the same executable

    t0 = time.perf_counter()
    carry, aux = step(batch_data, carry, key)
    jax.block_until_ready(aux)
    first_call_s = time.perf_counter() - t0

    holder = [carry]

    def one():
        holder[0], aux = step(batch_data, holder[0], key)
        jax.block_until_ready(aux)

    one()  # warm-up after the first call
    timing = steady_time(one, budget_s=15.0 if depth <= 256 else 30.0)
    n_params = sum(
        x.size
        for x in jax.tree_util.tree_leaves(eqx.filter((actor, critic), eqx.is_array))
    )
    return dict(
        depth=depth,
        mode=mode,
        step=which,
        width=width,
        batch=batch,
        params=int(n_params),
        compile_s=compile_s,
        trace_s=trace_s,
        first_call_s=first_call_s,
        step_median_s=timing["median_s"],
        step_min_s=timing["min_s"],
        reps=timing["reps"],
    )


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in zip(MODES, ("o-", "s-", "^--")):
        pts = [
            p
            for p in points
            if p["mode"] == mode and p["step"] == "full" and "compile_s" in p
        ]
        if not pts:
            continue
        depths = [p["depth"] for p in pts]
        axes[0].plot(depths, [p["compile_s"] for p in pts], style, label=mode)
        axes[1].plot(
            depths, [1000 * p["step_median_s"] for p in pts], style, label=mode
        )
    for ax, title in zip(axes, ("compile time (s)", "steady step time (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth (Linear layers in residual blocks)")
        ax.set_title(f"full CRL gradient step: {title}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(points: list[dict]) -> str:
    rows = [
        "| depth | mode | step | compile (s) | step median (ms) | step min (ms) |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for p in points:
        if "error" in p or "skipped" in p:
            why = p.get("error") or p.get("skipped")
            rows.append(f"| {p['depth']} | {p['mode']} | {p['step']} | {why} | | |")
            continue
        rows.append(
            f"| {p['depth']} | {p['mode']} | {p['step']} | {p['compile_s']:.2f} | "
            f"{1000 * p['step_median_s']:.1f} | {1000 * p['step_min_s']:.1f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 16, 64, 256, 1024])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--steps", nargs="+", choices=("full", "critic"), default=["full", "critic"]
    )
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--unrolled-max-depth", type=int, default=256)
    parser.add_argument(
        "--unrolled-bound",
        type=float,
        default=120.0,
        help="skip unrolled runs at larger depths once one compiles slower (s)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="per point (s)")
    parser.add_argument("--out", type=Path, default=RESULTS / "compile_time.json")
    parser.add_argument(
        "--update",
        action="store_true",
        help="replace only the measured points in an existing --out file",
    )
    parser.add_argument(
        "--point",
        nargs=5,
        metavar=("DEPTH", "MODE", "STEP", "WIDTH", "BATCH"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()

    if args.point:
        depth, mode, which, width, batch = args.point
        print(json.dumps(measure(int(depth), mode, which, int(width), int(batch))))
        return

    points: list[dict] = []
    unrolled_too_slow = {}
    for depth in args.depths:
        for mode in args.modes:
            for which in args.steps:
                base = dict(
                    depth=depth,
                    mode=mode,
                    step=which,
                    width=args.width,
                    batch=args.batch,
                )
                if mode == "unrolled" and depth > args.unrolled_max_depth:
                    continue
                if mode == "unrolled" and which in unrolled_too_slow:
                    points.append(dict(base, skipped=unrolled_too_slow[which]))
                    print(f"depth {depth:5d} {mode:9s} {which:6s} skipped", flush=True)
                    continue
                t0 = time.perf_counter()
                result = run_point(
                    __file__,
                    [str(depth), mode, which, str(args.width), str(args.batch)],
                    args.timeout,
                )
                result = dict(base, **result)
                points.append(result)
                if "error" in result:
                    print(
                        f"depth {depth:5d} {mode:9s} {which:6s} {result['error']}",
                        flush=True,
                    )
                    if mode == "unrolled":
                        unrolled_too_slow[which] = f"not run: depth {depth} failed"
                    continue
                print(
                    f"depth {depth:5d} {mode:9s} {which:6s} "
                    f"compile {result['compile_s']:7.2f} s"
                    f"  step {1000 * result['step_median_s']:9.1f} ms"
                    f"  (wall {time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
                if mode == "unrolled" and result["compile_s"] > args.unrolled_bound:
                    unrolled_too_slow[which] = (
                        f"not run: depth {depth} took {result['compile_s']:.0f} s"
                    )

    commands = [" ".join(["python", "benchmarks/compile_time.py", *sys.argv[1:]])]
    if args.update and args.out.exists():
        old = json.loads(args.out.read_text())
        key = lambda p: (p["depth"], p["mode"], p["step"])  # noqa: E731
        fresh = {key(p) for p in points}
        points = [p for p in old["points"] if key(p) not in fresh] + points
        points.sort(key=lambda p: (p["depth"], MODES.index(p["mode"]), p["step"]))
        commands = old.get("commands", [old.get("command")]) + commands
    out = dict(
        benchmark="compile_time",
        commands=commands,
        machine=machine(),
        shapes=dict(
            state_dim=STATE_DIM, action_dim=ACTION_DIM, goal_dim=GOAL_DIM, repr_dim=64
        ),
        points=points,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    try:
        plot(points, args.out.with_suffix(".png"))
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'equicrl[plot]')")
    print(table(points))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
