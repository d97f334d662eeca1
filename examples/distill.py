"""Distil a trained run's (deep) actor into a small one, to deploy.

    python examples/distill.py --teacher runs/TEACHER                # depth 4
    python examples/distill.py --teacher runs/TEACHER --actor-depth 4 --actor-width 32
    python examples/distill.py --teacher runs/TEACHER --distill-loss action
    python examples/distill.py --resume runs/STUDENT                 # as any run
    python examples/distill.py --eval-only runs/STUDENT

The student starts from the teacher's config (env, envs, seeds, batch, learning
rate), with its own actor (`--actor-depth`, default 4; `--actor-width`, default the
teacher's) and a tenth of the teacher's env steps (`--total-env-steps`). It drives the
envs itself and learns, at every gradient step, to act as the teacher does on a batch
of the states it visited, with the goals it was commanded there (`--distill-loss`:
`kl`, the KL divergence of the two tanh-Gaussian policies, or `action`, the squared
error of the deterministic actions). Every other flag is a config field, as in the
other examples. The run directory is a run like any other; its config.json names the
teacher, and `equicrl.load_run(RUN_DIR).policy()` gives the deployable policy.
"""

import sys

import equicrl
from equicrl._distill import student_config


def _teacher(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--teacher" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--teacher="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    description = __doc__.split("\n")[0]
    teacher = _teacher(argv)
    resumed = any(
        a in ("--resume", "--eval-only", "-h", "--help") or a.startswith("--resume=")
        for a in argv
    )
    if teacher is None and not resumed:
        print(
            "distill.py: error: --teacher RUN_DIR (a trained run to distil) is "
            "required, unless --resume or --eval-only",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if teacher is None:
        # --resume / --eval-only use the run's saved config.
        preset = equicrl.CRLConfig()
    else:
        try:
            preset = student_config(teacher)
        except (OSError, ValueError, TypeError, KeyError) as e:
            print(f"distill.py: error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    return equicrl.train_cli(
        {"student": preset}, description=description, args=argv, prog="distill.py"
    )


if __name__ == "__main__":
    main()
