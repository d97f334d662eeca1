"""Train a point mass to reach commanded goals in a U-shaped maze, on a CPU in minutes.

    python examples/point_maze.py                     # the README's main job
    python examples/point_maze.py --seed 1            # another seed
    python examples/point_maze.py --num-seeds 3       # seeds 0, 1, 2 in one program
    python examples/point_maze.py --env-name point_maze_u4_maze \
        --total-env-steps 2_000_000
    python examples/point_maze.py --help

No reward anywhere: the critic learns which goals follow which states and actions
(InfoNCE over relabelled future states), and the actor steers towards the commanded
goal. Evaluation commands the far side of the U from the start (point_maze_u_maze_eval).
Outputs (config, metrics, checkpoint, learning curve, a picture of the final policy's
trajectories) go to a run directory, printed at the end.
"""

import equicrl


PRESETS = {
    # Small networks and many cheap env steps: what a 2-core CPU trains fastest.
    # 1.5M env steps with the learning rates decayed to 0 by a cosine schedule
    # (`lr_schedule="cosine"`): with constant rates the evaluated success kept
    # swinging after 150k steps and the score depended on where training stopped.
    # Chosen on seeds 0-4 against the constant-rate 1M preset and other candidates;
    # seeds 5-9 were the test (`benchmarks/main_job_seeds.py`, the training guide).
    "cpu": equicrl.CRLConfig(
        env_name="point_maze_u_maze",
        num_envs=64,
        unroll_length=50,
        episode_length=200,
        replay_rows=2_000,
        prefill_rows=200,
        batch_size=256,
        env_steps_per_gradient_step=20,
        repr_dim=32,
        actor_width=64,
        critic_width=64,
        total_env_steps=1_500_000,
        lr_schedule="cosine",
        eval_envs=128,
        # Evaluate (and deploy: `Run.policy()`) a sample of the actor, not its mean
        # action, which can stick against a wall short of the far goal cells; the
        # release's `--eval_actor 1`. Training does not depend on it. Adopted by a
        # test decided before it ran: every score of seeds 0-9 (alone and as one
        # program) and fresh seeds 20-29 at least 0.9 (the training guide).
        eval_actor=1,
    ),
}


if __name__ == "__main__":
    equicrl.train_cli(PRESETS, description=__doc__.split("\n")[0])
