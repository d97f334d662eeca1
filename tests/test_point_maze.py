import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brax.envs.wrappers.training import AutoResetWrapper, EpisodeWrapper, VmapWrapper
from helpers import float_arrays, seeds
from hypothesis import given

from equicrl import envs


# One env and one set of compiled functions shared by the tests below.
ENV = envs.make_env("point_maze_u_maze")
RESET = jax.jit(ENV.reset)
STEP = jax.jit(ENV.step)


@jax.jit
def _rollout(key, actions):
    state = ENV.reset(key)

    def body(state, action):
        state = ENV.step(state, action)
        return state, (state.obs, state.metrics["dist"], state.metrics["success"])

    return jax.lax.scan(body, state, actions)[1]


def _overlaps_wall(env, positions, tol=1e-5):
    """Whether the point's square body overlaps any wall box (beyond `tol`)."""
    boxes = env.wall_boxes()  # (n, 4): x_min, y_min, x_max, y_max
    p = np.asarray(positions, np.float64)[:, None, :]
    r = env.radius - tol
    overlap_x = (p[..., 0] + r > boxes[:, 0]) & (p[..., 0] - r < boxes[:, 2])
    overlap_y = (p[..., 1] + r > boxes[:, 1]) & (p[..., 1] - r < boxes[:, 3])
    return np.any(overlap_x & overlap_y, axis=1)


def _cell_of(env, xy):
    return np.floor(np.asarray(xy) / env.cell_size + 0.5).astype(int)


@given(seed=seeds, actions=float_arrays((64, 2), low=-2.0, high=2.0))
def test_no_action_sequence_enters_a_wall_or_leaves_the_maze(seed, actions):
    obs, _, _ = _rollout(jr.key(seed), jnp.asarray(actions))
    positions = np.asarray(obs[:, :2])
    assert not np.any(_overlaps_wall(ENV, positions))
    rows, cols = ENV.layout.shape
    cells = _cell_of(ENV, positions)
    assert np.all((cells >= 0) & (cells < [rows, cols]))
    assert not np.any(ENV.layout.walls[cells[:, 0], cells[:, 1]])


@pytest.mark.parametrize("name", ["point_maze_big_maze", "point_maze_hardest_maze"])
def test_random_walks_stay_in_free_space_in_bigger_mazes(name):
    env = envs.make_env(name)

    @jax.jit
    def walk(key):
        state = env.reset(key)

        def body(carry, k):
            state, action = carry
            # Persistent actions that push into walls and corners.
            action = jnp.where(
                jr.uniform(k) < 0.02, jr.uniform(k, (2,), minval=-1, maxval=1), action
            )
            state = env.step(state, action)
            return (state, action), state.obs[:2]

        return jax.lax.scan(body, (state, jnp.ones(2)), jr.split(key, 2000))[1]

    positions = np.concatenate([np.asarray(walk(jr.key(i))) for i in range(3)])
    assert not np.any(_overlaps_wall(env, positions))
    # And the walks really explore: several cells are visited.
    assert len({tuple(c) for c in _cell_of(env, positions)}) >= 3


def test_sliding_along_a_wall_is_not_blocked():
    # Pushing diagonally into the top wall of the start corridor still moves along x.
    state = RESET(jr.key(0))
    for _ in range(30):
        state = STEP(state, jnp.array([-1.0, 1.0]))
    x_before = float(state.obs[0])
    for _ in range(3):
        state = STEP(state, jnp.array([-1.0, 1.0]))
    assert float(state.obs[0]) == pytest.approx(x_before, abs=1e-6)  # at the wall: no x
    state = STEP(state, jnp.array([1.0, -1.0]))
    # Moving away works in both axes.
    assert float(state.obs[0]) > x_before


@given(seed=seeds)
def test_starts_and_goals_are_drawn_in_their_cells(seed):
    for name in (
        "point_maze_u_maze",
        "point_maze_u_maze_eval",
        "point_maze_big_maze_eval",
    ):
        env = envs.make_env(name)
        states = jax.vmap(env.reset)(jr.split(jr.key(seed), 64))
        starts = _cell_of(env, states.obs[:, :2])
        goals = _cell_of(env, states.info["goal"])
        start_set = {tuple(c) for c in env.layout.start_cells}
        goal_set = {tuple(c) for c in env.layout.goal_cells}
        assert {tuple(c) for c in starts} <= start_set
        assert {tuple(c) for c in goals} <= goal_set
        np.testing.assert_array_equal(states.obs[:, 2:], states.info["goal"])


