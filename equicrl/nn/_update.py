import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import optax
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .._checks import check_choice, check_non_negative_float
from ._actor import GoalConditionedActor
from ._critic import ContrastiveCritic
from ._energy import energy, energy_matrix
from ._losses import actor_loss, alpha_loss, INFONCE_KINDS, infonce_loss, InfoNCEKind


class Transitions(eqx.Module):
    """A relabelled batch: states, actions and goals reached later in their episode."""

    state: Float[Array, "batch state_dim"]
    action: Float[Array, "batch action_dim"]
    goal: Float[Array, "batch goal_dim"]


class CRLState(eqx.Module):
    """Everything one CRL gradient step reads and writes."""

    actor: GoalConditionedActor
    critic: ContrastiveCritic
    log_alpha: Float[Array, ""]
    actor_opt_state: PyTree
    critic_opt_state: PyTree
    alpha_opt_state: PyTree


def _params(model: PyTree) -> PyTree:
    return eqx.filter(model, eqx.is_array)


def _stop_gradient(model: PyTree) -> PyTree:
    return jtu.tree_map(
        lambda x: jax.lax.stop_gradient(x) if eqx.is_array(x) else x, model
    )


Optimisers = (
    optax.GradientTransformation
    | tuple[
        optax.GradientTransformation,
        optax.GradientTransformation,
        optax.GradientTransformation,
    ]
)


def _three(optimiser: Optimisers) -> tuple:
    """(actor, critic, alpha) optimisers from one shared or three separate ones."""
    if isinstance(optimiser, tuple) and not isinstance(
        optimiser, optax.GradientTransformation
    ):
        if len(optimiser) != 3:
            raise ValueError(
                "`optimiser` must be one optax transformation or a tuple of three "
                f"(actor, critic, alpha); got a tuple of {len(optimiser)}"
            )
        return optimiser
    return optimiser, optimiser, optimiser


def init_crl_state(
    actor: GoalConditionedActor,
    critic: ContrastiveCritic,
    optimiser: Optimisers,
) -> CRLState:
    """Initial optimiser states for actor, critic and temperature (log alpha = 0).

    `optimiser` is one optax transformation for all three, or a tuple of three
    `(actor, critic, alpha)`.
    """
    actor_opt, critic_opt, alpha_opt = _three(optimiser)
    log_alpha = jnp.zeros(())
    return CRLState(
        actor=actor,
        critic=critic,
        log_alpha=log_alpha,
        actor_opt_state=actor_opt.init(_params(actor)),
        critic_opt_state=critic_opt.init(_params(critic)),
        alpha_opt_state=alpha_opt.init(log_alpha),
    )


