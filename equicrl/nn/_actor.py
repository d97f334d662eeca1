import math
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_array, check_positive_int
from ._encoder import DeepEncoder


LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0
# Added inside the log of the tanh change of variables, as the paper's code does, so
# the log-probability stays finite when an action saturates at +-1.
TANH_EPS = 1e-6
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# In float32, tanh(u) rounds to exactly +-1 once |u| > 9. Actions are clipped to this
# bound so they stay strictly inside (-1, 1) (atanh of a stored action stays finite);
# tanh's derivative is below 4e-6 wherever the clip acts.
ACTION_BOUND = 1.0 - 1e-6


def squash_log_std(raw: Array) -> Array:
    """Map an unbounded head output into `[LOG_STD_MIN, LOG_STD_MAX] = [-5, 2]`."""
    return LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1)


def tanh_gaussian_log_prob(
    pre_tanh: Float[Array, " action_dim"],
    mean: Float[Array, " action_dim"],
    log_std: Float[Array, " action_dim"],
) -> Float[Array, ""]:
    """log pi(a) of `a = tanh(u)`, `u ~ Normal(mean, exp(log_std))`, given `u`."""
    z = (pre_tanh - mean) * jnp.exp(-log_std)
    gaussian = jnp.sum(-0.5 * z**2 - log_std - _HALF_LOG_2PI)
    return gaussian - jnp.sum(jnp.log(_one_minus_tanh_squared(pre_tanh) + TANH_EPS))


def _one_minus_tanh_squared(u: Array) -> Array:
    # 1 - tanh(u)^2 = sech(u)^2 = 4 e^{-2|u|} / (1 + e^{-2|u|})^2, without the
    # cancellation of `1 - a^2` when a is near +-1 (where the log amplifies it).
    e = jnp.exp(-2 * jnp.abs(u))
    return 4 * e / (1 + e) ** 2


