"""Every benchmark table of the docs, made from its committed JSON in
`benchmarks/results/`, so a table cannot drift from its data.

Each table ends with where its numbers come from: the machine, the command and the
commit (with its date) that last wrote the JSON. The docs' pages hold a marker,
`<!-- table: NAME -->`, that the docs' build (`docs/hooks.py`) replaces with the table.

    python benchmarks/tables.py --list        # the tables' names
    python benchmarks/tables.py NAME [NAME]   # print tables as markdown
"""

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path


# The benchmarks folder on the path (however this file was loaded: a script, the
# docs' hooks, a test), and its modules imported now (MkDocs takes its hooks' path
# entries away again after loading them).
sys.path.insert(0, str(Path(__file__).parent))
import collector_2x2  # noqa: E402
import main_job_profile as main_job_profile_script  # noqa: E402
import main_job_seeds as main_job_seeds_script  # noqa: E402
import reproduce_release  # noqa: E402


RESULTS = Path(__file__).parent / "results"
ROOT = RESULTS.parent.parent


def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.exists():
        raise FileNotFoundError(f"no results file {path}")
    return json.loads(path.read_text())


@cache
def _commit(path: Path) -> str:
    """`commit abc1234 (2026-12-01)`: the commit that last wrote the file; says so when
    the file is not committed, or has changed since (or git is missing)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        relative = path.resolve().relative_to(ROOT.resolve())
        last = git("log", "-1", "--format=%h (%cs)", "--", str(relative))
        changed = git("status", "--porcelain", "--", str(relative))
    except (ValueError, OSError, subprocess.CalledProcessError):
        return "not committed yet"
    if not last:
        return "not committed yet"
    return f"commit {last}" + (", changed since" if changed else "")


def _machine(machine) -> str:
    if isinstance(machine, str):
        return machine
    if not machine:
        return "machine not recorded"
    device = machine.get("device", "cpu")
    where = (
        f"{machine.get('cpu_count', '?')}-core {machine.get('cpu', 'CPU')}"
        if device == "cpu"
        else f"{device} (host: {machine.get('cpu_count', '?')}-core "
        f"{machine.get('cpu', 'CPU')})"
    )
    return f"{where}, JAX {machine.get('jax', '?')}"


def _source(*names: str) -> str:
    """The provenance line under a table: one entry per JSON it reads."""
    parts = []
    for name in names:
        d = _load(name)
        command = d.get("command") or "; ".join(d.get("commands", []))
        command = f"`{command.strip()}`" if command else "command not recorded"
        date = f", {d['date']}" if "date" in d else ""
        parts.append(
            f"`{name}`: {_machine(d.get('machine'))}; {command}; "
            f"{_commit(RESULTS / name)}{date}"
        )
    return "\n\n*Data: " + " · ".join(parts) + ".*"


def _table(header: list[str], rows: list[list], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _int(x) -> str:
    return "" if x is None else f"{round(x):,}"


def _pm(mean, stderr, digits: int) -> str:
    return f"{mean:.{digits}f} ± {stderr:.{digits}f}"


def _minutes(seconds) -> str:
    # Points converted from an older format have no wall time (0).
    return f"{seconds / 60:.0f} min" if seconds else ""


# Env throughput ---------------------------------------------------------------


def _rates(name: str) -> dict[tuple[str, int], float]:
    return {
        (p["env"], p["num_envs"]): p["steps_per_s"]
        for p in _load(name)["points"]
        if "steps_per_s" in p
    }


def _env_table(name: str, envs: dict[str, str], num_envs: list[int]) -> str:
    rates = _rates(name)
    rows = [
        [label, *(_int(rates.get((env, n))) for n in num_envs)]
        for env, label in envs.items()
    ]
    header = ["env", *(f"{n} envs" for n in num_envs)]
    return _table(header, rows) + _source(name)


def point_maze_throughput() -> str:
    envs = {e: f"`{e}`" for e in ("point_maze_u_maze", "point_maze_hardest_maze")}
    return _env_table("env_throughput_point_maze.json", envs, [32, 256, 1024])


def open_robot_throughput() -> str:
    envs = {
        "ant": "`ant`",
        "brax:ant": "Brax's `ant` (spring)",
        "humanoid": "`humanoid`",
        "brax:humanoid": "Brax's `humanoid` (spring)",
    }
    return _env_table("env_throughput.json", envs, [32, 256])


def near_walls_throughput() -> str:
    name = "env_throughput_near_walls.json"
    rates = _rates(name)
    rows = []
    for env, label, base in [
        ("humanoid", "`humanoid` (open)", None),
        ("humanoid_u_maze+nowalls", "`humanoid_u_maze+nowalls`", None),
        ("humanoid_u_maze", "`humanoid_u_maze` (near walls, default)", "humanoid"),
        ("humanoid_u_maze+allpairs", "`humanoid_u_maze+allpairs`", "humanoid"),
        ("humanoid_big_maze", "`humanoid_big_maze`", "humanoid"),
        ("ant_u_maze+nowalls", "`ant_u_maze+nowalls`", None),
        ("ant_u_maze", "`ant_u_maze` (near walls, default)", "ant_u_maze+nowalls"),
        ("ant_u_maze+allpairs", "`ant_u_maze+allpairs`", "ant_u_maze+nowalls"),
        ("ant_hardest_maze", "`ant_hardest_maze`", "ant_u_maze+nowalls"),
    ]:
        row = [label]
        for n in (32, 256):
            row.append(_int(rates[(env, n)]))
        for n in (32, 256):
            row.append(f"{rates[(env, n)] / rates[(base, n)]:.2f}" if base else "")
        rows.append(row)
    header = ["env", "32 envs", "256 envs", "x open, 32", "x open, 256"]
    return _table(header, rows) + _source(name)


def _release_contacts(name: str, n: int) -> str:
    rates = _rates(name)
    rows = []
    for env in ("ant", "ant_u_maze", "humanoid", "humanoid_u_maze"):
        if (env, n) not in rates:
            continue
        ours, brax = rates[(env, n)], rates.get((f"{env}+brax", n))
        own = rates.get((f"brax:{env}", n))
        rows.append(
            [
                f"`{env}`",
                _int(ours),
                _int(brax) or "= release's",
                f"{ours / brax:.2f}" if brax else "",
                _int(own),
            ]
        )
    header = [
        f"env ({n} envs)",
        "release's contacts",
        "Brax's contacts",
        "ratio",
        "Brax's own env",
    ]
    return _table(header, rows) + _source(name)


def release_contacts_throughput() -> str:
    return _release_contacts("env_throughput_release_contacts.json", 32)


def release_contacts_throughput_256() -> str:
    return _release_contacts("env_throughput_release_contacts_256.json", 256)


def autoreset_throughput() -> str:
    rows = []
    names = (
        "env_throughput_autoreset.json",
        "env_throughput_autoreset_feet_walls.json",
    )
    for name in names:
        rates = _rates(name)
        for env in dict.fromkeys(e for e, _ in rates if not e.startswith("train:")):
            for n in (32, 256):
                bare, train = rates[(env, n)], rates[(f"train:{env}", n)]
                rows.append(
                    [f"`{env}`", n, _int(bare), _int(train), f"{train / bare:.2f}"]
                )
    header = ["env (all wall pairs)", "envs", "bare", "training wrapper", "ratio"]
    return _table(header, rows) + _source(*names)


def arm_throughput() -> str:
    cpu = _rates("env_throughput_arm.json")
    gpu = {
        **_rates("env_throughput_arm_gpu.json"),
        **_rates("env_throughput_arm_binpick_gpu.json"),
    }
    rows = []
    for env in (
        "arm_push_easy",
        "arm_push_hard",
        "arm_binpick_easy",
        "arm_binpick_hard",
    ):
        row = [f"`{env}`"]
        for rates, n, fmt in ((cpu, 32, "{:.2f}"), (gpu, 2048, "{:,.0f}")):
            ours, floor = rates.get((env, n)), rates.get((f"mjx:{env}", n))
            row += [
                fmt.format(ours) if ours else "",
                fmt.format(floor) if floor else "",
                f"{ours / floor:.2f}" if ours and floor else "",
            ]
        rows.append(row)
    header = [
        "env",
        "ours, CPU, 32 envs",
        "floor",
        "ours / floor",
        "ours, GPU, 2048 envs",
        "floor",
        "ours / floor",
    ]
    names = (
        "env_throughput_arm.json",
        "env_throughput_arm_gpu.json",
        "env_throughput_arm_binpick_gpu.json",
    )
    return _table(header, rows) + _source(*names)


def near_walls_exact() -> str:
    name = "near_walls_exact.json"
    rows = [
        [
            f"`{r['env']}`",
            r["dtype"],
            _int(r["states"]),
            _int(r["active"]),
            f"{r['dist']:.1e}",
            f"{r['pos']:.1e}",
            f"{r['frame']:.1e}",
            r["most_walls"],
            r["most_wall_pairs"],
            f"{r['resolve']:.1e}",
            f"{r['over_max_wall_rows']:,} (up to {r['most_wall_rows']})",
        ]
        for r in _load(name)["results"]
    ]
    header = [
        "maze",
        "dtype",
        "states",
        "active contacts",
        "distance",
        "position",
        "frame",
        "walls at once",
        "wall pairs at once",
        "resolution",
        "states over 8 wall rows",
    ]
    return _table(header, rows, "llrrrrrrrrr") + _source(name)


# Training ---------------------------------------------------------------------


def prefill_buffer() -> str:
    name = "prefill_buffer.json"
    rows = [
        [
            f"`{p['env']}`",
            p["prefill"],
            p["episodes_ended"],
            f"{p['mean_length_ended']:.0f}",
            f"{p['achieved_xy_spread']:.2f}",
            f"{p['reach_mean']:.2f} / {p['reach_p90']:.2f}",
            f"{p['action_abs_mean']:.2f}",
        ]
        for p in _load(name)["points"]
    ]
    header = [
        "env",
        "prefill",
        "episodes ended",
        "mean length (ended)",
        "achieved x, y spread (m)",
        "reach from start, mean / p90 (m)",
        "mean abs(action)",
    ]
    return _table(header, rows, "llrrrrr") + _source(name)


def _last5(curve: dict, key: str) -> str:
    return ", ".join(f"{v:.2f}" for v in curve[key][-5:])


def main_job() -> str:
    name = "prefill_score.json"
    rows = []
    for result in _load(name)["results"]:
        for seed, score in zip(result["seeds"], result["scores"]):
            rows.append(
                [
                    seed,
                    result["prefill"],
                    _last5(score["curve"], "success"),
                    f"**{score['success']:.2f}**",
                    f"{score['time_at_goal']:.1f}",
                ]
            )
    header = [
        "seed",
        "prefill",
        "success: last 5 evaluations",
        "score (their mean)",
        "time at goal (mean of last 5)",
    ]
    return _table(header, rows, "lllrr") + _source(name)


def _seeds_table(name: str, fresh: str | None = None) -> str:
    """Every seed of a main job's preset alone and in one 10-seed program, with the
    fresh seeds of `fresh` (alone) below, and the groups' summaries."""
    d = _load(name)
    single = dict(d["single"])
    if fresh:
        single.update(_load(fresh)["single"])
    rows = []
    for seed in sorted(set(single) | set(d["program"]), key=int):
        alone, together = single.get(seed), d["program"].get(seed)
        label = "tuned on" if int(seed) < 5 else "test" if int(seed) < 10 else "fresh"
        cells = [f"{seed} ({label})"]
        if alone:
            cells += [
                _last5(alone, "curve"),
                f"**{alone['score']:.2f}**",
                f"{alone['final']:.2f}",
                f"{alone['wall_s']:.0f} s",
            ]
        else:
            cells += ["", "", "", ""]
        if together:
            cells += [f"{together['score']:.2f}", f"{together['final']:.2f}"]
        else:
            cells += ["", ""]
        rows.append(cells)
    header = [
        "seed",
        "alone: success, last 5 evaluations",
        "alone: score",
        "alone: final",
        "alone: wall",
        "in the 10-seed program: score",
        "final",
    ]
    groups = [
        (f"{part}_{group}", f"{label} {how}")
        for part, how in (("single", "alone"), ("program", "in one program"))
        for group, label in (("tuned", "seeds 0-4"), ("test", "seeds 5-9"))
    ]
    summaries = {key: d.get(key) for key, _ in groups}
    if fresh:
        seeds = _load(fresh)["single"]
        first, last = min(map(int, seeds)), max(map(int, seeds))
        groups.append(("fresh", f"seeds {first}-{last} alone"))
        summaries["fresh"] = main_job_seeds_script.summary(seeds)
    lines = [
        f"{label}: mean {g['mean_score']:.3f}, worst {g['worst_score']:.3f}, "
        f"largest final-score gap {g['largest_gap']:.3f}"
        for key, label in groups
        if (g := summaries[key])
    ]
    wall = d.get("program_wall_s")
    summary = (
        "\n\n"
        + "; ".join(lines)
        + (f"; the 10-seed program took {wall:.0f} s." if wall else ".")
    )
    sources = (name, fresh) if fresh else (name,)
    return _table(header, rows, "lllrrrr") + summary + _source(*sources)


