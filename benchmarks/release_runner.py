"""Runs the release's `train.py` (github:wang-kevin3290/scaling-crl) unchanged, for a
side-by-side measurement: `benchmarks/train_throughput.py --release DIR` starts it.

This file runs under the release's own environment, not equicrl's: Python 3.11 with
the versions its `pyproject.toml` pins (jax/jaxlib 0.4.23 CPU build, flax 0.7.4,
brax 0.10.1, mujoco 3.2.6, numpy 1.26.4, scipy 1.12.0, wandb 0.17.9, wandb-osh,
tyro, mediapy). Its README asks for two edits inside the installed Brax; instead this
runner makes the one a training run needs at import time:

- brax 0.10.1's `contact.get` calls `mujoco.mjx.ncon`, which mujoco 3.2.6 no longer
  has: it is supplied here as the number of contacts of a fresh `mjx.Data`.
  (The other edit is in Brax's HTML renderer, which `--no-capture-vis` never runs.)

Each line the release prints is echoed with the seconds since this process started
and its peak memory, so the caller can time its stages:

    RELEASE_PYTHON release_runner.py RELEASE_DIR -- [train.py flags]
"""

import os
import resource
import runpy
import sys
import time


START = time.perf_counter()


class _Stamped:
    """A stdout that prefixes each line with `[seconds, peak GB]`."""

    def __init__(self, stream):
        self.stream, self.pending = stream, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            now = time.perf_counter() - START
            self.stream.write(f"[{now:8.1f} s {rss:5.2f} GB] {line}\n")
        self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        sys.exit(f"usage: {sys.argv[0]} RELEASE_DIR -- [train.py flags]")
    release, flags = os.path.abspath(sys.argv[1]), sys.argv[3:]
    train = os.path.join(release, "train.py")
    if not os.path.isfile(train):
        sys.exit(f"{train} does not exist: RELEASE_DIR is the release's checkout")
    from mujoco import mjx

    if not hasattr(mjx, "ncon"):
        mjx.ncon = lambda model: mjx.make_data(model).ncon
    sys.stdout = _Stamped(sys.stdout)
    sys.path.insert(0, release)
    sys.argv = [train, *flags]
    runpy.run_path(train, run_name="__main__")


if __name__ == "__main__":
    main()
