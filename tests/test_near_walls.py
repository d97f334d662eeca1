"""Near-wall contacts (`cull_walls=True`, the default) against MJX's all-pairs
collision (`cull_walls=False`): the same active contacts in states built to touch
many walls at once, and the same run."""

import functools

import brax.contact
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brax.spring import pipeline as spring_pipeline
from helpers import physics_jit

from equicrl import envs
from equicrl.envs._near_walls import _brax_resolve


def wall_states(env, n: int, seed: int) -> np.ndarray:
    """`n` joint positions of `env`'s robot against its maze's walls: the root at a
    random free cell, pushed against (or up to 0.3 m into) one wall face, or two in
    a corner, at a random height from lying on the floor to standing, in a random
    orientation, every hinge at a random angle within its limits."""
    rng = np.random.default_rng(seed)
    model = env.sys.mj_model
    s = env.cell_size
    free = np.argwhere(~env.layout.walls)
    q = np.tile(model.qpos0, (n, 1))
    centre = free[rng.integers(len(free), size=n)] * s
    # Per axis: at the cell's centre line, or near one of its two faces (both axes
    # near a face: a corner).
    near_face = rng.random((n, 2)) < 0.75
    side = rng.choice([-1.0, 1.0], size=(n, 2))
    offset = np.where(near_face, side * (s / 2 - rng.uniform(-0.3, 0.6, (n, 2))), 0.0)
    q[:, :2] = centre + offset
    q[:, 2] = rng.uniform(0.05, 1.5 if env.goal_dim == 3 else 1.0, n)
    quat = rng.normal(size=(n, 4))
    q[:, 3:7] = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    low, high = model.jnt_range[1:].T  # every joint after the root is a hinge
    q[:, 7:] = rng.uniform(low, high, (n, len(low)))
    return q


def wall_velocities(env, n: int, seed: int) -> np.ndarray:
    """`n` joint velocities to go with [`wall_states`][]: the root thrown at up to
    4 m/s and spinning, every hinge moving."""
    rng = np.random.default_rng(seed + 1)
    qd = rng.normal(0.0, 2.0, (n, env.sys.qd_size()))
    qd[:, :3] = rng.uniform(-4.0, 4.0, (n, 3))
    return qd


@functools.cache
def _contacts(name, dtype):
    """Jitted `(q, qd) -> (all pairs, near walls)` of a batch of joint positions
    and velocities: distance, position, frame and geom pair of every contact row,
    and the velocity changes of Brax's spring collision resolution (all pairs:
    Brax's own; near walls: `NearWalls.resolve`, which resolves only the wall rows
    that touch). The env is built in the precision `dtype` runs in."""
    env = envs.make_env(name)
    near = env._near_walls

    def rows(c):
        return c.dist, c.pos, c.frame, c.geom

    def both(q, qd):
        state = spring_pipeline.init(env.sys, q, qd)
        full = brax.contact.get(env.sys, state.x), _brax_resolve(env.sys, state)
        mine = near(state.x), near.resolve(env.sys, state)
        return [(rows(c), (dv.vel, dv.ang)) for c, dv in (full, mine)]

    return env, physics_jit(jax.vmap(both))


def _active(dist, pos, frame, geom):
    """Active contacts (distance < 0) by (geom 1, geom 2, which of the pair's active
    contacts, in row order): the near-wall contacts hold only a pair's active
    contacts, all pairs every contact of every pair."""
    out, seen = {}, {}
    for d, p, f, g in zip(dist, pos, frame, geom):
        if d < 0:
            key = (int(g[0]), int(g[1]))
            k = seen[key] = seen.get(key, -1) + 1
            out[(*key, k)] = (d, p, f)
    return out