def main_job_seeds() -> str:
    """Every seed of the main job (the mean action), alone and in one program, and
    the fresh seeds 10-19 alone."""
    return _seeds_table("main_job_seeds.json", "main_job_seeds_fresh.json")


def main_job_sampling() -> str:
    """The same for the preset that evaluates a sample of the actor, with fresh
    seeds 20-29."""
    return _seeds_table(
        "main_job_seeds_sampling.json", "main_job_seeds_sampling_fresh.json"
    )


def main_job_goals() -> str:
    name = "main_job_goals.json"
    d = _load(name)
    cells = list(d["runs"][0]["cells"])
    rows = [
        [run["seed"]]
        + [
            f"{run['cells'][c]['success']:.2f} ({run['cells'][c]['time_at_goal']:.0f})"
            for c in cells
        ]
        for run in d["runs"]
    ]
    header = ["seed"] + [f"goal cell ({c}): success (time at goal)" for c in cells]
    return _table(header, rows) + _source(name)


def main_job_tuning() -> str:
    name = "main_job_tuning.json"
    rows = []
    for r in _load(name):
        score, final = r["score"], r["final"]
        changes = ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "none"
        rows.append(
            [
                f"`{r['name']}`",
                changes,
                f"{r['seeds'][0]}-{r['seeds'][-1]}",
                ", ".join(f"{x:.2f}" for x in score),
                f"**{sum(score) / len(score):.3f}**",
                f"{min(score):.3f}",
                f"{max(abs(f - s) for f, s in zip(final, score)):.3f}",
                f"{r['wall_s']:.0f} s",
            ]
        )
    header = [
        "candidate",
        "changes to the 1M constant-rate preset",
        "seeds",
        "score per seed",
        "mean",
        "worst",
        "largest final-score gap",
        "wall (all seeds, one program, shared CPU)",
    ]
    return _table(header, rows, "lllrrrrr") + (
        "\n\n*Data: `main_job_tuning.json`; each row's command is in the file; "
        f"{_commit(RESULTS / name)}.*"
    )


