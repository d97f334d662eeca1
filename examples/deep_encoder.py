"""Build a 1000-layer contrastive critic and take CRL gradient steps with it.

Until the training loop lands this is equicrl's main job: it shows that a critic with
two 1024-layer residual encoders (the paper's deepest) compiles in seconds, because the
blocks run under `jax.lax.scan`, and that one full CRL gradient step (actor and
temperature through the critic, then the critic's InfoNCE update) runs and lowers the
InfoNCE loss on a fixed batch.

    python examples/deep_encoder.py                  # depth 1024, width 256, batch 256
    python examples/deep_encoder.py --depth 64 --steps 20
"""

import argparse
import time

import equinox as eqx
import jax
import jax.random as jr
import optax

import equicrl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=1024, help="critic depth")
    parser.add_argument("--actor-depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3, help="gradient steps to take")
    parser.add_argument("--remat", action="store_true", help="checkpoint every block")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # The paper's Humanoid sizes: 268-dim state, 17-dim action, 3-dim goal.
    state_dim, action_dim, goal_dim = 268, 17, 3
    actor_key, critic_key, data_key, step_key = jr.split(jr.key(args.seed), 4)
    t0 = time.perf_counter()
    critic = equicrl.ContrastiveCritic(
        state_dim,
        action_dim,
        goal_dim,
        width=args.width,
        depth=args.depth,
        remat=args.remat,
        key=critic_key,
    )
    actor = equicrl.GoalConditionedActor(
        state_dim,
        goal_dim,
        action_dim,
        width=args.width,
        depth=args.actor_depth,
        key=actor_key,
    )
    n_params = sum(
        x.size for x in jax.tree_util.tree_leaves(eqx.filter(critic, eqx.is_array))
    )
    print(
        f"critic: two encoders of depth {args.depth} "
        f"({critic.sa_encoder.num_blocks} residual blocks, "
        f"{args.depth + 2} Linear layers each), width {args.width}: "
        f"{n_params / 1e6:.1f}M parameters, built in {time.perf_counter() - t0:.2f} s"
    )

    k1, k2, k3 = jr.split(data_key, 3)
    states = jr.normal(k1, (args.batch, state_dim))
    batch = equicrl.Transitions(
        state=states,
        action=jr.uniform(k2, (args.batch, action_dim), minval=-1, maxval=1),
        # Goals that depend on the state, so the critic has something to learn.
        goal=states[:, :goal_dim] + 0.1 * jr.normal(k3, (args.batch, goal_dim)),
    )

    logits_fn = eqx.filter_jit(lambda c, b: c.logits(b.state, b.action, b.goal))
    t0 = time.perf_counter()
    logits = logits_fn(critic, batch).block_until_ready()
    print(
        f"forward: compiled and ran in {time.perf_counter() - t0:.2f} s; "
        f"logits {logits.shape}, diagonal mean {float(logits.diagonal().mean()):.3f}, "
        f"InfoNCE {float(equicrl.infonce_loss(logits)):.4f} "
        f"(log(batch) = {jax.numpy.log(args.batch):.4f})"
    )

    optimiser = optax.adam(3e-4)
    state = equicrl.init_crl_state(actor, critic, optimiser)

    @eqx.filter_jit(donate="all-except-first")
    def step(batch, state, key):
        return equicrl.crl_gradient_step(state, batch, key, optimiser=optimiser)

    t0 = time.perf_counter()
    for i, key in enumerate(jr.split(step_key, args.steps)):
        state, metrics = step(batch, state, key)
        loss = float(metrics["critic_loss"])  # blocks until the step is done
        elapsed = time.perf_counter() - t0
        what = "compile + step" if i == 0 else "step"
        print(
            f"step {i + 1}/{args.steps}: critic InfoNCE {loss:.4f}, "
            f"actor loss {float(metrics['actor_loss']):.4f}, "
            f"alpha {float(metrics['alpha']):.4f}  ({what} {elapsed:.2f} s)",
            flush=True,
        )
        t0 = time.perf_counter()


if __name__ == "__main__":
    main()
