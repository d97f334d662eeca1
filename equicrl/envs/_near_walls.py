"""Wall contacts computed only where a robot geom can touch a wall.

A maze's walls are axis-aligned boxes filling its `#` cells (merged into rectangles,
see [`equicrl.envs.MazeLayout.wall_rectangles`][]). MJX's collision driver tests
every wall-touching robot geom against every wall box at every physics substep,
through its general sphere- and capsule-convex routines: in the humanoid's U-maze
that is 85 pairs, 6x the cost of the rest of the physics, and the count grows with
the maze.

[`NearWalls`][equicrl.envs.NearWalls] computes the same contacts for the
few pairs that can touch:

1. **Candidates.** A robot geom whose bounding box is smaller than a cell spans at
   most a 2 x 2 block of cells, so only the wall rectangles covering those cells can
   touch it, each counted once, from a cell -> rectangle table. The count does not
   grow with the maze.
2. **Exact early-out.** MJX's sphere- and capsule-box routines report a contact
   (distance < 0) only when no face of the box separates the geom, which for an
   axis-aligned box means that the geom's axis-aligned bounding box overlaps the
   box. Candidates whose bounding boxes are apart (by more than a millimetre) are
   skipped: they cannot give an active contact.
3. **MJX's own routine** runs on the remaining pairs in rounds of a
   `lax.while_loop` until none is left, so no pair is ever dropped however many
   touch at once, and when nothing can touch, nothing runs. Under `jax.vmap` the
   pairs of the whole batch are pooled (`jax.custom_batching.custom_vmap`): a round
   computes the next pairs whichever envs they are in.

The contacts that touch come out first in each env's rows, the rest inactive, with
MJX's "no contact" distance 1 and a harmless pose; they follow the floor and self
contacts that Brax's `contact.get` computes from the model with its walls left out.

Brax's spring pipeline resolves every contact row at every substep, touching or
not, and the humanoid's walls have 58 rows against its 29 floor and self rows.
[`NearWalls.resolve`][equicrl.envs.NearWalls.resolve] hands it only
`max_wall_rows` wall rows (8), which hold every touching wall contact unless more
touch at once; then, for that substep, every row is resolved. A row that does not
touch gives no impulse and does not count as a contact, so the result is the same.

Why not MJX's own broad phase (the `max_geom_pairs` / `max_contact_points` custom
numerics of its collision driver)? It keeps a fixed number of candidate pairs per
geom-type group, ranked by bounding-sphere distance, so when more pairs touch than it
keeps (a humanoid lying along a wall: a dozen at once) it drops contacts, and the
merged wall boxes' bounding spheres are metres wide, so the ranking is poor. Explicit
`<pair>` lists or walls as planes change which contacts exist. Here the candidates
are exact and the count of computed pairs follows what touches.

"""

import contextlib
import dataclasses
from collections.abc import Iterator

import brax.base
import brax.contact
import jax
import jax.numpy as jnp
import numpy as np
from brax import math
from brax.spring import collisions as spring_collisions
from mujoco import mjx

from ._layouts import MazeLayout


# MJX's private routines that the near-wall contacts call: a MuJoCo that moved them
# makes near-wall culling refuse to build (see `missing_internals`), not the import
# of equicrl (or of the point maze) fail.
try:
    from mujoco.mjx._src import (
        collision_convex,
        collision_driver,
        math as mjx_math,
        mesh,
    )
    from mujoco.mjx._src.collision_types import GeomInfo
    from mujoco.mjx._src.types import GeomType

    _IMPORT_ERROR = None
except ImportError as error:
    collision_convex = collision_driver = mjx_math = mesh = GeomInfo = GeomType = None
    _IMPORT_ERROR = error

# What it calls in Brax and MJX, by module.
_INTERNALS = {
    "brax.contact": (brax.contact, ("get",)),
    "brax.spring.collisions": (spring_collisions, ("resolve",)),
    "mujoco.mjx._src.collision_convex": (
        collision_convex,
        ("_sphere_convex", "_capsule_convex"),
    ),
    "mujoco.mjx._src.collision_driver": (collision_driver, ("_contact_groups",)),
    "mujoco.mjx._src.math": (mjx_math, ("make_frame",)),
    "mujoco.mjx._src.mesh": (mesh, ("box",)),
}
# The versions near-wall culling was written and tested against.
TESTED = "brax 0.14 and mujoco-mjx 3.17"


