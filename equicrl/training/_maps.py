"""What a trained critic has learnt, drawn over its maze: the Q-value map (the energy
of every position for one goal) and the embeddings near the goal, as the paper's
U4-maze figure."""

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from ..nn._actor import GoalConditionedActor
from ..nn._critic import ContrastiveCritic


@dataclasses.dataclass(frozen=True)
class QValueMap:
    """The critic's energy `f(s, pi(s, g), g)` over a grid of positions of a maze.

    `values[i, j]` is at position `(xs[i], ys[j])` (NaN inside walls); `state` is
    the state every position was put into (the rest of it unchanged)."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    goal: np.ndarray
    state: np.ndarray


@dataclasses.dataclass(frozen=True)
class GoalEmbeddings:
    """phi(s, pi(s, g)) of states around a goal and psi(g), projected on their first
    two principal components (of the phi's; psi(g) projected on the same axes).

    `points` is `(n, 2)`, `positions` the (x, y) of each state, `distance` its
    distance from the goal, `goal_point` psi(g)'s projection, `explained` the share
    of the phi's variance the two axes hold."""

    points: np.ndarray
    positions: np.ndarray
    distance: np.ndarray
    goal_point: np.ndarray
    explained: float


def _goal_vector(env, goal) -> jnp.ndarray:
    goal = jnp.asarray(goal, jnp.float32)
    if goal.shape == (2,) and env.goal_dim > 2:
        goal = env._complete_goal(goal)  # the humanoid's torso height
    if goal.shape != (env.goal_dim,):
        raise ValueError(
            f"`goal` must be an (x, y) position or {env.goal_dim} numbers, got shape "
            f"{goal.shape}"
        )
    return goal


def _position_indices(env) -> jnp.ndarray:
    # The first two entries of the achieved goal are the robot's (x, y).
    return jnp.asarray(env.goal_indices[:2])


def _start_state(env, key: PRNGKeyArray) -> jnp.ndarray:
    return env.reset(key).obs[: env.state_dim]


@eqx.filter_jit
def _energies(actor, critic, states, goal):
    def one(state):
        action = actor.deterministic_action(state, goal)
        return critic(state, action, goal)

    return jax.lax.map(one, states, batch_size=256)


@eqx.filter_jit
def _embeddings(actor, critic, states, goal):
    actions = jax.vmap(actor.deterministic_action, in_axes=(0, None))(states, goal)
    return jax.vmap(critic.encode_state_action)(states, actions), critic.encode_goal(
        goal
    )


def q_value_map(
    actor: GoalConditionedActor,
    critic: ContrastiveCritic,
    env,
    goal: ArrayLike | Sequence[float],
    *,
    key: PRNGKeyArray,
    per_cell: int = 12,
) -> QValueMap:
    """The critic's energy for `goal` at every position of `env`'s maze.

    The state of each grid point is the state of a reset of `env` (with `key`) with
    the robot's (x, y) moved there, the rest at its start value; the action is the
    actor's (deterministic) for that state and `goal`. Higher energy: the critic
    expects the goal sooner.

    **Arguments:**

    - `actor`, `critic`: one seed's trained networks (see [`equicrl.load_run`][]).
    - `env`: a maze env (point, ant or humanoid).
    - `goal`: an (x, y) position (or `goal_dim` numbers).
    - `key`: the reset that gives the start state.
    - `per_cell`: grid points along each side of a cell.
    """
    layout = getattr(env, "layout", None)
    if layout is None:
        raise ValueError("a Q-value map needs a maze env (with a `layout`)")
    if isinstance(per_cell, bool) or not isinstance(per_cell, int) or per_cell < 1:
        raise ValueError(f"`per_cell` must be a positive int, got {per_cell!r}")
    goal = _goal_vector(env, goal)
    cell = env.cell_size
    rows, cols = layout.shape
    offsets = (np.arange(per_cell) + 0.5) / per_cell - 0.5
    xs = (np.arange(rows)[:, None] + offsets[None]).ravel() * cell
    ys = (np.arange(cols)[:, None] + offsets[None]).ravel() * cell
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    start = _start_state(env, key)
    states = jnp.tile(start, (gx.size, 1))
    states = states.at[:, _position_indices(env)].set(
        jnp.stack([gx.ravel(), gy.ravel()], axis=1)
    )
    values = np.asarray(_energies(actor, critic, states, goal)).reshape(gx.shape)
    walls = np.repeat(np.repeat(layout.walls, per_cell, 0), per_cell, 1)
    values = np.where(walls, np.nan, values)
    return QValueMap(
        xs=xs,
        ys=ys,
        values=values,
        goal=np.asarray(goal),
        state=np.asarray(start),
    )


def goal_embeddings(
    actor: GoalConditionedActor,
    critic: ContrastiveCritic,
    env,
    goal: ArrayLike | Sequence[float],
    *,
    key: PRNGKeyArray,
    radius: float | None = None,
    num_points: int = 400,
) -> GoalEmbeddings:
    """phi(s, pi(s, g)) of up to `num_points` states whose (x, y) is drawn uniformly
    in a disc of `radius` (default: one cell) around `goal`, outside the maze's walls
    (the rest of the state as in [`equicrl.q_value_map`][]), and psi(g), projected
    on the first two principal components of the phi's (NumPy's SVD)."""
    goal = _goal_vector(env, goal)
    radius = env.cell_size if radius is None else float(radius)
    if not radius > 0:
        raise ValueError(f"`radius` must be > 0, got {radius}")
    start_key, disc_key = jax.random.split(key)
    start = _start_state(env, start_key)
    # Uniform in the disc, positions inside walls left out (drawn 4 times over).
    r_key, a_key = jax.random.split(disc_key)
    r = radius * np.sqrt(np.asarray(jax.random.uniform(r_key, (4 * num_points,))))
    angle = np.asarray(jax.random.uniform(a_key, (4 * num_points,), maxval=2 * np.pi))
    xy = np.asarray(goal[:2]) + np.stack([r * np.cos(angle), r * np.sin(angle)], 1)
    layout = getattr(env, "layout", None)
    if layout is not None:
        rows, cols = layout.shape
        i, j = np.floor(xy / env.cell_size + 0.5).astype(int).T
        inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
        free = inside & ~layout.walls[i.clip(0, rows - 1), j.clip(0, cols - 1)]
        xy, r = xy[free], r[free]
    xy, r = xy[:num_points], r[:num_points]
    states = jnp.tile(start, (len(xy), 1)).at[:, _position_indices(env)].set(xy)

    phi, psi = (
        np.asarray(x, np.float64) for x in _embeddings(actor, critic, states, goal)
    )
    mean = phi.mean(0)
    _, s, vt = np.linalg.svd(phi - mean, full_matrices=False)
    axes = vt[:2].T
    return GoalEmbeddings(
        points=(phi - mean) @ axes,
        positions=xy,
        distance=np.asarray(r),
        goal_point=(psi - mean) @ axes,
        explained=float((s[:2] ** 2).sum() / max((s**2).sum(), 1e-30)),
    )
