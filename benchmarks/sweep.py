"""Sweeps over any CRLConfig fields, for the paper's scaling figures: depth, width vs
depth at matched parameter counts, batch size x depth, actor depth x critic depth,
and stitching.

Each point of a sweep is one run of `--seeds` seeds trained side by side in one
compiled program (`CRLConfig.num_seeds`). A seed's score is the paper's: the mean of
its last 5 evaluations of time at goal and of success; a point's is the mean +-
standard error over its seeds, each seed shown. Every point records the parameter
count of its actor and critic. Run directories are kept under `--runs`; a point whose
run directory holds a run is resumed from its checkpoint (a finished one is only read
back), so an interrupted sweep goes on where it stopped. The JSON is rewritten after
every point, and the figure is redrawn from it.

Stitching sweeps (an env `ROBOT_LAYOUT_gen_DISTANCES`) also evaluate every trained
point at every distance along the maze's corridor, `--distance-episodes` episodes per
seed and distance.

    python benchmarks/sweep.py --preset depth                # CPU: the U-maze's depths
    python benchmarks/sweep.py --preset width-depth          # CPU: matched parameters
    python benchmarks/sweep.py --preset humanoid-depth       # the paper's, on a GPU
    python benchmarks/sweep.py --grid depth=4,8 batch_size=128,512 --seeds 2 \\
        --set total_env_steps=200000 --name mine
    python benchmarks/sweep.py --replot benchmarks/results/sweep_depth.json
    python benchmarks/sweep.py --list                        # the presets

`--grid FIELD=V1,V2,...` sweeps the product of the values given; `depth` stands for
`actor_depth` and `critic_depth` together, `width` for both widths. Writes
`results/sweep_NAME.json` (every point: its fields, parameter counts, each seed's
score and curve, mean, standard error, wall time) and `results/sweep_NAME.png`.
"""

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from _common import LAST, machine, RESULTS, score, summarise  # noqa: E402

import equicrl  # noqa: E402


# The CPU presets' base: the main job's settings as they were when the committed
# sweeps ran (the main job's preset has moved on since; the sweeps, and the
# pre-registered stitching test, keep these).
POINT_MAZE = equicrl.CRLConfig(
    env_name="point_maze_u_maze",
    num_envs=64,
    unroll_length=50,
    episode_length=200,
    replay_rows=2_000,
    prefill_rows=200,
    batch_size=256,
    env_steps_per_gradient_step=20,
    repr_dim=32,
    actor_width=64,
    critic_width=64,
    total_env_steps=1_000_000,
    eval_envs=128,
)
# The paper's humanoid settings (512 envs, batch 512, width 256, 100M env steps).
HUMANOID = equicrl.CRLConfig(env_name="humanoid", total_env_steps=100_000_000)
ALIASES = {
    "depth": ("actor_depth", "critic_depth"),
    "width": ("actor_width", "critic_width"),
}


@dataclasses.dataclass(frozen=True)
class Preset:
    """A sweep: a base config, its points (dicts of fields, aliases allowed), the
    x axis of its figure (a field, or "params") and the field its lines follow."""

    help: str
    base: equicrl.CRLConfig
    points: tuple[dict, ...]
    x: str
    lines: str | None = None
    seeds: int = 3
    eval_every: int = 10


def grid(**values) -> tuple[dict, ...]:
    """The points of the product of `values` (field -> values), in order."""
    names = list(values)
    return tuple(dict(zip(names, v)) for v in itertools.product(*values.values()))


STITCHING_U = POINT_MAZE.replace(
    env_name="point_maze_u_maze_gen_1f2f3f",
    episode_length=100,
    total_env_steps=300_000,
)