def test_goals_cover_every_goal_cell():
    states = jax.vmap(ENV.reset)(jr.split(jr.key(0), 512))
    goals = {tuple(c) for c in _cell_of(ENV, states.info["goal"])}
    assert goals == {tuple(c) for c in ENV.layout.goal_cells}


@given(seed=seeds, actions=float_arrays((16, 2), low=-1.0, high=1.0))
def test_success_is_one_exactly_when_dist_below_threshold(seed, actions):
    obs, dist, success = _rollout(jr.key(seed), jnp.asarray(actions))
    # Against the goal commanded at each step: this training maze draws a new goal
    # when one is reached, and that step's observation already carries the new one.
    # (No step from a start cell can reach a goal cell, so the first goal is obs[0]'s.)
    goal = np.asarray(jnp.concatenate([obs[:1, 2:], obs[:-1, 2:]]))
    np.testing.assert_allclose(
        dist, np.linalg.norm(np.asarray(obs[:, :2]) - goal, axis=1), rtol=1e-5
    )
    np.testing.assert_array_equal(
        success, (np.asarray(dist) < ENV.success_threshold).astype(np.float32)
    )


def test_success_when_placed_on_the_goal():
    state = RESET(jr.key(3))
    goal = state.info["goal"]
    state = state.replace(obs=jnp.concatenate([goal + 0.01, goal]))
    state = STEP(state, jnp.zeros(2))
    assert float(state.metrics["success"]) == 1.0
    assert float(state.metrics["dist"]) < ENV.success_threshold


def test_shapes_dtypes_and_determinism_under_jit_and_vmap():
    keys = jr.split(jr.key(0), 8)
    reset, step = jax.jit(jax.vmap(ENV.reset)), jax.jit(jax.vmap(ENV.step))
    state = reset(keys)
    assert state.obs.shape == (8, ENV.observation_size) == (8, 4)
    assert state.obs.dtype == jnp.float32
    actions = jr.uniform(jr.key(1), (8, ENV.action_size), minval=-1, maxval=1)
    next_state = step(state, actions)
    for x in (
        next_state.obs,
        next_state.reward,
        next_state.done,
        next_state.metrics["dist"],
    ):
        assert x.dtype == jnp.float32
    assert next_state.metrics["success"].shape == (8,)
    again = step(reset(keys), actions)
    np.testing.assert_array_equal(next_state.obs, again.obs)
    assert not np.array_equal(reset(jr.split(jr.key(1), 8)).obs, state.obs)


def test_goal_interface():
    assert (ENV.state_dim, ENV.goal_dim, ENV.goal_indices) == (2, 2, (0, 1))
    obs = jnp.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(ENV.achieved_goal(obs), obs[:, :2])
    np.testing.assert_array_equal(ENV.commanded_goal(obs), obs[:, 2:])


def test_training_wrapper_resets_with_new_goals():
    # Pools of 2 fresh states per env: the third episode end of each env refills them.
    env = envs.wrap_for_training(
        envs.make_env("point_maze_u_maze"), episode_length=5, reset_pool_size=2
    )
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    state = reset(jr.split(jr.key(0), 16))
    goals, starts = [np.asarray(state.info["goal"])], [np.asarray(state.obs[:, :2])]
    dones, used = [], []
    for t in range(20):
        previous = state
        state = step(state, jnp.full((16, 2), 0.5))
        dones.append(np.asarray(state.done))
        used.append(np.asarray(state.info["pool_used"]))
        goals.append(np.asarray(state.info["goal"]))
        # The observation always carries the env's current goal.
        np.testing.assert_array_equal(state.obs[:, 2:], state.info["goal"])
        if t % 5 == 4:
            starts.append(np.asarray(state.obs[:, :2]))
            # The finished episode's last observation is kept; its goal is the old one.
            np.testing.assert_array_equal(
                state.info["last_obs"][:, 2:], previous.info["goal"]
            )
    dones = np.stack(dones)
    np.testing.assert_array_equal(dones[[4, 9, 14, 19]], 1)
    assert dones.sum() == 4 * 16
    # Two episode ends per pool, then a refill: 1, 2, 1, 2 states used.
    expected = np.repeat([[1], [2], [1], [2]], 16, axis=1)
    np.testing.assert_array_equal(np.stack(used)[[4, 9, 14, 19]], expected)
    # Every episode of every env has its own goal and start (continuous noise), a
    # fresh one from the start cell, never a replay of an earlier episode's.
    episode_goals = np.stack(goals[::5])  # (5 episodes, 16 envs, 2)
    episode_starts = np.stack(starts)
    for per_episode in (episode_goals, episode_starts):
        flat = per_episode.reshape(-1, 2)
        assert len({tuple(x) for x in flat}) == len(flat)
    env0 = envs.make_env("point_maze_u_maze")
    cells = {tuple(c) for c in _cell_of(env0, episode_starts.reshape(-1, 2))}
    assert cells == {tuple(c) for c in env0.layout.start_cells}
    for t in (1, 2, 3):
        np.testing.assert_array_equal(goals[t], goals[4])


