"""Reproducing the release: equicrl and the release's own `train.py` trained side by
side on one env with the same settings, N seeds each, every evaluation of both
recorded against env steps and wall-clock seconds.

The release (github:wang-kevin3290/scaling-crl, a checkout in `--release`) runs
unchanged through `release_runner.py` under its pinned stack (`--release-python`; see
that file for its two import-time patches), one process per seed, seeds
`0..N-1`, one after another. equicrl trains the same seeds side by side in one
program (`CRLConfig.num_seeds`), twice: with the release's training resets
(`episode_reset="first"`: each env slot keeps its first start and goal for the whole
run, as Brax's `AutoResetWrapper` does in the release) and with equicrl's default
(`"fresh"`: a new start and goal per episode), so the effect of that change is
measured, not assumed. Every code runs in a fresh process, one at a time, on this
machine, in one go.

Settings, the same on both sides and written out once in the JSON: envs, unroll,
episode length, batch, widths, depths (residual blocks of 4 layers; the release's
`--*_skip_connections 4`), gradient steps per collection, replay and prefill rows,
evaluation episodes and the evaluation interval (the release evaluates once per
epoch of `--collections-per-epoch` collections; equicrl every that many
collections), Adam at 3e-4, the actor acting in the prefill (both codes').

Recorded for every evaluation of every seed: env steps (prefill included, as both
codes count them), wall seconds since its process started (imports, compilation
and evaluations included: what a user waits), time at goal (steps within the success
threshold, of the episode's length) and success (the fraction of episodes that reach
the goal at least once). Summaries:

- each seed's final score, the paper's (the mean of its last 5 evaluations), the mean
  +- standard error over seeds, and the 95 % Welch t-interval of the difference
  equicrl - release;
- the mean curves with 95 % t-intervals over seeds (mean +- t(0.975, N-1) s.e.);
- time to a score: wall seconds until the mean over seeds of time at goal first
  reaches `--level`, for one seed (the release: the mean over its processes; equicrl:
  its program, which trains all N seeds at once) and for all N seeds (the release's
  processes one after another: their sum); and the ratios.

    python benchmarks/reproduce_release.py --release /tmp/release \\
        --release-python /tmp/relvenv/bin/python            # reacher, 5 seeds
    python benchmarks/reproduce_release.py --env ant_u_maze ...  # any env both have
    python benchmarks/reproduce_release.py --replot         # JSON -> tables and PNG

Writes `results/reproduce_ENV.json` after every code (a code already in it, with the
same settings, is kept and not trained again: an interrupted comparison goes on where
it stopped) and `results/reproduce_ENV.png`.
"""

import argparse
import ast
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path


START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).parent))
from _common import LAST, machine, RESULTS, run_release  # noqa: E402


CODES = ("release", "equicrl_first", "equicrl_fresh")
LABELS = {
    "release": "release (train.py)",
    "equicrl_first": "equicrl, the release's resets",
    "equicrl_fresh": "equicrl, fresh episodes (default)",
}
COLOURS = {
    "release": "tab:red",
    "equicrl_first": "tab:blue",
    "equicrl_fresh": "tab:green",
}
METRICS = ("time_at_goal", "success")


def settings(args) -> dict:
    """The comparison's settings, one dict for both codes."""
    from equicrl.envs import is_env

    # equicrl evaluates a maze on its `_eval` variant (far goals only); the release
    # is given the same (`--eval_env_id`, as its README's commands do).
    evaluation = {"eval_env": args.env + "_eval"} if is_env(args.env + "_eval") else {}
    return dict(
        env=args.env,
        **evaluation,
        num_envs=args.num_envs,
        unroll_length=args.unroll_length,
        episode_length=args.episode_length,
        batch_size=args.batch_size,
        width=args.width,
        depth=args.depth,
        layers_per_block=4,
        gradient_steps_per_collection=args.gradient_steps,
        replay_rows=args.replay_rows,
        prefill_rows=args.prefill_rows,
        epochs=args.epochs,
        collections_per_epoch=args.collections_per_epoch,
        eval_envs=args.eval_envs,
        learning_rate=3e-4,
        logsumexp_penalty=0.1,
        gamma=0.99,
        repr_dim=64,
    )


