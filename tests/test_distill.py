"""Distillation: the loss against float64 references, a student that acts as its
teacher does, the deployable policy file, and the errors for a wrong teacher."""

import importlib.util
import math
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import tiny_config


# The teacher: the tests' tiny run (the programs other tests compile), checkpointed.
TEACHER = tiny_config(epochs=2)
# The student: 8 epochs of 16 gradient steps on the "action" loss, at a higher rate.
STUDENT_EPOCHS = 8
STUDENT = dict(
    actor_depth=4,
    actor_width=16,
    total_env_steps=20 * 16 + STUDENT_EPOCHS * 160,
    loss="action",
    config_changes=dict(actor_lr=1e-3),
)


def _example():
    path = Path(__file__).parents[1] / "examples" / "distill.py"
    spec = importlib.util.spec_from_file_location("distill_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import equicrl

    root = tmp_path_factory.mktemp("distill")
    quiet = dict(log=lambda line: None, outputs=False)
    equicrl.train(TEACHER, run_dir=root / "teacher", checkpoint_every=2, **quiet)
    equicrl.distill(
        root / "teacher", run_dir=root / "student", checkpoint_every=4, **STUDENT,
        **quiet,
    )  # fmt: skip
    return root


def _gaussians(seed, batch=4, dim=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, s, (batch, dim)) for s in (1.0, 0.5, 1.0, 0.5)]


class _Fixed:
    """A stand-in actor returning fixed `(mean, log_std)` per example index (the
    state holds the index)."""

    def __init__(self, mean, log_std):
        self.mean, self.log_std = jnp.asarray(mean), jnp.asarray(log_std)

    def __call__(self, state, goal):
        i = state[0].astype(jnp.int32)
        return self.mean[i], self.log_std[i]


@pytest.mark.parametrize("seed", [0, 1])
def test_kl_loss_is_the_kl_of_the_tanh_gaussians(seed):
    """The closed form against a float64 Monte Carlo estimate of KL(teacher ||
    student) of the squashed distributions, tanh Jacobians included."""
    import equicrl

    s_mean, s_log_std, t_mean, t_log_std = _gaussians(seed)
    state = jnp.arange(len(s_mean), dtype=jnp.float32)[:, None]
    goal = jnp.zeros((len(s_mean), 1))
    loss, _ = equicrl.distill_loss(
        _Fixed(s_mean, s_log_std), _Fixed(t_mean, t_log_std), state, goal, kind="kl"
    )
    rng = np.random.default_rng(100 + seed)
    n = 400_000
    estimates = []
    for i in range(len(s_mean)):
        u = t_mean[i] + np.exp(t_log_std[i]) * rng.standard_normal((n, 3))
        a = np.tanh(u)

        def log_density(mean, log_std):
            # The density of a = tanh(u) at the sampled actions: the Gaussian density
            # of atanh(a), times the Jacobian 1 / (1 - a^2).
            z = (np.arctanh(a) - mean) * np.exp(-log_std)
            gauss = -0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)
            return (gauss - np.log1p(-(a**2))).sum(-1)

        ratio = log_density(t_mean[i], t_log_std[i]) - log_density(
            s_mean[i], s_log_std[i]
        )
        estimates.append((ratio.mean(), ratio.std() / math.sqrt(n)))
    mc = np.mean([m for m, _ in estimates])
    stderr = math.sqrt(sum(s**2 for _, s in estimates)) / len(estimates)
    assert abs(float(loss) - mc) < 5 * stderr + 1e-3


def test_action_loss_and_action_error_against_numpy():
    import equicrl

    s_mean, s_log_std, t_mean, t_log_std = _gaussians(2)
    state = jnp.arange(len(s_mean), dtype=jnp.float32)[:, None]
    goal = jnp.zeros((len(s_mean), 1))
    loss, error = equicrl.distill_loss(
        _Fixed(s_mean, s_log_std), _Fixed(t_mean, t_log_std), state, goal, "action"
    )
    diff = np.tanh(s_mean) - np.tanh(t_mean)
    # The deterministic actions' squared error and the log-stds' (the student's
    # noise is trained too: it collects its own data by sampling).
    expected = (diff**2 + (s_log_std - t_log_std) ** 2).sum(-1).mean()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(float(error), np.abs(diff).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="kind"):
        equicrl.distill_loss(
            _Fixed(s_mean, s_log_std), _Fixed(t_mean, t_log_std), state, goal, "l1"
        )


