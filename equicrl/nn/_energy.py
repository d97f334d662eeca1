"""The energy functions that score a (state-action, goal) pair of representations.

[`equicrl.energy`][] scores one pair; [`equicrl.energy_matrix`][] builds a batch's
`batch x batch` logit matrix from matrix products. Its L2 energies go through an
error-free split of the rows (after Ozaki et al.) with a custom JVP, so that near
pairs of large representations keep accurate distances and finite gradients.
"""

from typing import Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice


Energy = Literal["l2", "squared_l2", "dot", "cosine"]
ENERGIES: tuple[str, ...] = ("l2", "squared_l2", "dot", "cosine")
_COSINE_EPS = 1e-8


def _safe_sqrt(x: Array) -> Array:
    # sqrt has an infinite derivative at 0; where x <= 0 (coinciding representations)
    # return 0 with a zero gradient instead. The inner `where` keeps NaNs out of the
    # unselected branch's gradient. Test `x <= 0`, not `x > 0`: a NaN fails both, and
    # must stay NaN rather than pass for a zero distance.
    zero = x <= 0
    return jnp.where(zero, 0.0, jnp.sqrt(jnp.where(zero, 1.0, x)))


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
    finite when `phi == psi`; a non-finite entry gives a non-finite energy.
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


def _gram(a: Array, b: Array) -> Array:
    # HIGHEST: on GPUs the default float32 product rounds its inputs to TF32.
    return jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)


def _difference_dots(
    xa: Array, ya: Array, xb: Array | None = None, yb: Array | None = None
) -> Array:
    """`(xa_i - ya_j) . (xb_i - yb_j)` for every pair `(i, j)`, from matrix products.

    `xb` and `yb` default to `xa` and `ya`, giving squared distances.
    """
    if xb is None or yb is None:
        xb, yb = xa, ya
        cross = 2 * _gram(xa, ya)
    else:
        cross = _gram(xa, yb) + _gram(xb, ya)
    rows = jnp.sum(xa * xb, axis=-1)[:, None]
    cols = jnp.sum(ya * yb, axis=-1)[None, :]
    return (rows + cols) - cross


# A level-1 slice has norm below 2^11 units; see `_split_exponents`.
_LEVEL1_BITS = 11
# Keeps the slices' units, and their products, in float32's normal range. Smaller
# representations lose exactness only at distances far below what we promise.
_MIN_SCALE = 2.0**-30


