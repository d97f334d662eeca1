"""A trained actor as a policy to deploy (its mean action or a sample), saved alone to
a small file."""

import functools
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._checkpoint import load_checkpoint, read_header, save_checkpoint
from ._actor import check_actor_mode, GoalConditionedActor


# What a policy file's header says it holds (a checkpoint's says nothing).
_KIND = "equicrl policy"
# The actor's constructor arguments a policy file records.
_ARCHITECTURE = (
    "state_dim goal_dim action_dim width depth layers_per_block use_layer_norm "
    "use_skip scan matmul_dtype"
).split()


class Policy:
    """A policy: `policy(state, goal) -> action`, jitted, the actor acting as its run
    evaluated it (`mode`, [`equicrl.act`][]'s):

    - `mode=0`, deterministic: the mean action `tanh(mean)`;
    - `mode=1`, stochastic: a sample `tanh(mean + std * eps)`, which needs a `key`:
        `policy(state, goal, key)`, a fresh key at every step (`jax.random.split`).
        A batch draws independent noise for each example from the one key.

    One example (`(state_dim,)`, `(goal_dim,)`) or a batch (the same leading axes on
    both). A mean-action policy ignores a `key`, so code written for either mode runs
    both.

    Made by `Run.policy()` (in the mode the run evaluated, `CRLConfig.eval_actor`) or
    [`equicrl.load_policy`][]; `save(path)` writes it alone (the actor's parameters,
    architecture and mode: no optimiser state, critic or replay buffer).

    ```python
    policy = equicrl.load_run(RUN_DIR).policy()
    key, step_key = jax.random.split(key)
    action = policy(state, goal, step_key)
    ```
    """

    def __init__(
        self, actor: GoalConditionedActor, info: dict | None = None, *, mode: int = 0
    ):
        if not isinstance(actor, GoalConditionedActor):
            raise TypeError(f"`actor` must be a GoalConditionedActor, got {actor!r}")
        check_actor_mode("mode", mode)
        if mode > 1:
            raise ValueError(
                f"actor mode {mode} ranks {mode} samples by the critic, and a Policy "
                "holds the actor alone: use mode 0 (the mean action) or 1 (a sample)"
            )
        self.actor = actor
        self.mode = mode
        """0: the mean action; 1: a sample (needs a `key`)."""
        self.info = dict(info or {})
        """Where the actor came from (env, run directory, epoch, seed, teacher)."""
        # Plain `jax.jit` of the parameters: less dispatch work per call than
        # re-partitioning the module (`eqx.filter_jit`), which matters at batch 1.
        self._params, static = eqx.partition(actor, eqx.is_array)
        self._act = jax.jit(functools.partial(_act, static))
        self._sample = jax.jit(functools.partial(_sample, static))

    def __call__(
        self,
        state: Float[ArrayLike, "*batch state_dim"],
        goal: Float[ArrayLike, "*batch goal_dim"],
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "*batch action_dim"]:
        a = self.actor
        shape_s, shape_g = jnp.shape(state), jnp.shape(goal)
        if shape_s[-1:] != (a.state_dim,) or shape_g[-1:] != (a.goal_dim,):
            raise ValueError(
                f"the policy takes states of size {a.state_dim} and goals of size "
                f"{a.goal_dim} (last axis), got shapes {shape_s} and {shape_g}"
            )
        if shape_s[:-1] != shape_g[:-1]:
            raise ValueError(
                f"states and goals need the same leading (batch) axes, got shapes "
                f"{shape_s} and {shape_g}"
            )
        if self.mode == 0:
            return self._act(self._params, state, goal)
        if key is None:
            raise ValueError(
                "this policy samples its actions (mode 1, its run's evaluation "
                "mode): pass a `key`, policy(state, goal, key), a fresh one at every "
                "step; or make a mean-action policy with `Run.policy(mode=0)`"
            )
        return self._sample(self._params, state, goal, key)

    @property
    def num_params(self) -> int:
        """The actor's parameter count."""
        leaves = jax.tree.leaves(eqx.filter(self.actor, eqx.is_inexact_array))
        return sum(x.size for x in leaves)

    def save(self, path: str | Path) -> Path:
        """Write the policy to `path` (the actor's architecture in a JSON header line,
        then its parameters; nothing pickled). [`equicrl.load_policy`][] reads it."""
        path = Path(path)
        header = {
            "kind": _KIND,
            **_architecture(self.actor),
            "mode": self.mode,
            "info": self.info,
        }
        save_checkpoint(path, self.actor, header)
        return path


def _act(static, params, state: Array, goal: Array) -> Array:
    act = eqx.combine(params, static).deterministic_action
    for _ in range(jnp.ndim(state) - 1):
        act = jax.vmap(act)
    return act(state, goal)


def _sample(static, params, state: Array, goal: Array, key: PRNGKeyArray) -> Array:
    actor = eqx.combine(params, static)

    def sample(s, g, k):
        return actor.sample(s, g, key=k)[0]

    batch = jnp.shape(state)[:-1]
    keys = jr.split(key, batch) if batch else key
    for _ in batch:
        sample = jax.vmap(sample)
    return sample(state, goal, keys)


def _architecture(actor: GoalConditionedActor) -> dict:
    trunk = actor.trunk
    if trunk.activation is not jax.nn.swish:
        raise ValueError(
            "only actors with the swish activation (every run's) can be saved as a "
            f"policy, not {trunk.activation!r}"
        )
    return dict(
        state_dim=actor.state_dim,
        goal_dim=actor.goal_dim,
        action_dim=actor.action_dim,
        width=trunk.width,
        depth=trunk.depth,
        layers_per_block=trunk.layers_per_block,
        use_layer_norm=trunk.input_norm is not None,
        use_skip=trunk.blocks.use_skip,
        scan=trunk.scan,
        matmul_dtype=trunk.matmul_dtype,
    )


def load_policy(path: str | Path) -> Policy:
    """Read a policy saved by `Policy.save` (e.g. `load_run(...).policy().save(path)`):
    no run directory, training state or replay buffer needed.

    ```python
    policy = equicrl.load_policy("student.eqx")
    action = policy(state, goal)
    ```

    **Raises:**

    `FileNotFoundError` if `path` does not exist, `ValueError` if it is not a policy
    file (a run's checkpoint, say) or is corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no policy file {path}")
    header = read_header(path)
    if header.get("kind") != _KIND:
        raise ValueError(
            f"{path} is not a policy file (a run's checkpoint? `load_run(RUN_DIR)."
            "policy()` makes a policy from a run)"
        )
    arch = {k: header[k] for k in _ARCHITECTURE}
    dims = [arch.pop(k) for k in ("state_dim", "goal_dim", "action_dim")]
    like = eqx.filter_eval_shape(
        lambda: GoalConditionedActor(*dims, **arch, key=jr.key(0))
    )
    actor, meta = load_checkpoint(path, like)
    # Files saved before policies could sample hold mean-action policies.
    return Policy(actor, meta.get("info"), mode=header.get("mode", 0))