def main_job_profile() -> str:
    name = "main_job_profile.json"
    return main_job_profile_script.table(_load(name)) + _source(name)


def main_job_modes() -> str:
    name = "main_job_modes.json"
    d = _load(name)
    what = {0: "the mean action (the main job's)", 1: "a sample of the actor"}
    rows = []
    for mode in d["modes"]:
        runs = [r["modes"][str(mode)] for r in d["runs"]]
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
        rows.append(
            [
                f"{mode}, "
                + what.get(mode, f"the best of {mode} samples by the critic"),
                f"{mean['success']:.3f}",
                f"{min(r['success'] for r in runs):.3f}",
                f"{mean['time_at_goal']:.1f}",
                f"{mean['final_dist']:.2f}",
            ]
        )
    header = [
        "mode",
        f"success: mean over {len(d['runs'])} seeds",
        "worst seed",
        "time at goal (steps)",
        "final distance",
    ]
    return _table(header, rows) + _source(name)


def second_run() -> str:
    name = "second_run.json"
    rows = [
        [
            f"`{r['command']}`",
            f"{r['first_s']:.1f} s",
            f"{r['second_s']:.1f} s",
            f"{r['first_s'] / r['second_s']:.1f}x",
        ]
        for r in _load(name)["examples"].values()
    ]
    header = ["example", "first run (empty cache)", "second run", "sooner by"]
    return _table(header, rows, "lrrr") + _source(name)


