"""Trajectory replay and hindsight relabelling in O(batch) memory.

The buffer keeps whole trajectories as a ring of `capacity` time rows by `num_envs`
columns. Relabelling draws, for each sampled step, a future step of the *same episode*
with probability proportional to `gamma^k` for `k` steps ahead, truncated at the
episode's last step in the buffer. It never builds anything of size `T x T`: the
episode's end is found by a binary search over episode ids (which only grow along a
column), `log2(capacity)` gathers of one element per sample, and the truncated geometric
is drawn by inverting its CDF.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.sharding import Mesh, PartitionSpec as P
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from .._checks import check_positive_int


class TrajectoryBuffer(eqx.Module):
    """A FIFO ring of trajectories: `capacity` time rows by `num_envs` columns.

    `data` is any pytree of arrays with leading axes `(capacity, num_envs)`;
    `episode_id[t, e]` numbers the episodes of column `e`, increasing with time, so
    relabelling can keep goals inside one episode. `TrajectoryBuffer.create` makes an
    empty one and `insert` adds rows; both work inside `jit`.
    """

    data: PyTree[Array]
    episode_id: Int[Array, "capacity num_envs"]
    start: Int[Array, ""]
    size: Int[Array, ""]
    capacity: int = eqx.field(static=True)
    num_envs: int = eqx.field(static=True)

    @classmethod
    def create(
        cls, example: PyTree[Array], capacity: int, num_envs: int
    ) -> "TrajectoryBuffer":
        """An empty buffer for rows shaped like `example` (a pytree of `(num_envs, ...)`
        arrays, e.g. one step of a vmapped env).
        """
        capacity = check_positive_int("capacity", capacity)
        num_envs = check_positive_int("num_envs", num_envs)

        def empty(x):
            x = jnp.asarray(x)
            if x.ndim == 0 or x.shape[0] != num_envs:
                raise ValueError(
                    "TrajectoryBuffer.create: every leaf of `example` needs a leading "
                    f"num_envs={num_envs} axis; got shape {x.shape}"
                )
            return jnp.zeros((capacity,) + x.shape, x.dtype)

        return cls(
            data=jax.tree.map(empty, example),
            episode_id=jnp.zeros((capacity, num_envs), jnp.int32),
            start=jnp.zeros((), jnp.int32),
            size=jnp.zeros((), jnp.int32),
            capacity=capacity,
            num_envs=num_envs,
        )

    def insert(
        self, rows: PyTree[Array], episode_id: Int[Array, "rows num_envs"]
    ) -> "TrajectoryBuffer":
        """Append `rows` (leaves `(n, num_envs, ...)`) in time order, dropping the
        oldest rows once full. `episode_id` must not decrease along time within a
        column.
        """
        n = episode_id.shape[0]
        if episode_id.shape != (n, self.num_envs):
            raise ValueError(
                f"insert: `episode_id` must have shape (rows, {self.num_envs}), got "
                f"{episode_id.shape}"
            )
        if n > self.capacity:
            raise ValueError(f"insert: {n} rows do not fit a buffer of {self.capacity}")
        end = (self.start + self.size) % self.capacity
        index = (end + jnp.arange(n)) % self.capacity

        def put(store, new):
            if new.shape[:2] != (n, self.num_envs):
                raise ValueError(
                    f"insert: every leaf of `rows` needs leading axes ({n}, "
                    f"{self.num_envs}); got {new.shape}"
                )
            return store.at[index].set(new.astype(store.dtype))

        overflow = jnp.maximum(self.size + n - self.capacity, 0)
        return eqx.tree_at(
            lambda b: (b.data, b.episode_id, b.start, b.size),
            self,
            (
                jax.tree.map(put, self.data, rows),
                self.episode_id.at[index].set(episode_id.astype(jnp.int32)),
                (self.start + overflow) % self.capacity,
                jnp.minimum(self.size + n, self.capacity),
            ),
        )

    def _physical(self, k: Array) -> Array:
        return (self.start + k) % self.capacity

    def sample_relabelled(
        self,
        key: PRNGKeyArray,
        batch_size: int,
        gamma: float,
        *,
        mesh: Mesh | None = None,
    ) -> tuple[PyTree[Array], PyTree[Array], dict[str, Array]]:
        """Sample `batch_size` steps and, for each, a future step of its episode.

        Each step's env is drawn stratified: the batch is cut into
        `groups = gcd(num_envs, batch_size)` equal parts and part `i` draws its envs
        uniformly from the `i`-th of `groups` equal slices of the envs (so every env is
        equally likely for every step, and each slice gives the same number of steps
        to each batch). Its time is drawn uniformly over the valid rows, and its future
        offset `k >= 1` with `P(k) ∝ gamma^k` for `k` up to the steps left in its
        episode within the buffer. A step with no future in the buffer (the last one
        stored of its episode) is its own future (`k = 0`).

        With a `mesh` (one axis, `"data"`), the buffer's env axis and the batch are
        split across its devices and each device samples from its own envs: no replay
        data moves between devices. The draws do not depend on the mesh, so the batch
        is the same on one device as on many.

        **Returns:**

        `(now, future, info)`: the data of the sampled steps and of their future steps
        (pytrees of `(batch_size, ...)` arrays), and `info` with `env`, `time` (the
        chronological row, 0 = oldest), `offset` (k) and `horizon` (the steps left).
        """
        batch_size = check_positive_int("batch_size", batch_size)
        if not 0 < gamma < 1:
            raise ValueError(f"`gamma` must be in (0, 1), got {gamma}")
        groups = math.gcd(self.num_envs, batch_size)
        env_key, time_key, offset_key = jr.split(key, 3)
        group = jnp.arange(batch_size) // (batch_size // groups)
        within = jr.randint(env_key, (batch_size,), 0, self.num_envs // groups)
        env = group * (self.num_envs // groups) + within
        time = jr.randint(time_key, (batch_size,), 0, jnp.maximum(self.size, 1))
        uniform = jr.uniform(offset_key, (batch_size,))
        if mesh is None:
            return self._relabel(env, time, uniform, gamma)
        (axis,) = mesh.axis_names
        shards = mesh.shape[axis]
        if groups % shards:
            raise ValueError(
                f"`num_envs` ({self.num_envs}) and `batch_size` ({batch_size}) must "
                f"both be multiples of the mesh's {shards} devices"
            )
        envs_per_shard = self.num_envs // shards

        def local(data, episode_id, start, size, env, time, uniform):
            shard = TrajectoryBuffer(
                data, episode_id, start, size, self.capacity, envs_per_shard
            )
            first_env = jax.lax.axis_index(axis) * envs_per_shard
            now, future, info = shard._relabel(env - first_env, time, uniform, gamma)
            info["env"] = info["env"] + first_env
            return now, future, info

        split, whole = P(axis), P()
        columns = P(None, axis)
        return jax.shard_map(
            local,
            mesh=mesh,
            in_specs=(columns, columns, whole, whole, split, split, split),
            out_specs=split,
        )(self.data, self.episode_id, self.start, self.size, env, time, uniform)

    def _relabel(self, env: Array, time: Array, uniform: Array, gamma: float):
        horizon = self._steps_left(env, time)
        offset = truncated_geometric_from_uniform(uniform, gamma, horizon)
        now_row, future_row = self._physical(time), self._physical(time + offset)

        def take(row):
            return jax.tree.map(lambda x: x[row, env], self.data)

        info = dict(env=env, time=time, offset=offset, horizon=horizon)
        return take(now_row), take(future_row), info

    def _steps_left(self, env: Array, time: Array) -> Array:
        """For each (env, chronological time), how many later rows share its episode."""
        own = self.episode_id[self._physical(time), env]
        # Binary search for the first chronological row after `time` whose episode id
        # differs: ids only grow along a column, so "differs" is monotone in time.
        # `0 * time`, not `zeros_like(time)`: under `shard_map`, jax < 0.7 gives
        # `zeros_like` of a per-device array no per-device type, and the loop carry's
        # types would differ between input and output.
        lo, hi = time + 1, self.size + 0 * time

        def body(_, bounds):
            lo, hi = bounds
            mid = (lo + hi) // 2
            same = (
                self.episode_id[self._physical(jnp.minimum(mid, self.size - 1)), env]
                == own
            )
            go_right = (mid < hi) & same
            return jnp.where(go_right, mid + 1, lo), jnp.where(go_right, hi, mid)

        steps = max(1, math.ceil(math.log2(self.capacity + 1)) + 1)
        first_other, _ = jax.lax.fori_loop(0, steps, body, (lo, hi))
        return first_other - time - 1


def truncated_geometric(
    key: PRNGKeyArray, gamma: float, horizon: Int[Array, " batch"]
) -> Int[Array, " batch"]:
    """Draw `k` in `1..horizon` with `P(k) ∝ gamma^k` (0 where `horizon` is 0).

    By inverting the CDF `P(K <= m) = (1 - gamma^m) / (1 - gamma^horizon)`: O(batch).
    """
    return truncated_geometric_from_uniform(
        jr.uniform(key, horizon.shape), gamma, horizon
    )


def truncated_geometric_from_uniform(
    u: Float[Array, " batch"], gamma: float, horizon: Int[Array, " batch"]
) -> Int[Array, " batch"]:
    h = jnp.maximum(horizon, 1).astype(jnp.float32)
    log_gamma = math.log(gamma)
    # 1 - gamma^h, computed without cancellation for gamma near 1.
    mass = -jnp.expm1(h * log_gamma)
    k = jnp.ceil(jnp.log1p(-u * mass) / log_gamma)
    k = jnp.clip(k, 1, h).astype(jnp.int32)
    return jnp.where(horizon > 0, k, 0)