PRESETS = {
    "depth": Preset(
        "CPU: the paper's depth figure on the main job's U-maze (500k env steps): "
        "depths 4, 8, 16, 32 of actor and critic.",
        POINT_MAZE.replace(total_env_steps=500_000),
        grid(depth=(4, 8, 16, 32)),
        x="depth",
    ),
    "depth-u4": Preset(
        "CPU: depth 4 against 8 on the U-maze of 4 rows (point_maze_u4_maze, "
        "300-step episodes, 600k env steps).",
        POINT_MAZE.replace(
            env_name="point_maze_u4_maze", episode_length=300, total_env_steps=600_000
        ),
        grid(depth=(4, 8)),
        x="depth",
    ),
    "width-depth": Preset(
        "CPU: the paper's width vs depth at matched parameter counts, on the "
        "U-maze (500k env steps): width 64 at depths 4, 8, 16 against depth 4 at "
        "the widths that match depth 8's and depth 16's parameters (90: 108k against "
        "109k; 128: 212k against 211k).",
        POINT_MAZE.replace(total_env_steps=500_000),
        (
            dict(depth=4, width=64),
            dict(depth=8, width=64),
            dict(depth=16, width=64),
            dict(depth=4, width=90),
            dict(depth=4, width=128),
        ),
        x="params",
        lines="scaled",
    ),
    "batch-depth": Preset(
        "CPU: batch size x depth on the U-maze (500k env steps): batches 64, 256, "
        "1024 at depths 4 and 16.",
        POINT_MAZE.replace(total_env_steps=500_000),
        grid(depth=(4, 16), batch_size=(64, 256, 1024)),
        x="batch_size",
        lines="depth",
    ),
    "actor-critic": Preset(
        "CPU: actor depth x critic depth on the U-maze (500k env steps): 4 and 16 "
        "each.",
        POINT_MAZE.replace(total_env_steps=500_000),
        grid(actor_depth=(4, 16), critic_depth=(4, 16)),
        x="critic_depth",
        lines="actor_depth",
    ),
    "stitching": Preset(
        "CPU: the paper's stitching test on point_maze_u_maze_gen_1f2f3f (trained on "
        "start-goal pairs 1 to 3 cells apart along the corridor, 100-step episodes, "
        "300k env steps), depths 4, 16, 32; every depth evaluated at distances 1-6.",
        STITCHING_U,
        grid(depth=(4, 16, 32)),
        x="depth",
    ),
    "humanoid-depth": Preset(
        "GPU: the paper's humanoid depth figure, depths 4 to 64 (100M env steps each, "
        "hours per depth).",
        HUMANOID,
        grid(depth=(4, 8, 16, 32, 64)),
        x="depth",
    ),
    "humanoid-width-depth": Preset(
        "GPU: the paper's width vs depth on the humanoid: width 256 at depths 4 to "
        "32 against depth 4 at widths 512, 1024, 2048 (~35M parameters).",
        HUMANOID,
        (
            *grid(depth=(4, 8, 16, 32), width=(256,)),
            *grid(depth=(4,), width=(512, 1024, 2048)),
        ),
        x="params",
        lines="scaled",
    ),
    "humanoid-batch-depth": Preset(
        "GPU: batch size x depth on the humanoid (batches 256, 512, 1024 are this "
        "preset's choice; the paper's finding: batch pays more as depth grows).",
        HUMANOID,
        grid(depth=(4, 16, 64), batch_size=(256, 512, 1024)),
        x="batch_size",
        lines="depth",
    ),
    "ant-big-maze-actor-critic": Preset(
        "GPU: actor depth x critic depth on ant_big_maze (the paper: the actor's "
        "depth matters more there).",
        equicrl.CRLConfig(env_name="ant_big_maze", total_env_steps=100_000_000),
        grid(actor_depth=(4, 16, 64), critic_depth=(4, 16, 64)),
        x="critic_depth",
        lines="actor_depth",
    ),
    "ant-stitching": Preset(
        "GPU: the paper's stitching test, ant_u_maze_gen_1f2f3f, depths 4 and 64, "
        "evaluated at distances 1-6.",
        equicrl.CRLConfig(env_name="ant_u_maze_gen_1f2f3f", total_env_steps=50_000_000),
        grid(depth=(4, 64)),
        x="depth",
    ),
}


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _fields() -> set[str]:
    return {f.name for f in dataclasses.fields(equicrl.CRLConfig)}


