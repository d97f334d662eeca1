"""Near-wall contacts against MJX's all-pairs collision, in every maze of both robots.

For each maze env, 1,000 joint positions built to touch walls (the root against a
wall face or in a corner, up to 0.3 m into it, lying to standing, any orientation,
random joint angles: `tests/test_near_walls.py::wall_states`) go through Brax's
`contact.get` on the model with all its wall pairs and through the env's
`NearWalls`. The active contacts (distance < 0) must be the same pairs; the table
gives the largest differences of their distance, position and frame, in float64
(the same arithmetic) and float32 (differently batched, so differently rounded),
and how hard the states were (most walls and most wall pairs touched at once).
With velocities (`wall_velocities`: thrown at up to 4 m/s), the same states go
through Brax's spring collision resolution with every wall row and through
`NearWalls.resolve`, which hands it only the touching wall rows (all of them where
more than `max_wall_rows` touch): the largest difference of the velocity changes,
against the largest change, and how many states touched walls at more rows than
`max_wall_rows`.

    python benchmarks/near_walls_exact.py

Writes `benchmarks/results/near_walls_exact.json` and prints a Markdown table.
"""

import json
import sys
from pathlib import Path

import jax
import numpy as np


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from _common import machine, RESULTS  # noqa: E402
from test_near_walls import compare_contacts  # noqa: E402

from equicrl import envs  # noqa: E402
from equicrl.envs._registry import MAZES  # noqa: E402


def main() -> None:
    names = [
        f"{robot}_{maze}"
        for robot in ("ant", "humanoid")
        for maze in MAZES
        if f"{robot}_{maze}" in envs.list_envs()
    ]
    rows = []
    for name in names:
        for dtype in (np.float64, np.float32):
            with jax.enable_x64(dtype == np.float64):
                row = compare_contacts(name, dtype)
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = RESULTS / "near_walls_exact.json"
    out.write_text(json.dumps({"machine": machine(), "results": rows}, indent=1))
    print(
        "\n| env | dtype | active contacts | max dist diff | max pos diff | "
        "max frame diff | most walls | most wall pairs | resolution diff | "
        "states over max_wall_rows |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['env']} | {r['dtype']} | {r['active']:,} | {r['dist']:.1e} | "
            f"{r['pos']:.1e} | {r['frame']:.1e} | {r['most_walls']} | "
            f"{r['most_wall_pairs']} | {r['resolve']:.1e} | "
            f"{r['over_max_wall_rows']} (up to {r['most_wall_rows']}) |"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