@pytest.mark.slow
def test_student_acts_as_its_teacher_on_the_teachers_states(runs):
    """On the states of the teacher's own evaluation episodes (with their goals), the
    student's deterministic actions are within 0.02 of the teacher's on average (1 %
    of the action range; measured 0.004 on a like run, where an untrained student is
    0.34 off), and at most 0.1 anywhere."""
    import equicrl

    teacher, student = (
        equicrl.load_run(runs / "teacher"),
        equicrl.load_run(runs / "student"),
    )
    assert student.config.teacher == str(runs / "teacher")
    assert student.config.actor_depth == 4 and student.epoch == STUDENT_EPOCHS
    assert student.meta["config"]["teacher"] == str(runs / "teacher")
    recorded = student.meta["teacher"]  # the teacher's checkpoint when distilled
    assert recorded["epoch"] == 2 and recorded["env_steps"] == teacher.env_steps
    assert recorded["config"] == teacher.meta["config"]
    assert [r["epoch"] for r in student.history] == list(range(1, 9))
    assert all("distill_loss" in r and "eval/success" in r for r in student.history)
    states = equicrl.rollout(
        teacher.actor, teacher.eval_env, key=jr.key(3), num_episodes=8,
        episode_length=TEACHER.episode_length,
    )  # fmt: skip
    sd = teacher.env.state_dim
    obs = np.asarray(states.obs).reshape(-1, states.obs.shape[-1])
    s, g = obs[:, :sd], obs[:, sd:]
    target = np.asarray(teacher.policy()(s, g))
    error = np.abs(np.asarray(student.policy()(s, g)) - target)
    untrained = equicrl.GoalConditionedActor(
        sd, teacher.env.goal_dim, teacher.env.action_size, width=16, key=jr.key(0)
    )
    before = np.abs(np.asarray(equicrl.Policy(untrained)(s, g)) - target)
    assert error.mean() < 0.02 and error.max() < 0.1, (error.mean(), error.max())
    assert before.mean() > 10 * error.mean()
    # The noise it collects with is the teacher's too (the "action" loss fits the
    # log-stds): far closer than an untrained actor's.
    import jax

    def log_std(actor):
        return np.asarray(jax.vmap(actor)(jnp.asarray(s), jnp.asarray(g))[1])

    noise = np.abs(log_std(student.actor) - log_std(teacher.actor))
    noise_before = np.abs(log_std(untrained) - log_std(teacher.actor))
    print("log-std error", noise.mean(), "untrained", noise_before.mean())
    assert noise.mean() < 0.1 and noise_before.mean() > 5 * noise.mean()


@pytest.mark.slow
def test_a_student_resumes_and_extends_like_any_run(runs, tmp_path):
    import shutil

    import equicrl

    run_dir = tmp_path / "student"
    shutil.copytree(runs / "student", run_dir)
    config = equicrl.load_run(run_dir).config
    steps = config.total_env_steps + 160
    # From the command line, with the run's saved config (no --teacher needed).
    _, history, _ = _example().main(
        ["--resume", str(run_dir), "--total-env-steps", str(steps), "--no-progress-bar"]
    )
    assert [r["epoch"] for r in history] == list(range(1, STUDENT_EPOCHS + 2))
    resumed = equicrl.load_run(run_dir)
    assert resumed.epoch == STUDENT_EPOCHS + 1
    assert resumed.meta["resumes"][-1]["epoch"] == STUDENT_EPOCHS