def expand(point: dict) -> dict:
    """A point's CRLConfig fields, aliases expanded; unknown names refused."""
    out = {}
    for name, value in point.items():
        for field in ALIASES.get(name, (name,)):
            if field not in _fields():
                raise SystemExit(
                    f"unknown CRLConfig field {field!r}; aliases: "
                    + ", ".join(f"{a} ({' and '.join(f)})" for a, f in ALIASES.items())
                )
            out[field] = value
    return out


def label(point: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items())


def parameter_counts(config: equicrl.CRLConfig) -> dict:
    """The number of parameters of a run's actor and critic (of one seed), counted
    on shapes alone: nothing is allocated or compiled."""
    import equinox as eqx
    import jax
    import jax.random as jr

    from equicrl.training._state import make_networks, make_parts

    parts = make_parts(config.replace(num_seeds=1, num_devices=1))
    actor, critic = eqx.filter_eval_shape(make_networks, parts, jr.key(0))

    def count(module):
        return sum(
            x.size
            for x in jax.tree.leaves(module)
            if isinstance(x, jax.ShapeDtypeStruct)
            and jax.numpy.issubdtype(x.dtype, jax.numpy.inexact)
        )

    a, c = count(actor), count(critic)
    return dict(actor=a, critic=c, total=a + c)


def parse(args=None) -> argparse.Namespace:
    listing = "\n".join(f"  {name}: {p.help}" for name, p in PRESETS.items())
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="presets:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", choices=list(PRESETS), default="depth")
    parser.add_argument(
        "--grid",
        metavar="FIELD=V1,V2",
        nargs="+",
        help="sweep the product of these values instead of the preset's points "
        "(on the preset's base config)",
    )
    parser.add_argument("--seeds", type=int, help="seeds per point (default: 3)")
    parser.add_argument("--eval-every", type=int)
    parser.add_argument(
        "--set",
        metavar="FIELD=VALUE",
        nargs="+",
        default=[],
        help="change base CRLConfig fields, e.g. --set total_env_steps=200000",
    )
    parser.add_argument(
        "--distance-episodes",
        type=int,
        default=256,
        help="stitching sweeps: episodes per seed and distance (default 256)",
    )
    parser.add_argument("--name", help="the sweep's name (default: the preset's)")
    parser.add_argument("--out", type=Path, help="output stem (default: results/...)")
    parser.add_argument("--runs", type=Path, help="run directories (default: runs/)")
    parser.add_argument(
        "--replot", type=Path, metavar="JSON", help="redraw a sweep's figure, no runs"
    )
    parser.add_argument("--list", action="store_true", help="list the presets")
    jobs = parser.add_argument_group(
        "jobs",
        "run each point as a job through submitit (pip install 'equicrl[cluster]'): "
        "`local` (a process each, on this machine) or `slurm`. A job that is "
        "preempted or reaches its time limit checkpoints and is requeued, and resumes "
        "its run; a point that finished is not run again.",
    )
    jobs.add_argument(
        "--executor", choices=("inprocess", "local", "slurm"), default="inprocess",
        help="inprocess (default): the points one after another in this process",
    )  # fmt: skip
    jobs.add_argument("--partition", help="SLURM partition (required for slurm)")
    jobs.add_argument(
        "--time", type=int, metavar="MIN",
        help="each job's time limit in minutes (required for slurm)",
    )  # fmt: skip
    jobs.add_argument("--gpus-per-job", type=int, help="GPUs of each job's node")
    jobs.add_argument("--cpus-per-job", type=int, help="CPUs of each job")
    jobs.add_argument(
        "--signal-delay", type=int, default=120, metavar="S",
        help="SLURM signals a job this many seconds before its time limit "
        "(default 120): time to finish the epoch and write a checkpoint",
    )  # fmt: skip
    return parser.parse_args(args)


