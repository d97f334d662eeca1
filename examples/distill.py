"""Distil a trained run's (deep) actor into a small one, to deploy.

    python examples/distill.py --teacher runs/TEACHER                # depth 4
    python examples/distill.py --teacher runs/TEACHER --actor-depth 4 --actor-width 32
    python examples/distill.py --teacher runs/TEACHER --distill-loss kl
    python examples/distill.py --resume runs/STUDENT                 # as any run
    python examples/distill.py --eval-only runs/STUDENT

The student starts from the teacher's config (env, envs, seeds, batch, learning
rate), with its own actor (`--actor-depth`, default 4; `--actor-width`, default the
teacher's) and a tenth of the teacher's env steps (`--total-env-steps`). It drives the
envs itself and learns, at every gradient step, to act as the teacher does on a batch
of the states it visited, with the goals it was commanded there (`--distill-loss`:
`action`, the squared error of the deterministic actions, or `kl`, the KL divergence
of the two tanh-Gaussian policies). Every other flag is a config field, as in the
other examples. The run directory is a run like any other; its config.json names the
teacher, and `equicrl.load_run(RUN_DIR).policy()` gives the deployable policy.
"""

import json
import sys
from pathlib import Path

import equicrl
from equicrl.runs._rundir import config_from_dict
from equicrl.runs._teacher import student_config


def _value(argv: list[str], flag: str) -> str | None:
    """The value of `flag` in `argv` (`--flag X` or `--flag=X`), or None."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _preset(argv: list[str]) -> equicrl.CRLConfig | None:
    """The config the flags change: the student of `--teacher`, or the saved config
    of the run that `--resume` or `--eval-only` names (None: no such run; the command
    line then says what is wrong)."""
    teacher = _value(argv, "--teacher")
    if teacher is not None:
        return student_config(teacher)
    for flag in ("--resume", "--eval-only"):
        run = _value(argv, flag)
        if run is not None and (Path(run) / "config.json").exists():
            meta = json.loads((Path(run) / "config.json").read_text())
            return config_from_dict(meta["config"])
    return None


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    description = __doc__.split("\n")[0]
    given = {a.split("=", 1)[0] for a in argv}
    if not given & {"--teacher", "--resume", "--eval-only", "-h", "--help"}:
        print(
            "distill.py: error: --teacher RUN_DIR (a trained run to distil) is "
            "required, unless --resume or --eval-only",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        preset = _preset(argv) or equicrl.CRLConfig()
    except (OSError, ValueError, TypeError, KeyError) as e:
        print(f"distill.py: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    return equicrl.train_cli(
        {"student": preset}, description=description, args=argv, prog="distill.py"
    )


if __name__ == "__main__":
    main()