def missing_internals() -> list[str]:
    """The Brax and MJX internals near-wall culling calls that this install lacks
    (none on the tested versions, `TESTED`)."""
    if _IMPORT_ERROR is not None:
        return [f"{type(_IMPORT_ERROR).__name__}: {_IMPORT_ERROR}"]
    return [
        f"{module}.{name}"
        for module, (found, names) in _INTERNALS.items()
        for name in names
        if not hasattr(found, name)
    ]


# Brax's own contact function and spring collision resolution, kept before any
# patching.
_brax_contacts = getattr(brax.contact, "get", None)
_brax_resolve = getattr(spring_collisions, "resolve", None)
# A pair whose bounding boxes are apart by more than this (metres) is not computed:
# far above the float32 rounding of positions of a few metres, far below a contact.
_SLACK = 1e-3
# MJX's routine for a robot geom type against a box, and its contacts per pair.
_SPHERE, _CAPSULE, _BOX = (
    (GeomType.SPHERE, GeomType.CAPSULE, GeomType.BOX) if GeomType else (0, 1, 2)
)
_NCON = {_SPHERE: 1, _CAPSULE: 2}
# Brax Contact fields that MJX fills from the pair's geom parameters.
_PARAMS = ("includemargin", "friction", "solref", "solreffriction", "solimp")


def _routine(geom_type, geom: GeomInfo, box: GeomInfo):
    """MJX's sphere- or capsule-box contacts of a batch of pairs, as its collision
    driver runs them: `(k, ncon)` distances, `(k, ncon, 3)` positions and
    `(k, ncon, 3, 3)` frames (normal first)."""
    box = mesh.box(box)
    box_axes = jax.tree.map(lambda _: None, box).replace(
        pos=0, mat=0, size=0, face=0, vert=0
    )
    if geom_type == _SPHERE:
        dist, pos, normal = jax.vmap(
            collision_convex._sphere_convex, in_axes=(0, box_axes)
        )(geom, box)
        frame = jax.vmap(mjx_math.make_frame)(normal)
        return dist[:, None], pos[:, None], frame[:, None]
    dist, pos, normal = jax.vmap(
        collision_convex._capsule_convex, in_axes=(0, box_axes)
    )(geom, box)
    return dist, pos, jax.vmap(jax.vmap(mjx_math.make_frame))(normal)


def _local_to_global(pos1, quat1, pos2, quat2):
    pos = pos1 + math.rotate(pos2, quat1)
    mat = math.quat_to_3x3(math.quat_mul(quat1, quat2))
    return pos, mat


def _resolve_with(sys, state, contacts):
    """Brax's spring collision resolution of `state`, with `contacts` as the
    contacts."""
    original = brax.contact.get
    brax.contact.get = lambda sys, x: contacts
    try:
        return _brax_resolve(sys, state)
    finally:
        brax.contact.get = original


