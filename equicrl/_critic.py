from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from ._checks import check_array, check_choice, check_positive_int
from ._encoder import DeepEncoder


Energy = Literal["l2", "squared_l2", "dot", "cosine"]
ENERGIES: tuple[str, ...] = ("l2", "squared_l2", "dot", "cosine")
_COSINE_EPS = 1e-8


def _safe_sqrt(x: Array) -> Array:
    # sqrt has an infinite derivative at 0; where x <= 0 (coinciding representations)
    # return 0 with a zero gradient instead. The inner `where` keeps NaNs out of the
    # unselected branch's gradient.
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def _check_pair(x: Array, y: Array, kind: str, where: str) -> None:
    check_choice("kind", kind, ENERGIES)
    if x.ndim != y.ndim or x.shape[-1:] != y.shape[-1:]:
        raise ValueError(
            f"{where}: representations must have the same size; got shapes "
            f"{tuple(x.shape)} and {tuple(y.shape)}."
        )


def energy(
    phi: Float[Array, " repr_dim"],
    psi: Float[Array, " repr_dim"],
    *,
    kind: Energy = "l2",
) -> Float[Array, ""]:
    """The energy f = score of one (state-action, goal) pair of representations.

    **Arguments:**

    - `phi`: the state-action representation, shape `(repr_dim,)`.
    - `psi`: the goal representation, shape `(repr_dim,)`.
    - `kind`: `"l2"` (`-||phi - psi||`, the paper's default), `"squared_l2"`
        (`-||phi - psi||^2`), `"dot"` (`phi . psi`) or `"cosine"` (cosine similarity).

    **Returns:**

    A scalar; higher means the goal is more likely in the pair's future. Gradients are
    finite when `phi == psi`.
    """
    _check_pair(phi, psi, kind, "energy")
    if phi.ndim != 1:
        raise ValueError(
            f"energy: `phi` and `psi` must be vectors, got shape {tuple(phi.shape)}; "
            "use `energy_matrix` for batches."
        )
    if kind == "l2":
        return -_safe_sqrt(jnp.sum((phi - psi) ** 2))
    if kind == "squared_l2":
        return -jnp.sum((phi - psi) ** 2)
    if kind == "dot":
        return jnp.dot(phi, psi)
    norms = _safe_sqrt(jnp.sum(phi**2)) * _safe_sqrt(jnp.sum(psi**2))
    return jnp.dot(phi, psi) / jnp.maximum(norms, _COSINE_EPS)


def energy_matrix(
    phi: Float[Array, "batch repr_dim"],
    psi: Float[Array, "batch repr_dim"],
    *,
    kind: Energy = "l2",
) -> Float[Array, "batch batch"]:
    """The `batch x batch` logit matrix `L[i, j] = energy(phi[i], psi[j])`.

    Computed with one matrix product (`|phi_i|^2 + |psi_j|^2 - 2 phi_i . psi_j` for the
    L2 energies), never a `batch x batch x repr_dim` broadcast.

    **Arguments:**

    - `phi`: state-action representations, shape `(batch, repr_dim)`.
    - `psi`: goal representations, shape `(batch, repr_dim)`.
    - `kind`: as for [`equicrl.energy`][].

    **Returns:**

    An array of shape `(batch, batch)`; row `i` scores every goal against pair `i`.
    """
    _check_pair(phi, psi, kind, "energy_matrix")
    if phi.ndim != 2 or phi.shape != psi.shape:
        raise ValueError(
            "energy_matrix: `phi` and `psi` must both have shape (batch, repr_dim); "
            f"got {tuple(phi.shape)} and {tuple(psi.shape)}."
        )
    dots = phi @ psi.T
    if kind == "dot":
        return dots
    if kind == "cosine":
        phi_norm = _safe_sqrt(jnp.sum(phi**2, axis=-1))
        psi_norm = _safe_sqrt(jnp.sum(psi**2, axis=-1))
        return dots / jnp.maximum(phi_norm[:, None] * psi_norm[None, :], _COSINE_EPS)
    squared = jnp.sum(phi**2, axis=-1)[:, None] + jnp.sum(psi**2, axis=-1)[None, :]
    # Rounding can make the expanded form slightly negative for coinciding vectors.
    squared_distance = jnp.maximum(squared - 2 * dots, 0.0)
    if kind == "squared_l2":
        return -squared_distance
    return -_safe_sqrt(squared_distance)