def distance_scores(run: "equicrl.Run", episodes: int) -> dict:
    """A stitching run evaluated at every distance of its corridor: per distance,
    each seed's time at goal and success, and their mean +- s.e. over seeds."""
    out = {}
    for k, seeds in run.evaluate_distances(num_episodes=episodes).items():
        per_seed = [
            dict(time_at_goal=s["time_at_goal"], success=s["success"]) for s in seeds
        ]
        out[str(k)] = {**summarise(per_seed), "seeds": per_seed}
    return out


def point_dir(runs: Path, point: dict) -> Path:
    return runs / label(point).replace("=", "_").replace(",", "-")


def train_point(
    base, point, runs: Path, eval_every: int, distance_episodes: int, preemption=None
) -> dict:
    """Train (or resume, or read back) one point; its result is also written to its
    run directory's `point.json`, from which a later sweep reads it back."""
    config = base.replace(**expand(point))
    run_dir = point_dir(runs, point)
    # A run directory is never replaced: one this sweep started is resumed (from
    # the start if it was stopped before its first checkpoint).
    resume = (run_dir / "config.json").exists()
    start = time.perf_counter()
    _, history = equicrl.train(
        config,
        run_dir=run_dir,
        eval_every=eval_every,
        checkpoint_every=eval_every,
        resume=resume,
        preemption=preemption,
    )
    wall = time.perf_counter() - start
    seeds = config.num_seeds
    per_seed = [score(history, i if seeds > 1 else None) for i in range(seeds)]
    for i, s in enumerate(per_seed):
        s["seed"] = config.seed + i
    out = {
        "point": point,
        "fields": expand(point),
        "params": parameter_counts(config),
        **summarise(per_seed),
        "seeds": per_seed,
        # Of this invocation: a resumed run's earlier epochs are not counted.
        "wall_s": round(wall, 1),
        "resumed": resume,
        "steady_sps": round(history[-1]["sps"]),
        "run_dir": str(run_dir),
    }
    if "_gen_" in config.env_name:
        out["distances"] = distance_scores(equicrl.load_run(run_dir), distance_episodes)
    stamp = dict(config=json.loads(json.dumps(dataclasses.asdict(config))))
    stamp.update(eval_every=eval_every, distance_episodes=distance_episodes)
    (run_dir / POINT_FILE).write_text(json.dumps({**stamp, "result": out}) + "\n")
    return out


POINT_FILE = "point.json"


def finished_point(base, point, runs: Path, eval_every: int, episodes: int):
    """The result a finished point left in its run directory, if it was made with
    the same config, evaluation interval and distance episodes; else `None`."""
    path = point_dir(runs, point) / POINT_FILE
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    config = base.replace(**expand(point))
    same = saved["config"] == json.loads(json.dumps(dataclasses.asdict(config)))
    if not same or (saved["eval_every"], saved["distance_episodes"]) != (
        eval_every,
        episodes,
    ):
        return None
    return saved["result"]


