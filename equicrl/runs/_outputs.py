"""What a run leaves behind besides its metrics: a learning curve, a picture of the
trained policy's episodes from above (every env) and HTML rollouts (Brax envs).

The plots need matplotlib (`pip install 'equicrl[plot]'`); it is imported only when a
plot is drawn.
"""

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from ..nn._actor import check_actor_mode, GoalConditionedActor
from ..training._evaluate import action_keys, step_actions


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
def _rollout(actor, env, key, num_episodes: int, episode_length: int, mode, critic):
    sd = env.state_dim
    state = jax.vmap(env.reset)(jr.split(key, num_episodes))
    # The actions' noise, for a sampling mode, drawn as an evaluation's is.
    keys = action_keys(key, mode, episode_length, num_episodes)

    def body(state, keys):
        action = step_actions(actor, state.obs, sd, keys, mode, critic)
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

    _, states = jax.lax.scan(body, state, keys, length=episode_length)
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
    mode: int = 0,
    critic=None,
):
    """Run `num_episodes` episodes of the actor in `env` (a
    [`equicrl.envs.GoalEnv`][]), acting in `mode` ([`equicrl.act`][]'s: 0, the mean
    action; 1, a sample; `K >= 2`, the best of `K` samples by `critic`).

    **Returns:**

    The env states, stacked with leading axes `(episode_length + 1, num_episodes)`:
    the reset state, then one per step. An episode that ends early repeats its last
    state.
    """
    check_actor_mode("mode", mode)
    if mode >= 2 and critic is None:
        raise ValueError(
            f"actor mode {mode} ranks samples by the critic: pass `critic`"
        )
    return _rollout(actor, env, key, num_episodes, episode_length, mode, critic)


def _paths(env, obs: np.ndarray, transpose: bool) -> list[tuple]:
    """Each episode's `(x, y, goal_x, goal_y)` in the picture's coordinates, from
    observations of shape `(time, episodes, obs)`: the achieved goal's first two
    entries (the point's, the torso's or the cube's x and y) and the commanded goal's;
    swapped where the picture's horizontal axis is the world's y."""
    i, j = env.goal_indices[0], env.goal_indices[1]
    sd = env.state_dim
    out = []
    for n in range(obs.shape[1]):
        x, y = obs[:, n, i], obs[:, n, j]
        gx, gy = obs[0, n, sd], obs[0, n, sd + 1]
        out.append((y, x, gy, gx) if transpose else (x, y, gx, gy))
    return out


def _background(ax, env, obs: np.ndarray) -> tuple[str, bool, list]:
    """Draw what the paths run over: the maze, the arm's table (zoomed to its start
    and goal regions and the paths in `obs`), or the open floor. Returns what is drawn
    (the torso's, the point's or the cube's paths), whether the picture's horizontal
    axis is the world's y (mazes, drawn like their rows), and legend handles for what
    it drew."""
    from matplotlib.patches import Patch, Rectangle

    if getattr(env, "layout", None) is not None:
        draw_maze(ax, env.layout, env.cell_size)
        return ("torso paths" if hasattr(env, "sys") else "paths"), True, []
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)", fontsize=7)
    ax.set_ylabel("y (m)", fontsize=7)
    task = getattr(env, "task", None)
    if task is None or not hasattr(task, "region_centres"):
        # The open floor (the torso's path from above), or the reacher's arena (the
        # fingertip's).
        ax.grid(color="#dddddd", linewidth=0.5)
        achieved = getattr(env, "ACHIEVED", "torso")
        where = "on the open floor" if achieved == "torso" else "from above"
        return f"{achieved} paths {where}", False, []
    # The arm: the table from above, the cube's start and goal regions on it; the
    # view holds the regions and the paths, not the whole table.
    ax.add_patch(Rectangle((-0.6, -0.1), 1.2, 1.1, color="#efe6d2", zorder=0))
    h = task.region_half
    xs = [c[0] for c in task.region_centres]
    ys = [c[1] for c in task.region_centres]
    for (cx, cy), colour in zip(task.region_centres, ("tab:blue", "tab:red")):
        ax.add_patch(
            Rectangle(
                (cx - h, cy - h),
                2 * h,
                2 * h,
                fill=False,
                edgecolor=colour,
                linewidth=2.0 if task.bins else 1.0,
                linestyle="-" if task.bins else "--",
            )
        )
    for x, y, gx, gy in _paths(env, obs, transpose=False):
        xs += [float(x.min()), float(x.max()), float(gx)]
        ys += [float(y.min()), float(y.max()), float(gy)]
    margin = h + 0.05
    ax.set_xlim(min(xs) - margin, max(xs) + margin)
    ax.set_ylim(min(ys) - margin, max(ys) + margin)
    kind = "bin" if task.bins else "pad"
    handles = [
        Patch(fill=False, edgecolor="tab:blue", label=f"start {kind}"),
        Patch(fill=False, edgecolor="tab:red", label=f"goal {kind}"),
    ]
    return "cube paths", False, handles