def crl_losses(
    actor: GoalConditionedActor,
    log_alpha: Float[Array, ""],
    critic: ContrastiveCritic,
    batch: Transitions,
    key: PRNGKeyArray,
    *,
    infonce_kind: InfoNCEKind = "forward",
    logsumexp_penalty: float = 0.1,
    target_entropy: float | None = None,
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """The sum of the critic, actor and temperature losses of one batch.

    Stop-gradients separate the three terms, so the gradient of the sum with respect to
    `(actor, log_alpha, critic)` is, for each, the gradient of its own loss: the actor
    update sees the critic as it is before the critic update, as in the paper's "actor
    then critic" order, and the goal encoder runs once for both.

    **Returns:**

    `(total, metrics)`, where metrics holds each loss and diagnostics.
    """
    if target_entropy is None:
        target_entropy = -0.5 * actor.action_dim
    batch_size = batch.state.shape[0]

    phi = jax.vmap(critic.encode_state_action)(batch.state, batch.action)
    psi = jax.vmap(critic.encode_goal)(batch.goal)
    logits = energy_matrix(phi, psi, kind=critic.energy)
    critic_loss = infonce_loss(
        logits, kind=infonce_kind, logsumexp_penalty=logsumexp_penalty
    )

    keys = jr.split(key, batch_size)
    actions, log_prob = jax.vmap(lambda s, g, k: actor.sample(s, g, key=k))(
        batch.state, batch.goal, keys
    )
    frozen = _stop_gradient(critic)
    phi_pi = jax.vmap(frozen.encode_state_action)(batch.state, actions)
    q_pi = jax.vmap(lambda p, q: energy(p, q, kind=critic.energy))(
        phi_pi, jax.lax.stop_gradient(psi)
    )
    alpha = jnp.exp(log_alpha)
    policy_loss = actor_loss(log_prob, q_pi, alpha)
    temperature_loss = alpha_loss(log_alpha, log_prob, target_entropy)

    metrics = dict(
        critic_loss=critic_loss,
        actor_loss=policy_loss,
        alpha_loss=temperature_loss,
        alpha=alpha,
        entropy=-jnp.mean(log_prob),
        logits_pos=jnp.mean(jnp.diagonal(logits)),
        logits_neg=(jnp.sum(logits) - jnp.sum(jnp.diagonal(logits)))
        / max(batch_size * (batch_size - 1), 1),
        categorical_accuracy=jnp.mean(
            jnp.argmax(logits, axis=1) == jnp.arange(batch_size)
        ),
    )
    metrics = jax.lax.stop_gradient(metrics)
    return critic_loss + policy_loss + temperature_loss, metrics


def crl_gradient_step(
    state: CRLState,
    batch: Transitions,
    key: PRNGKeyArray,
    *,
    optimiser: Optimisers,
    infonce_kind: InfoNCEKind = "forward",
    logsumexp_penalty: float = 0.1,
    target_entropy: float | None = None,
) -> tuple[CRLState, dict[str, Float[Array, ""]]]:
    """One CRL gradient step: actor and temperature update, then critic update.

    **Arguments:**

    - `state`: the [`equicrl.CRLState`][] before the step.
    - `batch`: relabelled [`equicrl.Transitions`][].
    - `key`: a `jax.random.PRNGKey` for the actor's action samples.
    - `optimiser`: the optax transformation used for all three (Adam 3e-4 in the
        paper), or a tuple of three `(actor, critic, alpha)`; the optimiser states in
        `state` must come from it.
    - `infonce_kind`, `logsumexp_penalty`: as for [`equicrl.infonce_loss`][].
    - `target_entropy`: the temperature's target; `-0.5 * action_dim` if `None`.

    **Returns:**

    `(new_state, metrics)`.
    """
    check_choice("infonce_kind", infonce_kind, INFONCE_KINDS)
    check_non_negative_float("logsumexp_penalty", logsumexp_penalty)
    params = (state.actor, state.log_alpha, state.critic)

    def loss_fn(diff_params, static_params):
        actor, log_alpha, critic = eqx.combine(diff_params, static_params)
        return crl_losses(
            actor,
            log_alpha,
            critic,
            batch,
            key,
            infonce_kind=infonce_kind,
            logsumexp_penalty=logsumexp_penalty,
            target_entropy=target_entropy,
        )

    diff_params, static_params = eqx.partition(params, eqx.is_inexact_array)
    grads, metrics = jax.grad(loss_fn, has_aux=True)(diff_params, static_params)
    actor_grads, alpha_grad, critic_grads = grads

    actor_opt, critic_opt, alpha_opt = _three(optimiser)

    def apply(opt, model, grads, opt_state):
        updates, opt_state = opt.update(grads, opt_state, _params(model))
        return eqx.apply_updates(model, updates), opt_state

    actor, actor_opt_state = apply(
        actor_opt, state.actor, actor_grads, state.actor_opt_state
    )
    log_alpha, alpha_opt_state = apply(
        alpha_opt, state.log_alpha, alpha_grad, state.alpha_opt_state
    )
    critic, critic_opt_state = apply(
        critic_opt, state.critic, critic_grads, state.critic_opt_state
    )
    new_state = CRLState(
        actor=actor,
        critic=critic,
        log_alpha=log_alpha,
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
        alpha_opt_state=alpha_opt_state,
    )
    return new_state, metrics