def main(args=None) -> dict:
    opts = parse(args)
    if opts.list:
        for name, p in PRESETS.items():
            print(f"{name}: {p.help}")
        return {}
    if opts.replot is not None:
        results = json.loads(opts.replot.read_text())
        plot(results, opts.replot.with_suffix(".png"))
        print(f"wrote {opts.replot.with_suffix('.png')}")
        return results
    preset = PRESETS[opts.preset]
    changes = dict(kv.split("=", 1) for kv in opts.set)
    base = preset.base.replace(**expand({k: _value(v) for k, v in changes.items()}))
    points, x, lines = preset.points, preset.x, preset.lines
    if opts.grid:
        values = {}
        for item in opts.grid:
            name, _, text = item.partition("=")
            expand({name: None})  # refuses unknown names
            values[name] = [_value(v) for v in text.split(",")]
        points = grid(**values)
        x = list(values)[0]
        lines = list(values)[1] if len(values) > 1 else None
    seeds = opts.seeds or preset.seeds
    base = base.replace(num_seeds=seeds)
    name = opts.name or opts.preset + ("-grid" if opts.grid else "")
    out = opts.out or RESULTS / f"sweep_{name}"
    runs = opts.runs or Path("runs") / f"sweep_{name}"
    results = {
        "command": "python benchmarks/sweep.py " + " ".join(args or sys.argv[1:]),
        "name": name,
        "help": preset.help if not opts.grid else "a --grid sweep",
        "config": dataclasses.asdict(base),
        "x": x,
        "lines": lines,
        "eval_every": opts.eval_every or preset.eval_every,
        "episode_length": base.episode_length,
        "score": f"mean of the last {LAST} evaluations per seed",
        "machine": machine(),
        "points": [],
    }
    from equicrl.runs._rundir import num_epochs

    evals = -(-num_epochs(base) // results["eval_every"])
    if evals < LAST:
        raise SystemExit(
            f"each run makes {evals} evaluations ({num_epochs(base)} epochs, one "
            f"every {results['eval_every']}); a score needs {LAST}: lower "
            "--eval-every or raise total_env_steps"
        )
    json_path = out.with_suffix(".json")
    finished = {}

    def done(point: dict, r: dict) -> None:
        """Report a finished point; the JSON and figure hold the points finished so
        far, in the sweep's order."""
        finished[label(point)] = r
        results["points"] = [finished[k] for k in map(label, points) if k in finished]
        print(
            f"{label(point)} ({r['params']['total']:,} parameters): time at goal "
            f"{r['time_at_goal']:.1f} ± {r['time_at_goal_stderr']:.1f}, success "
            f"{r['success']:.2f} ± {r['success_stderr']:.2f} ({seeds} seeds, "
            f"{r['wall_s'] / 60:.1f} min)",
            flush=True,
        )
        for k, d in r.get("distances", {}).items():
            print(
                f"  distance {k}: success {d['success']:.2f} ± "
                f"{d['success_stderr']:.2f}, time at goal {d['time_at_goal']:.1f}",
                flush=True,
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1) + "\n")
        plot(results, out.with_suffix(".png"))

    job_args = (runs, results["eval_every"], opts.distance_episodes)
    failed = []
    if opts.executor == "inprocess":
        for point in points:
            r = finished_point(base, point, *job_args)
            done(point, r or train_point(base, point, *job_args))
    else:
        failed = run_jobs(base, points, job_args, opts, name, done)
    if results["points"]:
        print(f"wrote {json_path} and {out.with_suffix('.png')}")
    if failed:
        raise SystemExit(
            f"{len(failed)} of {len(points)} points failed ({', '.join(failed)}); "
            "run the same command again to resubmit them"
        )
    return results


# Jobs: --executor local or slurm (submitit).


class PointJob:
    """One point as a submitit job: `train_point` with the run's own preemption
    handling. On SIGTERM or SIGUSR1 the run finishes its gradient step, checkpoints
    and stops; the job then hands the signal to submitit (as
    `SUBMITIT_PREEMPT_SIGNAL`, USR1), whose handler calls `checkpoint` and requeues
    the job, which resumes the run from its checkpoint."""

    def __call__(self, *args):
        import signal

        try:
            return train_point(*args, preemption=True)
        except equicrl.Preempted:
            signal.raise_signal(getattr(signal, "SIG" + preempt_signal()))
            raise

    def checkpoint(self, *args):
        # What submitit requeues: the same call, which resumes the run directory.
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args)


def preempt_signal() -> str:
    """The signal submitit requeues on (SLURM's `--signal`), which the runs handle
    too: USR1 unless `SUBMITIT_PREEMPT_SIGNAL` says otherwise."""
    import os

    return os.environ.setdefault("SUBMITIT_PREEMPT_SIGNAL", "USR1")