def prefill_collections(s: dict) -> int:
    return -(-s["prefill_rows"] // s["unroll_length"])


def total_env_steps(s: dict) -> int:
    """Env steps of a run, prefill included, as both codes count them."""
    collections = prefill_collections(s) + s["epochs"] * s["collections_per_epoch"]
    return collections * s["num_envs"] * s["unroll_length"]


def equicrl_config(s: dict, seeds: int, episode_reset: str):
    import equicrl

    per_collection = s["num_envs"] * s["unroll_length"]
    return equicrl.CRLConfig(
        env_name=s["env"],
        num_envs=s["num_envs"],
        unroll_length=s["unroll_length"],
        episode_length=s["episode_length"],
        episode_reset=episode_reset,
        replay_rows=s["replay_rows"],
        prefill_rows=s["prefill_rows"],
        prefill="actor",
        batch_size=s["batch_size"],
        env_steps_per_gradient_step=per_collection / s["gradient_steps_per_collection"],
        actor_lr=s["learning_rate"],
        critic_lr=s["learning_rate"],
        alpha_lr=s["learning_rate"],
        logsumexp_penalty=s["logsumexp_penalty"],
        gamma=s["gamma"],
        repr_dim=s["repr_dim"],
        actor_width=s["width"],
        critic_width=s["width"],
        actor_depth=s["depth"],
        critic_depth=s["depth"],
        layers_per_block=s["layers_per_block"],
        total_env_steps=total_env_steps(s),
        eval_envs=s["eval_envs"],
        seed=0,
        num_seeds=seeds,
    )


def release_flags(s: dict, seed: int) -> list[str]:
    """The release's `train.py` flags for the settings `s`."""
    # The release prefills `min_replay_size * num_envs` env steps (it collects whole
    # unrolls: 17 x 62 rows for 1,000) and trains
    # (total - that) // (epochs * num_envs * unroll) collections per epoch.
    prefill = s["prefill_rows"] * s["num_envs"]
    total = (
        prefill
        + s["epochs"] * s["collections_per_epoch"] * s["num_envs"] * s["unroll_length"]
    )
    return [
        "--env_id", s["env"], "--eval_env_id", s.get("eval_env", s["env"]),
        "--seed", str(seed),
        "--num_envs", str(s["num_envs"]),
        "--unroll_length", str(s["unroll_length"]),
        "--episode_length", str(s["episode_length"]),
        "--batch_size", str(s["batch_size"]),
        "--num_sgd_batches_per_training_step", str(s["gradient_steps_per_collection"]),
        "--critic_network_width", str(s["width"]),
        "--actor_network_width", str(s["width"]),
        "--critic_depth", str(s["depth"]), "--actor_depth", str(s["depth"]),
        "--critic_skip_connections", str(s["layers_per_block"]),
        "--actor_skip_connections", str(s["layers_per_block"]),
        "--max_replay_size", str(s["replay_rows"]),
        "--min_replay_size", str(s["prefill_rows"]),
        "--num_eval_envs", str(s["eval_envs"]),
        "--num_epochs", str(s["epochs"]),
        "--total_env_steps", str(total),
        "--actor_lr", str(s["learning_rate"]), "--critic_lr", str(s["learning_rate"]),
        "--alpha_lr", str(s["learning_rate"]),
        "--logsumexp_penalty_coeff", str(s["logsumexp_penalty"]),
        "--gamma", str(s["gamma"]),
        "--no-track", "--no-checkpoint", "--no-capture-vis",
    ]  # fmt: skip


_EPOCH = re.compile(r"^epoch (\d+) out of (\d+) complete\. metrics: (\{.*\})$")


def _release_metrics(text: str) -> dict:
    """The release's printed metrics dict (its values printed as `Array(x,
    dtype=...)`) as floats."""
    text = re.sub(r"Array\(([^,()]+), dtype=[a-z0-9]+\)", r"\1", text)
    text = re.sub(r"\bnan\b", "None", text)
    return {
        k: (math.nan if v is None else float(v))
        for k, v in ast.literal_eval(text).items()
    }


def run_release_seed(s: dict, seed: int, release: str, python: str, timeout_s: float):
    """One seed of the release's `train.py` in a fresh process: its evaluations."""
    evals, tail = [], []

    def on_line(t: float, gb: float, line: str) -> None:
        nonlocal tail
        tail = (tail + [line])[-3:]
        epoch = _EPOCH.match(line)
        if epoch is None:
            return
        m = _release_metrics(epoch.group(3))
        evals.append(
            dict(
                env_steps=int(m["training/envsteps"]),
                wall_s=t,
                time_at_goal=m["eval/episode_success"],
                success=m["eval/episode_success_any"],
                peak_rss_gb=gb,
            )
        )
        print(
            f"  release seed {seed}: epoch {int(epoch.group(1)) + 1}/"
            f"{epoch.group(2)} at {t:.0f} s, {evals[-1]['env_steps']:,} env steps: "
            f"time at goal {evals[-1]['time_at_goal']:.1f}, success "
            f"{evals[-1]['success']:.2f}",
            file=sys.stderr,
            flush=True,
        )

    cmd, code = run_release(python, release, release_flags(s, seed), timeout_s, on_line)
    if code != 0 or len(evals) < s["epochs"]:
        raise RuntimeError(
            f"the release's seed {seed} stopped after {len(evals)} of {s['epochs']} "
            f"evaluations (exit {code}): {' | '.join(tail)}"
        )
    return dict(seed=seed, command=" ".join(cmd[1:]), evals=evals)


def run_equicrl_point(s: dict, seeds: int, episode_reset: str) -> dict:
    """equicrl's seeds side by side in this process: their evaluations."""
    import equicrl

    config = equicrl_config(s, seeds, episode_reset)
    times: list[float] = []

    def logger(record: dict) -> None:
        times.append(time.perf_counter() - START)

    def log(line: str) -> None:
        print(f"  equicrl ({episode_reset}): {line}", file=sys.stderr, flush=True)

    _, history = equicrl.train(
        config,
        eval_every=s["collections_per_epoch"],
        log=log,
        loggers=[logger],
        outputs=False,
    )
    runs = []
    for i in range(seeds):
        evals = [
            dict(
                env_steps=r["env_steps"],
                wall_s=t,
                time_at_goal=r["seeds"][i]["eval/time_at_goal"]
                if seeds > 1
                else r["eval/time_at_goal"],
                success=r["seeds"][i]["eval/success"]
                if seeds > 1
                else r["eval/success"],
            )
            for r, t in zip(history, times)
            if "eval/success" in r
        ]
        runs.append(dict(seed=i, evals=evals))
    return dict(runs=runs, config=repr(config))


def _t975(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def mean_band(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % t-interval over seeds."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, mean, mean
    se = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)
    return mean, mean - _t975(n) * se, mean + _t975(n) * se


def final_scores(code: dict) -> dict:
    """Each seed's score (the mean of its last 5 evaluations) and their mean +- s.e."""
    out = {}
    for name in METRICS:
        seeds = [
            sum(e[name] for e in run["evals"][-LAST:]) / LAST for run in code["runs"]
        ]
        n = len(seeds)
        mean = sum(seeds) / n
        se = math.sqrt(sum((v - mean) ** 2 for v in seeds) / max(n - 1, 1) / n)
        out[name] = dict(seeds=seeds, mean=mean, stderr=se)
    return out


def welch_interval(a: list[float], b: list[float]) -> dict:
    """The difference of means `mean(a) - mean(b)` and its 95 % Welch t-interval."""
    from scipy import stats

    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1)
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1)
    se = math.sqrt(va / na + vb / nb)
    df = se**4 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)) if se else 1
    half = float(stats.t.ppf(0.975, df)) * se
    d = ma - mb
    return dict(difference=d, low=d - half, high=d + half, df=df)


