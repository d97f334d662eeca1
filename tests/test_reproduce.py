"""`benchmarks/reproduce_release.py`'s bookkeeping and statistics, against SciPy and
the release's own formulas (no training here: the comparison itself is a benchmark)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats


sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import reproduce_release as rr  # noqa: E402
from _common import RELEASE_STAMP  # noqa: E402


# A line as the release's train.py prints it (through release_runner.py's stamp).
LINE = (
    "[   133.7 s  1.08 GB] epoch 3 out of 20 complete. metrics: {'eval/walltime': "
    "8.145599603652954, 'training/sps': 424.6309173407548, 'training/envsteps': "
    "73408.0, 'training/actor_loss': Array(4.5347996, dtype=float32), "
    "'training/logits_neg': Array(0., dtype=float32), 'eval/episode_success': "
    "Array(67.8125, dtype=float32), 'eval/episode_dist': Array(nan, dtype=float32), "
    "'eval/episode_success_any': Array(1., dtype=float32), 'eval/sps': "
    "71040.19274649463}"
)


def _settings(**changes):
    s = dict(
        env="reacher",
        num_envs=32,
        unroll_length=62,
        episode_length=1000,
        batch_size=256,
        width=256,
        depth=4,
        layers_per_block=4,
        gradient_steps_per_collection=124,
        replay_rows=10_000,
        prefill_rows=1_000,
        epochs=30,
        collections_per_epoch=5,
        eval_envs=64,
        learning_rate=3e-4,
        logsumexp_penalty=0.1,
        gamma=0.99,
        repr_dim=64,
    )
    return {**s, **changes}


def test_reads_the_release_output():
    t, gb, line = RELEASE_STAMP.match(LINE).groups()
    assert (float(t), float(gb)) == (133.7, 1.08)
    epoch = rr._EPOCH.match(line)
    assert epoch.group(1, 2) == ("3", "20")
    m = rr._release_metrics(epoch.group(3))
    assert m["training/envsteps"] == 73408.0
    assert m["eval/episode_success"] == 67.8125
    assert m["eval/episode_success_any"] == 1.0
    assert np.isnan(m["eval/episode_dist"])


@pytest.mark.parametrize("num_envs, unroll", [(32, 62), (16, 50)])
def test_both_codes_train_the_same_steps(num_envs, unroll):
    s = _settings(num_envs=num_envs, unroll_length=unroll)
    flags = rr.release_flags(s, seed=3)
    value = dict(zip(flags[::2], flags[1::2]))
    # The release's train.py, as it computes its schedule from its flags.
    per_collection = int(value["--num_envs"]) * int(value["--unroll_length"])
    prefill_steps = int(value["--min_replay_size"]) * int(value["--num_envs"])
    prefill_collections = np.ceil(int(value["--min_replay_size"]) / unroll)
    per_epoch = (int(value["--total_env_steps"]) - prefill_steps) // (
        int(value["--num_epochs"]) * per_collection
    )
    assert per_epoch == s["collections_per_epoch"]
    assert value["--seed"] == "3" and value["--eval_env_id"] == "reacher"
    # Its env-step count at the last evaluation equals equicrl's whole run.
    last = (prefill_collections + s["epochs"] * per_epoch) * per_collection
    c = rr.equicrl_config(s, seeds=5, episode_reset="first")
    assert last == rr.total_env_steps(s) == c.total_env_steps
    assert c.prefill_collections == prefill_collections
    assert c.gradient_steps_per_collection == int(
        value["--num_sgd_batches_per_training_step"]
    )
    assert (c.num_seeds, c.episode_reset, c.eval_envs) == (5, "first", s["eval_envs"])


def test_the_statistics_are_scipys():
    a = [612.0, 540.5, 701.2, 488.0, 655.3]
    b = [590.1, 420.7, 633.0, 501.9]
    welch = rr.welch_interval(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert welch["difference"] == pytest.approx(np.mean(a) - np.mean(b))
    assert (welch["low"], welch["high"]) == pytest.approx((ref.low, ref.high))
    mean, low, high = rr.mean_band(a)
    ref = stats.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=stats.sem(a))
    assert (low, high) == pytest.approx(ref) and mean == pytest.approx(np.mean(a))


def test_curves_scores_and_time_to_a_level():
    def run(values, walls):
        evals = [
            dict(env_steps=100 * (k + 1), wall_s=w, time_at_goal=v, success=v / 1000)
            for k, (v, w) in enumerate(zip(values, walls))
        ]
        return dict(evals=evals)

    release = dict(
        one_program=False,
        runs=[
            run([10, 200, 400, 500, 600, 700], [10, 20, 30, 40, 50, 60]),
            run([20, 300, 500, 600, 700, 800], [12, 22, 32, 42, 52, 62]),
        ],
    )
    ours = dict(
        one_program=True,
        runs=[
            run([50, 400, 500, 600, 700, 800], [5, 9, 13, 17, 21, 25]),
            run([50, 300, 500, 600, 700, 800], [5, 9, 13, 17, 21, 25]),
        ],
    )
    curve = rr.mean_curve(release, "time_at_goal")
    assert curve["mean"][:3] == [15, 250, 450]
    # One seed's clock: the mean of the processes'; all seeds': their sum.
    assert curve["wall_s"][1] == 21 and curve["wall_all_s"][1] == 42
    assert rr.time_to(curve, 300) == dict(env_steps=300, wall_s=31, wall_all_s=62)
    assert rr.time_to(curve, 10_000) is None
    mine = rr.mean_curve(ours, "time_at_goal")
    assert mine["wall_s"] == mine["wall_all_s"] == [5, 9, 13, 17, 21, 25]
    assert rr.time_to(mine, 300) == dict(env_steps=200, wall_s=9, wall_all_s=9)
    # The paper's score: the mean of the last 5 evaluations.
    scores = rr.final_scores(release)
    assert scores["time_at_goal"]["seeds"] == [480, 580]
    result = dict(level=300, codes={"release": release, "equicrl_first": ours})
    summary = rr.summarise(result)
    assert summary["time_to_level"]["equicrl_first_speedup"] == dict(
        one_seed=pytest.approx(31 / 9), all_seeds=pytest.approx(62 / 9)
    )
    assert summary["difference"]["equicrl_first"]["time_at_goal"][
        "difference"
    ] == pytest.approx(np.mean([600, 580]) - np.mean([480, 580]))


def test_seed_zero_alone():
    # The one-seed timing: the release's first process against equicrl's seed 0 run
    # by itself; when each reaches the level, and the rates between evaluations.
    def evals(values, walls, step=100):
        return [
            dict(env_steps=step * (k + 1), wall_s=w, time_at_goal=v, success=1.0)
            for k, (v, w) in enumerate(zip(values, walls))
        ]

    result = dict(
        codes={"release": dict(runs=[dict(evals=evals([10, 400, 500], [50, 70, 90]))])},
        alone=dict(runs=[dict(evals=evals([10, 200, 350], [20, 25, 30]))]),
    )
    out = rr.alone_summary(result, 300)
    assert out["release"]["reached"]["wall_s"] == 70
    assert out["equicrl_first"]["reached"]["wall_s"] == 30
    assert out["time_ratio"] == pytest.approx(70 / 30)
    assert out["release"]["rate"] == pytest.approx(200 / 40)
    assert out["rate_ratio"] == pytest.approx((200 / 10) / (200 / 40))
