from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.lax as lax
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, Float, PRNGKeyArray

from .._checks import (
    check_array,
    check_callable,
    check_choice,
    check_positive_int,
    check_remat,
)
from ._blocks import (
    apply_dense,
    dense,
    layer_norm,
    MATMUL_DTYPES,
    norm_and_activate,
    ResidualBlock,
)


@eqx.filter_jit
def _make_blocks(
    keys, width, layers_per_block, use_layer_norm, use_skip, activation, matmul_dtype
):
    # All blocks at once (vmap over keys): every parameter gets a leading block axis.
    # Compiled, and cached per configuration, so building deep stacks is quick.
    def make_block(key):
        return ResidualBlock(
            width,
            layers_per_block=layers_per_block,
            use_layer_norm=use_layer_norm,
            use_skip=use_skip,
            activation=activation,
            matmul_dtype=matmul_dtype,
            key=key,
        )

    return eqx.filter_vmap(make_block)(keys)


class DeepEncoder(eqx.Module):
    """A deep residual encoder: the network of every CRL component.

    `Linear -> LayerNorm -> activation`, then `depth // layers_per_block`
    [`equicrl.ResidualBlock`][]s, then a plain output `Linear` (no final LayerNorm).
    "Depth" counts the Linear layers inside the residual blocks, so `depth=4` is one
    block and six Linear layers in all.

    The blocks are stored stacked (every parameter has a leading `num_blocks` axis) and,
    with `scan=True`, run by `jax.lax.scan`: the compiler sees one block, so compile
    time does not grow with depth. `scan=False` runs the same stacked parameters in a
    Python loop (an unrolled network, compiled layer by layer), which is what the
    research code does; it is here as a reference and for comparisons.

    `remat=True` wraps each block in `jax.checkpoint`: the backward pass keeps one
    activation per block and recomputes the block's inner layers, trading about one
    extra forward pass for memory that no longer grows with `layers_per_block`.
    `remat="nested"` runs a scan of checkpointed segments of checkpointed blocks, so
    the backward pass keeps about `2 sqrt(num_blocks)` activations, for a second extra
    forward pass.

    ??? cite "Reference"

        Wang et al., "1000 Layer Networks for Self-Supervised RL", NeurIPS 2025
        (arXiv 2503.14858).
    """

    input_linear: eqx.nn.Linear
    input_norm: eqx.nn.LayerNorm | None
    blocks: ResidualBlock
    output_linear: eqx.nn.Linear
    activation: Callable[[Array], Array]
    in_dim: int = eqx.field(static=True)
    out_dim: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    layers_per_block: int = eqx.field(static=True)
    scan: bool = eqx.field(static=True)
    remat: bool | str = eqx.field(static=True)
    matmul_dtype: str = eqx.field(static=True)

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
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

        - `in_dim`: size of the input vector.
        - `out_dim`: size of the output vector.
        - `width`: size of every hidden layer.
        - `depth`: number of Linear layers inside the residual blocks; a positive
            multiple of `layers_per_block`. (The research code silently rounds other
            depths down; this raises a `ValueError` instead.)
        - `layers_per_block`: Linear layers per residual block.
        - `use_layer_norm`, `use_skip`, `activation`: as for
            [`equicrl.ResidualBlock`][]; `use_layer_norm=False` also removes the
            input layer's LayerNorm.
        - `scan`: run the blocks with `jax.lax.scan` (fast to compile at any depth) or
            unrolled (same parameters, same outputs).
        - `remat`: `True` checkpoints each block for a smaller backward-pass memory;
            `"nested"` (with `scan=True`) also checkpoints segments of about
            `sqrt(num_blocks)` blocks, for the least memory at one more forward pass.
        - `matmul_dtype`: `"float32"`, or `"bfloat16"` for mixed precision: every
            matrix product in bfloat16 with float32 accumulation, while parameters,
            their gradients, LayerNorm and activations stay float32.
        - `key`: a `jax.random.PRNGKey` for the initialisation. (Keyword only.)
        """
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.out_dim = check_positive_int("out_dim", out_dim)
        self.width = check_positive_int("width", width)
        self.depth = check_positive_int("depth", depth)
        self.layers_per_block = check_positive_int("layers_per_block", layers_per_block)
        if self.depth % self.layers_per_block != 0:
            raise ValueError(
                f"`depth` ({self.depth}) must be a multiple of `layers_per_block` "
                f"({self.layers_per_block}): depth counts the Linear layers inside the "
                "residual blocks."
            )
        self.activation = check_callable("activation", activation)
        self.scan = bool(scan)
        self.remat = check_remat(remat)
        if self.remat == "nested" and not self.scan:
            raise ValueError('`remat="nested"` needs `scan=True`')
        self.matmul_dtype = check_choice("matmul_dtype", matmul_dtype, MATMUL_DTYPES)

        in_key, blocks_key, out_key = jr.split(key, 3)
        self.input_linear = dense(self.in_dim, self.width, key=in_key)
        self.input_norm = layer_norm(self.width) if use_layer_norm else None

        self.blocks = _make_blocks(
            jr.split(blocks_key, self.num_blocks),
            self.width,
            self.layers_per_block,
            bool(use_layer_norm),
            bool(use_skip),
            activation,
            self.matmul_dtype,
        )
        self.output_linear = dense(self.width, self.out_dim, key=out_key)

    @property
    def num_blocks(self) -> int:
        return self.depth // self.layers_per_block

    @property
    def remat_segments(self) -> int:
        """With `remat="nested"`, the number of checkpointed segments: the divisor
        of `num_blocks` nearest its square root (16 segments of 16 blocks at depth
        1024)."""
        n = self.num_blocks
        return min(
            (d for d in range(1, n + 1) if n % d == 0),
            key=lambda d: (abs(d - n**0.5), d),
        )

    def block(self, i: int) -> ResidualBlock:
        """The `i`-th residual block as an ordinary (unstacked) module."""
        if not -self.num_blocks <= i < self.num_blocks:
            raise IndexError(
                f"block index {i} out of range for {self.num_blocks} blocks"
            )
        return jtu.tree_map(lambda a: a[i] if eqx.is_array(a) else a, self.blocks)

    def __call__(self, x: Float[Array, " in_dim"]) -> Float[Array, " out_dim"]:
        """**Arguments:**

        - `x`: one input vector of shape `(in_dim,)`. Use `jax.vmap` for batches.

        **Returns:**

        A vector of shape `(out_dim,)`.
        """
        check_array("x", x, (self.in_dim,), where="DeepEncoder")
        h = apply_dense(self.input_linear, x, self.matmul_dtype)
        h = norm_and_activate(self.input_norm, self.activation, h)

        params, static = eqx.partition(self.blocks, eqx.is_array)

        def run_block(h, block_params):
            return eqx.combine(block_params, static)(h)

        if self.remat:
            # prevent_cse=False is safe inside scan and lets XLA share work.
            run_block = jax.checkpoint(run_block, prevent_cse=not self.scan)

        def run_blocks(h, params):
            return lax.scan(lambda h, p: (run_block(h, p), None), h, params)[0]

        if self.remat == "nested":
            # A scan of checkpointed segments, each a scan of checkpointed blocks: the
            # backward pass keeps one activation per segment plus one per block of
            # the segment being differentiated (about 2 sqrt(num_blocks)).
            segments = self.remat_segments
            params = jtu.tree_map(
                lambda a: a.reshape(segments, -1, *a.shape[1:]), params
            )
            run_segment = jax.checkpoint(run_blocks, prevent_cse=False)
            h, _ = lax.scan(lambda h, p: (run_segment(h, p), None), h, params)
        elif self.scan:
            h = run_blocks(h, params)
        else:
            for i in range(self.num_blocks):
                h = run_block(h, jtu.tree_map(lambda a: a[i], params))
        return apply_dense(self.output_linear, h, self.matmul_dtype)