def mean_curve(code: dict, name: str) -> dict:
    """The mean over seeds at each evaluation, its 95 % t-band, the env steps and
    the wall seconds (one seed's: the mean over seeds of each process's clock, or the
    one program's; all seeds': the release's clocks summed, as its seeds run one
    after another, or the one program's)."""
    runs = code["runs"]
    n = min(len(r["evals"]) for r in runs)
    out = dict(env_steps=[], wall_s=[], wall_all_s=[], mean=[], low=[], high=[])
    for k in range(n):
        m, lo, hi = mean_band([r["evals"][k][name] for r in runs])
        walls = [r["evals"][k]["wall_s"] for r in runs]
        out["env_steps"].append(runs[0]["evals"][k]["env_steps"])
        if code["one_program"]:
            out["wall_s"].append(walls[0])
            out["wall_all_s"].append(walls[0])
        else:
            out["wall_s"].append(sum(walls) / len(walls))
            out["wall_all_s"].append(sum(walls))
        out["mean"].append(m)
        out["low"].append(lo)
        out["high"].append(hi)
    return out


def time_to(curve: dict, level: float) -> dict | None:
    """The first evaluation whose mean reaches `level`: its env steps and wall
    seconds; `None` if none does."""
    for k, m in enumerate(curve["mean"]):
        if m >= level:
            return dict(
                env_steps=curve["env_steps"][k],
                wall_s=curve["wall_s"][k],
                wall_all_s=curve["wall_all_s"][k],
            )
    return None


