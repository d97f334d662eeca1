"""What a run leaves behind besides its metrics: a learning curve, pictures of the
trained policy's trajectories (point mazes) and HTML rollouts (Brax envs).

The plots need matplotlib (`pip install 'equicrl[plot]'`); it is imported only when a
plot is drawn.
"""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from ..nn._actor import GoalConditionedActor


_MAZE_COLOURS = {"#": "#2f3542", ".": "#ffffff", "S": "#2ecc71", "G": "#f39c12"}


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("plots need matplotlib: pip install 'equicrl[plot]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_maze(ax, layout, cell_size: float = 1.0) -> None:
    """Draw `layout` (a [`equicrl.envs.MazeLayout`][]) on the matplotlib axes `ax`.

    Walls are dark, start cells green, goal cells orange, free cells white. The axes
    are in world units: a position `(x, y)` is drawn at horizontal `y`, vertical `x`
    (downwards), so the picture reads like the layout's rows.
    """
    from matplotlib.colors import ListedColormap

    codes = {c: i for i, c in enumerate(_MAZE_COLOURS)}
    grid = [[codes[c] for c in row] for row in layout.rows]
    rows, cols = layout.shape
    h = cell_size / 2
    ax.imshow(
        grid,
        cmap=ListedColormap(list(_MAZE_COLOURS.values())),
        vmin=0,
        vmax=len(_MAZE_COLOURS) - 1,
        extent=(-h, (cols - 1) * cell_size + h, (rows - 1) * cell_size + h, -h),
    )
    ax.set_xticks([j * cell_size for j in range(cols)], [str(j) for j in range(cols)])
    ax.set_yticks([i * cell_size for i in range(rows)], [str(i) for i in range(rows)])
    ax.set_xticks([j * cell_size - h for j in range(cols + 1)], minor=True)
    ax.set_yticks([i * cell_size - h for i in range(rows + 1)], minor=True)
    ax.grid(which="minor", color="#cccccc", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelsize=7)
    ax.set_xlabel("column j (y = j * cell_size)", fontsize=7)
    ax.set_ylabel("row i (x = i * cell_size)", fontsize=7)
    ax.set_title(layout.name, fontsize=9)


def plot_learning_curve(history: list[dict], path: str | Path) -> Path:
    """Plot a run's history (as returned by [`equicrl.train`][]) to a PNG at `path`:
    evaluation success and time at goal (with standard-error bands) and the losses,
    against env steps."""
    plt = _pyplot()
    path = Path(path)
    if not history:
        raise ValueError("`history` is empty: there is nothing to plot")
    steps = np.array([r["env_steps"] for r in history])
    evals = [r for r in history if "eval/success" in r]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    eval_steps = np.array([r["env_steps"] for r in evals])
    for ax, name, label in (
        (axes[0], "success", "eval success rate"),
        (axes[1], "time_at_goal", "eval time at goal (steps)"),
    ):
        # The collector experiment's collector, beside the run's own actor.
        for prefix, who in (("", "learner"), ("collector_", "collector")):
            if not evals or f"eval/{prefix}{name}" not in evals[-1]:
                continue
            mean = np.array([r[f"eval/{prefix}{name}"] for r in evals])
            err = np.array([r[f"eval/{prefix}{name}_stderr"] for r in evals])
            ax.plot(eval_steps, mean, marker="o", markersize=3, label=who)
            ax.fill_between(eval_steps, mean - err, mean + err, alpha=0.25)
        if evals and f"eval/collector_{name}" in evals[-1]:
            ax.legend(fontsize=8)
        ax.set_title(label, fontsize=10)
    axes[0].set_ylim(-0.02, 1.02)
    names = ("distill_loss",) if "distill_loss" in history[0] else (
        "critic_loss", "actor_loss"
    )  # fmt: skip
    if "collector_critic_loss" in history[0]:
        names += ("collector_critic_loss", "collector_actor_loss")
    for name in names:
        # Markers: a history of one epoch still shows its point.
        axes[2].plot(steps, [r[name] for r in history], label=name, marker=".")
    axes[2].set_title("losses", fontsize=10)
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


@eqx.filter_jit
def _rollout(actor, env, key, num_episodes: int, episode_length: int):
    sd = env.state_dim
    state = jax.vmap(env.reset)(jr.split(key, num_episodes))

    def body(state, _):
        action = jax.vmap(actor.deterministic_action)(
            state.obs[:, :sd], state.obs[:, sd:]
        )
        # Episodes that ended stay at their last state.
        next_state = jax.vmap(env.step)(state, action)
        done = state.done > 0
        next_state = jax.tree.map(
            lambda new, old: jnp.where(
                done.reshape(done.shape + (1,) * (new.ndim - 1)), old, new
            ),
            next_state,
            state,
        )
        return next_state, next_state

    _, states = jax.lax.scan(body, state, None, length=episode_length)
    return jax.tree.map(
        lambda first, rest: jnp.concatenate([first[None], rest]), state, states
    )


def rollout(
    actor: GoalConditionedActor,
    env,
    *,
    key: PRNGKeyArray,
    num_episodes: int,
    episode_length: int,
):
    """Run `num_episodes` episodes of the deterministic actor in `env` (a
    [`equicrl.envs.GoalEnv`][]).

    **Returns:**

    The env states, stacked with leading axes `(episode_length + 1, num_episodes)`:
    the reset state, then one per step. An episode that ends early repeats its last
    state.
    """
    return _rollout(actor, env, key, num_episodes, episode_length)


def plot_point_maze_trajectories(
    actor: GoalConditionedActor,
    env,
    path: str | Path,
    *,
    key: PRNGKeyArray,
    num_episodes: int = 16,
    episode_length: int,
) -> Path:
    """Draw `num_episodes` trajectories of the deterministic actor over the maze of
    `env` to a PNG at `path`: a line per episode from its start (circle) towards its
    goal (star), in the same colour; a thicker line for an episode that reached its
    goal. `env` is a [`equicrl.envs.PointMaze`][] or an ant or humanoid maze (the
    torso's path, seen from above: its state's first two entries are the torso's x
    and y). The episodes are their own (from `key`), not those of an evaluation."""
    plt = _pyplot()
    path = Path(path)
    states = rollout(
        actor, env, key=key, num_episodes=num_episodes, episode_length=episode_length
    )
    obs = np.asarray(states.obs)
    success = np.asarray(states.metrics["success"]).max(0)
    sd = env.state_dim
    rows, cols = env.layout.shape
    fig, ax = plt.subplots(figsize=(0.8 * cols + 1.5, 0.8 * rows + 1.5))
    draw_maze(ax, env.layout, env.cell_size)
    colours = plt.get_cmap("tab20")(np.arange(num_episodes) % 20)
    for n in range(num_episodes):
        x, y = obs[:, n, 0], obs[:, n, 1]
        gx, gy = obs[0, n, sd], obs[0, n, sd + 1]
        width = 2.0 if success[n] else 0.8
        ax.plot(y, x, color=colours[n], linewidth=width, alpha=0.9)
        ax.plot(y[0], x[0], "o", color=colours[n], markersize=4)
        ax.plot(gy, gx, "*", color=colours[n], markersize=11, markeredgecolor="k")
    from matplotlib.lines import Line2D

    grey = "#555555"
    ax.legend(
        handles=[
            Line2D([], [], marker="o", color=grey, linestyle="", label="start"),
            Line2D(
                [],
                [],
                marker="*",
                color=grey,
                markersize=10,
                linestyle="",
                label="goal",
            ),
            Line2D([], [], color=grey, linewidth=2.0, label="reached the goal"),
            Line2D([], [], color=grey, linewidth=0.8, label="did not"),
        ],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=4,
        frameon=False,
    )
    what = "torso paths" if hasattr(env, "sys") else "paths"
    ax.set_title(
        f"{env.layout.name}: {what} of {num_episodes} episodes of the final\n"
        f"policy (its own, not the evaluation's); {int(success.sum())} reached the "
        "goal",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_html_rollout(
    actor: GoalConditionedActor,
    env,
    path: str | Path,
    *,
    key: PRNGKeyArray,
    episode_length: int,
) -> Path:
    """Write one episode of the deterministic actor in `env` (a Brax-based
    [`equicrl.envs.GoalEnv`][] such as [`equicrl.envs.AntGoalEnv`][]) as a
    self-contained HTML page of Brax's viewer (`brax.io.html`) at `path`. The episode
    stops at its end or at termination."""
    from brax.io import html

    if not hasattr(env, "sys"):
        raise TypeError(
            f"{type(env).__name__} is not a Brax env (it has no `sys`): an HTML "
            "rollout needs one"
        )
    path = Path(path)
    states = rollout(actor, env, key=key, num_episodes=1, episode_length=episode_length)
    done = np.asarray(states.done[:, 0])
    length = int(np.argmax(done > 0)) + 1 if done.any() else len(done)
    pipeline = jax.tree.map(lambda x: np.asarray(x[:length, 0]), states.pipeline_state)
    frames = [jax.tree.map(lambda x, t=t: x[t], pipeline) for t in range(length)]
    path.write_text(html.render(env.sys, frames))
    return path


def write_run_outputs(
    actor: GoalConditionedActor,
    env,
    run_dir: Path,
    history: list[dict],
    *,
    key: PRNGKeyArray,
    episode_length: int,
    log,
) -> list[Path]:
    """The end-of-run outputs of [`equicrl.train`][]: `learning_curve.png`;
    `rollout.html` (Brax envs: Brax's viewer, which loads from a CDN, so it needs a
    network); `trajectories.png` (mazes: point mazes, and the torso's paths in the ant
    and humanoid mazes)."""
    written = []
    try:
        _pyplot()
        have_matplotlib = True
    except ImportError:
        have_matplotlib = False
        log(
            "matplotlib is not installed, so no learning_curve.png or "
            "trajectories.png: pip install 'equicrl[plot]'"
        )
    if have_matplotlib and history:
        written.append(plot_learning_curve(history, run_dir / "learning_curve.png"))
    if hasattr(env, "sys"):
        written.append(
            save_html_rollout(
                actor,
                env,
                run_dir / "rollout.html",
                key=key,
                episode_length=episode_length,
            )
        )
    # Point mazes, and the ant and humanoid mazes (the torso seen from above): a
    # picture that needs no network, unlike rollout.html.
    if getattr(env, "layout", None) is not None and have_matplotlib:
        written.append(
            plot_point_maze_trajectories(
                actor,
                env,
                run_dir / "trajectories.png",
                key=key,
                num_episodes=16,
                episode_length=episode_length,
            )
        )
    return written
