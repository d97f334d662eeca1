"""Learning: relabel batches from the replay buffer and take CRL gradient steps."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Bool, Int, PyTree

from ..nn._distill import distill_gradient_step
from ..nn._update import crl_gradient_step, CRLState, Transitions
from ._sharding import shard
from ._state import Parts, TrainState


# What `finite_checks` looks at in a gradient step, upstream first: the batch, then
# each network's loss and its parameters after the update. The critic comes before
# the actor, whose loss reads the critic's representations, and the actor before the
# temperature, whose loss reads the actor's log-probabilities; no update changes a
# loss of its own step. So the first check to fail, at the first step where any
# fails, is where a divergence started.
CHECKS = (
    "batch_state",
    "batch_action",
    "batch_goal",
    "distill_loss",
    "critic_loss",
    "critic_params",
    "actor_loss",
    "actor_params",
    "alpha_loss",
    "log_alpha",
    "collector_critic_loss",
    "collector_actor_loss",
    "collector_alpha_loss",
    "collector_params",
    "learners_loss",
    "learners_params",
)


def _all_finite(tree: PyTree) -> Bool[Array, ""]:
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def finite_checks(
    batch: Transitions, crl: CRLState, metrics: dict[str, Array]
) -> dict[str, Bool[Array, ""]]:
    """Whether each of `CHECKS` is finite in one gradient step: its `batch`, the
    state `crl` after the step and the step's `metrics`."""
    return dict(
        batch_state=_all_finite(batch.state),
        batch_action=_all_finite(batch.action),
        batch_goal=_all_finite(batch.goal),
        critic_loss=jnp.isfinite(metrics["critic_loss"]),
        critic_params=_all_finite(crl.critic),
        actor_loss=jnp.isfinite(metrics["actor_loss"]),
        actor_params=_all_finite(crl.actor),
        alpha_loss=jnp.isfinite(metrics["alpha_loss"]),
        log_alpha=jnp.isfinite(crl.log_alpha),
    )


def first_nonfinite(
    finite: dict[str, Bool[Array, " steps"]],
) -> dict[str, Int[Array, ""]]:
    """For each check, the first gradient step where it failed (-1 if none)."""
    return {
        name: jnp.where(jnp.all(ok), -1, jnp.argmin(ok)) for name, ok in finite.items()
    }


def learn(
    parts: Parts, ts: TrainState, teacher=None
) -> tuple[TrainState, dict[str, Array], dict[str, Int[Array, ""]]]:
    """`gradient_steps_per_collection` CRL gradient steps on relabelled batches (or,
    with a `teacher` actor, distillation steps: see `distill`).

    Pure: one seed's state in, its next state out.

    **Returns:**

    `(state, metrics, first_nonfinite)`: the metrics averaged over the gradient steps,
    and for each of `CHECKS` the first gradient step where it was not finite (-1 if
    none), so that a divergence can be reported exactly, with the network where it
    started.
    """
    if teacher is not None:
        return _distill(parts, ts, teacher)
    c, goal_indices = parts.config, jnp.asarray(parts.env.goal_indices)
    step = dict(
        optimiser=parts.optimisers,
        infonce_kind=c.infonce_kind,
        logsumexp_penalty=c.logsumexp_penalty,
    )

    # The learner and, in the collector experiment, the collector or the learners:
    # all learn from every batch.
    agents = (ts.crl, ts.collector, ts.learners)
    agents_params, agents_static = eqx.partition(agents, eqx.is_array)

    def body(agents_params, key):
        crl, collector, learners = eqx.combine(agents_params, agents_static)
        sample_key, step_key = jr.split(key)
        now, future, _ = ts.buffer.sample_relabelled(
            sample_key, c.batch_size, c.gamma, mesh=parts.mesh
        )
        batch = Transitions(
            state=now["state"],
            action=now["action"],
            goal=future["state"][:, goal_indices],
        )
        crl, metrics = crl_gradient_step(crl, batch, step_key, **step)
        finite = finite_checks(batch, crl, metrics)
        if collector is not None:
            collector, theirs = crl_gradient_step(
                collector, batch, jr.fold_in(step_key, 1), **step
            )
            metrics = {**metrics, **{f"collector_{k}": v for k, v in theirs.items()}}
            finite.update(
                {
                    f"collector_{k}": jnp.isfinite(theirs[k])
                    for k in ("critic_loss", "actor_loss", "alpha_loss")
                },
                collector_params=_all_finite(collector),
            )
        if learners is not None:
            stepped = []
            losses, params = [], []
            for i, (depth, learner) in enumerate(zip(c.learner_depths, learners)):
                learner, theirs = crl_gradient_step(
                    learner, batch, jr.fold_in(step_key, 2 + i), **step
                )
                stepped.append(learner)
                metrics.update({f"learner{depth}_{k}": v for k, v in theirs.items()})
                losses += [
                    theirs[k] for k in ("critic_loss", "actor_loss", "alpha_loss")
                ]
                params.append(_all_finite(learner))
            learners = tuple(stepped)
            finite.update(
                learners_loss=jnp.all(jnp.isfinite(jnp.stack(losses))),
                learners_params=jnp.all(jnp.stack(params)),
            )
        out = eqx.filter((crl, collector, learners), eqx.is_array)
        return out, (metrics, finite)

    key, learn_key = jr.split(ts.key)
    agents_params, (metrics, finite) = jax.lax.scan(
        body, agents_params, jr.split(learn_key, c.gradient_steps_per_collection)
    )
    crl, collector, learners = eqx.combine(agents_params, agents_static)
    metrics = jax.tree.map(jnp.mean, metrics)
    ts = eqx.tree_at(lambda t: (t.crl, t.key), ts, (crl, key))
    if collector is not None:
        ts = eqx.tree_at(lambda t: t.collector, ts, collector)
    if learners is not None:
        ts = eqx.tree_at(lambda t: t.learners, ts, learners)
    return shard(ts, parts.mesh), metrics, first_nonfinite(finite)


def _distill(parts: Parts, ts: TrainState, teacher):
    """`learn` for a run with a teacher: the actor alone takes gradient steps on
    `distill_loss`, on batches of visited states and the goals commanded there."""
    c, crl = parts.config, ts.crl
    params, static = eqx.partition(crl.actor, eqx.is_array)

    def body(carry, key):
        params, opt_state = carry
        now, _, _ = ts.buffer.sample_relabelled(
            key, c.batch_size, c.gamma, mesh=parts.mesh
        )
        actor, opt_state, metrics = distill_gradient_step(
            eqx.combine(params, static),
            opt_state,
            teacher,
            now["state"],
            now["goal"],
            optimiser=parts.optimisers[0],
            kind=c.distill_loss,
        )
        finite = dict(
            batch_state=_all_finite(now["state"]),
            batch_goal=_all_finite(now["goal"]),
            distill_loss=jnp.isfinite(metrics["distill_loss"]),
            actor_params=_all_finite(actor),
        )
        return (eqx.filter(actor, eqx.is_array), opt_state), (metrics, finite)

    key, learn_key = jr.split(ts.key)
    (params, opt_state), (metrics, finite) = jax.lax.scan(
        body,
        (params, crl.actor_opt_state),
        jr.split(learn_key, c.gradient_steps_per_collection),
    )
    crl = eqx.tree_at(
        lambda s: (s.actor, s.actor_opt_state),
        crl,
        (eqx.combine(params, static), opt_state),
    )
    metrics = jax.tree.map(jnp.mean, metrics)
    ts = eqx.tree_at(lambda t: (t.crl, t.key), ts, (crl, key))
    return shard(ts, parts.mesh), metrics, first_nonfinite(finite)
