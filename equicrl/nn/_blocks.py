import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import check_array, check_callable, check_choice, check_positive_int


LAYER_NORM_EPS = 1e-6
MATMUL_DTYPES = ("float32", "bfloat16")


def apply_dense(
    linear: eqx.nn.Linear, x: Float[Array, " in_dim"], matmul_dtype: str = "float32"
) -> Float[Array, " out_dim"]:
    """`linear(x)`, with the matrix product in `matmul_dtype` (one of
    `MATMUL_DTYPES`) and float32 accumulation, output and bias.

    With `"bfloat16"` the float32 weight is cast for the product only, so parameters,
    their gradients and optimiser states stay float32 (mixed precision).
    """
    if matmul_dtype == "float32":
        return linear(x)
    dtype = jnp.dtype(matmul_dtype)
    y = jnp.matmul(
        linear.weight.astype(dtype),
        x.astype(dtype),
        preferred_element_type=jnp.float32,
    )
    return y + linear.bias


def dense(in_dim: int, out_dim: int, *, key: PRNGKeyArray) -> eqx.nn.Linear:
    """A `Linear` layer initialised as the paper does.

    Kernel uniform in `±1/sqrt(in_dim)` (variance scaling 1/3, fan-in, uniform:
    Equinox's default) and a zero bias.
    """
    linear = eqx.nn.Linear(in_dim, out_dim, key=key)
    return eqx.tree_at(lambda lin: lin.bias, linear, jnp.zeros_like(linear.bias))


def layer_norm(width: int) -> eqx.nn.LayerNorm:
    """LayerNorm over the feature axis with learned scale and bias, eps 1e-6."""
    return eqx.nn.LayerNorm(width, eps=LAYER_NORM_EPS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _layer_norm_swish(y, scale, bias, eps):
    return _layer_norm_swish_fwd(y, scale, bias, eps)[0]


def _layer_norm_swish_fwd(y, scale, bias, eps):
    centred = y - jnp.mean(y)
    rstd = jax.lax.rsqrt(jnp.mean(centred * centred) + eps)
    normed = centred * rstd
    z = normed * scale + bias
    return z * jax.nn.sigmoid(z), (normed, rstd, scale, bias)


def _layer_norm_swish_bwd(eps, residuals, grad):
    # The LayerNorm-then-swish gradient in one pass over the layer, from the
    # normalised values and 1/std: autodiff of the two saves about six arrays per
    # layer and reads them back in a dozen passes, which costs more than the layer's
    # matrix products on a CPU.
    normed, rstd, scale, bias = residuals
    z = normed * scale + bias
    s = jax.nn.sigmoid(z)
    dz = grad * s * (1 + z * (1 - s))
    dnormed = dz * scale
    dy = rstd * (dnormed - jnp.mean(dnormed) - normed * jnp.mean(dnormed * normed))
    return dy, dz * normed, dz


_layer_norm_swish.defvjp(_layer_norm_swish_fwd, _layer_norm_swish_bwd)


def norm_and_activate(
    norm: eqx.nn.LayerNorm | None,
    activation: Callable[[Array], Array],
    y: Float[Array, " width"],
) -> Float[Array, " width"]:
    """`activation(norm(y))` (no norm if `None`).

    LayerNorm followed by swish, the paper's layer, runs as one fused function with a
    hand-written gradient (equal to autodiff's up to rounding; tested); any other
    combination runs as written.
    """
    if norm is None:
        return activation(y)
    if activation is jax.nn.swish and norm.use_weight and norm.use_bias:
        return _layer_norm_swish(y, norm.weight, norm.bias, norm.eps)
    return activation(norm(y))


class ResidualBlock(eqx.Module):
    """A residual block of `layers_per_block` x (Linear -> LayerNorm -> activation).

    The block's input is added to the output of the last activation. There is no
    normalisation or activation after the addition (no pre-norm), as in the paper.

    ??? cite "Reference"

        ```bibtex
        @inproceedings{wang2025thousand,
            title={1000 Layer Networks for Self-Supervised {RL}: Scaling Depth Can
                   Enable New Goal-Reaching Capabilities},
            author={Wang, Kevin and Javali, Ishaan and Bortkiewicz, Micha{\\l} and
                    Trzci{\\'n}ski, Tomasz and Eysenbach, Benjamin},
            booktitle={Advances in Neural Information Processing Systems},
            year={2025}
        }
        ```
    """

    linears: tuple[eqx.nn.Linear, ...]
    norms: tuple[eqx.nn.LayerNorm, ...] | None
    activation: Callable[[Array], Array]
    width: int = eqx.field(static=True)
    layers_per_block: int = eqx.field(static=True)
    use_skip: bool = eqx.field(static=True)
    matmul_dtype: str = eqx.field(static=True)

    def __init__(
        self,
        width: int,
        *,
        layers_per_block: int = 4,
        use_layer_norm: bool = True,
        use_skip: bool = True,
        activation: Callable[[Array], Array] = jax.nn.swish,
        matmul_dtype: str = "float32",
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `width`: the size of the input, of every hidden layer and of the output.
        - `layers_per_block`: the number of Linear -> LayerNorm -> activation layers.
        - `use_layer_norm`: whether each layer normalises (the paper's "no LayerNorm"
            ablation sets this to `False`).
        - `use_skip`: whether to add the block's input to its output (the paper's
            "no residual connection" ablation sets this to `False`).
        - `activation`: the elementwise nonlinearity; `jax.nn.swish` by default
            (`jax.nn.relu` for the paper's ReLU ablation).
        - `key`: a `jax.random.PRNGKey` for the initialisation. (Keyword only.)
        """
        self.width = check_positive_int("width", width)
        self.layers_per_block = check_positive_int("layers_per_block", layers_per_block)
        self.activation = check_callable("activation", activation)
        self.use_skip = bool(use_skip)
        self.matmul_dtype = check_choice("matmul_dtype", matmul_dtype, MATMUL_DTYPES)
        keys = jr.split(key, self.layers_per_block)
        self.linears = tuple(dense(self.width, self.width, key=k) for k in keys)
        if use_layer_norm:
            self.norms = tuple(layer_norm(self.width) for _ in keys)
        else:
            self.norms = None

    @property
    def use_layer_norm(self) -> bool:
        return self.norms is not None

    def __call__(self, x: Float[Array, " width"]) -> Float[Array, " width"]:
        """**Arguments:**

        - `x`: one input vector of shape `(width,)`.

        **Returns:**

        A vector of shape `(width,)`.
        """
        check_array("x", x, (self.width,), where="ResidualBlock")
        h = x
        for i, linear in enumerate(self.linears):
            h = apply_dense(linear, h, self.matmul_dtype)
            norm = None if self.norms is None else self.norms[i]
            h = norm_and_activate(norm, self.activation, h)
        return x + h if self.use_skip else h
