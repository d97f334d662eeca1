"""Helpers shared by the benchmark scripts: machine description and timing."""

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


RESULTS = Path(__file__).parent / "results"

LAST = 5  # evaluations averaged into a score, as in the paper


def score(history: list[dict], seed: int | None, prefix: str = "") -> dict:
    """One seed's score, the paper's (the mean of its last 5 evaluations), and its
    evaluation curve; `seed` is the seed index in a run of several, `None` for a run
    of one. `prefix` scores other evaluations of the run (`"collector_"`: the
    collector experiment's collector)."""
    evals = [r for r in history if "eval/success" in r]
    if len(evals) < LAST:
        raise ValueError(f"a score needs {LAST} evaluations, the run made {len(evals)}")
    own = [r["seeds"][seed] if seed is not None else r for r in evals]
    out = {
        name: sum(r[f"eval/{prefix}{name}"] for r in own[-LAST:]) / LAST
        for name in ("time_at_goal", "success")
    }
    out["curve"] = {
        "env_steps": [r["env_steps"] for r in evals],
        "time_at_goal": [r[f"eval/{prefix}time_at_goal"] for r in own],
        "success": [r[f"eval/{prefix}success"] for r in own],
    }
    return out


def summarise(scores: list[dict], names=("time_at_goal", "success")) -> dict:
    """Mean and standard error over seeds (`NAME` and `NAME_stderr`) of each of
    `names` in `scores` (one dict per seed)."""
    out = {}
    for name in names:
        values = [s[name] for s in scores]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
        out[name] = mean
        out[name + "_stderr"] = math.sqrt(var / len(values)) if len(values) > 1 else 0.0
    return out


def machine() -> dict:
    """What the numbers were measured on."""
    import jax

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    device = jax.devices()[0]
    return dict(
        cpu=cpu,
        cpu_count=os.cpu_count(),
        affinity=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        platform=platform.platform(),
        python=platform.python_version(),
        jax=jax.__version__,
        backend=device.platform,
        device=getattr(device, "device_kind", str(device)),
    )


def provenance(script: str, args: list[str] | None) -> dict:
    """A result file's header: the command that made it (`script`'s path from the
    repository root, with `args`, else this process's arguments), the date and the
    machine."""
    name = Path(script).resolve().relative_to(Path(__file__).parents[1]).as_posix()
    return dict(
        command=" ".join(["python", name, *(args or sys.argv[1:])]),
        date=time.strftime("%Y-%m-%d"),
        machine=machine(),
    )


def steady_time(
    step: Callable[[], object],
    *,
    min_reps: int = 3,
    max_reps: int = 20,
    budget_s: float = 20.0,
) -> dict:
    """Median and min wall time of `step()` (which must block until done)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_reps and (
        len(times) < min_reps or time.perf_counter() - start < budget_s
    ):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return dict(median_s=statistics.median(times), min_s=min(times), reps=len(times))


def crl_step_inputs(
    state_dim: int,
    action_dim: int,
    goal_dim: int,
    repr_dim: int,
    batch: int,
    **network_kwargs,
):
    """`(state, batch, optimiser)` for one CRL gradient step: actor and critic built
    with `network_kwargs` (width, depth, remat, ...), Adam 3e-4, and a random batch
    of `batch` transitions (normal states and goals, uniform actions in [-1, 1])."""
    import jax.random as jr
    import optax

    import equicrl

    akey, ckey, dkey = jr.split(jr.key(0), 3)
    actor = equicrl.GoalConditionedActor(
        state_dim, goal_dim, action_dim, key=akey, **network_kwargs
    )
    critic = equicrl.ContrastiveCritic(
        state_dim, action_dim, goal_dim, repr_dim=repr_dim, key=ckey, **network_kwargs
    )
    optimiser = optax.adam(3e-4)
    k1, k2, k3 = jr.split(dkey, 3)
    transitions = equicrl.Transitions(
        state=jr.normal(k1, (batch, state_dim)),
        action=jr.uniform(k2, (batch, action_dim), minval=-1, maxval=1),
        goal=jr.normal(k3, (batch, goal_dim)),
    )
    return equicrl.init_crl_state(actor, critic, optimiser), transitions, optimiser


def run_point(script: str, args: list[str], timeout_s: float) -> dict:
    """Run `script --point ARGS` in a fresh interpreter and parse its JSON last line."""
    cmd = [sys.executable, script, "--point", *args]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return dict(error=f"timed out after {timeout_s:.0f} s")
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        return dict(error=f"exit {out.returncode}: " + " | ".join(tail))
    return json.loads(out.stdout.strip().splitlines()[-1])


# A line of `release_runner.py`'s output: `[seconds since start, peak GB] line`.
RELEASE_STAMP = re.compile(r"^\[\s*([0-9.]+) s\s+([0-9.]+) GB\] (.*)$")


def run_release(
    python: str,
    release: str,
    flags: list[str],
    timeout_s: float,
    on_line: Callable[[float, float, str], None],
) -> tuple[list[str], int]:
    """Run the release's `train.py` with `flags` through `release_runner.py` (by the
    release's `python`, in its checkout `release`), calling `on_line(seconds, peak
    GB, line)` for each line it prints, as it prints it; killed after `timeout_s`
    (it may compile for minutes without a line). Returns the command and its exit
    status."""
    runner = str(Path(__file__).parent / "release_runner.py")
    cmd = [python, runner, release, "--", *flags]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=release
    ) as proc:
        watchdog = threading.Timer(timeout_s, proc.kill)
        watchdog.start()
        assert proc.stdout is not None
        for raw in proc.stdout:
            match = RELEASE_STAMP.match(raw.rstrip("\n"))
            if match:
                t, gb, line = match.groups()
                on_line(float(t), float(gb), line)
        code = proc.wait()
        watchdog.cancel()
    return cmd, code
