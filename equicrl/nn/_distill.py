"""Distillation: a small actor learns to act as a trained run's (deep) actor does, on
the states it visits itself, as the teacher labels them (on-policy, DAgger style)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from ._actor import ACTION_BOUND, GoalConditionedActor


# The distillation losses (`CRLConfig.distill_loss`).
DISTILL_LOSSES = ("action", "kl")


# An actor: `(state, goal) -> (mean, log_std)` of the pre-tanh Gaussian, as
# `GoalConditionedActor` is.
ActorLike = Callable[[Array, Array], tuple[Array, Array]]


def distill_loss(
    student: ActorLike,
    teacher: ActorLike,
    state: Float[Array, "batch state_dim"],
    goal: Float[Array, "batch goal_dim"],
    kind: str = "action",
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """The distillation loss of a batch, and the mean absolute difference of the two
    actors' deterministic actions (in action units: actions lie in `(-1, 1)`).
    `student` and `teacher` are actors (`GoalConditionedActor`s, or any function of
    one `(state, goal)` giving the pre-tanh `(mean, log_std)`).

    `kind="kl"`: the mean over the batch of KL(teacher || student), each a
    tanh-Gaussian; tanh is one-to-one, so it equals the KL of the two pre-tanh
    diagonal Gaussians, in closed form. `kind="action"`: the squared error of the
    deterministic actions `tanh(mean)` plus that of the log standard deviations (each
    summed over action dimensions, then averaged over the batch). The second term
    trains the student's noise to the teacher's, so that the student, which collects
    its own data by sampling, explores as its teacher would. No gradient flows into
    the teacher.
    """
    if kind not in DISTILL_LOSSES:
        raise ValueError(f"`kind` must be one of {DISTILL_LOSSES}, got {kind!r}")
    s_mean, s_log_std = jax.vmap(student)(state, goal)
    t_mean, t_log_std = jax.lax.stop_gradient(jax.vmap(teacher)(state, goal))
    s_action, t_action = jnp.tanh(s_mean), jnp.tanh(t_mean)
    if kind == "kl":
        z = (t_mean - s_mean) * jnp.exp(-s_log_std)
        ratio = jnp.exp(2 * (t_log_std - s_log_std))
        per_dim = s_log_std - t_log_std + 0.5 * (ratio + z**2) - 0.5
        loss = per_dim.sum(-1).mean()
    else:
        squared = (s_action - t_action) ** 2 + (s_log_std - t_log_std) ** 2
        loss = squared.sum(-1).mean()
    bound = ACTION_BOUND
    error = jnp.abs(
        jnp.clip(s_action, -bound, bound) - jnp.clip(t_action, -bound, bound)
    ).mean()
    return loss, jax.lax.stop_gradient(error)


def distill_gradient_step(
    student: GoalConditionedActor,
    opt_state,
    teacher: ActorLike,
    state: Float[Array, "batch state_dim"],
    goal: Float[Array, "batch goal_dim"],
    *,
    optimiser: optax.GradientTransformation,
    kind: str = "action",
) -> tuple[GoalConditionedActor, object, dict[str, Array]]:
    """One gradient step of the student on [`equicrl.distill_loss`][]: `(student,
    opt_state, metrics)`, the metrics `distill_loss` and `action_error`."""
    # The parameters as `init_crl_state` gave the actor's optimiser state.
    params, static = eqx.partition(student, eqx.is_array)

    def loss_fn(params):
        return distill_loss(eqx.combine(params, static), teacher, state, goal, kind)

    (loss, error), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimiser.update(grads, opt_state, params)
    student = eqx.apply_updates(student, updates)
    return student, opt_state, {"distill_loss": loss, "action_error": error}
