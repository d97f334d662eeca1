"""Checkpoints: a JSON header line, then Equinox's leaf serialisation (NumPy `.npy`).

Nothing is pickled, so loading never executes code. Writes go to a temporary file that
is renamed over the old checkpoint, so a kill during a save leaves the previous
checkpoint intact.
"""

import json
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import PyTree


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _unwrap_keys(tree: PyTree) -> PyTree:
    return jax.tree.map(lambda x: jr.key_data(x) if _is_key(x) else x, tree)


def _rewrap_keys(tree: PyTree, like: PyTree) -> PyTree:
    """Undo `_unwrap_keys`: wrap the leaves of `tree` that are keys in `like`."""

    def rewrap(new, old):
        return jr.wrap_key_data(new, impl=jr.key_impl(old)) if _is_key(old) else new

    return jax.tree.map(rewrap, tree, like)


def _gathered(x):
    # An array split across hosts is gathered whole (every host must call this).
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(x, tiled=True)
    return x


def save_checkpoint(path: str | Path, tree: PyTree, metadata: dict) -> None:
    """Atomically write `tree` (its arrays) and `metadata` (JSON-serialisable).

    In a multi-host run every process must call this: arrays split across hosts are
    gathered, and process 0 writes the file.
    """
    path = Path(path)
    tree = jax.tree.map(_gathered, _unwrap_keys(tree))
    if jax.process_index() != 0:
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(json.dumps(metadata).encode() + b"\n")
        eqx.tree_serialise_leaves(f, tree)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_header(f, path: Path) -> dict:
    try:
        return json.loads(f.readline())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"checkpoint {path} is corrupt: bad header ({e})") from None


def load_checkpoint(path: str | Path, like: PyTree) -> tuple[PyTree, dict]:
    """Read a checkpoint written by `save_checkpoint` into the structure of `like`.

    Raises a `ValueError` naming the file if it is truncated, corrupt or does not
    match `like`'s structure, shapes or dtypes.
    """
    path = Path(path)
    with open(path, "rb") as f:
        metadata = _read_header(f, path)
        try:
            loaded = eqx.tree_deserialise_leaves(f, _unwrap_keys(like))
            trailing = f.read(1)
        except Exception as e:  # numpy and equinox raise several kinds here
            raise ValueError(
                f"checkpoint {path} is corrupt or does not match this run: "
                f"{type(e).__name__}: {e}"
            ) from None
    if trailing:
        raise ValueError(f"checkpoint {path} is corrupt: unexpected trailing data")
    for new, old in zip(jax.tree.leaves(loaded), jax.tree.leaves(_unwrap_keys(like))):
        if eqx.is_array(old) and (new.shape != old.shape or new.dtype != old.dtype):
            raise ValueError(
                f"checkpoint {path} does not match this run: an array of shape "
                f"{new.shape} {new.dtype} where {old.shape} {old.dtype} was expected"
            )

    return _rewrap_keys(loaded, like), metadata
