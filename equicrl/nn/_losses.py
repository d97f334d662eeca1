from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._checks import check_choice, check_non_negative_float


InfoNCEKind = Literal["forward", "backward", "symmetric"]
INFONCE_KINDS: tuple[str, ...] = ("forward", "backward", "symmetric")


def _infonce_one_way(logits: Array, axis: int, penalty: float) -> Array:
    lse = jax.nn.logsumexp(logits, axis=axis)
    loss = -jnp.mean(jnp.diagonal(logits) - lse)
    return loss + penalty * jnp.mean(lse**2)


def infonce_loss(
    logits: Float[Array, "batch batch"],
    *,
    kind: InfoNCEKind = "forward",
    logsumexp_penalty: float = 0.1,
) -> Float[Array, ""]:
    """The InfoNCE loss of a contrastive critic's logit matrix.

    With `L[i, j] = f(s_i, a_i, g_j)` and the positive pairs on the diagonal:

    - `"forward"` (the paper's): each state-action classifies its own goal among the
        batch's goals, a softmax over each row:
        `-mean_i(L[i, i] - logsumexp_j L[i, j]) + c * mean_i(logsumexp_j L[i, j]^2)`.
    - `"backward"`: each goal classifies its state-action, a softmax over columns.
    - `"symmetric"`: the mean of the two, so it has the same scale.

    The second term, with `c = logsumexp_penalty` (0.1 in the paper), keeps the logits'
    normaliser near zero.

    **Arguments:**

    - `logits`: a square matrix of shape `(batch, batch)`.
    - `kind`: `"forward"`, `"backward"` or `"symmetric"`. (Keyword only.)
    - `logsumexp_penalty`: coefficient `c >= 0` of the logsumexp penalty.

    **Returns:**

    The scalar loss. With all logits equal and no penalty it is `log(batch)`.
    """
    check_choice("kind", kind, INFONCE_KINDS)
    penalty = check_non_negative_float("logsumexp_penalty", logsumexp_penalty)
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1] or logits.shape[0] == 0:
        raise ValueError(
            "infonce_loss: `logits` must be a non-empty square (batch, batch) matrix, "
            f"got shape {tuple(logits.shape)}."
        )
    if kind == "forward":
        return _infonce_one_way(logits, 1, penalty)
    if kind == "backward":
        return _infonce_one_way(logits, 0, penalty)
    forward = _infonce_one_way(logits, 1, penalty)
    return 0.5 * (forward + _infonce_one_way(logits, 0, penalty))


def _check_batch_vector(name: str, x: Array, where: str) -> None:
    if x.ndim != 1:
        raise ValueError(
            f"{where}: `{name}` must have shape (batch,), got {tuple(x.shape)}."
        )


def actor_loss(
    log_prob: Float[Array, " batch"],
    energy: Float[Array, " batch"],
    alpha: Float[ArrayLike, ""],
) -> Float[Array, ""]:
    """The actor's loss `mean(alpha * log pi(a | s, g) - f(s, a, g))`, `a ~ pi`.

    **Arguments:**

    - `log_prob`: log-probabilities of the sampled actions, shape `(batch,)`.
    - `energy`: the critic's `f(s, a, g)` at those actions, shape `(batch,)`; its
        gradient flows to the actor through the actions.
    - `alpha`: the entropy temperature. It is a constant here: its gradient is stopped.

    **Returns:**

    The scalar loss.
    """
    _check_batch_vector("log_prob", log_prob, "actor_loss")
    _check_batch_vector("energy", energy, "actor_loss")
    if log_prob.shape != energy.shape:
        raise ValueError(
            "actor_loss: `log_prob` and `energy` must have the same shape, got "
            f"{tuple(log_prob.shape)} and {tuple(energy.shape)}."
        )
    alpha = jax.lax.stop_gradient(jnp.asarray(alpha))
    return jnp.mean(alpha * log_prob - energy)


def alpha_loss(
    log_alpha: Float[Array, ""],
    log_prob: Float[Array, " batch"],
    target_entropy: float,
) -> Float[Array, ""]:
    """The temperature loss `alpha * mean(-log pi - target_entropy)`.

    Here `alpha = exp(log_alpha)`.

    Its gradient raises alpha while the policy's entropy is below `target_entropy`
    (the paper uses `-0.5 * action_dim`) and lowers it above.

    **Arguments:**

    - `log_alpha`: the scalar log-temperature being learned.
    - `log_prob`: log-probabilities of sampled actions, shape `(batch,)`; their gradient
        is stopped.
    - `target_entropy`: the entropy the temperature steers towards.

    **Returns:**

    The scalar loss.
    """
    _check_batch_vector("log_prob", log_prob, "alpha_loss")
    if jnp.ndim(log_alpha) != 0:
        raise ValueError(
            "alpha_loss: `log_alpha` must be a scalar, got shape "
            f"{jnp.shape(log_alpha)}."
        )
    entropy_gap = jax.lax.stop_gradient(-log_prob - target_entropy)
    return jnp.exp(log_alpha) * jnp.mean(entropy_gap)
