"""Reference steps of the release's open humanoid (`envs/humanoid.py`) as it runs on
its pinned stack: the states `tests/test_locomotion.py` steps equicrl's `humanoid`
from, and the states it must reach.

Run with the release's Python (the versions its `pyproject.toml` pins, as
`release_runner.py` uses; only the `mujoco.mjx.ncon` patch its Brax needs):

    RELEASE_PYTHON benchmarks/release_humanoid_reference.py RELEASE_DIR

The release's `Humanoid(backend="spring")` (as its `train.py` builds it) is stepped
once from each of 8 states built from joint positions and velocities (the reset's
keyframe, its joints moved and set moving at random: NumPy's `default_rng(0)`) with
an action uniform in `(-1, 1)`, and once from the keyframe with the torso moving at
1 m/s along x and no action. Every step's joint positions and velocities before
and after, its action, and the env's `dt` go into
`results/release_humanoid_reference.json`. (Brax 0.10.1's spring pipeline
integrates with `sys.dt`, which the release's `opt.timestep` of 0.0015 leaves at the
XML's 0.003: an env step is 10 x 0.003 = 0.03 s.)
"""

import json
import os
import platform
import sys
import time
from pathlib import Path


HERE = Path(__file__).parent


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} RELEASE_DIR")
    release = os.path.abspath(sys.argv[1])
    sys.path.insert(0, release)
    sys.path.insert(0, str(HERE))
    from release_runner import _patch_ncon

    _patch_ncon()
    import brax
    import jax
    import jax.numpy as jnp
    import numpy as np
    from envs.humanoid import Humanoid

    env = Humanoid(
        backend="spring",
        exclude_current_positions_from_observation=False,
        terminate_when_unhealthy=True,
    )
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    rng = np.random.default_rng(0)
    steps = []

    def record(state, action, kind):
        after = step(state, jnp.asarray(action))
        steps.append(
            dict(
                kind=kind,
                q=np.asarray(state.pipeline_state.q).tolist(),
                qd=np.asarray(state.pipeline_state.qd).tolist(),
                action=np.asarray(action).tolist(),
                next_q=np.asarray(after.pipeline_state.q).tolist(),
                next_qd=np.asarray(after.pipeline_state.qd).tolist(),
            )
        )
        return after

    state = reset(jax.random.PRNGKey(0))
    ps = state.pipeline_state
    # Steps from states the spring pipeline builds from joint positions and
    # velocities (`pipeline_init`), so that another Brax can start from the very same
    # state: the keyframe with every joint moved by up to 0.05 and velocities of
    # s.d. 0.5 (the target's two slide joints, last, left as they are), then an
    # action uniform in (-1, 1).
    robot_q, robot_qd = env.sys.q_size() - 2, env.sys.qd_size() - 2
    for _ in range(8):
        q = np.asarray(ps.q).copy()
        qd = np.asarray(ps.qd).copy()
        q[7:robot_q] += rng.uniform(-0.05, 0.05, robot_q - 7)
        qd[:robot_qd] = rng.normal(0, 0.5, robot_qd)
        start = state.replace(pipeline_state=env.pipeline_init(q, qd))
        record(start, rng.uniform(-1, 1, env.action_size), "random")
    # The torso moving at 1 m/s along x, no action: how far one env step takes it.
    qd = np.zeros(env.sys.qd_size())
    qd[0] = 1.0
    start = state.replace(pipeline_state=env.pipeline_init(ps.q, jnp.asarray(qd)))
    record(start, np.zeros(env.action_size), "torso at 1 m/s")
    out = dict(
        command=f"python benchmarks/release_humanoid_reference.py {sys.argv[1]}",
        date=time.strftime("%Y-%m-%d"),
        machine=dict(
            python=platform.python_version(),
            jax=jax.__version__,
            brax=brax.__version__,
            platform=platform.platform(),
        ),
        env="the release's envs/humanoid.py Humanoid(backend='spring')",
        dt=float(env.dt),
        sys_dt=float(env.sys.dt),
        opt_timestep=float(env.sys.opt.timestep),
        n_frames=int(env._n_frames),
        link_names=list(env.sys.link_names),
        q_size=int(env.sys.q_size()),
        qd_size=int(env.sys.qd_size()),
        steps=steps,
    )
    path = HERE / "results" / "release_humanoid_reference.json"
    path.write_text(json.dumps(out) + "\n")
    moved = steps[-1]["next_q"][0] - steps[-1]["q"][0]
    print(
        f"dt {out['dt']} (sys.dt {out['sys_dt']}, opt.timestep "
        f"{out['opt_timestep']}, {out['n_frames']} frames); a torso at 1 m/s moved "
        f"{moved:.4f} m in one step; wrote {path}"
    )


if __name__ == "__main__":
    main()