def _plot_states(env, states, path: Path) -> Path:
    """Draw the episodes in `states` (from `rollout`) to a PNG at `path`."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    obs = np.asarray(states.obs)
    success = np.asarray(states.metrics["success"]).max(0)
    num_episodes = obs.shape[1]
    layout = getattr(env, "layout", None)
    if layout is not None:
        rows, cols = layout.shape
        fig, ax = plt.subplots(figsize=(0.8 * cols + 1.5, 0.8 * rows + 1.5))
    else:
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
    what, transpose, handles = _background(ax, env, obs)
    colours = plt.get_cmap("tab20")(np.arange(num_episodes) % 20)
    for n, (x, y, gx, gy) in enumerate(_paths(env, obs, transpose)):
        width = 2.0 if success[n] else 0.8
        ax.plot(x, y, color=colours[n], linewidth=width, alpha=0.9)
        ax.plot(x[0], y[0], "o", color=colours[n], markersize=4)
        ax.plot(gx, gy, "*", color=colours[n], markersize=11, markeredgecolor="k")
    grey = "#555555"
    ax.legend(
        handles=handles
        + [
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
        ncol=3 if handles else 4,
        frameon=False,
    )
    task = getattr(env, "task", None)
    name = (
        layout.name
        if layout is not None
        else getattr(task, "name", None) or type(env).__name__
    )
    ax.set_title(
        f"{name}: {what} of {num_episodes} episodes of the final\n"
        f"policy (its own, not the evaluation's); {int(success.sum())} reached the "
        "goal",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_trajectories(
    actor: GoalConditionedActor,
    env,
    path: str | Path,
    *,
    key: PRNGKeyArray,
    num_episodes: int = 16,
    episode_length: int,
    mode: int = 0,
    critic=None,
) -> Path:
    """Draw `num_episodes` episodes of the actor in `env` (acting in `mode`, as
    [`equicrl.rollout`][]'s; default the mean action), seen from
    above, to a PNG at `path`: a line per episode from its start (circle) towards its
    goal (star), in the same colour; a thicker line for an episode that reached its
    goal. What is drawn follows the env: a point maze's point, or an ant or humanoid
    maze's torso, over the maze's walls; an open-floor robot's torso; the arm's cube
    over the table, with the regions its start and goal are drawn from. The episodes
    are their own (from `key`), not those of an evaluation. It needs no network, unlike
    `rollout.html`."""
    states = rollout(
        actor,
        env,
        key=key,
        num_episodes=num_episodes,
        episode_length=episode_length,
        mode=mode,
        critic=critic,
    )
    return _plot_states(env, states, Path(path))


def plot_point_maze_trajectories(
    actor: GoalConditionedActor,
    env,
    path: str | Path,
    *,
    key: PRNGKeyArray,
    num_episodes: int = 16,
    episode_length: int,
) -> Path:
    """[`equicrl.plot_trajectories`][], by its earlier name (it draws every env, not
    only point mazes)."""
    return plot_trajectories(
        actor,
        env,
        path,
        key=key,
        num_episodes=num_episodes,
        episode_length=episode_length,
    )


def _html_from_states(env, states, path: Path, episode: int = 0) -> Path:
    from brax.io import html

    done = np.asarray(states.done[:, episode])
    length = int(np.argmax(done > 0)) + 1 if done.any() else len(done)
    pipeline = jax.tree.map(
        lambda x: np.asarray(x[:length, episode]), states.pipeline_state
    )
    frames = [jax.tree.map(lambda x, t=t: x[t], pipeline) for t in range(length)]
    path.write_text(html.render(env.sys, frames))
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
    [`equicrl.envs.GoalEnv`][] such as [`equicrl.envs.AntGoalEnv`][]) as an HTML page
    of Brax's viewer (`brax.io.html`) at `path`. The episode stops at its end or at
    termination. The page loads the viewer and three.js from a CDN, so it shows
    nothing without a network; [`equicrl.plot_trajectories`][] draws a picture that
    needs none."""
    if not hasattr(env, "sys"):
        raise TypeError(
            f"{type(env).__name__} is not a Brax env (it has no `sys`): an HTML "
            "rollout needs one"
        )
    states = rollout(actor, env, key=key, num_episodes=1, episode_length=episode_length)
    return _html_from_states(env, states, Path(path))


def write_run_outputs(
    actor: GoalConditionedActor,
    env,
    run_dir: Path,
    history: list[dict],
    *,
    key: PRNGKeyArray,
    episode_length: int,
    log,
    mode: int = 0,
    critic=None,
) -> list[Path]:
    """The end-of-run outputs of [`equicrl.train`][]: `learning_curve.png`;
    `trajectories.png` (every env: see [`equicrl.plot_trajectories`][]); and for Brax
    envs `rollout.html` (Brax's viewer, which loads from a CDN, so it needs a
    network). The episodes act in `mode` (the run's evaluation mode)."""
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
    # One rollout for both: every env's picture (a point or a torso over its maze or
    # the open floor, the arm's cube over the table), which needs no network, and for
    # Brax envs its first episode in Brax's viewer.
    if have_matplotlib or hasattr(env, "sys"):
        names = [
            name
            for name, wanted in (
                ("trajectories.png", have_matplotlib),
                ("rollout.html", hasattr(env, "sys")),
            )
            if wanted
        ]
        # Compiling and running the episodes takes a while for a Brax robot (about
        # 45 s for the humanoid on 2 CPU cores): say so rather than go quiet.
        log(
            f"rolling out 16 episodes of {episode_length} steps of the final policy "
            f"for {' and '.join(names)} (compiling the rollout included) ..."
        )
        started = time.perf_counter()
        states = rollout(
            actor,
            env,
            key=key,
            num_episodes=16,
            episode_length=episode_length,
            mode=mode,
            critic=critic,
        )
        if hasattr(env, "sys"):
            written.append(_html_from_states(env, states, run_dir / "rollout.html"))
        if have_matplotlib:
            written.append(_plot_states(env, states, run_dir / "trajectories.png"))
        log(f"drew {' and '.join(names)} in {time.perf_counter() - started:.1f} s")
    return written