def _split_exponents(
    x: Float[Array, "batch repr_dim"], y: Float[Array, "batch repr_dim"]
) -> tuple[Array, Array]:
    """The exponents of the powers of two `h1 > h2` that `_exact_squared_distances`
    splits rows on.

    With `s` the largest row norm, `h1 = 2^(e - 11)` for `2^(e-1) <= s < 2^e`, so a
    level-1 slice has norm at most `A = 2^11 + sqrt(D)/2` units of `h1` (`D` is
    `repr_dim`). A level-2 slice has components of at most `h1 / 2`, so norm at most
    `P = sqrt(D) 2^(k-1)` units of `h2 = h1 / 2^k`; `k` is the largest with
    `D 4^k <= 2^24`, so that `P <= 2^11`. For `D <= 2^20`, the largest partial sums
    in `_exact_squared_distances`, `2 A^2`, `2 A P` and `2 P^2`, are all below
    `1.4e7 < 2^24`.
    """
    squared_norm = jnp.maximum(
        jnp.max(jnp.sum(x * x, axis=-1)), jnp.max(jnp.sum(y * y, axis=-1))
    )
    # The computed norm may be a few ulps low; the bounds have room for 0.1% more.
    _, exponent = jnp.frexp(jnp.maximum(1.001 * jnp.sqrt(squared_norm), _MIN_SCALE))
    level2_bits = max(1, (24 - (x.shape[-1] - 1).bit_length()) // 2)
    return exponent - _LEVEL1_BITS, exponent - _LEVEL1_BITS - level2_bits


def _power_of_two(exponent: Array, dtype) -> Array:
    # Built from the bits, so exact on every backend (`jnp.ldexp` goes through `pow`).
    finfo = jnp.finfo(dtype)
    int_dtype = jnp.int32 if finfo.bits == 32 else jnp.int64
    bits = (exponent.astype(int_dtype) + (finfo.maxexp - 1)) << finfo.nmant
    return jax.lax.bitcast_convert_type(bits, dtype)


def _round_to(x: Array, exponent: Array) -> Array:
    # Scaling by powers of two is exact; only the rounding to integers changes `x`.
    scaled = x * _power_of_two(-exponent, x.dtype)
    return jnp.round(scaled) * _power_of_two(exponent, x.dtype)


def _exact_squared_distances(
    x: Float[Array, "batch repr_dim"], y: Float[Array, "batch repr_dim"]
) -> Float[Array, "batch batch"]:
    """`|x_i - y_j|^2` for every pair, by an Ozaki-style error-free split.

    Each row is split into `x = x1 + x2 + x3`, `x1` a multiple of `h1` and `x2` of `h2`
    (`_split_exponents`); both subtractions are exact (Sterbenz). With
    `Dk = xk_i - yk_j`,

    `|x_i - y_j|^2 = |D1|^2 + 2 D1.D2 + |D2|^2 + D3.(2 (D1 + D2) + D3)`.

    The first three terms are integer multiples of `h1^2`, `h1 h2` and `h2^2` whose
    partial sums stay below 2^24 units (Cauchy-Schwarz), so their matrix products are
    exact in any summation order and their sum rounds only relative to its size.
    Only the last term is computed with cancellation, and it is small: with `s` the
    largest row norm, `|x3| <= s 2^-17` for `repr_dim = 64`.
    """
    e1, e2 = _split_exponents(x, y)
    x1, y1 = _round_to(x, e1), _round_to(y, e1)
    x2, y2 = _round_to(x - x1, e2), _round_to(y - y1, e2)
    x3, y3 = (x - x1) - x2, (y - y1) - y2
    exact = (_difference_dots(x1, y1) + 2 * _difference_dots(x1, y1, x2, y2)) + (
        _difference_dots(x2, y2)
    )
    rest = _difference_dots(x3, y3, 2 * (x1 + x2) + x3, 2 * (y1 + y2) + y3)
    return jnp.maximum(exact + rest, 0.0)


@jax.custom_jvp
def _squared_distances(
    x: Float[Array, "batch repr_dim"], y: Float[Array, "batch repr_dim"]
) -> Float[Array, "batch batch"]:
    return _exact_squared_distances(x, y)


@_squared_distances.defjvp
def _squared_distances_jvp(primals, tangents):
    # The derivative of the one-product form, 2 (x_i - y_j) . (dx_i - dy_j): two
    # matrix products, accurate, and none of the exact form's six.
    (x, y), (dx, dy) = primals, tangents
    return _squared_distances(x, y), 2 * _difference_dots(x, y, dx, dy)


def _cosine_matrix(
    phi: Float[Array, "batch repr_dim"], psi: Float[Array, "batch repr_dim"]
) -> Float[Array, "batch batch"]:
    phi_norm = _safe_sqrt(jnp.sum(phi**2, axis=-1))
    psi_norm = _safe_sqrt(jnp.sum(psi**2, axis=-1))
    return _gram(phi, psi) / jnp.maximum(
        phi_norm[:, None] * psi_norm[None, :], _COSINE_EPS
    )


def _centred_squared_distances(
    phi: Float[Array, "batch repr_dim"], psi: Float[Array, "batch repr_dim"]
) -> Float[Array, "batch batch"]:
    # Distances do not move with a shared offset, and smaller norms mean smaller
    # rounding errors. The centring itself rounds relative to the centred values.
    centre = jax.lax.stop_gradient(jnp.mean(jnp.concatenate([phi, psi]), axis=0))
    return _squared_distances(phi - centre, psi - centre)


def energy_matrix(
    phi: Float[Array, "batch repr_dim"],
    psi: Float[Array, "batch repr_dim"],
    *,
    kind: Energy = "l2",
) -> Float[Array, "batch batch"]:
    """The `batch x batch` logit matrix `L[i, j] = energy(phi[i], psi[j])`.

    Built from matrix products, never a `batch x batch x repr_dim` broadcast.

    The L2 energies stay accurate for near pairs of large representations (positive
    pairs, hard negatives), where the one-product form
    `|phi_i|^2 + |psi_j|^2 - 2 phi_i . psi_j` cancels catastrophically: in float32,
    at `|phi| = 30`, it puts a distance of `0.01` off by about `2e-2`. Here the
    representations are first centred on the batch mean. Each row is then split
    exactly into slices of decreasing scale whose matrix products are exact in
    float32 in any summation order (after Ozaki et al.'s error-free products), and
    only a remainder about `10^5` times smaller than the largest norm goes through
    a product with rounding. Every product uses `jax.lax.Precision.HIGHEST`, so GPUs
    do not drop to TF32. The forward pass costs six
    `(batch, repr_dim) x (repr_dim, batch)` products instead of one; the backward
    pass two, as before.

    Accuracy, with `s` the largest norm of a centred row: every distance is within
    about `1e-6 s` of the exact one for `repr_dim = 64` (`2e-6 s` at `1024`), where
    the one-product form is off by up to about `1e-3 s`. For representations of
    norm up to 30 that is about `3e-5`. Far pairs also carry float32's relative
    rounding of the result.

    The gradient is that of the one-product form, `2 (phi_i - psi_j)` per pair for
    the squared distance, with the accurate distance in `"l2"`'s
    `1 / (2 ||phi_i - psi_j||)`. Its absolute error is about float32 epsilon times
    `s` times the summed weights of a row, so for `"l2"` a pair `d` apart has its
    gradient's direction accurate to about `1e-7 s / d`. It stays finite where
    `phi_i == psi_j`, though it need not be zero there, as [`equicrl.energy`][]'s is.

    A non-finite entry of `phi` or `psi` gives non-finite logits, never finite ones
    that hide it: for the L2 energies every logit is NaN (the centring and the split's
    scale are shared by the batch), for `"dot"` and `"cosine"` the logits of the
    affected rows or columns. Either way every InfoNCE loss of the matrix is then not
    finite.

    **Arguments:**

    - `phi`: state-action representations, shape `(batch, repr_dim)`.
    - `psi`: goal representations, shape `(batch, repr_dim)`.
    - `kind`: as for [`equicrl.energy`][].

    **Returns:**

    An array of shape `(batch, batch)`, computed in float32 (or in the inputs' dtype,
    if wider); row `i` scores every goal against pair `i`.
    """
    _check_pair(phi, psi, kind, "energy_matrix")
    if phi.ndim != 2 or phi.shape != psi.shape:
        raise ValueError(
            "energy_matrix: `phi` and `psi` must both have shape (batch, repr_dim); "
            f"got {tuple(phi.shape)} and {tuple(psi.shape)}."
        )
    # The split below relies on float32's 24-bit significand at least.
    dtype = jnp.promote_types(jnp.result_type(phi, psi), jnp.float32)
    phi, psi = phi.astype(dtype), psi.astype(dtype)
    if kind == "dot":
        return _gram(phi, psi)
    if kind == "cosine":
        return _cosine_matrix(phi, psi)
    squared_distance = _centred_squared_distances(phi, psi)
    if kind == "squared_l2":
        return -squared_distance
    return -_safe_sqrt(squared_distance)
