"""How long the examples take, as a user runs them: the whole command, process start
to exit (imports, env building, compilation, training, evaluations and pictures).

Each command runs in its own process, one after another, with the compilation cache
as a user has it (on, in the user's cache directory), or empty with `--cold-cache`
(a first run). Its score (the paper's: the mean success of the last 5 evaluations,
per seed) is read from the run's metrics.

    python benchmarks/example_times.py                           # ant_maze --preset cpu
    python benchmarks/example_times.py --examples humanoid_smoke ant_cpu

Adds its rows to `benchmarks/results/example_times.json` (a row per command and
date; earlier rows are kept, so the file holds every machine's measurements) and
prints them.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
from _common import LAST, machine, RESULTS  # noqa: E402


ROOT = Path(__file__).parents[1]
EXAMPLES = {
    "ant_cpu": ["examples/ant_maze.py", "--preset", "cpu"],
    "humanoid_smoke": ["examples/humanoid_maze.py", "--preset", "smoke"],
    "point_maze": ["examples/point_maze.py"],
}


def scores(run_dir: Path) -> list[float]:
    """Each seed's mean success over its last evaluations (as many as it made, at
    most `LAST`)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    evals = [
        r["seeds"] if "seeds" in r else [r] for r in records if "eval/success" in r
    ]
    if not evals:
        return []
    last = evals[-LAST:]
    return [
        sum(e[i]["eval/success"] for e in last) / len(last)
        for i in range(len(evals[0]))
    ]


def time_example(name: str, cold: bool) -> dict:
    env = dict(os.environ)
    if cold:
        env["XDG_CACHE_HOME"] = tempfile.mkdtemp()
    run_dir = Path(tempfile.mkdtemp()) / name
    command = [sys.executable, *EXAMPLES[name], "--run-dir", str(run_dir)]
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(
            f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return dict(
        example=name,
        command="python " + " ".join(EXAMPLES[name]),
        wall_s=round(wall, 1),
        compilation_cache="cold" if cold else "on (the user's default)",
        scores=scores(run_dir),
        date=time.strftime("%Y-%m-%d"),
        machine=machine(),
        last_lines=done.stdout.strip().splitlines()[-3:],
    )


def main(args=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", nargs="+", default=["ant_cpu"], choices=EXAMPLES)
    p.add_argument("--cold-cache", action="store_true", help="an empty cache each")
    p.add_argument("--out", type=Path, default=RESULTS / "example_times.json")
    opts = p.parse_args(args)
    rows = json.loads(opts.out.read_text()) if opts.out.exists() else []
    for name in opts.examples:
        row = time_example(name, opts.cold_cache)
        rows.append(row)
        opts.out.write_text(json.dumps(rows, indent=1) + "\n")
        print(
            f"{row['command']}: {row['wall_s']:.0f} s, scores {row['scores']}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