class GoalConditionedActor(eqx.Module):
    """A tanh-Gaussian policy pi(a | s, g) on a deep residual trunk.

    The trunk is a [`equicrl.DeepEncoder`][] on `concat(state, goal)`. Its output layer
    has `2 * action_dim` units: the first half is the mean, the second the raw log-std,
    squashed into `[-5, 2]` by `-5 + 3.5 * (tanh(raw) + 1)`. (One output Linear of
    `2 * action_dim` units is exactly two `action_dim` heads on the same features.)
    Exploration samples `tanh(mean + std * eps)`; evaluation uses `tanh(mean)`.

    ??? cite "Reference"

        Wang et al., "1000 Layer Networks for Self-Supervised RL", NeurIPS 2025.
    """

    trunk: DeepEncoder
    state_dim: int = eqx.field(static=True)
    goal_dim: int = eqx.field(static=True)
    action_dim: int = eqx.field(static=True)

    def __init__(
        self,
        state_dim: int,
        goal_dim: int,
        action_dim: int,
        *,
        width: int = 256,
        depth: int = 4,
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

        - `state_dim`, `goal_dim`, `action_dim`: sizes of one state, goal and action.
        - `width`, `depth`, `layers_per_block`, `use_layer_norm`, `use_skip`,
            `activation`, `scan`, `remat`, `matmul_dtype`: passed to the trunk's
            [`equicrl.DeepEncoder`][]. (The paper keeps the actor at most 512 layers
            deep; its depth is set independently of the critic's.)
        - `key`: a `jax.random.PRNGKey` for the initialisation. (Keyword only.)
        """
        self.state_dim = check_positive_int("state_dim", state_dim)
        self.goal_dim = check_positive_int("goal_dim", goal_dim)
        self.action_dim = check_positive_int("action_dim", action_dim)
        self.trunk = DeepEncoder(
            self.state_dim + self.goal_dim,
            2 * self.action_dim,
            width=width,
            depth=depth,
            layers_per_block=layers_per_block,
            use_layer_norm=use_layer_norm,
            use_skip=use_skip,
            activation=activation,
            scan=scan,
            remat=remat,
            matmul_dtype=matmul_dtype,
            key=key,
        )

    def __call__(
        self, state: Float[Array, " state_dim"], goal: Float[Array, " goal_dim"]
    ) -> tuple[Float[Array, " action_dim"], Float[Array, " action_dim"]]:
        """**Arguments:**

        - `state`, `goal`: one example, shapes `(state_dim,)` and `(goal_dim,)`.

        **Returns:**

        `(mean, log_std)` of the pre-tanh Gaussian, each of shape `(action_dim,)`;
        `log_std` lies in `[-5, 2]`.
        """
        check_array("state", state, (self.state_dim,), where="GoalConditionedActor")
        check_array("goal", goal, (self.goal_dim,), where="GoalConditionedActor")
        out = self.trunk(jnp.concatenate([state, goal]))
        mean, raw_log_std = jnp.split(out, 2)
        return mean, squash_log_std(raw_log_std)

    def sample(
        self,
        state: Float[Array, " state_dim"],
        goal: Float[Array, " goal_dim"],
        *,
        key: PRNGKeyArray,
    ) -> tuple[Float[Array, " action_dim"], Float[Array, ""]]:
        """Sample an exploratory action with its log-probability.

        **Arguments:**

        - `state`, `goal`: one example.
        - `key`: a `jax.random.PRNGKey` for the Gaussian noise. (Keyword only.)

        **Returns:**

        `(action, log_prob)`: an action in `(-1, 1)^action_dim` and the scalar
        log-density of the tanh-Gaussian at it (with the tanh correction). The
        log-density is computed from the pre-tanh sample, so it stays exact where the
        action saturates.
        """
        mean, log_std = self(state, goal)
        pre_tanh = mean + jnp.exp(log_std) * jr.normal(key, mean.shape, mean.dtype)
        action = jnp.clip(jnp.tanh(pre_tanh), -ACTION_BOUND, ACTION_BOUND)
        return action, tanh_gaussian_log_prob(pre_tanh, mean, log_std)

    def deterministic_action(
        self, state: Float[Array, " state_dim"], goal: Float[Array, " goal_dim"]
    ) -> Float[Array, " action_dim"]:
        """The evaluation action `tanh(mean)`, in `(-1, 1)^action_dim`."""
        mean, _ = self(state, goal)
        return jnp.clip(jnp.tanh(mean), -ACTION_BOUND, ACTION_BOUND)


def check_actor_mode(name: str, mode) -> int:
    """Raise naming `name` unless `mode` is an actor mode of [`equicrl.act`][]: an
    int >= 0."""
    if isinstance(mode, bool) or not isinstance(mode, int) or mode < 0:
        raise ValueError(
            f"`{name}` must be an int >= 0 (0: the mean action, 1: a sample, K >= 2: "
            f"the best of K samples by the critic), got {mode!r}"
        )
    return mode


def act(
    actor: GoalConditionedActor,
    state: Float[Array, " state_dim"],
    goal: Float[Array, " goal_dim"],
    *,
    mode: int = 0,
    key: PRNGKeyArray | None = None,
    critic: Callable | None = None,
) -> Float[Array, " action_dim"]:
    """An action of `actor` for one example, chosen as the release's one actor acts
    (its `train.py` flags `--expl_actor`, default 1, and `--eval_actor`, default 0).

    **Arguments:**

    - `state`, `goal`: one example.
    - `mode` (a Python int): `0`, the mean action `tanh(mean)`; `1`, a sample of the
        tanh-Gaussian; `K >= 2`, `K` samples, of which the one the critic values most
        (its energy `f(s, a, g)`) is taken.
    - `key`: for the samples (modes 1 and up).
    - `critic`: a [`equicrl.ContrastiveCritic`][] (mode 2 and up).

    **Returns:**

    An action in `(-1, 1)^action_dim`.
    """
    check_actor_mode("mode", mode)
    if mode == 0:
        return actor.deterministic_action(state, goal)
    if key is None:
        raise ValueError(f"actor mode {mode} samples actions: it needs a `key`")
    if mode == 1:
        return actor.sample(state, goal, key=key)[0]
    if critic is None:
        raise ValueError(
            f"actor mode {mode} ranks {mode} sampled actions by the critic: it needs "
            "a `critic`"
        )
    actions, _ = jax.vmap(lambda k: actor.sample(state, goal, key=k))(
        jr.split(key, mode)
    )
    values = jax.vmap(lambda a: critic(state, a, goal))(actions)
    return actions[jnp.argmax(values)]