def _pair(ours: dict, theirs: dict, key: str, fmt: str) -> str:
    """`ours / theirs` of one measurement, `—` for theirs where it has none."""
    mine = fmt.format(ours[key])
    if theirs.get(key) is None:
        return f"{mine} / —"
    return f"{mine} / {fmt.format(theirs[key])}"


def train_throughput() -> str:
    names = ("train_throughput.json", "train_throughput_depth16.json")
    rows = []
    for name in names:
        d = _load(name)
        release = {r["depth"]: r for r in d["release"]}
        for ours in d["results"]:
            theirs = release.get(ours["depth"], {})
            rows.append(
                [
                    ours["depth"],
                    f"`{name}`",
                    _pair(ours, theirs, "steady_sps", "{:.0f}"),
                    f"**{ours['steady_sps'] / theirs['steady_sps']:.1f}x**"
                    if theirs.get("steady_sps") is not None
                    else theirs.get("error", "—"),
                    _pair(ours, theirs, "prefilled_s", "{:.0f}"),
                    _pair(ours, theirs, "first_epoch_done_s", "{:.0f}"),
                    _pair(ours, theirs, "peak_rss_gb", "{:.2f}"),
                ]
            )
    header = [
        "depth",
        "run",
        "steady env steps/s: equicrl / release",
        "equicrl / release",
        "prefilled (s)",
        "first epoch done (s)",
        "peak memory (GB)",
    ]
    return _table(header, rows, "rllllll") + _source(*names)


