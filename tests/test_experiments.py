"""The paper's analysis experiments: stitching mazes, Q-value maps and embeddings,
and the collector experiment."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import tiny_config

import equicrl
from equicrl import envs


# The U-maze's forward path, as PAPER.md lists it (from the release).
U_PATH = [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)]
# The release's stitching layouts: the start cell R and the goal cell G of each.
RELEASE_R_G = {
    "u_maze": ((1, 1), (3, 1)),
    "u2_maze": ((1, 1), (3, 1)),
    "u3_maze": ((1, 1), (3, 1)),
    "u4_maze": ((2, 1), (4, 1)),
    "u5_maze": ((2, 1), (4, 1)),
}


def test_corridors_run_from_the_releases_start_to_its_goal():
    assert envs.get_layout("u_maze").corridor() == U_PATH
    for name, (r, g) in RELEASE_R_G.items():
        path = envs.get_layout(name).corridor()
        assert path[0] == r and path[-1] == g, name
        # Neighbouring free cells, each once.
        assert len(set(path)) == len(path)
        steps = np.abs(np.diff(np.asarray(path), axis=0)).sum(1)
        assert (steps == 1).all()
    with pytest.raises(ValueError, match="forks"):
        envs.get_layout("big_maze").corridor()


def test_every_distance_is_equally_likely_and_shared_among_its_pairs():
    pairs, p = envs.stitching_pairs(envs.get_layout("u_maze"), (1, 2, 3))
    index = {cell: i for i, cell in enumerate(U_PATH)}
    k = np.array([index[tuple(b)] - index[tuple(a)] for a, b in pairs])
    # Forward pairs only: (path[i], path[i + k]) for every i, with k in 1..3.
    assert sorted(map(tuple, pairs[k == 2].reshape(-1, 4))) == sorted(
        U_PATH[i] + U_PATH[i + 2] for i in range(5)
    )
    for d, n in ((1, 6), (2, 5), (3, 4)):
        assert (k == d).sum() == n
        np.testing.assert_allclose(p[k == d], 1 / (3 * n))
    assert p.sum() == pytest.approx(1.0)


def _release_weights(path_length, config):
    """The release's `get_start_goal` weights for a task name such as "6f7f", as its
    code computes them (restated in NumPy), normalised as `jax.random.choice` does;
    all zero -> index 0 (its cumulative sum is 0, so the draw is always 0)."""
    valid = sum(path_length - i for i in range(1, 6) if f"{i}f" in config)
    distances = [int(k) for k in config.split("f")[:-1]]
    w = np.concatenate(
        [np.full(path_length - k, valid / len(distances) / (path_length - k))
         for k in distances]
    )  # fmt: skip
    if w.sum() == 0:
        return np.eye(len(w))[0]
    return w / w.sum()


@pytest.mark.parametrize(
    "layout, distances",
    [("u_maze", (1, 2, 3)), ("u_maze", (6,)), ("u4_maze", (6, 7)), ("u4_maze", (2, 6))],
)
def test_the_releases_draw_of_pairs(layout, distances):
    maze = envs.get_layout(layout)
    path = maze.corridor()
    config = "".join(f"{k}f" for k in distances)
    pairs, p = envs.stitching_pairs(maze, distances, "release")
    np.testing.assert_allclose(p, _release_weights(len(path), config))
    uniform_pairs, uniform = envs.stitching_pairs(maze, distances)
    np.testing.assert_array_equal(pairs, uniform_pairs)
    if min(distances) >= 6:
        # Only far distances: always the first pair, (path[0], path[k]).
        assert p[0] == 1 and tuple(pairs[0][0]) == path[0]
        assert tuple(pairs[0][1]) == path[distances[0]]
        # The U-maze's corridor has one pair 6 apart: the same draw there.
        assert np.allclose(p, uniform) == (len(p) == 1)
    else:
        np.testing.assert_allclose(p, uniform)
    # The env draws by it.
    env = envs.make_env(f"point_maze_{layout}_gen_{config}", stitching_draw="release")
    obs = np.asarray(jax.vmap(env.reset)(jr.split(jr.key(0), 64)).obs)
    cells = {tuple(c) for c in np.floor(obs[:, :2] + 0.5).astype(int)}
    assert cells == ({path[0]} if min(distances) >= 6 else cells)
    with pytest.raises(ValueError, match="draw"):
        envs.stitching_pairs(maze, distances, "sometimes")


def test_a_stitching_env_draws_its_pairs_with_their_probabilities():
    env = envs.make_env("point_maze_u_maze_gen_1f2f3f")
    n = 3000
    obs = jax.vmap(env.reset)(jr.split(jr.key(0), n)).obs
    cells = np.floor(np.asarray(obs) + 0.5).astype(int)  # cell size 1
    index = {cell: i for i, cell in enumerate(U_PATH)}
    start = np.array([index[tuple(c)] for c in cells[:, :2]])
    goal = np.array([index[tuple(c)] for c in cells[:, 2:]])
    k = goal - start
    assert set(k) == {1, 2, 3}
    for d in (1, 2, 3):
        share = (k == d).mean()
        assert abs(share - 1 / 3) < 4 * np.sqrt(2 / 9 / n)
    # Within a distance, the pairs share it equally: distance 3's first pair (of 4).
    first = (k == 3) & (start == 0)
    assert abs(first.mean() - 1 / 12) < 4 * np.sqrt(1 / 12 * 11 / 12 / n)


def test_bad_stitching_names_and_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="distances run from 1 to 6"):
        envs.make_env("point_maze_u_maze_gen_7f")
    with pytest.raises(ValueError, match="not big_maze"):
        envs.make_env("ant_big_maze_gen_1f")
    with pytest.raises(ValueError, match="new_goal_on_success"):
        envs.PointMaze("u_maze", distances=(1,), new_goal_on_success=True)
    from equicrl.runs._preflight import check_run

    with pytest.raises(ValueError, match="stitching mazes ROBOT_LAYOUT_gen"):
        check_run(tiny_config(2).replace(env_name="point_maze_u_maze_gen"), None)
    assert envs.is_env("ant_u5_maze_gen_16f") and not envs.is_env("ant_gen_1f")


@pytest.fixture(scope="module")
def nets():
    env = envs.make_env("point_maze_u_maze")
    ka, kc = jr.split(jr.key(3))
    actor = equicrl.GoalConditionedActor(2, 2, 2, width=16, depth=4, key=ka)
    critic = equicrl.ContrastiveCritic(2, 2, 2, repr_dim=8, width=16, depth=4, key=kc)
    return env, actor, critic


def test_a_q_value_map_is_the_l2_energy_at_each_free_position(nets):
    env, actor, critic = nets
    goal = (3.0, 1.0)
    m = equicrl.q_value_map(actor, critic, env, goal, key=jr.key(0), per_cell=4)
    assert m.values.shape == (20, 20) and len(m.xs) == 20
    walls = np.repeat(np.repeat(env.layout.walls, 4, 0), 4, 1)
    assert np.isnan(m.values[walls]).all() and np.isfinite(m.values[~walls]).all()
    # Each grid point lies in its cell.
    np.testing.assert_array_equal(np.floor(m.xs + 0.5), np.repeat(np.arange(5), 4))
    # Independent reference: -||phi(s, a) - psi(g)|| in float64 NumPy, with the
    # actor's deterministic action.
    g = jnp.asarray(goal)
    psi = np.asarray(critic.encode_goal(g), np.float64)
    for i, j in ((5, 5), (5, 14), (13, 6)):
        s = jnp.asarray([m.xs[i], m.ys[j]], jnp.float32)
        a = actor.deterministic_action(s, g)
        phi = np.asarray(critic.encode_state_action(s, a), np.float64)
        assert m.values[i, j] == pytest.approx(-np.linalg.norm(phi - psi), rel=1e-5)


def test_goal_embeddings_are_the_two_principal_axes(nets):
    env, actor, critic = nets
    e = equicrl.goal_embeddings(actor, critic, env, (3.0, 1.0), key=jr.key(1))
    n = len(e.points)
    assert e.points.shape == (n, 2) and 100 < n <= 400
    np.testing.assert_allclose(
        np.linalg.norm(e.positions - np.array([3.0, 1.0]), axis=1),
        e.distance,
        rtol=1e-5,
    )
    assert (e.distance <= 1.0).all()
    cells = np.floor(e.positions + 0.5).astype(int)
    assert not env.layout.walls[cells[:, 0], cells[:, 1]].any()
    # Reference: the phi's recomputed state by state, and the eigenvalues of their
    # covariance in float64 (eigh, not the SVD the function uses). The projections'
    # variances are the two largest, and the share they hold is `explained`.
    g = jnp.asarray([3.0, 1.0])
    phi = eqx.filter_jit(
        jax.vmap(
            lambda s: critic.encode_state_action(s, actor.deterministic_action(s, g))
        )
    )(jnp.asarray(e.positions, jnp.float32))
    phi = np.asarray(phi, np.float64)
    eig = np.linalg.eigh(np.cov(phi.T, bias=True))[0][::-1]
    np.testing.assert_allclose(e.points.var(0), eig[:2], rtol=1e-4)
    assert e.explained == pytest.approx(eig[:2].sum() / eig.sum(), rel=1e-4)
    np.testing.assert_allclose(e.points.mean(0), 0, atol=1e-5)


@pytest.mark.slow
def test_the_collector_collects_and_the_learner_learns_as_without_it():
    from equicrl.training._collect import collect
    from equicrl.training._learn import learn
    from equicrl.training._state import (
        initial_state,
        make_networks,
        make_parts,
        split_seed_key,
    )

    config = tiny_config(2)
    parts, cparts = make_parts(config), make_parts(config.replace(collector_depth=8))
    key = jr.key(5)
    ts = eqx.filter_jit(lambda k: initial_state(cparts, k))(key)
    # The learner's networks are a plain run's (built here, not compiled); the
    # collector is the depth asked for.
    actor, critic = make_networks(parts, split_seed_key(key)[0])
    assert eqx.tree_equal(ts.crl.actor, actor) and eqx.tree_equal(ts.crl.critic, critic)
    assert ts.collector.actor.trunk.depth == 8 and actor.trunk.depth == 4
    assert ts.collector.critic.sa_encoder.depth == 8
    plain = eqx.tree_at(lambda t: t.collector, ts, None)
    # Its collection is the one the collector would make as the run's own actor.
    as_own = eqx.tree_at(lambda t: t.crl, plain, ts.collector)
    collected = eqx.filter_jit(lambda t: collect(cparts, t, jnp.asarray(False)))(ts)
    reference = eqx.filter_jit(lambda t: collect(parts, t, jnp.asarray(False)))(as_own)
    np.testing.assert_array_equal(
        collected.buffer.data["action"], reference.buffer.data["action"]
    )
    # Learning from the same buffer, the learner takes the plain run's steps; the
    # collector learns too.
    plain_next = eqx.tree_at(lambda t: t.collector, collected, None)
    mine, metrics, first = eqx.filter_jit(lambda t: learn(cparts, t))(collected)
    theirs, _, _ = eqx.filter_jit(lambda t: learn(parts, t))(plain_next)
    assert eqx.tree_equal(mine.crl, theirs.crl)
    assert not eqx.tree_equal(mine.collector.actor, collected.collector.actor)
    assert np.isfinite(metrics["collector_critic_loss"])
    assert int(first["collector_params"]) == -1


@pytest.mark.slow
def test_learners_learn_from_the_data_the_run_collects_and_never_act():
    # The paper's collector design: the run's own networks collect as in a plain run,
    # and learners of depths 4 and 8 take their own steps on the same batches.
    from equicrl.training._collect import collect
    from equicrl.training._learn import learn
    from equicrl.training._state import initial_state, make_parts

    config = tiny_config(2)
    parts = make_parts(config)
    lparts = make_parts(config.replace(learner_depths=(4, 8)))
    key = jr.key(6)
    ts = eqx.filter_jit(lambda k: initial_state(lparts, k))(key)
    plain = eqx.filter_jit(lambda k: initial_state(parts, k))(key)
    assert eqx.tree_equal(ts.crl, plain.crl) and plain.learners is None
    depths = [learner.actor.trunk.depth for learner in ts.learners]
    assert depths == [4, 8]
    assert [le.critic.sa_encoder.depth for le in ts.learners] == [4, 8]
    # The learners never act: the collection is the plain run's.
    collected = eqx.filter_jit(lambda t: collect(lparts, t, jnp.asarray(False)))(ts)
    reference = eqx.filter_jit(lambda t: collect(parts, t, jnp.asarray(False)))(plain)
    np.testing.assert_array_equal(
        collected.buffer.data["action"], reference.buffer.data["action"]
    )
    # Learning from the same buffer, the run's own networks take the plain run's
    # steps; every learner learns.
    mine, metrics, first = eqx.filter_jit(lambda t: learn(lparts, t))(collected)
    theirs, _, _ = eqx.filter_jit(lambda t: learn(parts, t))(reference)
    assert eqx.tree_equal(mine.crl, theirs.crl)
    for before, after in zip(collected.learners, mine.learners):
        assert not eqx.tree_equal(before.actor, after.actor)
        assert not eqx.tree_equal(before.critic, after.critic)
    for depth in (4, 8):
        assert np.isfinite(metrics[f"learner{depth}_critic_loss"])
    assert int(first["learners_loss"]) == -1 and int(first["learners_params"]) == -1
    # A run reports each learner's evaluations, per seed, and says what it trains.
    lines = []
    _, history = equicrl.train(
        config.replace(learner_depths=(4, 8), num_seeds=2),
        log=lines.append,
        outputs=False,
    )
    for depth in (4, 8):
        assert f"eval/learner{depth}_time_at_goal" in history[-1]
        assert all(f"eval/learner{depth}_success" in r for r in history[-1]["seeds"])
    assert "collecting for learners of depths 4, 8" in lines[0]
    assert "learner depth 8: time at goal" in lines[-1]


def test_learners_are_checked():
    from equicrl.runs._rundir import config_dict, config_from_dict, differences

    # Saved to config.json (a list) and read back (a tuple), unchanged.
    config = tiny_config(2).replace(learner_depths=(4, 16))
    assert config_from_dict(config_dict(config)) == config
    assert differences(config_dict(config), config) == []
    with pytest.raises(ValueError, match="cannot be combined"):
        tiny_config(2).replace(learner_depths=(4,), collector_depth=8)
    with pytest.raises(ValueError, match="repeat"):
        tiny_config(2).replace(learner_depths=(4, 4))
    with pytest.raises(ValueError, match="multiples of `layers_per_block`"):
        tiny_config(2).replace(learner_depths=(4, 6))


def test_collector_and_teacher_do_not_combine():
    with pytest.raises(ValueError, match="cannot be combined"):
        tiny_config(2).replace(collector_depth=4, teacher="runs/x")
    with pytest.raises(ValueError, match="multiple of `layers_per_block`"):
        tiny_config(2).replace(collector_depth=6)


@pytest.fixture(scope="module")
def stitching_run(tmp_path_factory):
    """A tiny run of a stitching maze whose data a depth-8 collector collects."""
    path = tmp_path_factory.mktemp("runs") / "gen"
    config = tiny_config(4).replace(
        env_name="point_maze_u_maze_gen_1f2f3f", num_seeds=2, collector_depth=8
    )
    equicrl.train(
        config,
        run_dir=path,
        eval_every=2,
        checkpoint_every=4,
        log=lambda _: None,
        outputs=False,
    )
    return equicrl.load_run(path)


@pytest.mark.slow
def test_a_stitching_run_is_evaluated_at_every_distance(stitching_run):
    run = stitching_run
    assert run.state.collector is not None
    assert "eval/collector_success" in run.history[-1]["seeds"][0]
    scores = run.evaluate_distances([5], num_episodes=8)
    assert list(scores) == [5]
    assert all(len(per_seed) == 2 for per_seed in scores.values())
    # Distance 5 is the evaluation on point_maze_u_maze_gen_5f.
    # (Both on the key no training evaluation used: evaluate()'s default is the
    # final training evaluation's.)
    fresh = 2**31 - 1
    assert scores[5] == run.evaluate(8, env_name="point_maze_u_maze_gen_5f", fold=fresh)
    with pytest.raises(ValueError, match="sizes"):
        run.evaluate(8, env_name="ant_u_maze")
    m = run.q_value_map((3.0, 1.0), seed=1, per_cell=2)
    assert np.isfinite(
        m.values[~np.repeat(np.repeat(run.env.layout.walls, 2, 0), 2, 1)]
    ).all()


def test_the_preregistered_stitching_analysis():
    # benchmarks/stitching_confirm.py: a one-sided Welch t-test, its t and df by the
    # textbook formulas in NumPy, and the outcome words decided before the runs.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import stitching_confirm as sc

    deep = [0.52, 0.47, 0.58, 0.49, 0.55, 0.44, 0.51, 0.60, 0.48, 0.53]
    shallow = [0.41, 0.39, 0.44, 0.38, 0.42, 0.40, 0.37, 0.45, 0.43, 0.36]
    a, b = np.asarray(deep), np.asarray(shallow)
    va, vb = a.var(ddof=1) / 10, b.var(ddof=1) / 10
    r = sc.analyse(deep, shallow)
    assert r["t"] == pytest.approx((a.mean() - b.mean()) / np.sqrt(va + vb))
    assert r["df"] == pytest.approx((va + vb) ** 2 / (va**2 / 9 + vb**2 / 9))
    assert r["p_one_sided"] < 0.05 and r["outcome"].startswith("confirmed")
    assert r["interval"][0] < r["difference"] < r["interval"][1]
    assert sc.analyse(shallow, shallow)["outcome"].startswith("not confirmed: no")
    assert "reversed" in sc.analyse(shallow, deep)["outcome"]
