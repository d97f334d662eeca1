"""Checkpoints: a JSON header line, then Equinox's leaf serialisation (NumPy `.npy`).

Nothing is pickled, so loading never executes code. The header names the format and
the size of what follows it, so a truncated or foreign file is recognised from its
first line, before anything is deserialised. Writes go to a temporary file that is
renamed over the old checkpoint, so a kill during a save leaves the previous checkpoint
intact.
"""

import json
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import PyTree


FORMAT = "equicrl-checkpoint"
# The payload size is written into the header after the payload, over a placeholder of
# this many digits, so that the header line keeps its length.
_SIZE_DIGITS = 16


def _is_key(x) -> bool:
    return isinstance(x, (jax.Array, jax.ShapeDtypeStruct)) and jnp.issubdtype(
        x.dtype, jax.dtypes.prng_key
    )


def _unwrap_keys(tree: PyTree) -> PyTree:
    def unwrap(x):
        if not _is_key(x):
            return x
        if isinstance(x, jax.ShapeDtypeStruct):
            return jax.eval_shape(jr.key_data, x)
        return jr.key_data(x)

    return jax.tree.map(unwrap, tree)


def _rewrap_keys(tree: PyTree, like: PyTree) -> PyTree:
    """Undo `_unwrap_keys`: wrap the leaves of `tree` that are keys in `like`."""

    def rewrap(new, old):
        if not _is_key(old):
            return new
        if isinstance(old, jax.ShapeDtypeStruct):
            # Only arrays say their key implementation; keys made by `jr.key` use the
            # default one, and the dtype check below catches any other.
            key = jr.wrap_key_data(new)
            if key.dtype != old.dtype:
                raise ValueError(f"a key of dtype {old.dtype} cannot be restored")
            return key
        return jr.wrap_key_data(new, impl=jr.key_impl(old))

    return jax.tree.map(rewrap, tree, like)


def _gathered(x):
    # An array split across hosts is gathered whole (every host must call this).
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(x, tiled=True)
    return x


def save_checkpoint(path: str | Path, tree: PyTree, metadata: dict) -> None:
    """Atomically write `tree` (its arrays; `None` leaves are skipped) and `metadata`
    (JSON-serialisable).

    In a multi-host run every process must call this: arrays split across hosts are
    gathered, and process 0 writes the file.
    """
    path = Path(path)
    tree = jax.tree.map(_gathered, _unwrap_keys(tree))
    if jax.process_index() != 0:
        return
    placeholder = "0" * _SIZE_DIGITS
    header = json.dumps(
        {"format": FORMAT, "payload_bytes": placeholder, **metadata}
    ).encode()
    size_at = header.index(placeholder.encode())
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header + b"\n")
        eqx.tree_serialise_leaves(f, tree)
        payload = f.tell() - len(header) - 1
        f.seek(size_at)
        f.write(str(payload).zfill(_SIZE_DIGITS).encode())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_header(path: str | Path) -> dict:
    """The metadata of the checkpoint at `path`, from its first line alone.

    Raises a `ValueError` naming the file if it is not an equicrl checkpoint or is
    shorter or longer than its header says (truncated by a full disk or a copy).
    """
    path = Path(path)
    with open(path, "rb") as f:
        line = f.readline(1 << 20)
    try:
        header = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not an equicrl checkpoint, or is corrupt (its first line is "
            "not an equicrl checkpoint header)"
        )
    expected = len(line) + int(header["payload_bytes"])
    size = path.stat().st_size
    if size != expected:
        raise ValueError(
            f"checkpoint {path} is corrupt: {size:,} bytes where its header says "
            f"{expected:,} (truncated or damaged)"
        )
    header.pop("payload_bytes")
    header.pop("format")
    return header


def load_checkpoint(path: str | Path, like: PyTree) -> tuple[PyTree, dict]:
    """Read a checkpoint written by `save_checkpoint` into the structure of `like`
    (arrays or `jax.ShapeDtypeStruct`s, e.g. from `eqx.filter_eval_shape`).

    Raises a `ValueError` naming the file if it is truncated, corrupt or does not
    match `like`'s structure, shapes or dtypes.
    """
    path = Path(path)
    metadata = read_header(path)
    with open(path, "rb") as f:
        f.readline()
        try:
            loaded = eqx.tree_deserialise_leaves(f, _unwrap_keys(like))
            trailing = f.read(1)
        except Exception as e:  # numpy and equinox raise several kinds here
            raise ValueError(
                f"checkpoint {path} is corrupt or does not match this run: "
                f"{type(e).__name__}: {e}"
            ) from None
    if trailing:
        raise ValueError(f"checkpoint {path} does not match this run: it holds more")
    for new, old in zip(jax.tree.leaves(loaded), jax.tree.leaves(_unwrap_keys(like))):
        if eqx.is_array(old) or isinstance(old, jax.ShapeDtypeStruct):
            if new.shape != old.shape or new.dtype != old.dtype:
                raise ValueError(
                    f"checkpoint {path} does not match this run: an array of shape "
                    f"{new.shape} {new.dtype} where {old.shape} {old.dtype} was "
                    "expected"
                )
    return _rewrap_keys(loaded, like), metadata