def test_training_wrapper_keeps_the_finished_episodes_bookkeeping():
    # The reference is Brax's own AutoResetWrapper over the same EpisodeWrapper and
    # VmapWrapper, from the same first state: at a done step the step count,
    # truncation, `episode_done` and episode metrics describe the episode that just
    # ended, and the next step starts them over. Brax restarts each env from its
    # first state, so the two runs agree on every metric through the first episode's
    # end and on the step counts after it; later episodes' metrics are checked
    # against sums of our own per-step metrics.
    length, n = 3, 4
    base = envs.make_env("point_maze_u_maze")
    ours = envs.wrap_for_training(base, episode_length=length, reset_pool_size=2)
    ref = AutoResetWrapper(VmapWrapper(EpisodeWrapper(base, length, 1)))
    state = jax.jit(ours.reset)(jr.split(jr.key(4), n))
    own = ("reset_pool", "pool_used", "reset_key", "last_obs")
    ref_info = {k: v for k, v in state.info.items() if k not in own}
    ref_info.update(first_obs=state.obs, first_pipeline_state=state.pipeline_state)
    ref_state = state.replace(info=ref_info)
    step, ref_step = jax.jit(ours.step), jax.jit(ref.step)
    actions = jr.uniform(jr.key(5), (3 * length, n, 2), minval=-1, maxval=1)
    sums = None
    for t, action in enumerate(actions):
        state, ref_state = step(state, action), ref_step(ref_state, action)
        np.testing.assert_array_equal(state.done, t % length == length - 1)
        np.testing.assert_array_equal(state.done, ref_state.done)
        for name in ("steps", "truncation", "episode_done"):
            np.testing.assert_array_equal(state.info[name], ref_state.info[name])
        metrics = state.info["episode_metrics"]
        expected = ref_state.info["episode_metrics"]
        np.testing.assert_array_equal(metrics["length"], expected["length"])
        if t < length:
            for name in expected:
                np.testing.assert_array_equal(metrics[name], expected[name])
        step_metrics = {"sum_reward": state.reward, **state.metrics}
        if t % length == 0:
            sums = {name: np.zeros(n, np.float32) for name in step_metrics}
        for name, value in step_metrics.items():
            sums[name] = sums[name] + np.asarray(value)
            np.testing.assert_allclose(metrics[name], sums[name], rtol=1e-6)


def test_registry():
    names = envs.list_envs()
    for maze in ("u_maze", "u4_maze", "u5_maze", "big_maze", "hardest_maze"):
        assert f"point_maze_{maze}" in names
    assert "point_maze_u_maze_eval" in names
    # Every point maze's evaluation env keeps its goal when reached (time at goal
    # counts steps at one goal), the hardest maze's on its own layout.
    for maze in ("u_maze", "hardest_maze"):
        train_env = envs.make_env(f"point_maze_{maze}")
        eval_env = envs.make_env(f"point_maze_{maze}_eval")
        assert train_env.new_goal_on_success and not eval_env.new_goal_on_success
    hardest = envs.make_env("point_maze_hardest_maze_eval")
    assert hardest.layout.name == "hardest_maze"
    with pytest.raises(KeyError, match="point_maze_u_maze"):
        envs.make_env("point_maze_no_such_maze")
    env = envs.make_env("point_maze_u4_maze", success_threshold=0.4)
    assert env.success_threshold == 0.4
    with pytest.raises(ValueError, match="already registered"):
        envs.register_env("point_maze_u_maze", envs.PointMaze)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(max_step=0.5), "max_step"),
        (dict(radius=0.6), "radius"),
        (dict(cell_size=0.0), "cell_size"),
        (dict(success_threshold=0.0), "success_threshold"),
        (dict(goal_noise=0.45), "goal_noise"),
        (dict(layout="nope"), "u_maze"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError, KeyError), match=match):
        envs.PointMaze(**kwargs)