def make_executor(opts, folder: Path, name: str):
    """submitit's executor for `--executor`, its jobs' files in `folder/JOB_ID`."""
    import os

    if preempt_signal() not in ("USR1", "TERM"):
        raise SystemExit(
            f"SUBMITIT_PREEMPT_SIGNAL={os.environ['SUBMITIT_PREEMPT_SIGNAL']}: the "
            "runs checkpoint on SIGTERM and SIGUSR1 only; unset it or set USR1"
        )
    try:
        import submitit
    except ImportError:
        raise SystemExit(
            f"--executor {opts.executor} needs submitit: pip install 'equicrl[cluster]'"
        ) from None
    # The jobs import this module (their pickled function lives here).
    here = str(Path(__file__).parent)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = here + (os.pathsep + path if path else "")
    if opts.executor == "local":
        executor = submitit.LocalExecutor(folder=folder / "%j")
        executor.update_parameters(
            timeout_min=opts.time or 7 * 24 * 60,
            signal_delay_s=opts.signal_delay,
        )
        return executor
    missing = [f for f in ("partition", "time") if getattr(opts, f) is None]
    if missing:
        raise SystemExit(
            "--executor slurm needs " + " and ".join(f"--{f}" for f in missing)
        )
    executor = submitit.SlurmExecutor(folder=folder / "%j")
    executor.update_parameters(
        job_name=f"sweep-{name}",
        partition=opts.partition,
        time=opts.time,
        gpus_per_node=opts.gpus_per_job,
        cpus_per_task=opts.cpus_per_job,
        # Requeued on preemption as well as by submitit after a time-out; the
        # signal before the time limit is the one the runs and the job agree on
        # (submitit's own default is USR2, fixed when it is first imported).
        additional_parameters={
            "requeue": True,
            "signal": f"{preempt_signal()}@{opts.signal_delay}",
        },
        setup=[
            f"export SUBMITIT_PREEMPT_SIGNAL={preempt_signal()}",
            f"export PYTHONPATH={os.environ['PYTHONPATH']}",
        ],
    )
    return executor


def run_jobs(base, points, job_args, opts, name, done, poll_s=5.0) -> list[str]:
    """Submit every point not finished yet as a job, report each as it finishes;
    the labels of the points that failed."""
    import sweep  # this module by its name, so that jobs unpickle `PointJob`

    runs = job_args[0]
    folder = runs / "submitit"
    executor = make_executor(opts, folder, name)
    record = folder / "jobs.json"
    known = json.loads(record.read_text()) if record.exists() else {}
    jobs, failed = {}, []
    for point in points:
        key = label(point)
        r = finished_point(base, point, *job_args)
        if r is not None:
            done(point, r)
            continue
        job = None
        if opts.executor == "slurm" and key in known:
            # Submitted by an earlier invocation and still queued or running.
            import submitit

            old = submitit.SlurmJob(folder / "%j", known[key])
            if not old.done():
                job = old
                print(f"{key}: job {job.job_id} already submitted ({job.state})")
        if job is None:
            job = executor.submit(sweep.PointJob(), base, point, *job_args)
            print(f"{key}: submitted job {job.job_id} (output: {job.paths.stdout})")
        known[key] = job.job_id
        folder.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(known, indent=1) + "\n")
        jobs[key] = (point, job)
    try:
        while jobs:
            for key, (point, job) in list(jobs.items()):
                if not job.done():
                    continue
                del jobs[key]
                try:
                    r = job.result()
                except Exception as e:  # the job's error, as submitit reports it
                    why = str(e).strip().splitlines()
                    failed.append(key)
                    print(
                        f"{key}: job {job.job_id} failed: "
                        f"{why[-1] if why else type(e).__name__} (its output: "
                        f"{job.paths.stderr})",
                        flush=True,
                    )
                else:
                    done(point, r)
            if jobs:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        if opts.executor == "slurm":
            print(
                f"stopped waiting; {len(jobs)} jobs go on in the cluster: run the "
                "same command again to collect them",
                file=sys.stderr,
            )
        raise
    return failed


def _x_value(point: dict, x: str):
    if x == "params":
        return point["params"]["total"]
    fields = point["fields"]
    return point["point"].get(x, fields.get(ALIASES.get(x, (x,))[0]))


