"""How long a user waits for each mistake to be answered: every bad command of issue 12
run as a user runs it (`python examples/point_maze.py ...`, a fresh interpreter each
time), timed from start to exit, with its exit status and the one line it prints.

    python benchmarks/user_errors.py          # writes results/user_errors.json

The target is one line on stderr, exit status 2 and no traceback, within 3 s, before
anything is built or compiled.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, RESULTS


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "point_maze.py"


def _fake_run(path: Path, config, *, program: str = "point_maze.py") -> Path:
    """A run directory as a run leaves it (its checkpoint's arrays a stand-in: every
    check here reads only the checkpoint's header)."""
    from equicrl._checkpoint import save_checkpoint
    from equicrl.runs._rundir import config_dict

    path.mkdir(parents=True)
    meta = {"config": config_dict(config), "program": program, "cli": {}}
    (path / "config.json").write_text(json.dumps(meta))
    (path / "metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": i + 1}) + "\n" for i in range(10))
    )
    save_checkpoint(
        path / "checkpoint.eqx",
        {"x": np.zeros(100_000, np.float32)},
        {"config": config_dict(config), "epoch": 10, "buffer": True},
    )
    return path


def _cases(tmp: Path) -> list[tuple[str, list[str]]]:
    sys.path.insert(0, str(EXAMPLE.parent))
    from point_maze import PRESETS

    config = PRESETS["cpu"]
    run = _fake_run(tmp / "run", config)
    truncated = _fake_run(tmp / "truncated", config)
    data = (truncated / "checkpoint.eqx").read_bytes()
    (truncated / "checkpoint.eqx").write_bytes(data[: len(data) // 2])
    foreign = _fake_run(tmp / "foreign", config)
    (foreign / "checkpoint.eqx").write_bytes(b"PK\x03\x04 a zip file, say\n" + data)
    other = _fake_run(tmp / "other", config)
    elsewhere = _fake_run(tmp / "elsewhere", config.replace(num_envs=32, seed=3))
    (other / "checkpoint.eqx").write_bytes((elsewhere / "checkpoint.eqx").read_bytes())
    humanoid = _fake_run(tmp / "humanoid", config, program="humanoid_maze.py")
    (tmp / "a-file").write_text("")
    new = str(tmp / "new")
    return [
        ("unknown env name", ["--env-name", "humanoid_u_mze", "--run-dir", new]),
        ("more devices than JAX sees", ["--num-devices", "4", "--run-dir", new]),
        ("run directory not writable", ["--run-dir", str(tmp / "a-file" / "run")]),
        ("run directory holds a run", ["--run-dir", str(run)]),
        ("--resume of a missing run", ["--resume", str(tmp / "missing")]),
        ("--resume, truncated checkpoint", ["--resume", str(truncated)]),
        ("--resume, foreign checkpoint", ["--resume", str(foreign)]),
        ("--resume, checkpoint of another config", ["--resume", str(other)]),
        ("--resume with a config flag", ["--resume", str(run), "--num-envs", "32"]),
        ("--resume of another example's run", ["--resume", str(humanoid)]),
        (
            "batch larger than the stored transitions",
            [
                "--num-envs",
                "4",
                "--prefill-rows",
                "10",
                "--unroll-length",
                "10",
                "--batch-size",
                "256",
                "--eval-envs",
                "4",
                "--run-dir",
                new,
            ],
        ),  # fmt: skip
        ("eval_envs=1", ["--eval-envs", "1", "--run-dir", new]),
        ("invalid config value", ["--critic-depth", "6", "--run-dir", new]),
        ("--eval-only of a missing run", ["--eval-only", str(tmp / "missing")]),
    ]


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in _cases(Path(tmp)):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, str(EXAMPLE), *args],
                capture_output=True,
                text=True,
                cwd=tmp,
            )
            seconds = time.perf_counter() - start
            lines = done.stderr.splitlines()
            ok = (
                done.returncode == 2
                and len(lines) == 1
                and "Traceback" not in done.stderr
                and not done.stdout
                and seconds < 3
            )
            results.append(
                dict(
                    case=name,
                    args=[a.replace(tmp, "TMP") for a in args],
                    seconds=round(seconds, 2),
                    exit_status=done.returncode,
                    stderr_lines=len(lines),
                    message=done.stderr.strip().replace(tmp, "TMP"),
                    meets_target=ok,
                )
            )
            verdict = "ok " if ok else "BAD"
            message = results[-1]["message"][:110]
            print(
                f"{seconds:5.2f} s  status {done.returncode}  {verdict}  {name}: "
                f"{message}",
                flush=True,
            )
    out = dict(
        machine=machine(),
        command="python benchmarks/user_errors.py",
        target="exit status 2, one line on stderr, no traceback, < 3 s",
        all_meet_target=all(r["meets_target"] for r in results),
        slowest_s=max(r["seconds"] for r in results),
        results=results,
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "user_errors.json").write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"all meet the target: {out['all_meet_target']}; slowest {out['slowest_s']} s; "
        f"wrote {RESULTS / 'user_errors.json'}"
    )


if __name__ == "__main__":
    main()