def seed_throughput() -> str:
    name = "seed_throughput.json"
    rows = [
        [
            r["num_seeds"],
            _int(r["sps_best"]),
            ", ".join(_int(x) for x in r["sps_rounds"]),
            f"**{r['ratio_to_one_seed']:.2f}**",
        ]
        for r in _load(name)["results"]
    ]
    header = ["seeds", "env steps/s, all seeds (best)", "rounds", "x one seed"]
    return _table(header, rows, "rrlr") + _source(name)


def user_errors() -> str:
    name = "user_errors.json"
    rows = [
        [
            r["case"],
            f"`{' '.join(r['args'])}`",
            f"{r['seconds']:.1f}",
            r["exit_status"],
            r["stderr_lines"],
        ]
        for r in _load(name)["results"]
    ]
    header = ["mistake", "arguments", "seconds", "exit status", "lines"]
    return _table(header, rows, "llrrr") + _source(name)


# Scaling ----------------------------------------------------------------------


def multi_device() -> str:
    name = "multi_device.json"
    results = _load(name)["results"]
    one = {r["config"]: r for r in results if r["devices"] == 1}
    rows = []
    for r in results:
        base = one[r["config"]]
        diff = max(
            abs(a - b)
            for la, lb in zip(r["losses"], base["losses"])
            for a, b in zip(_flat(la), _flat(lb))
        )
        rows.append(
            [
                f"`{r['config']}`",
                r["devices"],
                _int(r["steady_sps"]),
                f"{r['steady_sps'] / base['steady_sps']:.2f}",
                f"{r['first_epoch_done_s']:.1f}",
                f"{diff:.1e}",
            ]
        )
    header = [
        "config",
        "devices",
        "steady env steps/s",
        "vs 1 device",
        "first epoch done (s)",
        "largest loss difference",
    ]
    return _table(header, rows) + _source(name)


def _flat(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flat(x[k])]
    if isinstance(x, list):
        return [v for e in x for v in _flat(e)]
    return [float(x)]


def memory() -> str:
    name = "memory.json"
    points = _load(name)["points"]
    base = {p["depth"]: p for p in points if not p["remat"]}
    rows = []
    for p in points:
        b = base[p["depth"]]
        same = p is b
        rows.append(
            [
                p["depth"],
                {False: "no", True: "per block", "nested": "nested"}[p["remat"]],
                _int(p["params_opt_bytes"] / 2**20),
                _int(p["temp_bytes"] / 2**20),
                "" if same else f"**{p['temp_bytes'] / b['temp_bytes']:.2f}**",
                f"{p['peak_rss_gb']:.2f}",
                f"{p['step_s']:.2f}",
                "" if same else f"**{p['step_s'] / b['step_s']:.2f}**",
            ]
        )
    header = [
        "depth",
        "remat",
        "parameters + Adam (MiB)",
        "activations (MiB)",
        "vs no remat",
        "peak RSS (GB)",
        "step (s)",
        "vs no remat",
    ]
    return _table(header, rows, "rlrrrrrr") + _source(name)


