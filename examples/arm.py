"""Train a Franka arm to push or carry a cube to commanded goals.

    python examples/arm.py                          # arm_push_easy, for a GPU
    python examples/arm.py --preset binpick-hard    # arm_binpick_hard (GPU)
    python examples/arm.py --critic-depth 64 --actor-depth 64
    python examples/arm.py --preset smoke           # one short epoch on a CPU
    python examples/arm.py --help

The task presets use the release's training defaults (512 envs, 62-step unrolls, batch
512, width 256, 100M env steps, 1000-step episodes) at depth 4, the paper's baseline
depth; the paper's Table 1 compares it with depth 64 (time at goal out of 1000 steps,
depth 4 -> 64: push easy 308 -> 762, push hard 171 -> 410, binpick hard 38 -> 219).
The arm tasks step MuJoCo's MJX physics, 25 substeps per env step: on a CPU an env
step costs tens of milliseconds, so real runs need a GPU. Outputs (config, metrics,
checkpoint, learning curve, the final policy's cube paths over the table, an HTML
rollout) go to a run directory, printed at the start and the end.
"""

import equicrl


def _task(env_name: str) -> equicrl.CRLConfig:
    return equicrl.CRLConfig(env_name=env_name, total_env_steps=100_000_000)


PRESETS = {
    "push-easy": _task("arm_push_easy"),
    "push-hard": _task("arm_push_hard"),
    "binpick-hard": _task("arm_binpick_hard"),
    "binpick-easy": _task("arm_binpick_easy"),
    # The pipeline end to end on a CPU: four envs, small nets, 20-step episodes, one
    # epoch after the prefill. 9 min 12 s on 2 CPU cores (2026-12-02), most of it
    # compiling MJX (collection, evaluation, the pictures' rollout) and MJX's slow
    # batched steps on a CPU.
    "smoke": equicrl.CRLConfig(
        env_name="arm_push_easy",
        num_envs=4,
        unroll_length=10,
        episode_length=20,
        replay_rows=40,
        prefill_rows=20,
        batch_size=32,
        env_steps_per_gradient_step=20,
        repr_dim=16,
        actor_width=32,
        critic_width=32,
        total_env_steps=30 * 4,
        eval_envs=2,
    ),
}


if __name__ == "__main__":
    equicrl.train_cli(PRESETS, description=__doc__.split("\n")[0])
