"""`benchmarks/sweep.py` with its points as jobs (submitit): the local executor gives
the in-process sweep's results, a preempted job is requeued and resumes its run to
the same end, and the SLURM submission has the settings asked for."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


ROOT = Path(__file__).parents[1]
SWEEP = ROOT / "benchmarks" / "sweep.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

# The tests' tiny point-maze run (`helpers.tiny_config`), 40 epochs of 40 gradient
# steps, two seeds side by side; two points.
TINY = [
    "num_envs=16", "unroll_length=10", "episode_length=20", "replay_rows=100",
    "prefill_rows=20", "batch_size=32", "env_steps_per_gradient_step=4",
    "actor_width=16", "critic_width=16", "repr_dim=8", "eval_envs=8",
    f"total_env_steps={20 * 16 + 40 * 160}",
]  # fmt: skip
COMMON = ["--preset", "depth", "--seeds", "2", "--eval-every", "5", "--set", *TINY]


def _env(tmp_path) -> dict:
    return {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache"),
        **os.environ,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "PYTHONUNBUFFERED": "1",
    }


def _sweep(tmp_path, name, *args, executor="inprocess"):
    """The sweep as a user runs it, in its own process: (process, runs, JSON)."""
    runs, out = tmp_path / name, tmp_path / f"sweep_{name}"
    command = [sys.executable, str(SWEEP), *COMMON, "--name", name, "--runs",
               str(runs), "--out", str(out), "--executor", executor, *args]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    return process, runs, out.with_suffix(".json")


def _points(json_path: Path) -> list[dict]:
    """The points' results, less what depends on the process (times, paths)."""
    points = json.loads(json_path.read_text())["points"]
    drop = {"wall_s", "resumed", "steady_sps", "run_dir"}
    return [{k: v for k, v in p.items() if k not in drop} for p in points]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweeps")
    process, runs, json_path = _sweep(tmp, "inproc", "--grid", "batch_size=16,32")
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    return tmp, runs, json_path, out


@pytest.mark.slow
def test_local_jobs_give_the_in_process_sweep(in_process):
    tmp, _, expected, _ = in_process
    process, runs, got = _sweep(
        tmp, "local", "--grid", "batch_size=16,32", executor="local"
    )
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    assert _points(got) == _points(expected)
    assert len(_points(got)) == 2
    # Each point its own job, its own folder, its own run directory.
    jobs = json.loads((runs / "submitit" / "jobs.json").read_text())
    assert set(jobs) == {"batch_size=16", "batch_size=32"}
    assert len(set(jobs.values())) == 2
    for job in jobs.values():
        assert (runs / "submitit" / job).is_dir()
    # Run again: nothing is recomputed, nothing submitted.
    again = subprocess.run(
        [sys.executable, str(SWEEP), *COMMON, "--name", "local", "--runs", str(runs),
         "--out", str(got.with_suffix("")), "--executor", "local",
         "--grid", "batch_size=16,32"],
        capture_output=True, text=True, env=_env(tmp), cwd=tmp, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "submitted" not in again.stdout
    assert _points(got) == _points(expected)


@pytest.mark.slow
def test_a_preempted_job_is_requeued_and_resumes_to_the_same_end(in_process):
    tmp, expected_runs, expected, _ = in_process
    process, runs, got = _sweep(
        tmp, "preempted", "--grid", "batch_size=16", executor="local"
    )
    # SIGTERM to the job (its controller forwards it to the run's process) once
    # the run has trained a few epochs.
    metrics = runs / "batch_size_16" / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the job's run never started: " + process.communicate()[0])
    (job,) = json.loads((runs / "submitit" / "jobs.json").read_text()).values()
    os.kill(int(job), signal.SIGTERM)
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    log = (runs / "submitit" / job / f"{job}_0_log.out").read_text()
    assert "received SIGTERM: saved a checkpoint of epoch" in log
    (stopped,) = [int(x.split()[0]) for x in log.split("checkpoint of epoch ")[1:]]
    assert 3 <= stopped < 40
    assert f"at epoch {stopped}" in log  # the requeued job resumed there
    # The same end as the uninterrupted run: the point's results and its run.
    assert _points(got) == _points(expected)[:1]
    done = [json.loads(x) for x in metrics.read_text().splitlines()]
    whole = [
        json.loads(x)
        for x in (expected_runs / "batch_size_16" / "metrics.jsonl")
        .read_text()
        .splitlines()
    ]
    drop = {"sps"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in done] == [
        {k: v for k, v in r.items() if k not in drop} for r in whole
    ]


def test_the_slurm_submission_has_the_settings_asked_for(tmp_path, monkeypatch):
    # No cluster: `sbatch` and `srun` are stand-ins on PATH; sbatch keeps the script
    # submitit generated and answers as SLURM does.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n'
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SUBMITIT_PREEMPT_SIGNAL", raising=False)
    import submitit
    import sweep

    opts = sweep.parse(
        ["--preset", "humanoid-depth", "--executor", "slurm", "--partition", "gpu-a",
         "--gpus-per-job", "4", "--time", "1440", "--cpus-per-job", "16"]
    )  # fmt: skip
    executor = sweep.make_executor(opts, tmp_path / "submitit", "humanoid-depth")
    job = executor.submit(sweep.PointJob(), None, {"depth": 4}, tmp_path, 1, 1)
    assert job.job_id == "4242"
    script = (tmp_path / "submitted.sh").read_text()
    lines = set(script.splitlines())
    for flag in (
        "--partition=gpu-a",
        "--gpus-per-node=4",
        "--time=1440",
        "--cpus-per-task=16",
        "--requeue",
        "--signal=USR1@120",
        "--job-name=sweep-humanoid-depth",
    ):
        assert f"#SBATCH {flag}" in lines, script
    assert "export SUBMITIT_PREEMPT_SIGNAL=USR1" in lines
    assert any(x.startswith("export PYTHONPATH=" + str(SWEEP.parent)) for x in lines)
    # Each job's files in its own folder.
    assert f"#SBATCH --output={tmp_path}/submitit/%j/%j_0_log.out" in lines
    assert isinstance(job, submitit.SlurmJob)
    # Required settings are asked for by name.
    with pytest.raises(SystemExit, match="--partition and --time"):
        sweep.make_executor(sweep.parse(["--executor", "slurm"]), tmp_path / "s", "x")
