"""Why the main job's evaluated success swings once it has learned: the actor, or the
critic it follows?

Trains one seed of the main job (`examples/point_maze.py`'s `cpu` preset, or with
`--constant` the same preset with constant learning rates, which swings), keeping a
checkpoint every `--every` epochs (`--reuse`: a finished run of the same config in
`--run-dir` is read back, not retrained). Then, for every `--stride`-th checkpoint
from `--from` on, on the same 128 evaluation episodes (one key for all), it
evaluates:

- **the actor**: its mean action, as training's evaluation does;
- **the critic alone**: at each step the action of a 17 x 17 grid over [-0.99, 0.99]^2
  that the checkpoint's critic values most, `argmax_a f(s, a, g)`; no actor;
- how far the actor's mean action moved since the previous checkpoint, and how far
  the critic's best action did (mean L2 over the states of the actor's episodes);
- the temperature alpha and the policy's entropy of that epoch (from the metrics).

If the critic's own policy holds while the actor's swings, the swings are the
actor's: it chases a critic whose best action barely moves, and the noise of its
updates decides where it is when an evaluation comes.

    python benchmarks/main_job_swings.py --constant --seed 1 --stride 3
    python benchmarks/main_job_swings.py --replot

Writes `benchmarks/results/main_job_swings.json` and `.png`.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from _common import machine, RESULTS  # noqa: E402


GRID = 17


def critic_policy(critic, grid):
    """A module with `deterministic_action`: the grid action the critic values most."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    class CriticGreedy(eqx.Module):
        critic: object
        grid: jax.Array

        def deterministic_action(self, state, goal):
            values = jax.vmap(lambda a: self.critic(state, a, goal))(self.grid)
            return self.grid[jnp.argmax(values)]

    return CriticGreedy(critic, grid)


