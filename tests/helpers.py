"""Small shared test utilities (no equicrl import at module level is needed here)."""

import functools

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np


def float_arrays(shape, *, low=-3.0, high=3.0):
    """Finite float32 arrays with no subnormals, in a moderate range."""
    return hnp.arrays(
        np.float32,
        shape,
        elements=st.floats(
            low,
            high,
            width=32,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=False,
        ),
    )


seeds = st.integers(0, 2**31 - 1)


def tiny_config(epochs):
    """The tests' tiny point-maze run: a prefill of 2 collections of 16 envs x 10
    steps, then `epochs` epochs of 160 env steps; compiles and runs in seconds."""
    import equicrl

    return equicrl.CRLConfig(
        env_name="point_maze_u_maze",
        num_envs=16,
        unroll_length=10,
        episode_length=20,
        replay_rows=100,
        prefill_rows=20,
        batch_size=32,
        env_steps_per_gradient_step=10,
        actor_width=16,
        critic_width=16,
        repr_dim=8,
        total_env_steps=20 * 16 + epochs * 160,
        eval_envs=8,
    )


def run_cli(presets, args, capsys, *, prog=None):
    """Run `equicrl.train_cli` in this process: (exit status, stdout, stderr)."""
    import equicrl

    try:
        equicrl.train_cli(presets, description="tiny", args=args, prog=prog)
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def digest(path):
    """The sha256 of every file under `path`, by relative path."""
    import hashlib

    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def physics_jit(fun):
    """`jax.jit` for the tests' programs that only step a robot's physics (Brax's
    spring pipeline, MJX): on the CPU they compile with XLA's older CPU emitters
    (`xla_cpu_use_fusion_emitters=False`), which build such a program in about 2/3
    of the time at the same or better speed (a humanoid U-maze 10-step rollout of 8
    envs: 20.4 s -> 12.7 s on 2 cores, 2026-12-02; the arm's binpick rollout 61 s ->
    36 s). The networks' programs compile slower with them, so nothing else uses
    them. The same program either way: codegen differs, the HLO does not."""
    import jax

    return jax.jit(fun, compiler_options=_physics_options())


@functools.cache
def _physics_options():
    import jax

    if jax.default_backend() != "cpu":
        return {}
    options = {"xla_cpu_use_fusion_emitters": False}
    try:
        jax.jit(lambda x: x + 1, compiler_options=options)(1.0)
    except Exception:  # a JAX whose XLA has dropped the option: the default emitters
        return {}
    return options
