"""How soon a second run starts: time to the first progress line of an example, run
with an empty compilation cache and then again with the cache the first run left.

The examples keep JAX's compiled programs in the user's cache directory
(`--compilation-cache`, on by default). For each example this runs its command
twice in a fresh cache directory (`XDG_CACHE_HOME` a new temporary folder), and times
each process from its start to its first progress line (`[  0.3%] env steps ...`),
then stops it. `--no-cache` adds a run with the cache off for comparison.

    python benchmarks/second_run.py                 # the main job and humanoid smoke
    python benchmarks/second_run.py --examples point_maze

Writes `benchmarks/results/second_run.json` and prints a table.
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
from _common import machine, RESULTS  # noqa: E402


ROOT = Path(__file__).parents[1]
EXAMPLES = {
    "point_maze": ["examples/point_maze.py"],
    "humanoid_smoke": ["examples/humanoid_maze.py", "--preset", "smoke"],
}


def first_line(command: list[str], env: dict, run_dir: Path) -> float:
    """Seconds from starting `command` to its first progress line; then stops it."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *command, "--run-dir", str(run_dir), "--no-progress-bar"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("["):
                return time.perf_counter() - start
        raise SystemExit(f"{' '.join(command)} printed no progress:\n{''.join(lines)}")
    finally:
        process.kill()
        process.wait()


def main(args=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--examples", nargs="+", choices=list(EXAMPLES), default=list(EXAMPLES)
    )
    p.add_argument("--no-cache", action="store_true", help="also time a run without it")
    p.add_argument("--out", type=Path, default=RESULTS / "second_run.json")
    opts = p.parse_args(args)
    results = dict(
        command=" ".join(["python benchmarks/second_run.py", *(args or sys.argv[1:])]),
        date=time.strftime("%Y-%m-%d"),
        machine=machine(),
        examples={},
    )
    for name in opts.examples:
        command = EXAMPLES[name]
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as d:
            env = {**os.environ, "XDG_CACHE_HOME": cache}
            env.pop("JAX_COMPILATION_CACHE_DIR", None)
            env.pop("EQUICRL_COMPILATION_CACHE", None)
            r = dict(command="python " + " ".join(command))
            r["first_s"] = first_line(command, env, Path(d) / "first")
            r["second_s"] = first_line(command, env, Path(d) / "second")
            if opts.no_cache:
                off = {**env, "EQUICRL_COMPILATION_CACHE": "0"}
                r["no_cache_s"] = first_line(command, off, Path(d) / "off")
        results["examples"][name] = r
        print(f"{name}: first run {r['first_s']:.1f} s, second {r['second_s']:.1f} s")
    opts.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return results


def table(r: dict) -> str:
    lines = [
        "| example | first run (empty cache) | second run | faster by |",
        "|---|---:|---:|---:|",
    ]
    for r in r["examples"].values():
        lines.append(
            f"| `{r['command']}` | {r['first_s']:.1f} s | {r['second_s']:.1f} s | "
            f"{r['first_s'] / r['second_s']:.1f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