def main(args=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--constant",
        action="store_true",
        help="the preset with constant learning rates (as before the fix)",
    )
    p.add_argument("--every", type=int, default=2, help="epochs between checkpoints")
    p.add_argument(
        "--stride", type=int, default=1, help="checkpoints analysed: every Nth"
    )
    p.add_argument("--reuse", action="store_true", help="read a finished run back")
    p.add_argument("--from", dest="start", type=int, default=100, help="first epoch")
    p.add_argument("--run-dir", type=Path, default=Path("runs/main_job_swings"))
    p.add_argument("--out", type=Path, default=RESULTS / "main_job_swings.json")
    p.add_argument("--replot", action="store_true")
    opts = p.parse_args(args)
    if opts.replot:
        results = json.loads(opts.out.read_text())
        plot(results, opts.out.with_suffix(".png"))
        return results

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np
    from point_maze import PRESETS

    import equicrl
    from equicrl.runs._rundir import read_metrics
    from equicrl.training._state import make_parts, read_state

    config = PRESETS["cpu"].replace(seed=opts.seed)
    if opts.constant:
        config = config.replace(lr_schedule="constant")
    epochs = config.num_epochs
    start = time.perf_counter()
    reuse = (
        opts.reuse
        and (opts.run_dir / "checkpoint.eqx").exists()
        and equicrl.load_run(opts.run_dir).config == config
        and equicrl.load_run(opts.run_dir).epoch == epochs
    )
    if not reuse:
        equicrl.train(
            config,
            run_dir=opts.run_dir,
            overwrite=True,
            eval_every=opts.every,
            checkpoint_every=opts.every,
            keep_checkpoints=epochs // opts.every + 2,
            checkpoint_buffer=False,
            outputs=False,
            log=lambda line: None,
        )
    train_s = None if reuse else time.perf_counter() - start
    history = {r["epoch"]: r for r in read_metrics(opts.run_dir)}
    parts = make_parts(config)
    env = parts.eval_env
    key = jr.key(2**31 - 2)  # one set of episodes for every checkpoint
    axis = jnp.linspace(-0.99, 0.99, GRID)
    grid = jnp.stack(jnp.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)

    @eqx.filter_jit
    def states_of(actor):
        # The states of the actor's evaluation episodes (every 4th step), with goals.
        state = jax.vmap(env.reset)(jr.split(key, config.eval_envs))
        sd = env.state_dim

        def body(state, _):
            s, g = state.obs[:, :sd], state.obs[:, sd:]
            a = jax.vmap(actor.deterministic_action)(s, g)
            return jax.vmap(env.step)(state, a), (s, g)

        _, (s, g) = jax.lax.scan(body, state, length=config.episode_length)
        return s[::4].reshape(-1, sd), g[::4].reshape(-1, g.shape[-1])

    @eqx.filter_jit
    def actions(actor, critic, s, g):
        mean = jax.vmap(actor.deterministic_action)(s, g)
        best = jax.vmap(critic_policy(critic, grid).deterministic_action)(s, g)
        return mean, best

    rows, previous = [], None
    for epoch in range(opts.start, epochs + 1, opts.every * opts.stride):
        path = opts.run_dir / (
            "checkpoint.eqx" if epoch == epochs else f"checkpoint-epoch{epoch:06d}.eqx"
        )
        if not path.exists():
            continue
        ts, _ = read_state(path, parts)
        actor, critic = ts.crl.actor, ts.crl.critic
        common = dict(
            key=key,
            num_episodes=config.eval_envs,
            episode_length=config.episode_length,
        )
        mine = equicrl.evaluate(actor, env, **common)
        theirs = equicrl.evaluate(critic_policy(critic, grid), env, **common)
        s, g = states_of(actor)
        row = dict(
            epoch=epoch,
            actor_success=mine["success"],
            actor_time_at_goal=mine["time_at_goal"],
            critic_success=theirs["success"],
            critic_time_at_goal=theirs["time_at_goal"],
            alpha=history[epoch]["alpha"],
            entropy=history[epoch]["entropy"],
        )
        if previous is not None:
            # Both networks' actions on this checkpoint's states, now and before.
            new = actions(actor, critic, s, g)
            old = actions(previous[0], previous[1], s, g)
            row["actor_moved"] = float(jnp.linalg.norm(new[0] - old[0], axis=1).mean())
            row["critic_best_moved"] = float(
                jnp.linalg.norm(new[1] - old[1], axis=1).mean()
            )
            row["actor_off_critic"] = float(
                jnp.linalg.norm(new[0] - new[1], axis=1).mean()
            )
        rows.append(row)
        previous = (actor, critic)
        print(
            f"epoch {epoch}: actor {mine['success']:.2f}, critic alone "
            f"{theirs['success']:.2f}",
            flush=True,
        )

    a = np.array([r["actor_success"] for r in rows])
    c = np.array([r["critic_success"] for r in rows])
    drops = np.diff(a) <= -0.15
    results = dict(
        command=" ".join(
            ["python benchmarks/main_job_swings.py", *(args or sys.argv[1:])]
        ),
        date=time.strftime("%Y-%m-%d"),
        machine=machine(),
        config=dataclasses.asdict(config),
        train_s=train_s,
        grid=GRID,
        rows=rows,
        summary=dict(
            actor_mean=float(a.mean()),
            actor_std=float(a.std()),
            actor_min=float(a.min()),
            critic_mean=float(c.mean()),
            critic_std=float(c.std()),
            critic_min=float(c.min()),
            # At each drop of the actor's success by 0.15 or more between
            # checkpoints: the critic's own success change at the same step.
            drops=int(drops.sum()),
            critic_change_at_drops=[float(x) for x in np.diff(c)[drops]],
            actor_change_at_drops=[float(x) for x in np.diff(a)[drops]],
        ),
    )
    opts.out.write_text(json.dumps(results, indent=1) + "\n")
    plot(results, opts.out.with_suffix(".png"))
    s = results["summary"]
    print(
        f"actor: success {s['actor_mean']:.2f} ± {s['actor_std']:.2f} (sd), min "
        f"{s['actor_min']:.2f}; critic alone: {s['critic_mean']:.2f} ± "
        f"{s['critic_std']:.2f}, min {s['critic_min']:.2f}; {s['drops']} drops"
    )
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    epochs = [r["epoch"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(
        epochs, [r["actor_success"] for r in rows], label="the actor (mean action)"
    )
    top.plot(
        epochs,
        [r["critic_success"] for r in rows],
        label="the critic alone (argmax over a grid of actions)",
    )
    top.set_ylabel("success (same 128 episodes)")
    top.set_ylim(0, 1.02)
    top.legend(loc="lower right")
    moved = [r for r in rows if "actor_moved" in r]
    ep = [r["epoch"] for r in moved]
    bottom.plot(ep, [r["actor_moved"] for r in moved], label="actor's action moved")
    bottom.plot(
        ep, [r["critic_best_moved"] for r in moved], label="critic's best action moved"
    )
    bottom.plot(
        ep,
        [r["actor_off_critic"] for r in moved],
        label="actor's action from the critic's best",
    )
    bottom.set_ylabel("mean L2 per state")
    bottom.set_xlabel("epoch")
    bottom.legend(loc="upper right", fontsize=8)
    seed = results["config"]["seed"]
    fig.suptitle(f"The main job, seed {seed}: checkpoints every few epochs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
