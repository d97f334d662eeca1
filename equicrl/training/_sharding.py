"""Data parallelism: the device mesh, and where each part of a training state lives.

Env states, episode ids and the replay buffer's env axis are split across the mesh's
one axis (`"data"`); networks, optimiser states, RNG keys and counters are replicated.
"""

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import PyTree

from .._checkpoint import _rewrap_keys, _unwrap_keys


DATA_AXIS = "data"


def make_mesh(config) -> Mesh:
    """The one-axis (`"data"`) device mesh a run with `config` trains on.

    `config.num_devices` devices (all of `jax.devices()` if `None`); raises a
    `ValueError` if there are fewer, or if `num_envs`, `batch_size` or `eval_envs` do
    not split evenly across them.
    """
    devices = jax.devices()
    n = len(devices) if config.num_devices is None else config.num_devices
    if n > len(devices):
        raise ValueError(
            f"`num_devices` is {n} but JAX sees {len(devices)} device(s): {devices}"
        )
    config.check_split(n)
    return Mesh(np.asarray(devices[:n]), (DATA_AXIS,))


def shardings(ts, mesh: Mesh, *, seed_axis: bool = False) -> PyTree:
    """The data-parallel layout of the [`equicrl.TrainState`][] `ts`: a
    `NamedSharding` per array. With `seed_axis`, every array has a leading axis of
    seeds, which is not split."""
    lead = (None,) if seed_axis else ()

    def like(tree, *spec):
        sharding = NamedSharding(mesh, P(*lead, *spec))
        return jax.tree.map(lambda _: sharding, eqx.filter(tree, eqx.is_array))

    b = ts.buffer
    # tree_at, not TrainState(...): the leaves are shardings, not arrays.
    layout = eqx.tree_at(
        lambda t: (
            t.crl,
            t.buffer.data,
            t.buffer.episode_id,
            t.buffer.start,
            t.buffer.size,
            t.env_state,
            t.episode_id,
            t.key,
            t.collections,
        ),
        eqx.filter(ts, eqx.is_array),
        (
            like(ts.crl),
            like(b.data, None, DATA_AXIS),
            like(b.episode_id, None, DATA_AXIS),
            like(b.start),
            like(b.size),
            like(ts.env_state, DATA_AXIS),
            like(ts.episode_id, DATA_AXIS),
            like(ts.key),
            like(ts.collections),
        ),
    )
    if ts.collector is not None:  # the collector experiment's agent: replicated
        layout = eqx.tree_at(lambda t: t.collector, layout, like(ts.collector))
    if ts.learners is not None:  # the collector experiment's learners: replicated
        layout = eqx.tree_at(lambda t: t.learners, layout, like(ts.learners))
    return layout


def shard(ts, mesh: Mesh):
    """`ts` constrained to its data-parallel layout, inside `jit` (and under a
    `vmap` over seeds, which adds an unsplit axis)."""
    arrays = jax.tree.map(
        jax.lax.with_sharding_constraint,
        eqx.filter(ts, eqx.is_array),
        shardings(ts, mesh),
    )
    return eqx.combine(arrays, ts)


def place(ts, mesh: Mesh, *, seed_axis: bool = False):
    """`ts` (e.g. read from a checkpoint, the same on every host) put on the mesh in
    its data-parallel layout."""
    arrays = eqx.filter(ts, eqx.is_array)
    if mesh.devices.size == 1:
        # Every layout is the same on one device; jit gives its outputs (the state of
        # a new run) this one, so a resumed state is taken by the same compiled
        # programs as a new one.
        layout = jax.tree.map(lambda _: NamedSharding(mesh, P()), arrays)
    else:
        layout = shardings(ts, mesh, seed_axis=seed_axis)
    # `device_put` cannot put typed PRNG keys on another process's devices (a
    # multi-host mesh): put their raw data there and wrap it again.
    raw = jax.device_put(_unwrap_keys(arrays), layout)
    arrays = _rewrap_keys(raw, arrays)
    return eqx.combine(arrays, ts)