def update_throughput() -> str:
    name = "update_throughput.json"
    rows = []
    for r in _load(name)["results"]:
        g = r["matmul_gflops"]
        rows.append(
            [
                r["depth"],
                r["batch"],
                "yes" if r["remat"] else "no",
                f"{g['combined']:.0f} ({g['forward']:.0f} / {g['input_grads']:.0f} / "
                f"{g['weight_grads']:.0f})",
                f"{r['step_flops'] / 1e9:.1f}",
                _int(r["step_s"] * 1e3),
                f"{r['step_gflops']:.0f}",
                f"**{r['fraction']:.2f}** ({r['fraction_best']:.2f})",
            ]
        )
    header = [
        "depth",
        "batch",
        "remat",
        "matrix products, GFLOP/s (fwd / dX / dW)",
        "step GFLOP",
        "step (ms)",
        "step GFLOP/s",
        "fraction of the products' rate (fastest repetitions)",
    ]
    return _table(header, rows, "rrlrrrrl") + _source(name)


def compile_time() -> str:
    name = "compile_time.json"
    pts = {(p["depth"], p["mode"], p["step"]): p for p in _load(name)["points"]}
    modes = ("scan", "remat", "unrolled")

    def cells(depth, step, fmt):
        out = []
        for m in modes:
            p = pts.get((depth, m, step))
            out.append(fmt(p) if p else "—")
        return " / ".join(out)

    rows = [
        [
            d,
            cells(d, "full", lambda p: f"{p['compile_s']:.1f}"),
            cells(d, "full", lambda p: _int(p["step_median_s"] * 1e3)),
            cells(
                d,
                "critic",
                lambda p: (
                    f"{_int(p['step_median_s'] * 1e3)} ({_int(p['step_min_s'] * 1e3)})"
                ),
            ),
        ]
        for d in sorted({k[0] for k in pts})
    ]
    header = [
        "depth",
        "full step compile (s): scan / remat / unrolled",
        "full step median (ms): scan / remat / unrolled",
        "critic step median (min) (ms): scan / remat / unrolled",
    ]
    return _table(header, rows, "rlll") + _source(name)


# The paper's experiments -------------------------------------------------------


def _sweep(name: str, distances: bool = False) -> str:
    d = _load(name)
    rows = []
    for p in d["points"]:
        label = ", ".join(f"{k} {v}" for k, v in p["point"].items())
        row = [
            label,
            _int(p["params"]["total"]),
            _pm(p["time_at_goal"], p["time_at_goal_stderr"], 1),
            _pm(p["success"], p["success_stderr"], 2),
        ]
        if distances and "distances" in p:
            for k in sorted(p["distances"], key=int):
                s = p["distances"][k]
                row.append(
                    _pm(s["success"], s["success_stderr"], 2)
                    if s["success_stderr"]
                    else f"{s['success']:.2f}"
                )
        row.append(_minutes(p.get("wall_s")))
        rows.append(row)
    header = ["point", "parameters", "time at goal", "success"]
    if distances:
        keys = sorted(d["points"][0].get("distances", {}), key=int)
        header += [f"success at {k}" for k in keys]
    header.append("wall")
    return _table(header, rows, "l" + "r" * (len(header) - 1)) + _source(name)


def sweep_depth() -> str:
    return _sweep("sweep_depth.json")


def sweep_depth_u4() -> str:
    return _sweep("sweep_depth-u4.json")


def sweep_width_depth() -> str:
    return _sweep("sweep_width-depth.json")


def sweep_stitching() -> str:
    return _sweep("sweep_stitching.json", distances=True)


def sweep_stitching_confirm() -> str:
    return _sweep("sweep_stitching-confirm.json", distances=True)


def stitching_confirm() -> str:
    name = "stitching_confirm.json"
    d = _load(name)
    seeds = range(1000, 1000 + len(d["deep"]))
    rows = [
        [str(s), f"{shallow:.3f}", f"{deep:.3f}", f"{deep - shallow:+.3f}"]
        for s, shallow, deep in zip(seeds, d["shallow"], d["deep"])
    ]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    rows.append(
        [
            "**mean**",
            f"**{mean(d['shallow']):.3f}**",
            f"**{mean(d['deep']):.3f}**",
            f"**{d['difference']:+.3f}**",
        ]
    )
    low, high = d["interval"]
    verdict = (
        f"\n\nDifference {d['difference']:+.3f} (95 % Welch interval {low:+.3f} to "
        f"{high:+.3f}); one-sided Welch t = {d['t']:.2f}, df {d['df']:.1f}, "
        f"p = {d['p_one_sided']:.4f} (alpha {d['alpha']}): **{d['outcome']}**."
    )
    header = ["seed", "depth 4", "depth 32", "32 - 4"]
    return _table(header, rows, "rrrr") + verdict + _source(name)