class ContrastiveCritic(eqx.Module):
    """The contrastive critic: `f(s, a, g) = energy(phi(s, a), psi(g))`.

    Two [`equicrl.DeepEncoder`][]s with separate parameters and the same structure:
    `phi` on `concat(state, action)` and `psi` on the goal alone. Trained with
    [`equicrl.infonce_loss`][] on [`equicrl.ContrastiveCritic.logits`][].

    ??? cite "Reference"

        Eysenbach et al., "Contrastive Learning as Goal-Conditioned Reinforcement
        Learning", NeurIPS 2022; Wang et al., "1000 Layer Networks for Self-Supervised
        RL", NeurIPS 2025.
    """

    sa_encoder: DeepEncoder
    goal_encoder: DeepEncoder
    state_dim: int = eqx.field(static=True)
    action_dim: int = eqx.field(static=True)
    goal_dim: int = eqx.field(static=True)
    repr_dim: int = eqx.field(static=True)
    energy: str = eqx.field(static=True)

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        goal_dim: int,
        *,
        repr_dim: int = 64,
        width: int = 256,
        depth: int = 4,
        energy: Energy = "l2",
        layers_per_block: int = 4,
        use_layer_norm: bool = True,
        use_skip: bool = True,
        activation: Callable[[Array], Array] = jax.nn.swish,
        scan: bool = True,
        remat: bool | Literal["nested"] = False,
        matmul_dtype: str = "float32",
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `state_dim`, `action_dim`, `goal_dim`: sizes of one state, action and goal.
        - `repr_dim`: size of the representations phi and psi (64 in the paper).
        - `width`, `depth`, `layers_per_block`, `use_layer_norm`, `use_skip`,
            `activation`, `scan`, `remat`, `matmul_dtype`: passed to both
            [`equicrl.DeepEncoder`][]s.
        - `energy`: `"l2"` (default), `"squared_l2"`, `"dot"` or `"cosine"`; see
            [`equicrl.energy`][].
        - `key`: a `jax.random.PRNGKey` for the initialisation. (Keyword only.)
        """
        self.energy = check_choice("energy", energy, ENERGIES)
        sa_key, goal_key = jr.split(key)
        kwargs = dict(
            width=width,
            depth=depth,
            layers_per_block=layers_per_block,
            use_layer_norm=use_layer_norm,
            use_skip=use_skip,
            activation=activation,
            scan=scan,
            remat=remat,
            matmul_dtype=matmul_dtype,
        )
        # Validate the sizes here so errors name the critic's arguments.
        for name, value in (
            ("state_dim", state_dim),
            ("action_dim", action_dim),
            ("goal_dim", goal_dim),
            ("repr_dim", repr_dim),
        ):
            check_positive_int(name, value)
        self.state_dim, self.action_dim = int(state_dim), int(action_dim)
        self.goal_dim, self.repr_dim = int(goal_dim), int(repr_dim)
        self.sa_encoder = DeepEncoder(
            self.state_dim + self.action_dim, self.repr_dim, key=sa_key, **kwargs
        )
        self.goal_encoder = DeepEncoder(
            self.goal_dim, self.repr_dim, key=goal_key, **kwargs
        )

    def encode_state_action(
        self, state: Float[Array, " state_dim"], action: Float[Array, " action_dim"]
    ) -> Float[Array, " repr_dim"]:
        """phi(s, a) for one state and action."""
        check_array("state", state, (self.state_dim,), where="ContrastiveCritic")
        check_array("action", action, (self.action_dim,), where="ContrastiveCritic")
        return self.sa_encoder(jnp.concatenate([state, action]))

    def encode_goal(self, goal: Float[Array, " goal_dim"]) -> Float[Array, " repr_dim"]:
        """psi(g) for one goal."""
        check_array("goal", goal, (self.goal_dim,), where="ContrastiveCritic")
        return self.goal_encoder(goal)

    def __call__(
        self,
        state: Float[Array, " state_dim"],
        action: Float[Array, " action_dim"],
        goal: Float[Array, " goal_dim"],
    ) -> Float[Array, ""]:
        """**Arguments:**

        - `state`, `action`, `goal`: one example, shapes `(state_dim,)`,
            `(action_dim,)`, `(goal_dim,)`.

        **Returns:**

        The scalar energy `f(s, a, g)`.
        """
        phi = self.encode_state_action(state, action)
        return energy(phi, self.encode_goal(goal), kind=self.energy)

    def logits(
        self,
        states: Float[Array, "batch state_dim"],
        actions: Float[Array, "batch action_dim"],
        goals: Float[Array, "batch goal_dim"],
    ) -> Float[Array, "batch batch"]:
        """The logit matrix `L[i, j] = f(s_i, a_i, g_j)` of a batch.

        Each encoder runs once on the batch (`2 * batch` passes, not `batch^2`).

        **Arguments:**

        - `states`, `actions`, `goals`: shapes `(batch, state_dim)`,
            `(batch, action_dim)`, `(batch, goal_dim)`.

        **Returns:**

        An array of shape `(batch, batch)`; the diagonal holds the positive pairs.
        """
        batch = states.shape[0] if states.ndim else 0
        where = "ContrastiveCritic.logits"
        check_array("states", states, (batch, self.state_dim), where=where)
        check_array("actions", actions, (batch, self.action_dim), where=where)
        check_array("goals", goals, (batch, self.goal_dim), where=where)
        phi = jax.vmap(self.encode_state_action)(states, actions)
        psi = jax.vmap(self.encode_goal)(goals)
        return energy_matrix(phi, psi, kind=self.energy)
