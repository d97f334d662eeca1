"""End-to-end: a short point-maze run learns, logs and stays finite."""

import json

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import equicrl
from equicrl import envs


CONFIG = equicrl.CRLConfig(
    env_name="point_maze_u_maze",
    num_envs=64,
    unroll_length=50,
    episode_length=100,
    replay_rows=1000,
    prefill_rows=100,
    batch_size=256,
    env_steps_per_gradient_step=20,
    actor_width=64,
    critic_width=64,
    repr_dim=32,
    total_env_steps=120_000,
    eval_envs=64,
    seed=0,
    # The thresholds below were set with a uniform prefill; with the untrained
    # actor's (the default), this run's last success was 0.19. The main job compares
    # the two prefills on three seeds (benchmarks/prefill.py score).
    prefill="uniform",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    lines = []
    state, history = equicrl.train(
        CONFIG, run_dir=run_dir, eval_every=8, log=lines.append
    )
    return state, history, run_dir, lines


@pytest.mark.slow
def test_short_point_maze_run_beats_the_untrained_policy(run):
    _, history, _, _ = run
    evals = [h for h in history if "eval/success" in h]
    first, last = evals[0], evals[-1]
    # The first evaluation (after 8 epochs) never reaches the far goals; the trained
    # policy reaches them in a clear fraction of episodes and spends time there.
    assert first["eval/success"] == 0.0
    assert last["eval/success"] >= 0.2
    assert last["eval/time_at_goal"] > first["eval/time_at_goal"] + 5
    assert history[-1]["critic_loss"] < history[0]["critic_loss"]


@pytest.mark.slow
def test_short_point_maze_run_beats_a_random_policy_on_distance_to_goal(run):
    _, history, _, _ = run
    env = envs.make_env("point_maze_u_maze_eval")

    @jax.jit
    def random_final_dist(key):
        reset_key, act_key = jr.split(key)
        state = jax.vmap(env.reset)(jr.split(reset_key, 256))

        def body(state, k):
            action = jr.uniform(k, (256, 2), minval=-1, maxval=1)
            return jax.vmap(env.step)(state, action), None

        steps = jr.split(act_key, CONFIG.episode_length)
        state, _ = jax.lax.scan(body, state, steps)
        return state.metrics["dist"]

    random_dist = float(np.mean(random_final_dist(jr.key(0))))
    trained = history[-1]
    # A clear margin: several standard errors, and a third of the random distance.
    margin = max(5 * trained["eval/final_dist_stderr"], random_dist / 3)
    assert trained["eval/final_dist"] < random_dist - margin


@pytest.mark.slow
def test_run_writes_config_metrics_and_progress(run):
    state, history, run_dir, lines = run
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["config"]["env_name"] == "point_maze_u_maze"
    assert {"jax", "equinox", "brax", "mujoco"} <= set(meta["versions"])
    records = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert records == history
    assert len(records) == (120_000 - 100 * 64) // (64 * 50)
    assert records[-1]["env_steps"] == int(state.collections) * 64 * 50
    for record in records:
        assert all(np.isfinite(v) for v in record.values())
    assert lines[0] == f"run directory: {run_dir}"
    assert lines[1].startswith("equicrl: point_maze_u_maze")
    assert any(line.startswith("compiled and ran the first epoch") for line in lines)
    # No estimate from the first epoch, which compiles; then steady ones.
    progress = [line for line in lines if line.startswith("[")]
    assert "sps and ETA estimating" in progress[0]
    assert all(" sps | ETA " in line for line in progress[1:])
    assert {"eval_every": 8, "checkpoint_every": None}.items() <= meta[
        "options"
    ].items()
    # End-of-run outputs: the learning curve and the final policy's trajectories.
    for name in ("learning_curve.png", "trajectories.png"):
        assert (run_dir / name).read_bytes()[:4] == b"\x89PNG"
    assert lines[-1].startswith("wrote ") and "trajectories.png" in lines[-1]
    # The end-of-run rollout says what it does before it starts, and how long it took.
    assert (
        lines[-3].startswith("rolling out 16 episodes of ")
        and "trajectories.png" in lines[-3]
    )
    assert lines[-2].startswith("drew trajectories.png in ")
    # Relabelled goals come from the same episodes: episode ids only grow.
    ids = np.asarray(state.buffer.episode_id)
    order = (
        int(state.buffer.start) + np.arange(state.buffer.capacity)
    ) % state.buffer.capacity
    assert np.all(np.diff(ids[order], axis=0) >= 0)


def test_the_prefill_samples_the_untrained_actor():
    # As the release: the buffer is prefilled by the freshly initialised actor,
    # sampling tanh(mean + std * eps), not by uniform actions. With goals at cell
    # centres (goal_noise 0), every stored prefill action is within 4 standard
    # deviations of that actor's Gaussian at its state for one of the goal cells;
    # uniform actions at the same states mostly are not. (The actor is the release's
    # width, 256, whose initial standard deviations are about 0.1.)
    from helpers import tiny_config

    from equicrl.runs._train import _programs, prefill
    from equicrl.training._state import make_parts, seed_keys

    # train()'s own prefill, without compiling the epochs.
    c = tiny_config(1).replace(actor_width=256)
    parts = make_parts(c, {"goal_noise": 0.0})
    programs = _programs(parts)
    initial = programs.init(seed_keys(c))
    # A copy: the collection donates the state it is given.
    actor = jax.tree.map(
        lambda x: jnp.array(x, copy=True) if isinstance(x, jax.Array) else x,
        initial.crl.actor,
    )
    state = prefill(programs, initial, c)
    rows = c.prefill_collections * c.unroll_length
    states = np.asarray(state.buffer.data["state"][:rows]).reshape(-1, 2)
    actions = np.asarray(state.buffer.data["action"][:rows], np.float64)
    goals = jnp.asarray(parts.env.layout.goal_cells * parts.env.cell_size, "float32")
    grid = jax.vmap(jax.vmap(actor, in_axes=(None, 0)), in_axes=(0, None))
    mean, log_std = (np.asarray(x, np.float64) for x in grid(states, goals))

    def worst_z(actions):
        z = (np.arctanh(actions.reshape(-1, 1, 2)) - mean) / np.exp(log_std)
        return np.abs(z).max(-1).min(-1)  # best goal cell, worse action axis

    assert np.all(worst_z(actions) < 4)
    uniform = jr.uniform(jr.key(0), actions.shape, minval=-1, maxval=1)
    assert np.mean(worst_z(np.asarray(uniform, np.float64)) < 4) < 0.5