def _join(parts):
    """One `brax.base.Contact` of the rows of `parts` (`None`: no rows)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return brax.base.Contact(
        **{
            f.name: _concatenate([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(brax.base.Contact)
        }
    )


def _concatenate(arrays):
    if isinstance(arrays[0], np.ndarray):  # Contact's static fields: dim, efc_address
        return np.concatenate(arrays)
    if isinstance(arrays[0], tuple):  # link_idx
        return tuple(jnp.concatenate(a) for a in zip(*arrays))
    return jnp.concatenate(arrays)


class NearWalls:
    """Brax's contacts of a maze model, with the walls tested only near each robot
    geom: the same active contacts (distance < 0) as `brax.contact.get`.

    **Arguments:**

    - `sys`: the robot's Brax system with its maze walls
        ([`equicrl.envs.add_maze_walls`][]): the world geoms named `maze_wall_*`,
        touched by the robot geoms whose `contype` has bit 2.
    - `layout`, `cell_size`: the maze the walls were built from.
    - `max_wall_rows`: wall contact rows handed to Brax's spring resolution at a
        substep ([`NearWalls.resolve`][equicrl.envs.NearWalls.resolve]); when more
        wall contacts touch at once, every row is resolved for that substep. It
        changes the cost, never the result.

    `near_walls(x)` gives the contacts for link transforms `x`;
    `with near_walls.patched():` makes Brax's pipelines, traced inside it, use them
    for `sys` (`brax.contact.get`), and its spring pipeline resolve them with
    `near_walls.resolve`.
    """

    def __init__(
        self, sys, layout: MazeLayout, cell_size: float, max_wall_rows: int = 8
    ):
        missing = missing_internals()
        if missing:
            raise RuntimeError(
                "near-wall culling (`cull_walls=True`) calls Brax and MuJoCo MJX "
                f"internals that this install lacks ({', '.join(missing)}; tested "
                f"with {TESTED}): pass cull_walls=False to test every wall pair, "
                "or install the tested versions"
            )
        model = sys.mj_model
        names = [model.geom(g).name for g in range(model.ngeom)]
        rectangles = layout.wall_rectangles()
        wall_ids = np.array(
            [names.index(f"maze_wall_{i}_{j}") for i, j, _, _ in rectangles], int
        )
        if not np.allclose(model.geom_quat[wall_ids], [1, 0, 0, 0]):
            raise ValueError("near-wall contacts need axis-aligned wall boxes")
        self.sys, self.cell_size = sys, float(cell_size)
        if isinstance(max_wall_rows, bool) or not (
            isinstance(max_wall_rows, (int, np.integer)) and max_wall_rows >= 0
        ):
            raise ValueError(
                f"`max_wall_rows` must be an integer >= 0, got {max_wall_rows!r}"
            )
        self.max_wall_rows = int(max_wall_rows)
        self._touching_fns = {}
        # The rectangle of every cell (-1: none), with a free border one cell wide:
        # cells outside the maze read as free.
        rows, cols = layout.shape
        table = -np.ones((rows + 2, cols + 2), np.int32)
        for r, (i, j, h, w) in enumerate(rectangles):
            table[i + 1 : i + 1 + h, j + 1 : j + 1 + w] = r
        # The same table packed for the candidates: rectangle * 4, + 2 where the
        # cell before (along the rows) has the same rectangle, + 1 where the cell
        # before along the columns has; -1 where no wall is.
        up = np.zeros_like(table, bool)
        up[1:] = table[1:] == table[:-1]
        left = np.zeros_like(table, bool)
        left[:, 1:] = table[:, 1:] == table[:, :-1]
        self._cells = np.where(table >= 0, table * 4 + up * 2 + left, -1).astype(
            np.int32
        )
        self._wall_ids = wall_ids
        self._wall_pos = np.asarray(model.geom_pos[wall_ids], np.float32)
        self._wall_size = np.asarray(model.geom_size[wall_ids], np.float32)
        self._wall_top = float((self._wall_pos + self._wall_size)[:, 2].max())
        self._wall_bottom = float((self._wall_pos - self._wall_size)[:, 2].min())
        robot = [
            g
            for g in range(model.ngeom)
            if model.geom_bodyid[g] > 0 and model.geom_contype[g] & 2
        ]
        odd = sorted({int(model.geom_type[g]) for g in robot} - set(_NCON))
        if odd:
            raise ValueError(
                f"near-wall contacts handle sphere and capsule robot geoms, not geom "
                f"type {odd}; pass cull_walls=False"
            )
        self._geoms = {
            t: np.array([g for g in robot if model.geom_type[g] == t], int)
            for t in _NCON
            if any(model.geom_type[g] == t for g in robot)
        }
        # The largest half-side of a cube around a geom's centre holding the geom.
        size = model.geom_size
        reach = [
            size[g, 0] + (size[g, 1] if model.geom_type[g] == _CAPSULE else 0.0)
            for g in robot
        ]
        reach = float(max(reach, default=0.0))
        # Cells an interval of 2 * reach can span, per axis, and the most wall
        # rectangles any block of block x block cells holds (2 in every maze of the
        # paper): the slots of each geom. The humanoid's largest geom reaches 0.23 m
        # from its centre and the ant's 0.36 m, under half a cell (1 m and 2 m).
        self.block = b = int(np.ceil((2 * reach + 2 * _SLACK) / self.cell_size)) + 1
        padded = np.pad(table, b - 1, constant_values=-1)
        self.slots = max(
            len(set(padded[i : i + b, j : j + b].ravel()) - {-1})
            for i in range(padded.shape[0] - b + 1)
            for j in range(padded.shape[1] - b + 1)
        )
        # MJX's contact parameters of every (robot geom, wall) pair, from the
        # model with its walls, computed in one compiled program: run eagerly,
        # its few hundred small operations would each compile on their own (5 s
        # for the humanoid).
        # The groups' keys are not arrays: kept aside while the program traces.
        keys = []

        def contact_groups():
            groups = collision_driver._contact_groups(sys, mjx.make_data(sys))
            keys.extend(groups)
            return list(groups.values())

        groups = list(zip(keys, jax.jit(contact_groups)(), strict=True))
        by_pair, condims = {}, {}
        for key, contact in groups:
            for k, (g1, g2) in enumerate(np.asarray(contact.geom)):
                by_pair[int(g1), int(g2)] = {
                    f: np.asarray(getattr(contact, f)[k]) for f in _PARAMS
                }
            if key.types[1] == _BOX and key.types[0] in self._geoms:
                condims[key.types[0]] = key.condim
        # The robot's wall geoms, by type as self._geoms, and their parameters
        # with every wall.
        self._robot = np.concatenate([np.zeros(0, int), *self._geoms.values()])
        self._robot_link = sys.geom_bodyid[self._robot] - 1
        self._pair_params = {
            f: np.array(
                [[by_pair[int(g), int(w)][f] for w in wall_ids] for g in self._robot]
            )
            for f in _PARAMS
        }
        # A pair's elasticity: the mean of its two geoms', as Brax's.
        elasticity = np.asarray(sys.elasticity)
        self._pair_params["elasticity"] = (
            elasticity[self._robot][:, None] + elasticity[wall_ids][None, :]
        ) * 0.5
        if len(set(condims.values())) > 1:
            raise ValueError(
                f"near-wall contacts need one contact dimension for every robot "
                f"geom type, got {sorted(set(condims.values()))}; pass "
                f"cull_walls=False"
            )
        self._condim = next(iter(condims.values()), 3)
        # The most wall contacts there can be at once: every geom touching every
        # rectangle around it, at every contact point of the routine.
        self.all_rows = sum(
            len(ids) * self.slots * _NCON[t] for t, ids in self._geoms.items()
        )
        # The same model without wall pairs gives Brax's floor and self contacts.
        conaffinity = np.array(sys.geom_conaffinity)
        conaffinity[wall_ids] = 0
        self._floor_sys = sys.replace(geom_conaffinity=conaffinity)

    def _poses(self, x):
        # Every geom's world pose as brax.contact.get computes it: the same
        # operations on the same arrays, so the same float32 rounding.
        x = x.concatenate(brax.base.Transform.zero((1,)))
        body = self.sys.geom_bodyid - 1
        return jax.vmap(_local_to_global)(
            x.pos[body], x.rot[body], self.sys.geom_pos, self.sys.geom_quat
        )

    def _pending(self, xpos, xmat, geom_type):
        """Which candidate (geom, wall) pairs of the robot geoms of `geom_type` can
        touch, with every geom's poses `xpos`, `xmat`: `(pending, wall, geom)`,
        the first two `(geoms * block**2,)` (the candidates of a geom together),
        `geom` the geoms of that type."""
        ids = self._geoms[geom_type]
        n = len(ids)
        size = jnp.asarray(self.sys.geom_size)[ids]
        xpos, xmat = xpos[ids], xmat[ids]
        if geom_type == _CAPSULE:
            half = jnp.abs(xmat[:, :, 2]) * size[:, 1:2] + size[:, 0:1]
        else:
            half = jnp.broadcast_to(size[:, 0:1], xpos.shape)
        lo, hi = xpos - half - _SLACK, xpos + half + _SLACK
        # 1. Candidates: the rectangles of the cells that each geom's bounding box
        # (widened by the slack) overlaps, each once; a wall box fills its cells
        # exactly, so these are the walls whose boxes the bounding box overlaps
        # across the floor.
        s, b = self.cell_size, self.block
        first = jnp.floor(lo[:, :2] / s + 0.5).astype(jnp.int32)
        last = jnp.floor(hi[:, :2] / s + 0.5).astype(jnp.int32)
        i, j = (first[:, axis, None] + jnp.arange(b) for axis in (0, 1))
        inside = (i <= last[:, 0:1])[:, :, None] & (j <= last[:, 1:2])[:, None, :]
        height, width = self._cells.shape
        # The barrier keeps the lookup in memory: XLA would repeat it in each use.
        cell = jax.lax.optimization_barrier(
            jnp.asarray(self._cells)[
                jnp.clip(i + 1, 0, height - 1)[:, :, None],
                jnp.clip(j + 1, 0, width - 1)[:, None, :],
            ]
        )
        # A rectangle's cells in the box form a rectangle: it is a candidate once,
        # at its first cell, the one whose cells before along both axes (if in the
        # box) are not of the same rectangle.
        later_row = (jnp.arange(b) > 0)[:, None]
        later_col = (jnp.arange(b) > 0)[None, :]
        repeated = (later_row & ((cell & 2) > 0)) | (later_col & ((cell & 1) > 0))
        rect = jnp.where(inside & (cell >= 0) & ~repeated, cell >> 2, -1)
        rect = rect.reshape(n, b * b)
        # 2. Exact early-out, upwards: a geom above the highest wall top or below
        # the lowest wall bottom.
        apart = (lo[:, 2:3] > self._wall_top) | (hi[:, 2:3] < self._wall_bottom)
        pending = ((rect >= 0) & ~apart).reshape(-1)
        return pending, jnp.maximum(rect, 0).reshape(-1), GeomInfo(xpos, xmat, size)

    def _touching(self, rows: int):
        """`(xpos, xmat) -> (contact, count)` of `_pooled`, for one env; under
        `jax.vmap`, every env of the batch at once."""
        if rows in self._touching_fns:
            return self._touching_fns[rows]

        @jax.custom_batching.custom_vmap
        def touching(xpos, xmat):
            return jax.tree.map(
                lambda a: a[0], self._pooled(rows, xpos[None], xmat[None])
            )

        @touching.def_vmap
        def batched(axis_size, in_batched, xpos, xmat):
            xpos, xmat = (
                a if b else jnp.broadcast_to(a, (axis_size, *a.shape))
                for a, b in zip((xpos, xmat), in_batched)
            )
            return self._pooled(rows, xpos, xmat), (True, True)

        # The batching rule has no transpose, so jax.grad would fail somewhere deep
        # inside JAX: say what to do instead.
        @jax.custom_jvp
        def differentiable(xpos, xmat):
            return touching(xpos, xmat)

        @differentiable.defjvp
        def _no_gradients(primals, tangents):
            raise NotImplementedError(
                "gradients through near-wall contacts are not supported (jax.grad "
                "of a walled env's step): build the env with cull_walls=False, "
                "whose contacts (every wall pair) are Brax's own"
            )

        self._touching_fns[rows] = differentiable
        return differentiable

    def _pooled(self, rows: int, xpos, xmat):
        """The active wall contacts of a batch of envs whose geoms are at `xpos`,
        `xmat` (`(envs, geoms, ...)`): per env, `rows` rows of distance, position,
        frame and pair (the robot geom's row in `self._robot`, the wall
        rectangle), `(envs, rows, 15)`, and their count (past `rows`, left out).

        The pairs that can touch are pooled over the batch: a round computes the
        next `per_round` of each geom type, whichever envs they are in, so the
        routine runs about as often as pairs touch in the whole batch, not as
        often as they touch in its busiest env times the batch size. On a CPU a
        round costs mostly the launch of its few hundred small operations:
        rounds are few and large."""
        envs = xpos.shape[0]
        inactive = jnp.zeros(15).at[0].set(1.0).at[4:13].set(jnp.eye(3).ravel())
        types = list(self._geoms)
        offsets = np.cumsum([0] + [len(self._geoms[t]) for t in types])
        wall_data = jnp.concatenate(
            [jnp.asarray(self._wall_pos), jnp.asarray(self._wall_size)], axis=-1
        )
        per_round = min(max(2, envs), 128)
        groups = []
        for t in types:
            pending, wall, geom = jax.vmap(self._pending, (0, 0, None))(xpos, xmat, t)
            # One array for the geoms' position, frame and size.
            data = jnp.concatenate(
                [geom.pos, geom.mat.reshape(envs, -1, 9), geom.size], axis=-1
            )
            pending = pending.reshape(-1)
            groups.append((t, pending, wall, data, min(per_round, len(pending))))

        # 3. MJX's routine on the pending pairs, `per_round` of each geom type at
        # a time, until none is left; the touching contacts (distance < 0) go to
        # their env's next free rows. When nothing can touch, no round runs.
        def one_round(carry):
            contact, count, *pending = carry
            new, env, done = [], [], []
            for (t, _, wall, data, size), left, offset in zip(groups, pending, offsets):
                total = len(left)
                candidates = total // envs
                # The next pending pairs (past-the-end fill).
                k = jnp.nonzero(left, size=size, fill_value=total)[0]
                e, q = (k % total) // candidates, (k % total) % candidates
                g, w = q // self.block**2, wall[e, q]
                gd, wd = data[e, g], wall_data[w]
                d, p, f = _routine(
                    t,
                    GeomInfo(gd[:, :3], gd[:, 3:12].reshape(-1, 3, 3), gd[:, 12:]),
                    GeomInfo(
                        wd[:, :3], jnp.broadcast_to(jnp.eye(3), (size, 3, 3)), wd[:, 3:]
                    ),
                )
                ncon = d.shape[1]
                d = jnp.where((k < total)[:, None], d, 1.0)
                # The pair's indices ride along as floats: exact below 2**24.
                new.append(
                    jnp.concatenate(
                        [
                            d.reshape(-1, 1),
                            p.reshape(-1, 3),
                            f.reshape(-1, 9),
                            jnp.repeat(jnp.stack([offset + g, w], 1), ncon, 0).astype(
                                d.dtype
                            ),
                        ],
                        axis=1,
                    )
                )
                env.append(jnp.repeat(e, ncon))
                done.append(left.at[k].set(False, mode="drop"))
            new, env = jnp.concatenate(new), jnp.concatenate(env)
            touch = new[:, 0] < 0
            new, env, touch = jax.lax.optimization_barrier((new, env, touch))
            # Each env's touching contacts take its next rows, in this order.
            before = (jnp.tril(env[:, None] == env[None, :], k=-1) & touch).sum(1)
            row = jnp.where(touch, count[env] + before, rows)
            return (
                contact.at[env, row].set(new, mode="drop"),
                count.at[env].add(touch.astype(count.dtype)),
                *done,
            )

        contact, count, *_ = jax.lax.while_loop(
            lambda carry: jnp.any(jnp.stack([left.any() for left in carry[2:]])),
            one_round,
            (
                jnp.broadcast_to(inactive, (envs, rows, 15)),
                jnp.zeros(envs, int),
                *(g[1] for g in groups),
            ),
        )
        return contact, count

    def _walls(self, poses, rows: int):
        """`(contacts, count)`: the active contacts (distance < 0) of the robot's
        geoms at `poses` with the walls, in `rows` rows (the rest inactive, with
        MJX's distance 1 and a harmless pose), and how many there are (those past
        `rows` are left out). `rows=self.all_rows` holds every one."""
        contact, count = self._touching(rows)(*poses)
        geom, wall = contact[:, 13:].astype(int).T
        geom1 = jnp.asarray(self._robot)[geom]
        geom2 = jnp.asarray(self._wall_ids)[wall]

        def pair_table(table):
            # The same for every pair (the robots of the paper): no gather.
            if (table == table[:1, :1]).all():
                return jnp.broadcast_to(
                    jnp.asarray(table[0, 0]), (rows, *table.shape[2:])
                )
            return jnp.asarray(table)[geom, wall]

        contacts = brax.base.Contact(
            dist=contact[:, 0],
            pos=contact[:, 1:4],
            frame=contact[:, 4:13].reshape(rows, 3, 3),
            dim=np.full(rows, self._condim),
            geom1=geom1,
            geom2=geom2,
            geom=jnp.stack([geom1, geom2], axis=1),
            efc_address=np.full(rows, -1),
            # The robot geom's link, and the world's (-1).
            link_idx=(jnp.asarray(self._robot_link)[geom], jnp.full(rows, -1)),
            **{f: pair_table(v) for f, v in self._pair_params.items()},
        )
        return contacts, count

    def __call__(self, x):
        floor = _brax_contacts(self._floor_sys, x)
        if not self._geoms:
            return floor
        return _join([floor, self._walls(self._poses(x), self.all_rows)[0]])

    def resolve(self, sys, state):
        """Brax's spring collision resolution (`brax.spring.collisions.resolve`) of
        `state`, given the floor and self contacts and only the wall contacts that
        touch: for another system than `self.sys`, Brax's own.

        A contact row that does not touch (distance >= 0) gives no impulse and does
        not count as a contact, so leaving it out changes nothing, while Brax's
        resolution costs the same for every row. `max_wall_rows` rows hold the
        touching wall contacts; when more touch (in any env of a batch), every
        row is resolved again (a `lax.while_loop` that runs at most once)."""
        if sys is not self.sys:
            return _brax_resolve(sys, state)
        floor = _brax_contacts(self._floor_sys, state.x)
        if not self._geoms:
            return _resolve_with(sys, state, floor)
        poses = self._poses(state.x)
        walls, count = self._walls(poses, self.max_wall_rows)
        xdv = _resolve_with(sys, state, _join([floor, walls]))
        if self.max_wall_rows >= self.all_rows:
            return xdv

        def every_row(carry):
            # The barrier ties the inputs to the loop's carry: without it, XLA
            # hoists this loop-invariant work out of the loop and always runs it.
            _, poses_, state_ = jax.lax.optimization_barrier((carry[0], poses, state))
            walls_, _ = self._walls(poses_, self.all_rows)
            return False, _resolve_with(sys, state_, _join([floor, walls_]))

        more = count > self.max_wall_rows
        _, xdv = jax.lax.while_loop(lambda carry: carry[0], every_row, (more, xdv))
        return xdv

    @contextlib.contextmanager
    def patched(self) -> Iterator["Taken"]:
        """Inside it, `brax.contact.get(self.sys, x)` returns `self(x)` and Brax's
        spring `collisions.resolve` is `self.resolve`: Brax's pipelines, traced
        inside it, use the near-wall contacts. It yields a `Taken` that counts the
        calls, so the caller can check that the pipeline went this way (a Brax that
        imported these functions by name would go around the patch).

        The patch swaps module attributes of Brax for the duration: envs must not be
        stepped (traced) from two threads at once, one of them a walled one."""
        original = brax.contact.get, spring_collisions.resolve
        taken = Taken()

        def get(sys, x):
            if sys is not self.sys:
                return original[0](sys, x)
            taken.get += 1
            return self(x)

        def resolve(sys, state):
            taken.resolve += 1
            return self.resolve(sys, state)

        brax.contact.get, spring_collisions.resolve = get, resolve
        try:
            yield taken
        finally:
            brax.contact.get, spring_collisions.resolve = original


@dataclasses.dataclass
class Taken:
    """How often `NearWalls.patched` was called through, by function."""

    get: int = 0
    resolve: int = 0

    def check(self, backend: str) -> None:
        """Raise unless the `backend`'s pipeline called the near-wall contacts: the
        spring pipeline through `resolve`, the others through `get`."""
        taken = self.resolve if backend == "spring" else self.get
        if not taken:
            raise RuntimeError(
                f"near-wall culling was not used: Brax's {backend} pipeline did not "
                "call brax.contact.get / brax.spring.collisions.resolve through their "
                f"modules (a Brax other than the tested {TESTED}?); pass "
                "cull_walls=False to test every wall pair"
            )