def test_training_mazes_draw_a_new_goal_on_success_and_eval_mazes_do_not():
    for name, expect_new in (
        ("point_maze_u_maze", True),
        ("point_maze_u_maze_eval", False),
    ):
        env = envs.make_env(name)
        assert env.new_goal_on_success is expect_new
        state = jax.jit(env.reset)(jr.key(3))
        goal = state.info["goal"]
        # Put the point on its goal, then take a zero step: the goal is reached.
        state = state.replace(obs=state.obs.at[:2].set(goal))
        goals = []
        step = jax.jit(env.step)
        for _ in range(4):
            state = step(state, jnp.zeros(2))
            assert float(state.metrics["success"]) == 1.0 or expect_new
            goals.append(np.asarray(state.info["goal"]))
            np.testing.assert_array_equal(state.obs[2:], state.info["goal"])
        if expect_new:
            # Reached at the first step: a new goal, drawn among the goal cells.
            assert not np.allclose(goals[0], goal)
            cells = {tuple(c) for c in _cell_of(env, np.stack(goals))}
            assert cells <= {tuple(c) for c in env.layout.goal_cells}
        else:
            assert all(np.allclose(g, goal) for g in goals)


def test_training_wrapper_under_vmap_gives_each_member_its_own_run_and_keeps_a_cond():
    # Two members (say, two seeds) a step apart, so their pools run out at different
    # steps: each must step exactly as it does alone, and the refill must stay a
    # conditional rather than become a select computed at every step.
    env = envs.wrap_for_training(
        envs.make_env("point_maze_u_maze"), episode_length=3, reset_pool_size=1
    )
    step, both_step = jax.jit(env.step), jax.jit(jax.vmap(env.step))
    action = jnp.full((4, 2), 0.3)
    a = step(env.reset(jr.split(jr.key(1), 4)), action)
    b = env.reset(jr.split(jr.key(2), 4))
    both = jax.tree.map(lambda x, y: jnp.stack([x, y]), a, b)
    actions = jnp.stack([action, -action])
    for _ in range(8):
        a, b = step(a, action), step(b, -action)
        both = both_step(both, actions)
        for i, alone in enumerate((a, b)):
            for x, y in zip(jax.tree.leaves(alone), jax.tree.leaves(both)):
                if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                    x, y = jr.key_data(x), jr.key_data(y)
                np.testing.assert_array_equal(x, y[i])
    conds = str(jax.make_jaxpr(env.step)(a, action)).count(" cond[")
    assert conds >= 1
    assert str(jax.make_jaxpr(jax.vmap(env.step))(both, actions)).count(" cond[") == (
        conds
    )


def test_training_wrapper_first_state_resets_as_the_release():
    # `reset="first"` (the release's training resets): every env slot goes back to
    # its own first start and goal. The reference is Brax's own AutoResetWrapper
    # (what the release wraps its training envs in) over the same EpisodeWrapper
    # and VmapWrapper, from the same first state and with the same actions; goals
    # are not redrawn on success here, so the whole state is the pipeline state and
    # the observation.
    length, n = 4, 8
    base = envs.make_env("point_maze_u_maze", new_goal_on_success=False)
    ours = envs.wrap_for_training(base, episode_length=length, reset="first")
    assert isinstance(ours, envs.FirstStateAutoResetWrapper)
    ref = AutoResetWrapper(VmapWrapper(EpisodeWrapper(base, length, 1)))
    state = jax.jit(ours.reset)(jr.split(jr.key(7), n))
    first_obs = np.asarray(state.obs)
    ref_info = {
        k: v for k, v in state.info.items() if k not in ("first_state", "last_obs")
    }
    ref_info.update(first_obs=state.obs, first_pipeline_state=state.pipeline_state)
    ref_state = state.replace(info=ref_info)
    step, ref_step = jax.jit(ours.step), jax.jit(ref.step)
    actions = jr.uniform(jr.key(8), (3 * length, n, 2), minval=-1, maxval=1)
    for t, action in enumerate(actions):
        previous = state
        state, ref_state = step(state, action), ref_step(ref_state, action)
        np.testing.assert_array_equal(state.done, t % length == length - 1)
        np.testing.assert_array_equal(state.obs, ref_state.obs)
        np.testing.assert_array_equal(state.info["steps"], ref_state.info["steps"])
        # The observation always carries the env's current goal: the first one.
        np.testing.assert_array_equal(state.obs[:, 2:], state.info["goal"])
        np.testing.assert_array_equal(state.info["goal"], first_obs[:, 2:])
        if t % length == length - 1:
            np.testing.assert_array_equal(state.obs, first_obs)
            # The finished episode's last observation is kept.
            assert not np.array_equal(state.info["last_obs"], first_obs)
            np.testing.assert_array_equal(
                state.info["last_obs"][:, 2:], first_obs[:, 2:]
            )
        else:
            assert not np.array_equal(state.obs, previous.obs)
    with pytest.raises(ValueError, match="reset"):
        envs.wrap_for_training(base, reset="firstt")