def collector() -> str:
    name = "collector.json"
    rows = [
        [
            label,
            _pm(r["time_at_goal"], r["time_at_goal_stderr"], 1),
            _pm(r["success"], r["success_stderr"], 2),
        ]
        for label, r in _load(name)["rows"].items()
    ]
    return _table(["networks, data", "time at goal", "success"], rows) + _source(name)


def collector_2x2_cpu() -> str:
    name = "collector_2x2_cpu.json"
    d = _load(name)
    walls = ", ".join(
        f"collector {depth}: {_minutes(s)}" for depth, s in d["wall_s"].items()
    )
    return collector_2x2.table(d) + f"\n\nWall time per run: {walls}." + _source(name)


def distill_scores() -> str:
    name = "distill.json"
    d = _load(name)
    t = d["teacher"]
    tc = t["config"]
    rows = [
        [
            "teacher",
            f"{tc['actor_depth']} x {tc['actor_width']}",
            _int(t["env_steps"]),
            _pm(t["summary"]["time_at_goal"], t["summary"]["time_at_goal_stderr"], 1),
            _pm(t["summary"]["success"], t["summary"]["success_stderr"], 3),
            "",
        ]
    ]
    for loss, s in d["students"].items():
        m = s["summary"]
        kept = (
            f"{m['time_at_goal'] / t['summary']['time_at_goal']:.1%}, "
            f"{m['success'] / t['summary']['success']:.1%}"
        )
        rows.append(
            [
                f"student, `{loss}` loss",
                f"{s['actor_depth']} x {s['actor_width']}",
                _int(s["env_steps"]),
                _pm(m["time_at_goal"], m["time_at_goal_stderr"], 1),
                _pm(m["success"], m["success_stderr"], 3),
                kept,
            ]
        )
    header = [
        "actor",
        "depth x width",
        "env steps",
        "time at goal",
        "success",
        "kept (time at goal, success)",
    ]
    return _table(header, rows, "llrlll") + _source(name)


def distill_latency() -> str:
    name = "distill.json"
    rows = [
        [
            who,
            _int(r["params"]),
            _int(r["batch_1_s"] * 1e6),
            _int(r["batch_1024_s"] * 1e6),
        ]
        for who, r in _load(name)["latency"].items()
    ]
    header = [
        "policy (the mean action, `Run.policy(mode=0)`)",
        "parameters",
        "batch 1 (µs)",
        "batch 1,024 (µs)",
    ]
    return _table(header, rows) + _source(name)


def reproduce_reacher() -> str:
    name = "reproduce_reacher.json"
    return reproduce_release.table(_load(name)) + _source(name)


TABLES: dict[str, Callable[[], str]] = {
    f.__name__.replace("_", "-"): f
    for f in (
        point_maze_throughput,
        open_robot_throughput,
        near_walls_throughput,
        release_contacts_throughput,
        release_contacts_throughput_256,
        autoreset_throughput,
        arm_throughput,
        near_walls_exact,
        prefill_buffer,
        main_job,
        main_job_sampling,
        main_job_seeds,
        main_job_tuning,
        main_job_goals,
        main_job_profile,
        main_job_modes,
        second_run,
        train_throughput,
        seed_throughput,
        user_errors,
        multi_device,
        memory,
        update_throughput,
        compile_time,
        sweep_depth,
        sweep_depth_u4,
        sweep_width_depth,
        sweep_stitching,
        sweep_stitching_confirm,
        stitching_confirm,
        collector,
        collector_2x2_cpu,
        distill_scores,
        distill_latency,
        reproduce_reacher,
    )
}


def render(name: str) -> str:
    """The markdown of the table `name`, or a `KeyError` listing the names."""
    if name not in TABLES:
        raise KeyError(f"no table {name!r}; the tables: {', '.join(TABLES)}")
    return TABLES[name]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="tables to print (default: all)")
    parser.add_argument("--list", action="store_true", help="list the tables' names")
    args = parser.parse_args()
    if args.list:
        print("\n".join(TABLES))
        return
    for name in args.names or TABLES:
        print(f"## {name}\n\n{render(name)}\n")


if __name__ == "__main__":
    main()
