"""Train the paper's flagship task: a humanoid reaching goals around a U-shaped wall.

    python examples/humanoid_maze.py                  # paper settings, for a GPU
    python examples/humanoid_maze.py --preset smoke   # one short epoch on a CPU
    python examples/humanoid_maze.py --critic-depth 256 --actor-depth 256
    python examples/humanoid_maze.py --resume runs/humanoid_u_maze-...
    python examples/humanoid_maze.py --help

The `paper` preset is the paper's configuration (512 envs, batch 512, 62-step
unrolls, replay 10,000 rows, 400M env steps) at depth 64, where the paper's humanoid
first learns to go round the wall (time at goal 159 of 1000 steps, from 3.2 at depth
4). Outputs (config, metrics, checkpoint, learning curve, the final policy's torso
paths over the maze, an HTML rollout) go to a run directory, printed at the start and
the end.
"""

import equicrl


PRESETS = {
    "paper": equicrl.CRLConfig(
        env_name="humanoid_u_maze",
        total_env_steps=400_000_000,
        critic_depth=64,
        actor_depth=64,
    ),
    # One short epoch on a CPU: small nets, short episodes; about 2 minutes on 2
    # cores (128 s on 2026-12-02), most of it compiling the humanoid's physics.
    "smoke": equicrl.CRLConfig(
        env_name="humanoid_u_maze",
        num_envs=8,
        unroll_length=10,
        episode_length=50,
        replay_rows=100,
        prefill_rows=20,
        batch_size=32,
        env_steps_per_gradient_step=20,
        repr_dim=16,
        actor_width=32,
        critic_width=32,
        total_env_steps=20 * 8 + 10 * 8,
        eval_envs=4,
    ),
}


if __name__ == "__main__":
    equicrl.train_cli(PRESETS, description=__doc__.split("\n")[0])