def summarise(result: dict) -> dict:
    codes = result["codes"]
    level = result["level"]
    summary: dict = {"final": {}, "time_to_level": {}, "difference": {}}
    for name, code in codes.items():
        summary["final"][name] = final_scores(code)
        summary["time_to_level"][name] = time_to(
            mean_curve(code, "time_at_goal"), level
        )
    if "alone" in result and "release" in codes:
        summary["alone"] = alone_summary(result, level)
    if "release" in codes:
        for name in codes:
            if name == "release":
                continue
            summary["difference"][name] = {
                metric: welch_interval(
                    summary["final"][name][metric]["seeds"],
                    summary["final"]["release"][metric]["seeds"],
                )
                for metric in METRICS
            }
            ours, theirs = (
                summary["time_to_level"][name],
                summary["time_to_level"]["release"],
            )
            if ours and theirs:
                summary["time_to_level"][f"{name}_speedup"] = dict(
                    one_seed=theirs["wall_s"] / ours["wall_s"],
                    all_seeds=theirs["wall_all_s"] / ours["wall_all_s"],
                )
    return summary


def _rate(evals: list[dict]) -> float:
    """Env steps per wall second between a run's first and last evaluation (its
    steady rate, evaluations included, compilation left out)."""
    first, last = evals[0], evals[-1]
    return (last["env_steps"] - first["env_steps"]) / (last["wall_s"] - first["wall_s"])


