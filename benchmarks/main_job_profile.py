"""Where the main job's time goes: `python examples/point_maze.py`, stage by stage.

Builds the main job's run (the example's `cpu` preset) from the library's own compiled
core (`equicrl.runs._train._programs`), and times each stage as the run does it, on a
warm program (each compiled once, before its timing):

- `import_s`: importing equicrl (process start to the import done);
- `build_s`: the envs, networks and replay buffer (the initial state compiled and run);
- `prefill_s`: the prefill's collections, compiling the collection included;
- `collect_s`, `learn_s`: one epoch's collection (`num_envs x unroll_length` env steps)
  and its gradient steps, median of `--repeats` calls;
- `learn_unchecked_s`: the same gradient steps without the per-step finite checks
  (`equicrl.training._learn.finite_checks` replaced by one constant), so that their
  cost is the difference; the two alternate call by call, so that the machine's
  drift falls on both;
- `eval_s`: one evaluation (`eval_envs` episodes), and `eval_compile_s` its first call;
- `outputs_s`: the learning curve and the trajectories picture at the end.

Then the whole run as these add up: the epochs, the evaluations (every 10 epochs, the
CLI's default, and after the last), the prefill, building and outputs, beside
`--wall`, a measured run of the README's command (its `time` output), if given.

    python benchmarks/main_job_profile.py
    python benchmarks/main_job_profile.py --repeats 20 --wall 150.2

Writes `benchmarks/results/main_job_profile.json` and prints a table.
"""

import time


START = time.perf_counter()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))
from _common import machine, RESULTS  # noqa: E402


def timed(fn, *args):
    import jax

    t = time.perf_counter()
    out = fn(*args)
    jax.block_until_ready(out)
    return out, time.perf_counter() - t


def main(args=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--wall", type=float, help="seconds of a measured main job")
    p.add_argument("--out", type=Path, default=RESULTS / "main_job_profile.json")
    opts = p.parse_args(args)

    import equicrl  # noqa: F401

    imported = time.perf_counter() - START
    import jax.numpy as jnp
    import jax.random as jr
    from point_maze import PRESETS

    import equicrl.training._learn as learn_module
    from equicrl.runs._outputs import write_run_outputs
    from equicrl.runs._train import _evaluate, _programs, make_parts, prefill
    from equicrl.training._state import seed_keys, split_seed_key

    c = PRESETS["cpu"]
    t = time.perf_counter()
    parts = make_parts(c)
    programs = _programs(parts)
    keys = seed_keys(c)
    ts, _ = timed(programs.init, keys)
    build = time.perf_counter() - t
    ts, prefill_s = timed(lambda ts: prefill(programs, ts, c), ts)

    def steady(fn, ts):
        times = []
        for _ in range(opts.repeats + 1):
            ts, dt = timed(fn, ts)
            times.append(dt)
        return ts, times[0], statistics.median(times[1:])

    ts, _, collect_s = steady(lambda ts: programs.collect(jnp.asarray(False), ts), ts)
    real = learn_module.finite_checks
    learn_module.finite_checks = lambda *a: dict(batch_state=jnp.asarray(True))
    try:
        unchecked = _programs(parts)
        ts, _ = timed(lambda ts: unchecked.learn(ts)[0], ts)  # compiled here
    finally:
        learn_module.finite_checks = real
    ts, learn_compile = timed(lambda ts: programs.learn(ts)[0], ts)
    # The two alternate, call by call, so that the machine's drift falls on both.
    checked, plain = [], []
    for _ in range(opts.repeats):
        ts, dt = timed(lambda ts: programs.learn(ts)[0], ts)
        checked.append(dt)
        ts, dt = timed(lambda ts: unchecked.learn(ts)[0], ts)
        plain.append(dt)
    learn_s, learn_unchecked_s = statistics.median(checked), statistics.median(plain)
    eval_keys = split_seed_key(keys)[3]
    _, eval_compile = timed(lambda: _evaluate(parts, ts, eval_keys, 1))
    evals = [timed(lambda: _evaluate(parts, ts, eval_keys, 2 + i))[1] for i in range(3)]
    eval_s = statistics.median(evals)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_run_outputs(
            ts.crl.actor,
            parts.eval_env,
            Path(d),
            [],
            key=jr.fold_in(eval_keys, 0),
            episode_length=c.episode_length,
            log=lambda s: None,
        )
        outputs_s = time.perf_counter() - t

    epochs = c.total_env_steps // c.env_steps_per_collection - c.prefill_collections
    n_evals = epochs // opts.eval_every + (epochs % opts.eval_every != 0)
    parts_s = {
        "collection": epochs * collect_s,
        "gradient steps (the finite checks included)": epochs * learn_s,
        "evaluation": n_evals * eval_s + eval_compile - eval_s,
        "prefill (compiling the collection included)": prefill_s,
        "first epoch's compilation of the gradient steps": learn_compile - learn_s,
        "imports and building": imported + build,
        "pictures at the end": outputs_s,
    }
    total = sum(parts_s.values())
    results = dict(
        command=" ".join(
            ["python benchmarks/main_job_profile.py", *(args or sys.argv[1:])]
        ),
        date=time.strftime("%Y-%m-%d"),
        machine=machine(),
        config=dataclasses.asdict(c),
        epochs=epochs,
        evaluations=n_evals,
        import_s=imported,
        build_s=build,
        prefill_s=prefill_s,
        collect_s=collect_s,
        learn_s=learn_s,
        learn_unchecked_s=learn_unchecked_s,
        learn_compile_s=learn_compile,
        eval_s=eval_s,
        eval_compile_s=eval_compile,
        outputs_s=outputs_s,
        parts_s=parts_s,
        # Not a stage: the gradient steps again, the finite checks replaced by a
        # constant; the checks cost the difference (noise where it is negative).
        unchecked_learning_s=epochs * learn_unchecked_s,
        total_s=total,
        wall_s=opts.wall,
    )
    opts.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    return results


def table(r: dict) -> str:
    """The stages as a Markdown table (the docs show this one, under its source)."""
    rows = [
        f"| {name} | {s:.1f} | {100 * s / r['total_s']:.0f} % |"
        for name, s in r["parts_s"].items()
    ]
    rows += [
        f"| **sum of the stages** | **{r['total_s']:.1f}** | |",
        "| (the gradient steps again, the finite checks replaced by a constant) "
        f"| ({r['unchecked_learning_s']:.1f}) | |",
    ]
    if r.get("wall_s"):
        rows.append(
            f"| a run of the command (median of 10, alone) | {r['wall_s']:.1f} | |"
        )
    return "\n".join(["| stage | seconds | share |", "| --- | ---: | ---: |", *rows])


if __name__ == "__main__":
    main()