def compare_contacts(name: str, dtype, n: int = 1000, seed: int = 0) -> dict:
    """Both contact sets of `n` [`wall_states`][] of the env `name`, computed in
    `dtype`: raises `AssertionError` unless the active contacts are the same pairs;
    returns the largest deviations and how hard the states were."""
    env, both = _contacts(name, dtype)
    q, qd = wall_states(env, n, seed), wall_velocities(env, n, seed)
    (full, full_dv), (near, near_dv) = jax.tree.map(
        np.asarray, both(jnp.asarray(q, dtype), jnp.asarray(qd, dtype))
    )
    assert full[0].dtype == near[0].dtype == dtype
    walls = set(np.asarray(env._near_walls._wall_ids).tolist())
    out = dict(env=name, dtype=np.dtype(dtype).name, states=n, active=0)
    out.update(dist=0.0, pos=0.0, frame=0.0, most_walls=0, most_wall_pairs=0)
    # The resolution's velocity changes, largest difference against the largest
    # change; and how many states touched walls at more rows than the resolution
    # is handed at first (those resolve every row).
    scale = max(np.abs(full_dv[0]).max(), np.abs(full_dv[1]).max())
    out["resolve"] = float(
        max(np.abs(a - b).max() for a, b in zip(full_dv, near_dv)) / scale
    )
    wall_rows = np.isin(near[3][:, :, 1], list(walls)) & (near[0] < 0)
    out["most_wall_rows"] = int(wall_rows.sum(1).max())
    out["over_max_wall_rows"] = int(
        (wall_rows.sum(1) > env._near_walls.max_wall_rows).sum()
    )
    for b in range(n):
        a = _active(*(r[b] for r in full))
        c = _active(*(r[b] for r in near))
        assert a.keys() == c.keys(), (b, sorted(a.keys() ^ c.keys()))
        out["active"] += len(a)
        for key, (d, p, f) in a.items():
            d2, p2, f2 = c[key]
            out["dist"] = max(out["dist"], float(abs(d2 - d)))
            out["pos"] = max(out["pos"], float(np.abs(p2 - p).max()))
            out["frame"] = max(out["frame"], float(np.abs(f2 - f).max()))
        wall_pairs = {k[:2] for k in a if k[1] in walls}
        out["most_wall_pairs"] = max(out["most_wall_pairs"], len(wall_pairs))
        out["most_walls"] = max(out["most_walls"], len({k[1] for k in wall_pairs}))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ant_u_maze", "humanoid_u_maze"])
def test_near_wall_contacts_are_the_all_pairs_contacts(name):
    # In float64 the two are the same computation on the same pairs: every active
    # contact agrees (measured: to 2e-14). In float32, as training runs, the
    # differently batched arithmetic rounds differently: see
    # benchmarks/near_walls_exact.py, which checks every maze in both precisions.
    with jax.enable_x64(True):
        out = compare_contacts(name, np.float64)
    assert max(out["dist"], out["pos"], out["frame"]) < 1e-5, out
    # Brax's spring resolution of the same states: the same velocity changes
    # whether every wall row is resolved or only those that touch, both when they
    # fit in max_wall_rows and when they do not (then every row is).
    assert out["resolve"] < 1e-9, out
    assert out["over_max_wall_rows"] >= 10 and out["most_wall_rows"] > 8, out
    # The sample holds the hard cases: a robot touching two walls at once, and
    # many of its geoms pressed into walls at once.
    assert out["most_walls"] >= 2
    assert out["most_wall_pairs"] >= (7 if name.startswith("ant") else 12), out