def alone_summary(result: dict, level: float) -> dict:
    """Seed 0 of each code alone in its process: the release's first process and
    equicrl's run of seed 0 alone (the release's resets): when each first reached
    `level`, their steady rates, and the ratios."""
    theirs = result["codes"]["release"]["runs"][0]["evals"]
    ours = result["alone"]["runs"][0]["evals"]

    def reach(evals):
        return next((e for e in evals if e["time_at_goal"] >= level), None)

    out = {
        "release": {"reached": reach(theirs), "rate": _rate(theirs)},
        "equicrl_first": {"reached": reach(ours), "rate": _rate(ours)},
    }
    out["rate_ratio"] = out["equicrl_first"]["rate"] / out["release"]["rate"]
    if out["release"]["reached"] and out["equicrl_first"]["reached"]:
        out["time_ratio"] = (
            out["release"]["reached"]["wall_s"]
            / out["equicrl_first"]["reached"]["wall_s"]
        )
    return out


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alone = "alone" in result and "release" in result["codes"]
    fig, axes = plt.subplots(2, 3 if alone else 2, figsize=(16 if alone else 11, 7.5))
    n = len(next(iter(result["codes"].values()))["runs"])
    if alone:
        # Seed 0 alone in its process: the release's first, equicrl's own run.
        for row, metric in enumerate(METRICS):
            ax = axes[row, 2]
            for name, evals in (
                ("release", result["codes"]["release"]["runs"][0]["evals"]),
                ("equicrl_first", result["alone"]["runs"][0]["evals"]),
            ):
                ax.plot(
                    [e["wall_s"] for e in evals],
                    [e[metric] for e in evals],
                    color=COLOURS[name],
                    label=f"{LABELS[name]}, seed 0 alone",
                )
            ax.set_xlabel("wall seconds, seed 0 alone in its process")
        axes[0, 2].legend(fontsize=8)
    for row, metric in enumerate(METRICS):
        for name, code in result["codes"].items():
            curve = mean_curve(code, metric)
            for col, (x, xlabel) in enumerate(
                (
                    (curve["env_steps"], "env steps"),
                    (curve["wall_all_s"], f"wall seconds for all {n} seeds"),
                )
            ):
                ax = axes[row, col]
                ax.plot(x, curve["mean"], color=COLOURS[name], label=LABELS[name])
                ax.fill_between(
                    x, curve["low"], curve["high"], color=COLOURS[name], alpha=0.2
                )
                ax.set_xlabel(xlabel)
                ax.set_ylabel(
                    f"time at goal (of {result['settings']['episode_length']} steps)"
                    if metric == "time_at_goal"
                    else "success (episodes reaching the goal)"
                )
        if metric == "time_at_goal":
            for ax in axes[row]:
                ax.axhline(result["level"], color="grey", linestyle=":", linewidth=1)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(
        f"{result['settings']['env']}: mean over {n} seeds, 95 % t-intervals "
        "(release: one process per seed, one after another; equicrl: the seeds "
        "side by side in one program)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(result: dict) -> str:
    """The comparison as Markdown."""
    s = result["summary"]
    level = result["level"]
    lines = [
        "| code | time at goal, final (mean +- s.e.) | each seed | success, final | "
        "each seed | wall s to time at goal >= "
        f"{level:g} (one seed / all seeds) |",
        "|---|---:|---|---:|---|---:|",
    ]
    for name in result["codes"]:
        f = s["final"][name]
        t = s["time_to_level"][name]
        reach = (
            "not reached" if t is None else f"{t['wall_s']:.0f} / {t['wall_all_s']:.0f}"
        )
        lines.append(
            f"| {LABELS[name]} | {f['time_at_goal']['mean']:.1f} +- "
            f"{f['time_at_goal']['stderr']:.1f} | "
            + ", ".join(f"{v:.0f}" for v in f["time_at_goal"]["seeds"])
            + f" | {f['success']['mean']:.2f} +- {f['success']['stderr']:.2f} | "
            + ", ".join(f"{v:.2f}" for v in f["success"]["seeds"])
            + f" | {reach} |"
        )
    for name, diff in s["difference"].items():
        d = diff["time_at_goal"]
        e = diff["success"]
        lines.append("")
        lines.append(
            f"{LABELS[name]} - release: time at goal {d['difference']:+.1f} "
            f"(95 % Welch interval {d['low']:+.1f} to {d['high']:+.1f}); success "
            f"{e['difference']:+.3f} ({e['low']:+.3f} to {e['high']:+.3f})."
        )
        sp = s["time_to_level"].get(f"{name}_speedup")
        if sp:
            lines.append(
                f"Time to time at goal >= {level:g}: {sp['one_seed']:.2f}x faster for "
                f"one seed, {sp['all_seeds']:.2f}x for all seeds."
            )
    alone = s.get("alone")
    if alone:
        r, e = alone["release"], alone["equicrl_first"]

        def when(x):
            got = x["reached"]
            if got is None:
                return "never"
            return f"at {got['wall_s']:.0f} s ({got['env_steps']:,} env steps)"

        lines.append("")
        lines.append(
            f"Seed 0 alone in its process (the release's first process; equicrl's "
            f"seed 0 run by itself, the release's resets): time at goal >= "
            f"{level:g} reached {when(r)} by the release, {when(e)} by equicrl"
            + (f": {alone['time_ratio']:.2f}x faster" if "time_ratio" in alone else "")
            + f"; steady rate {r['rate']:.0f} against {e['rate']:.0f} env steps/s "
            f"({alone['rate_ratio']:.2f}x)."
        )
    return "\n".join(lines)


def write(result: dict, out: Path) -> None:
    complete = all(len(c["runs"]) == result["seeds"] for c in result["codes"].values())
    if complete and result["codes"]:
        result["summary"] = summarise(result)
    out.write_text(json.dumps(result, indent=1) + "\n")
    if complete and result["codes"]:
        plot(result, out.with_suffix(".png"))
        print(table(result))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--env", default="reacher")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--unroll-length", type=int, default=62)
    p.add_argument("--episode-length", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--gradient-steps", type=int, default=124,
                   help="gradient steps per collection (the release's "
                   "--num_sgd_batches_per_training_step)")  # fmt: skip
    p.add_argument("--replay-rows", type=int, default=10_000)
    p.add_argument("--prefill-rows", type=int, default=1_000)
    p.add_argument("--epochs", type=int, default=30, help="evaluations")
    p.add_argument("--collections-per-epoch", type=int, default=5)
    p.add_argument("--eval-envs", type=int, default=32)
    p.add_argument("--level", type=float, default=200.0,
                   help="time at goal whose first reach is timed")  # fmt: skip
    p.add_argument("--codes", nargs="+", default=list(CODES), choices=CODES)
    p.add_argument("--no-alone", dest="alone", action="store_false",
                   help="skip equicrl's seed 0 alone (one-seed timing)")  # fmt: skip
    p.add_argument("--release", help="the release's checkout")
    p.add_argument("--release-python", help="a Python with the release's pins")
    p.add_argument("--release-timeout", type=float, default=4 * 3600)
    p.add_argument("--out", help="the JSON (default results/reproduce_ENV.json)")
    p.add_argument("--replot", action="store_true",
                   help="redraw the PNG and print the tables from the JSON")  # fmt: skip # noqa: E501
    p.add_argument("--code", choices=CODES[1:], help=argparse.SUPPRESS)
    args = p.parse_args()
    out = Path(args.out) if args.out else RESULTS / f"reproduce_{args.env}.json"
    if args.code:  # one equicrl code, in a fresh process (see below)
        s = json.loads(sys.stdin.read())
        point = run_equicrl_point(s, args.seeds, args.code.split("_", 1)[1])
        print(json.dumps(point))
        return
    if args.replot:
        result = json.loads(out.read_text())
        write(result, out)
        return
    if "release" in args.codes and not (args.release and args.release_python):
        p.error("the release's code needs --release and --release-python")
    s = settings(args)
    result = json.loads(out.read_text()) if out.exists() else None
    if result is None or result["settings"] != s or result["seeds"] != args.seeds:
        result = dict(
            settings=s,
            seeds=args.seeds,
            level=args.level,
            statistics="95 % t-intervals over seeds (mean +- t(0.975, N-1) s.e.); "
            "the difference of final scores: Welch's t-interval",
            command="python benchmarks/reproduce_release.py " + " ".join(sys.argv[1:]),
            machine=machine(),
            total_env_steps=total_env_steps(s),
            date=time.strftime("%Y-%m-%d"),
            codes={},
        )
    result["level"] = args.level
    for name in args.codes:
        code = result["codes"].get(name)
        if code and len(code["runs"]) == args.seeds:
            print(f"{name}: in {out} already", file=sys.stderr)
            continue
        if name == "release":
            code = code or dict(one_program=False, runs=[])
            for seed in range(len(code["runs"]), args.seeds):
                code["runs"].append(
                    run_release_seed(
                        s, seed, args.release, args.release_python, args.release_timeout
                    )
                )
                result["codes"][name] = code
                write(result, out)  # each finished seed kept
        else:
            point = _equicrl_process(name, args.seeds, s)
            result["codes"][name] = dict(one_program=True, **point)
        write(result, out)
    if args.alone and "alone" not in result:
        # equicrl's seed 0 alone in its process, as each of the release's seeds is:
        # the one-seed timing (its score is not in the comparison of scores).
        point = _equicrl_process("equicrl_first", 1, s)
        result["alone"] = dict(one_program=True, **point)
        write(result, out)


def _equicrl_process(name: str, seeds: int, s: dict) -> dict:
    """One equicrl code in a fresh process (its clock starts at 0, as the release's
    processes' do)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--code", name, "--seeds", str(seeds)],
        input=json.dumps(s),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