@pytest.mark.slow
def test_a_policy_saved_alone_loads_and_acts_the_same(runs, tmp_path):
    import equicrl

    run = equicrl.load_run(runs / "student")
    policy = run.policy()
    path = policy.save(tmp_path / "student.eqx")
    loaded = equicrl.load_policy(path)
    s = np.asarray(jr.normal(jr.key(1), (5, run.env.state_dim)))
    g = np.asarray(jr.normal(jr.key(2), (5, run.env.goal_dim)))
    np.testing.assert_array_equal(np.asarray(loaded(s, g)), np.asarray(policy(s, g)))
    # One example (a matrix-vector product): the batch's action to float rounding.
    np.testing.assert_allclose(
        np.asarray(loaded(s[0], g[0])), np.asarray(policy(s, g))[0], atol=1e-6
    )
    assert loaded.info["teacher"] == str(runs / "teacher")
    assert loaded.num_params == policy.num_params
    # The actor alone: a small part of the run's checkpoint (buffer and critic out).
    assert (
        path.stat().st_size < 0.2 * (runs / "student" / "checkpoint.eqx").stat().st_size
    )
    with pytest.raises(ValueError, match="not a policy file"):
        equicrl.load_policy(runs / "student" / "checkpoint.eqx")
    with pytest.raises(ValueError, match="states of size"):
        policy(s[:, :1], g)
    with pytest.raises(ValueError, match="seed index"):
        run.policy(1)


@pytest.mark.slow
def test_a_wrong_teacher_is_one_line_and_status_2(runs, tmp_path, capsys):
    example = _example()
    cases = [
        (["--teacher", str(tmp_path / "nothing")], "no teacher run in"),
        (
            ["--teacher", str(runs / "teacher"), "--env-name", "point_maze_u4_maze"],
            "was trained on point_maze_u_maze, not on point_maze_u4_maze",
        ),
        ([], "--teacher RUN_DIR"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            example.main(args + ["--run-dir", str(tmp_path / "s")])
        _, err = capsys.readouterr()
        assert exit_.value.code == 2
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_a_student_has_no_critic_and_keeps_its_teachers_env_and_checkpoint(
    runs, tmp_path
):
    import json
    import shutil

    import equicrl
    from equicrl.runs._teacher import student_env_overrides

    # Its critic was never trained: asking for it, or for what needs it, is refused.
    student = equicrl.load_run(runs / "student")
    for ask in (
        lambda: student.critic,
        lambda: student.q_value_map((1.0, 1.0)),
        lambda: student.goal_embeddings((1.0, 1.0)),
    ):
        with pytest.raises(ValueError, match="distilled student.*teacher") as error:
            ask()
        assert "\n" not in str(error.value)
    assert student.policy() is not None
    # It learns in its teacher's env: other env_overrides are refused before a build.
    with pytest.raises(ValueError, match="learns in its teacher's env"):
        equicrl.distill(
            runs / "teacher", run_dir=tmp_path / "other", log=lambda _: None,
            env_overrides={"success_threshold": 0.3}, **STUDENT,
        )  # fmt: skip
    # ... and none given carries the teacher's over.
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    meta = {"config": {}, "options": {"env_overrides": {"success_threshold": 0.3}}}
    (teacher / "config.json").write_text(json.dumps(meta))
    config = TEACHER.replace(teacher=str(teacher))
    assert student_env_overrides(config, {}) == {"success_threshold": 0.3}
    assert student_env_overrides(config, {"success_threshold": 0.3}) == {
        "success_threshold": 0.3
    }
    # A resumed student whose teacher was trained on since is refused.
    moved = tmp_path / "student"
    shutil.copytree(runs / "student", moved)
    meta = json.loads((moved / "config.json").read_text())
    meta["teacher"]["epoch"] = 1  # as if distilled from the teacher's epoch 1
    (moved / "config.json").write_text(json.dumps(meta))
    longer = student.config.replace(
        total_env_steps=student.config.total_env_steps + 160
    )
    with pytest.raises(
        ValueError, match="epoch 1, but the teacher .* is now at epoch 2"
    ):
        equicrl.train(longer, run_dir=moved, resume=True, log=lambda _: None)
