"""Data-parallel training on one device and on four: throughput and equal results.

The CPU is split into 4 XLA devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=4`, the same 2 cores), and
`equicrl.train` runs the same config, seed and global batch with `num_devices=1` and
`num_devices=4`, each in a fresh process. On one machine's cores
this measures what sharding costs (the issue's target: 4-device SPS at least 0.9x the
1-device SPS); on a machine with several accelerators the same script measures the
speed-up. Recorded per point: `steady_sps` (train's own, over the epochs after the
first), `first_epoch_done_s` (compilation included) and, across the two, the largest
difference of any parameter and of the per-epoch losses.

Two configs: `point_maze`, the README's main job (`examples/point_maze.py`'s preset:
64 envs, batch 256, width 64), and `wide`, the same env with the paper's width 256,
depth 4 and batch 512, where the gradient steps dominate.

    python benchmarks/multi_device.py
    python benchmarks/multi_device.py --configs wide --epochs 4

Writes `benchmarks/results/multi_device.json` and prints a Markdown table.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


FORCE_DEVICES = "--xla_force_host_platform_device_count=4"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " " + FORCE_DEVICES
).strip()
sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, RESULTS, run_point  # noqa: E402


def config(name: str, devices: int, epochs: int):
    sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
    from point_maze import PRESETS

    c = PRESETS["cpu"]
    if name == "wide":
        c = c.replace(
            batch_size=512,
            actor_width=256,
            critic_width=256,
            repr_dim=64,
            env_steps_per_gradient_step=40,
        )
    c = c.replace(num_devices=devices)
    return c.replace(
        total_env_steps=(c.prefill_collections + epochs) * c.env_steps_per_collection
    )


def measure(name: str, devices: int, epochs: int, params_out: str) -> dict:
    import equinox as eqx
    import jax
    import numpy as np

    import equicrl

    start = time.perf_counter()
    times = {}

    def log(line: str) -> None:
        if line.startswith("compiled and ran the first epoch"):
            times["first_epoch_done_s"] = time.perf_counter() - start
        print(line, file=sys.stderr, flush=True)

    c = config(name, devices, epochs)
    ts, history = equicrl.train(c, eval_every=10**6, log=log, outputs=False)
    leaves = jax.tree.leaves(eqx.filter(ts.crl, eqx.is_array))
    np.save(params_out, np.concatenate([np.ravel(np.asarray(x)) for x in leaves]))
    return dict(
        config=name,
        devices=devices,
        jax_devices=len(jax.devices()),
        epochs=epochs,
        steady_sps=history[-1]["sps"],
        losses=[[r["critic_loss"], r["actor_loss"]] for r in history],
        **times,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["point_maze", "wide"],
        choices=["point_maze", "wide"],
    )
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--point", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--params-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: steady throughput needs a second epoch")

    if args.point:
        (name,), (devices,) = args.configs, args.devices
        print(json.dumps(measure(name, devices, args.epochs, args.params_out)))
        return

    import numpy as np

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            params = {}
            points = []
            for devices in args.devices:
                path = str(Path(tmp) / f"{name}-{devices}.npy")
                point = run_point(
                    __file__,
                    ["--configs", name, "--devices", str(devices)]
                    + ["--epochs", str(args.epochs), "--params-out", path],
                    timeout_s=1800,
                )
                point.setdefault("config", name)
                point.setdefault("devices", devices)
                print(json.dumps(point), flush=True)
                if "error" not in point:
                    params[devices] = np.load(path)
                points.append(point)
            base = points[0]
            for point in points[1:]:
                if "error" in point or "error" in base:
                    continue
                point["sps_ratio"] = point["steady_sps"] / base["steady_sps"]
                point["max_param_diff"] = float(
                    np.abs(params[point["devices"]] - params[base["devices"]]).max()
                )
                point["max_loss_diff"] = float(
                    np.abs(np.subtract(point["losses"], base["losses"])).max()
                )
            results.extend(points)

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "multi_device.json"
    out.write_text(
        json.dumps(
            dict(
                machine=machine(),
                xla_flags=os.environ["XLA_FLAGS"],
                command="python benchmarks/multi_device.py " + " ".join(sys.argv[1:]),
                results=results,
            ),
            indent=2,
        )
        + "\n"
    )
    print(
        "\n| config | devices | steady env steps/s | vs 1 device | first epoch done "
        "(s) | largest parameter difference | largest loss difference |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['config']} | {r['devices']} | {r['error']} | | | | |")
            continue
        print(
            f"| {r['config']} | {r['devices']} | {r['steady_sps']:,.0f} | "
            f"{r.get('sps_ratio', 1.0):.2f} | {r['first_epoch_done_s']:.1f} | "
            f"{r.get('max_param_diff', 0.0):.1e} | {r.get('max_loss_diff', 0.0):.1e} |"
        )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
