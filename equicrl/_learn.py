"""Learning: relabel batches from the replay buffer and take CRL gradient steps."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Int

from ._sharding import shard
from ._state import Parts, TrainState
from ._update import crl_gradient_step, Transitions


LOSSES = ("critic_loss", "actor_loss", "alpha_loss")


def learn(
    parts: Parts, ts: TrainState
) -> tuple[TrainState, dict[str, Array], dict[str, Int[Array, ""]]]:
    """`gradient_steps_per_collection` CRL gradient steps on relabelled batches.

    Pure: one seed's state in, its next state out.

    **Returns:**

    `(state, metrics, first_nonfinite)`: the metrics averaged over the gradient steps,
    and for each loss the first gradient step where it was not finite (-1 if none), so
    that a divergence can be reported exactly.
    """
    c, goal_indices = parts.config, jnp.asarray(parts.env.goal_indices)

    crl_params, crl_static = eqx.partition(ts.crl, eqx.is_array)

    def body(crl_params, key):
        crl = eqx.combine(crl_params, crl_static)
        sample_key, step_key = jr.split(key)
        now, future, _ = ts.buffer.sample_relabelled(
            sample_key, c.batch_size, c.gamma, mesh=parts.mesh
        )
        batch = Transitions(
            state=now["state"],
            action=now["action"],
            goal=future["state"][:, goal_indices],
        )
        crl, metrics = crl_gradient_step(
            crl,
            batch,
            step_key,
            optimiser=parts.optimisers,
            infonce_kind=c.infonce_kind,
            logsumexp_penalty=c.logsumexp_penalty,
        )
        return eqx.filter(crl, eqx.is_array), metrics

    key, learn_key = jr.split(ts.key)
    crl_params, metrics = jax.lax.scan(
        body, crl_params, jr.split(learn_key, c.gradient_steps_per_collection)
    )
    crl = eqx.combine(crl_params, crl_static)
    first_nonfinite = {
        name: jnp.where(
            jnp.all(jnp.isfinite(metrics[name])),
            -1,
            jnp.argmin(jnp.isfinite(metrics[name])),
        )
        for name in LOSSES
    }
    metrics = jax.tree.map(jnp.mean, metrics)
    ts = eqx.tree_at(lambda t: (t.crl, t.key), ts, (crl, key))
    return shard(ts, parts.mesh), metrics, first_nonfinite
