"""Data parallelism on 4 XLA CPU devices: the same results as on one.

JAX fixes its device count when it starts, so the 4-device runs go in a fresh
interpreter with `XLA_FLAGS=--xla_force_host_platform_device_count=4`; it reports
numbers as JSON and the assertions are made here.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


SCRIPT = r"""
import json
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import equicrl

out = {"devices": len(jax.devices())}
config = equicrl.CRLConfig(
    env_name="point_maze_u_maze", num_envs=16, unroll_length=10, episode_length=50,
    replay_rows=200, prefill_rows=20, batch_size=32, env_steps_per_gradient_step=40,
    repr_dim=8, actor_width=16, critic_width=16, total_env_steps=16 * 10 * 4,
    eval_envs=8,
)
# One device, one seed; then two seeds side by side, each split across the 4
# devices: seed 0 is the one-device run.
ts1, history = equicrl.train(config.replace(num_devices=1), log=lambda _: None)
out["losses_1"] = [
    [r[k] for k in ("critic_loss", "actor_loss", "alpha_loss")] for r in history
]
out["success_1"] = history[-1]["eval/success"]
out["buffer_devices_1"] = len(ts1.buffer.data["state"].sharding.device_set)
ts4, history = equicrl.train(
    config.replace(num_devices=4, num_seeds=2), log=lambda _: None
)
out["losses_4"] = [
    [r["seeds"][0][k] for k in ("critic_loss", "actor_loss", "alpha_loss")]
    for r in history
]
out["success_4"] = history[-1]["seeds"][0]["eval/success"]
out["buffer_devices_4"] = len(ts4.buffer.data["state"].sharding.device_set)
out["buffer_spec_4"] = str(ts4.buffer.data["state"].sharding.spec)
out["env_spec_4"] = str(ts4.env_state.obs.sharding.spec)
out["params_spec_4"] = str(
    ts4.crl.critic.sa_encoder.blocks.linears[0].weight.sharding.spec
)
leaves = [
    [np.asarray(x) for x in jax.tree.leaves(eqx.filter(ts.crl, eqx.is_array))]
    for ts in (ts1, ts4)
]
out["max_param_diff"] = max(
    float(np.abs(a - b[0]).max()) for a, b in zip(*leaves)
)
out["max_param"] = max(float(np.abs(a).max()) for a in leaves[0])

# The relabelled batch drawn from seed 0's split buffer is exactly the unsplit one's.
buffer = jax.tree.map(lambda x: x[0], ts4.buffer)
mesh = equicrl.make_mesh(config.replace(num_devices=4))
sharded = buffer.sample_relabelled(jr.key(5), 32, 0.99, mesh=mesh)
whole = jax.tree.map(jnp.asarray, jax.device_get(buffer))
whole = whole.sample_relabelled(jr.key(5), 32, 0.99)
out["batch_equal"] = all(
    bool(np.array_equal(a, b))
    for a, b in zip(jax.tree.leaves(sharded), jax.tree.leaves(whole))
)
out["batch_devices"] = len(sharded[0]["state"].sharding.device_set)
out["seed_buffer_spec_4"] = str(buffer.data["state"].sharding.spec)
try:
    equicrl.make_mesh(config.replace(num_envs=18))
except ValueError as e:
    out["uneven_error"] = str(e)
print(json.dumps(out))
"""


# Every test reads one report, whose fixture trains twice (~1 min): one seed on one
# device, then two seeds side by side on 4 simulated devices.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    )
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spec(text):
    # A PartitionSpec as printed: jax < 0.9.1 prints `PartitionSpec(...)`, not `P(...)`.
    return text.replace("PartitionSpec(", "P(")


def test_four_devices_give_the_losses_and_parameters_of_one(report):
    # Seed 0 of two, each split across the 4 devices, against one seed on one.
    assert report["devices"] == 4
    np.testing.assert_allclose(
        report["losses_4"], report["losses_1"], rtol=1e-5, atol=1e-5
    )
    assert report["max_param_diff"] <= 1e-5 * max(1.0, report["max_param"])
    assert report["success_4"] == report["success_1"]


def test_envs_and_buffer_are_split_and_networks_replicated(report):
    assert report["buffer_devices_1"] == 1
    assert report["buffer_devices_4"] == 4
    # The seed axis leads and is not split; the env axis is.
    assert _spec(report["buffer_spec_4"]) == "P(None, None, 'data')"
    assert _spec(report["seed_buffer_spec_4"]) == "P(None, 'data')"
    assert _spec(report["env_spec_4"]) == "P(None, 'data')"
    assert _spec(report["params_spec_4"]) == "P()"


def test_sampling_from_a_split_buffer_is_the_same_batch(report):
    assert report["batch_equal"]
    assert report["batch_devices"] == 4


def test_uneven_split_names_the_field(report):
    assert "`num_envs` (18)" in report["uneven_error"]
    assert "4 devices" in report["uneven_error"]
