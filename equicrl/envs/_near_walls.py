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
   touch it: each geom gets a fixed number of slots, filled from a cell -> rectangle
   table. The slot count does not grow with the maze.
2. **Exact early-out.** MJX's sphere- and capsule-box routines report a contact
   (distance < 0) only when no face of the box separates the geom, which for an
   axis-aligned box means that the geom's axis-aligned bounding box overlaps the
   box. Candidates whose bounding boxes are apart (by more than a millimetre) are
   skipped: they cannot give an active contact.
3. **MJX's own routine** runs on the remaining pairs, a few at a time in a
   `lax.while_loop` until none is left, so no pair is ever dropped however many
   touch at once, and when nothing touches, nothing runs.

Why not MJX's own broad phase (the `max_geom_pairs` / `max_contact_points` custom
numerics of its collision driver)? It keeps a fixed number of candidate pairs per
geom-type group, ranked by bounding-sphere distance, so when more pairs touch than it
keeps (a humanoid lying along a wall: a dozen at once) it drops contacts, and the
merged wall boxes' bounding spheres are metres wide, so the ranking is poor. Explicit
`<pair>` lists or walls as planes change which contacts exist. Here the candidates
are exact and the count of computed pairs follows what touches.

The contacts come out in fixed slots (geom x slot x the routine's contact count),
inactive ones with MJX's "no contact" distance 1 and a harmless pose, after the
floor and self contacts that Brax's `contact.get` computes from the model with its
walls left out.
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
from mujoco import mjx
from mujoco.mjx._src import collision_convex, collision_driver, math as mjx_math, mesh
from mujoco.mjx._src.collision_types import GeomInfo
from mujoco.mjx._src.types import GeomType

from ._layouts import MazeLayout


# Brax's own contact function, kept before any patching.
_brax_contacts = brax.contact.get
# A pair whose bounding boxes are apart by more than this (metres) is not computed:
# far above the float32 rounding of positions of a few metres, far below a contact.
_SLACK = 1e-3
# MJX's routine for a robot geom type against a box, its contacts per pair, and how
# many pairs of that type one round of the while loop computes.
_SPHERE, _CAPSULE, _BOX = GeomType.SPHERE, GeomType.CAPSULE, GeomType.BOX
_NCON = {_SPHERE: 1, _CAPSULE: 2}
_PER_ROUND = {_SPHERE: 1, _CAPSULE: 2}
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

    `near_walls(x)` gives the contacts for link transforms `x`;
    `with near_walls.patched():` makes Brax's pipelines, traced inside it, use them
    for `sys`.
    """

    def __init__(self, sys, layout: MazeLayout, cell_size: float):
        model = sys.mj_model
        names = [model.geom(g).name for g in range(model.ngeom)]
        rectangles = layout.wall_rectangles()
        wall_ids = np.array(
            [names.index(f"maze_wall_{i}_{j}") for i, j, _, _ in rectangles], int
        )
        if not np.allclose(model.geom_quat[wall_ids], [1, 0, 0, 0]):
            raise ValueError("near-wall contacts need axis-aligned wall boxes")
        self.sys, self.cell_size = sys, float(cell_size)
        # The rectangle of every cell (-1: none), with a free border one cell wide:
        # cells outside the maze read as free.
        rows, cols = layout.shape
        table = -np.ones((rows + 2, cols + 2), np.int32)
        for r, (i, j, h, w) in enumerate(rectangles):
            table[i + 1 : i + 1 + h, j + 1 : j + 1 + w] = r
        self._table = table
        self._wall_ids = wall_ids
        self._wall_pos = np.asarray(model.geom_pos[wall_ids], np.float32)
        self._wall_size = np.asarray(model.geom_size[wall_ids], np.float32)
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
        self._reach = float(max(reach, default=0.0))
        # Cells an interval of 2 * reach can span, per axis, and the most wall
        # rectangles any block of block x block cells holds (2 in every maze of the
        # paper): the slots of each geom. The humanoid's largest geom reaches 0.23 m
        # from its centre and the ant's 0.36 m, under half a cell (1 m and 2 m).
        self.block = b = int(np.ceil(2 * self._reach / self.cell_size)) + 1
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
        by_pair, self._condim = {}, {}
        for _, contact in groups:
            for k, (g1, g2) in enumerate(np.asarray(contact.geom)):
                by_pair[int(g1), int(g2)] = {
                    f: np.asarray(getattr(contact, f)[k]) for f in _PARAMS
                }
        for key, _ in groups:
            if key.types[1] == _BOX and key.types[0] in _NCON:
                self._condim[key.types[0]] = key.condim
        self._params = {}
        for t, ids in self._geoms.items():
            rows_ = [[by_pair[int(g), int(w)] for w in wall_ids] for g in ids]
            self._params[t] = {
                f: np.stack([np.stack([r[f] for r in row]) for row in rows_])
                for f in _PARAMS
            }
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

    def _candidates(self, xpos):
        """`(n, slots)` rectangles (-1: none) of the cells around each geom."""
        s, b = self.cell_size, self.block
        first = jnp.floor((xpos[:, :2] - self._reach) / s + 0.5).astype(jnp.int32)
        offsets = jnp.arange(b)
        rows, cols = self._table.shape
        i = jnp.clip(first[:, 0:1] + offsets + 1, 0, rows - 1)
        j = jnp.clip(first[:, 1:2] + offsets + 1, 0, cols - 1)
        rect = jnp.asarray(self._table)[i[:, :, None], j[:, None, :]]
        rect = rect.reshape(xpos.shape[0], -1)
        # A rectangle over several cells of the block is one candidate; the
        # candidates first (descending order), then -1s.
        repeated = jnp.tril(rect[:, :, None] == rect[:, None, :], k=-1).any(-1)
        rect = jnp.where(repeated, -1, rect)
        return -jnp.sort(-rect, axis=1)[:, : self.slots]

    def _walls(self, poses, geom_type):
        ids = self._geoms[geom_type]
        n, ncon, per_round = len(ids), _NCON[geom_type], _PER_ROUND[geom_type]
        size = jnp.asarray(self.sys.geom_size)[ids]
        xpos, xmat = poses[0][ids], poses[1][ids]
        rect = self._candidates(xpos)
        r = jnp.maximum(rect, 0)
        if geom_type == _CAPSULE:
            half = jnp.abs(xmat[:, :, 2]) * size[:, 1:2] + size[:, 0:1]
        else:
            half = jnp.broadcast_to(size[:, 0:1], xpos.shape)
        wall_lo = jnp.asarray(self._wall_pos - self._wall_size)[r]
        wall_hi = jnp.asarray(self._wall_pos + self._wall_size)[r]
        lo, hi = (xpos - half)[:, None], (xpos + half)[:, None]
        apart = ((lo > wall_hi + _SLACK) | (hi < wall_lo - _SLACK)).any(-1)
        pending = ((rect >= 0) & ~apart).reshape(-1)
        total = n * self.slots
        geom_index = jnp.repeat(jnp.arange(n), self.slots)
        wall_index = r.reshape(-1)
        wall_pos = jnp.asarray(self._wall_pos)
        wall_size = jnp.asarray(self._wall_size)

        def pairs(k):
            g, w = geom_index[k], wall_index[k]
            geom = GeomInfo(xpos[g], xmat[g], size[g])
            eye = jnp.broadcast_to(jnp.eye(3), (len(k), 3, 3))
            box = GeomInfo(wall_pos[w], eye, wall_size[w])
            return _routine(geom_type, geom, box)

        def one_round(carry):
            pending, dist, pos, frame = carry
            (k,) = jnp.nonzero(pending, size=per_round, fill_value=total)
            d, p, f = pairs(jnp.minimum(k, total - 1))
            return (
                pending.at[k].set(False, mode="drop"),
                dist.at[k].set(d, mode="drop"),
                pos.at[k].set(p, mode="drop"),
                frame.at[k].set(f, mode="drop"),
            )

        init = (
            pending,
            jnp.ones((total, ncon)),
            jnp.zeros((total, ncon, 3)),
            jnp.broadcast_to(jnp.eye(3), (total, ncon, 3, 3)),
        )
        _, dist, pos, frame = jax.lax.while_loop(
            lambda carry: carry[0].any(), one_round, init
        )
        geom1 = jnp.repeat(jnp.asarray(ids)[geom_index], ncon)
        geom2 = jnp.repeat(jnp.asarray(self._wall_ids)[wall_index], ncon)
        params = {
            f: jnp.repeat(jnp.asarray(v)[geom_index, wall_index], ncon, axis=0)
            for f, v in self._params[geom_type].items()
        }
        elasticity = jnp.asarray(self.sys.elasticity)
        # The robot geom's link, and the world's (-1).
        link_idx = (
            jnp.asarray(np.repeat(self.sys.geom_bodyid[ids] - 1, self.slots * ncon)),
            jnp.full(total * ncon, -1),
        )
        rows = total * ncon
        return brax.base.Contact(
            dist=dist.reshape(-1),
            pos=pos.reshape(-1, 3),
            frame=frame.reshape(-1, 3, 3),
            dim=np.full(rows, self._condim[geom_type]),
            geom1=geom1,
            geom2=geom2,
            geom=jnp.stack([geom1, geom2], axis=1),
            efc_address=np.full(rows, -1),
            link_idx=link_idx,
            elasticity=(elasticity[geom1] + elasticity[geom2]) * 0.5,
            **params,
        )

    def __call__(self, x):
        parts = [_brax_contacts(self._floor_sys, x)]
        poses = self._poses(x)
        parts += [self._walls(poses, t) for t in self._geoms]
        parts = [p for p in parts if p is not None]
        return brax.base.Contact(
            **{
                f.name: _concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(brax.base.Contact)
            }
        )

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """Inside it, `brax.contact.get(self.sys, x)` returns `self(x)`: Brax's
        spring pipeline, traced inside it, uses the near-wall contacts."""
        original = brax.contact.get

        def get(sys, x):
            return self(x) if sys is self.sys else original(sys, x)

        brax.contact.get = get
        try:
            yield
        finally:
            brax.contact.get = original