def _groups(points: list[dict], lines: str | None) -> dict:
    """The lines of a figure: points by the value of the field `lines`; for
    "scaled" (width vs depth), the points at the narrowest width ("depth" grows) and
    those at the shallowest depth ("width" grows), which share their first point."""
    if lines is None:
        return {None: points}
    if lines == "scaled":
        shape = [
            (p["fields"]["actor_depth"], p["fields"]["actor_width"]) for p in points
        ]
        depth0, width0 = min(d for d, _ in shape), min(w for _, w in shape)
        return {
            "depth": [p for p, (_, w) in zip(points, shape) if w == width0],
            "width": [p for p, (d, _) in zip(points, shape) if d == depth0],
        }
    out: dict = {}
    for p in points:
        f = p["fields"]
        key = p["point"].get(lines, f.get(ALIASES.get(lines, (lines,))[0]))
        out.setdefault(key, []).append(p)
    return out


def plot(results: dict, path: Path) -> None:
    """Time at goal and success against the sweep's x, mean ± s.e. (and each seed,
    grey), one line per value of `lines`; stitching sweeps add success against
    distance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, x, lines = results["points"], results["x"], results["lines"]
    stitching = any("distances" in p for p in points)
    fig, axes = plt.subplots(
        1, 3 if stitching else 2, figsize=(13 if stitching else 9, 3.6)
    )
    groups = _groups(points, lines)
    for ax, name, ylabel in (
        (axes[0], "time_at_goal", f"time at goal (of {results['episode_length']})"),
        (axes[1], "success", "success rate"),
    ):
        for key, group in groups.items():
            group = sorted(group, key=lambda p: _x_value(p, x))
            xs = [_x_value(p, x) for p in group]
            for xv, p in zip(xs, group):
                seeds = [s[name] for s in p["seeds"]]
                ax.scatter([xv] * len(seeds), seeds, s=10, color="#999999", zorder=2)
            text = (
                None
                if key is None
                else (f"{key} grows" if lines == "scaled" else f"{lines} {key}")
            )
            ax.errorbar(
                xs,
                [p[name] for p in group],
                yerr=[p[name + "_stderr"] for p in group],
                marker="o",
                capsize=4,
                zorder=3,
                label=text,
            )
            if x == "params":
                for xv, p in zip(xs, group):
                    f = p["fields"]
                    ax.annotate(
                        f"{f['actor_depth']}x{f['actor_width']}",
                        (xv, p[name]),
                        textcoords="offset points",
                        xytext=(4, 4),
                        fontsize=7,
                    )
        ax.set_xscale("log", base=2)
        values = sorted({_x_value(p, x) for p in points})
        if x != "params":
            ax.set_xticks(values, [str(v) for v in values])
        ax.set_xlabel(
            "parameters of actor and critic"
            if x == "params"
            else {"depth": "depth (dense layers of actor and critic encoders)"}.get(
                x, x
            )
        )
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if lines is not None:
            ax.legend(fontsize=7)
    if stitching:
        ax = axes[2]
        trained = results["config"]["env_name"].rsplit("_gen_", 1)[1]
        trained = [int(k) for k in trained.split("f")[:-1]]
        for p in points:
            if "distances" not in p:
                continue
            ks = sorted(p["distances"], key=int)
            ax.errorbar(
                [int(k) for k in ks],
                [p["distances"][k]["success"] for k in ks],
                yerr=[p["distances"][k]["success_stderr"] for k in ks],
                marker="o",
                capsize=4,
                label=label(p["point"]),
            )
        ax.axvspan(min(trained) - 0.5, max(trained) + 0.5, color="#dddddd", zorder=0)
        ax.set_xlabel("start-goal distance along the corridor (grey: trained)")
        ax.set_ylabel("success rate (final checkpoint)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    n = len(points[0]["seeds"]) if points else 0
    fig.suptitle(
        f"{results['config']['env_name']}: mean of the last {LAST} evaluations, "
        f"mean ± s.e. over {n} seeds (grey: each seed)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
