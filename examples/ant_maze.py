"""Train the ant to reach goals in the paper's ant mazes.

    python examples/ant_maze.py                 # ant_big_maze, paper settings (GPU)
    python examples/ant_maze.py --env-name ant_u4_maze --critic-depth 16
    python examples/ant_maze.py --preset cpu    # a short U-maze run on a CPU
    python examples/ant_maze.py --help

The `paper` preset is the paper's configuration on Ant Big Maze (512 envs, batch 512,
100M env steps) at depth 8, the depth at which the paper's ant first solves it. Other
mazes: ant_u_maze, ant_u4_maze, ant_u5_maze, ant_hardest_maze (their budgets in the
paper: U4 100M, U5 400M, Hardest 200M env steps). Outputs (config, metrics,
checkpoint, learning curve, torso paths over the maze, an HTML rollout) go to a
printed run directory.
"""

import equicrl


PRESETS = {
    "paper": equicrl.CRLConfig(
        env_name="ant_big_maze",
        total_env_steps=100_000_000,
        critic_depth=8,
        actor_depth=8,
    ),
    # A CPU-sized run of the ant U-maze (500k env steps), to try the pipeline on a
    # laptop; solving the mazes takes the paper's budgets and a GPU.
    "cpu": equicrl.CRLConfig(
        env_name="ant_u_maze",
        num_envs=64,
        unroll_length=62,
        episode_length=500,
        replay_rows=2_000,
        prefill_rows=100,
        batch_size=256,
        actor_width=128,
        critic_width=128,
        total_env_steps=500_000,
        eval_envs=32,
    ),
}


if __name__ == "__main__":
    equicrl.train_cli(PRESETS, description=__doc__.split("\n")[0])