@pytest.mark.slow
def test_culling_off_and_on_give_the_same_run():
    # The ant, on its side, thrown at 4 m/s into the corner of its start cell, then
    # random actions: the same joint positions for 30 steps either way.
    runs = []
    for cull in (True, False):
        env = envs.make_env("ant_u_maze", cull_walls=cull)
        assert env.cull_walls == cull and (env._near_walls is not None) == cull
        state = physics_jit(jax.vmap(env.reset))(jr.split(jr.key(0), 4))
        q, qd = state.pipeline_state.q, state.pipeline_state.qd
        face = env.cell_size / 2
        q = (
            q.at[:, :2]
            .set(2 * face + 0.6 - face)
            .at[:, 3:7]
            .set(jnp.asarray([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0]))
        )
        qd = qd.at[:, :2].set(-4.0 / np.sqrt(2))
        state = state.replace(
            pipeline_state=jax.vmap(env._robot_env.pipeline_init)(q, qd)
        )

        @physics_jit
        def rollout(state):
            def one(state, key):
                a = jr.uniform(key, (4, env.action_size), minval=-1, maxval=1)
                state = jax.vmap(env.step)(state, a)
                return state, state.pipeline_state.q

            return jax.lax.scan(one, state, jr.split(jr.key(1), 30))[1]

        runs.append(np.asarray(rollout(state)))
    culled, all_pairs = runs
    assert np.all(np.isfinite(culled))
    np.testing.assert_allclose(culled, all_pairs, rtol=0, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend, cull_walls",
    [("positional", True), ("generalized", False), ("mjx", True)],
)
def test_every_backend_steps_in_a_maze(backend, cull_walls):
    # Each backend the constructor accepts, as it is accepted, steps a walled ant
    # inside lax.scan (as training does) to finite states. (The spring backend, the
    # release's, is every other test's.) The feet alone touch the walls, to keep
    # the compile short; near-wall culling runs all the same.
    env = envs.make_env(
        "ant_u_maze",
        backend=backend,
        cull_walls=cull_walls,
        wall_geoms=envs.AntGoalEnv.FEET,
    )
    assert env.backend == backend

    @physics_jit
    def rollout(key):
        state = jax.vmap(env.reset)(jr.split(key, 2))

        def body(state, key):
            action = jr.uniform(key, (2, env.action_size), minval=-1, maxval=1)
            return jax.vmap(env.step)(state, action), None

        return jax.lax.scan(body, state, jr.split(key, 3))[0]

    state = rollout(jr.key(0))
    assert np.isfinite(np.asarray(state.obs)).all()


def test_unsupported_backends_are_refused_in_one_line():
    with pytest.raises(ValueError, match="cull_walls=False.*'spring'") as error:
        envs.make_env("ant_u_maze", backend="generalized")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="`backend` must be one of"):
        envs.make_env("humanoid_u_maze", backend="warp")


def test_the_patched_path_is_taken_or_the_step_says_so(monkeypatch):
    # A Brax whose spring pipeline called its collision resolution by a name of its
    # own would go around near-wall culling: the step refuses, rather than silently
    # testing every wall pair. And jax.grad through near-wall contacts says what to
    # do instead.
    import types

    import brax.spring.pipeline as spring_pipeline_module

    from equicrl.envs import _near_walls

    env = envs.make_env("ant_u_maze", wall_geoms=envs.AntGoalEnv.FEET)
    state = env.reset(jr.key(0))
    action = jnp.zeros(env.action_size)
    with pytest.raises(NotImplementedError, match="cull_walls=False"):
        jax.grad(lambda a: env.step(state, a).obs.sum())(action)
    around = types.SimpleNamespace(resolve=_near_walls._brax_resolve)
    monkeypatch.setattr(spring_pipeline_module, "collisions", around)
    with pytest.raises(RuntimeError, match="near-wall culling was not used"):
        jax.eval_shape(env.step, state, action)


def test_missing_mjx_internals_refuse_culling_not_the_import(monkeypatch):
    from equicrl.envs import _near_walls

    assert _near_walls.missing_internals() == []
    monkeypatch.delattr(_near_walls.collision_convex, "_capsule_convex")
    assert _near_walls.missing_internals() == [
        "mujoco.mjx._src.collision_convex._capsule_convex"
    ]
    with pytest.raises(RuntimeError, match="cull_walls=False") as error:
        envs.make_env("ant_u_maze")
    assert "\n" not in str(error.value)
    # Without culling the maze still builds.
    assert envs.make_env("ant_u_maze", cull_walls=False).cull_walls is False


def test_the_envs_import_without_mjxs_internals(tmp_path):
    # As if a MuJoCo had moved MJX's private modules: equicrl.envs imports, the
    # point maze works, and a walled robot's build says what is missing.
    import subprocess
    import sys

    code = (
        "import mujoco.mjx._src.collision_types as types\n"
        "del types.GeomInfo\n"
        "from equicrl import envs\n"
        "envs.make_env('point_maze_u_maze')\n"
        "try:\n"
        "    envs.make_env('ant_u_maze')\n"
        "except RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused: near-wall culling" in out.stdout
    assert "GeomInfo" in out.stdout and "cull_walls=False" in out.stdout
