from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_array, check_choice, check_positive_int
from ._encoder import DeepEncoder
from ._energy import ENERGIES, Energy, energy, energy_matrix


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
