"""Runs the release's `train.py` (github:wang-kevin3290/scaling-crl) unchanged, for a
side-by-side measurement: `benchmarks/train_throughput.py --release DIR` starts it.

This file runs under the release's own environment, not equicrl's: Python 3.11 with
the versions its `pyproject.toml` pins (jax/jaxlib 0.4.23 CPU build, flax 0.7.4,
brax 0.10.1, mujoco 3.2.6, numpy 1.26.4, scipy 1.12.0, wandb 0.17.9, wandb-osh,
tyro, mediapy). Its README asks for two edits inside the installed Brax; instead this
runner makes the one a training run needs at import time, and one more for the reacher:

- brax 0.10.1's `contact.get` calls `mujoco.mjx.ncon`, which mujoco 3.2.6 no longer
  has: it is supplied here as the number of contacts of a fresh `mjx.Data`.
  (The other edit is in Brax's HTML renderer, which `--no-capture-vis` never runs.)
- Only when `--env_id reacher` or `--eval_env_id reacher` is given: the release's
  `envs/reacher.py` sets its timestep with `sys.tree_replace({"opt.timestep":
  0.005})`, but brax 0.10.1's spring pipeline integrates with `sys.dt`, which stays
  at the XML's 0.01; with the gear of 25 it sets, the arm explodes (NaN within 11
  steps, even at zero action). Newer Brax derives `dt` from `opt.timestep`, which is
  what the release means, so after `Reacher.__init__` this runner sets `sys.dt` to
  `sys.opt.timestep` (0.005). Nothing else changes: no other env class is touched,
  and without those flags not even the reacher's (`python release_runner.py
  RELEASE_DIR --check-patches` shows that every other env builds with the same
  `dt` and steps to the same state with and without it).

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


def _patch_ncon() -> None:
    from mujoco import mjx

    if not hasattr(mjx, "ncon"):
        mjx.ncon = lambda model: mjx.make_data(model).ncon


def _patch_reacher_dt() -> None:
    """`sys.dt = sys.opt.timestep` after the release's `Reacher.__init__` (see the
    module's docstring); the release's other envs are left as they are."""
    from envs.reacher import Reacher

    init = Reacher.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.sys = self.sys.replace(dt=self.sys.opt.timestep)

    Reacher.__init__ = patched


def _uses_reacher(flags: list[str]) -> bool:
    for name in ("--env_id", "--eval_env_id"):
        for i, flag in enumerate(flags):
            if flag == f"{name}=reacher" or (
                flag == name and flags[i + 1 : i + 2] == ["reacher"]
            ):
                return True
    return False


def _check_patches(release: str) -> None:
    """Print, for each release env this runner can build cheaply, its `dt` and the
    largest difference of its state after 20 random steps with and without the
    reacher patch; then the reacher's own (finite with the patch)."""
    import importlib

    import jax
    import jax.numpy as jnp
    import numpy as np

    def rollout(cls_path):
        module, name = cls_path.rsplit(".", 1)
        env = getattr(importlib.import_module(module), name)(backend="spring")
        state = jax.jit(env.reset)(jax.random.PRNGKey(0))
        step = jax.jit(env.step)
        key = jax.random.PRNGKey(1)
        for _ in range(20):
            key, sub = jax.random.split(key)
            action = jax.random.uniform(sub, (env.action_size,), minval=-1, maxval=1)
            state = step(state, action)
        return float(env.sys.dt), state.pipeline_state

    others = ["envs.ant.Ant", "envs.humanoid.Humanoid", "envs.half_cheetah.Halfcheetah"]
    before = {name: rollout(name) for name in others}
    unpatched_reacher = rollout("envs.reacher.Reacher")
    _patch_reacher_dt()
    for name in others:
        dt, state = rollout(name)
        # NaN counts as equal to NaN: the release's half_cheetah has the reacher's
        # timestep pattern and goes NaN by itself, with or without the patch.
        same = all(
            np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
            for a, b in zip(
                jax.tree_util.tree_leaves(state),
                jax.tree_util.tree_leaves(before[name][1]),
            )
        )
        finite = all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(state))
        print(
            f"{name}: dt {before[name][0]} -> {dt}; the state after 20 steps "
            f"{'bit for bit the same' if same else 'DIFFERS'} (finite: {finite})"
        )
    dt, state = rollout("envs.reacher.Reacher")
    finite = all(bool(jnp.isfinite(x).all()) for x in jax.tree_util.tree_leaves(state))
    unfinite = all(
        bool(jnp.isfinite(x).all())
        for x in jax.tree_util.tree_leaves(unpatched_reacher[1])
    )
    print(
        f"envs.reacher.Reacher: dt {unpatched_reacher[0]} -> {dt}; finite after 20 "
        f"steps: {unfinite} -> {finite}"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[2] == "--check-patches":
        release = os.path.abspath(sys.argv[1])
        sys.path.insert(0, release)
        _patch_ncon()
        _check_patches(release)
        return
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        sys.exit(
            f"usage: {sys.argv[0]} RELEASE_DIR -- [train.py flags]\n"
            f"       {sys.argv[0]} RELEASE_DIR --check-patches"
        )
    release, flags = os.path.abspath(sys.argv[1]), sys.argv[3:]
    train = os.path.join(release, "train.py")
    if not os.path.isfile(train):
        sys.exit(f"{train} does not exist: RELEASE_DIR is the release's checkout")
    _patch_ncon()
    sys.stdout = _Stamped(sys.stdout)
    sys.path.insert(0, release)
    if _uses_reacher(flags):
        _patch_reacher_dt()
        print("release_runner: reacher patch on: sys.dt = sys.opt.timestep (0.005)")
    sys.argv = [train, *flags]
    runpy.run_path(train, run_name="__main__")


if __name__ == "__main__":
    main()
