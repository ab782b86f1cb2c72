"""Distances between membranes along the normals: exact ray casting against the triangle meshes.

From every vertex a ray goes out along its normal (``+n``, out of the membrane) and one along
``-n`` (into it). Each ray stops at the first triangle of another membrane it crosses (the
inter-membrane distance: the spacing of a double membrane or of stacked sheets, the gap to a
neighbouring organelle), and the inward ray also at the first triangle of its own mesh beyond a
minimum distance (the inner spacing of a folded membrane: cristae, flattened sheets, the diameter
of a small vesicle).

Intersections are exact (Möller–Trumbore against each candidate triangle). Candidates come from a
uniform grid of triangle bins, looked up at points sampled along the ray every ``step`` Å (half a
cell): each triangle is binned into every cell its bounding box, grown by ``step / 2``, overlaps. The
point where a ray crosses a triangle lies within ``step / 2`` (along the ray) of a sample, so that
sample's cell holds the triangle — no crossing is missed, whatever the triangle's size. Candidates
whose bounding sphere the ray line misses are dropped before the exact test. Rays are processed in
batches and windows of samples, and a ray stops being marched once its nearest hit is closer than
anything a later sample could still find.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NormalDistances", "normal_axis_angles_deg", "normal_distances"]

ANG_PER_NM = 10.0
DEFAULT_MAX_DISTANCE_NM = 50.0
DEFAULT_MIN_SELF_DISTANCE_NM = 5.0
"""Self hits closer than this are ignored: about one bilayer thickness, so the vertex's own
neighbourhood never counts while two faces of a fold (which cannot be closer than a bilayer) do."""

_UNIT_TOLERANCE = 1e-3  # allowed | |n| - 1 | of the normals
_BARYCENTRIC_TOLERANCE = 1e-9  # rays through a shared edge or vertex hit both triangles, never neither
_GRAZING_COS = 1e-12  # rays this parallel to a triangle's plane do not hit it
_MAX_CELLS = 1 << 24  # grid cells (dense offsets array); coarser cells beyond that
_RAYS_PER_BATCH = 4096
_SAMPLES_PER_WINDOW = 16  # samples looked up together before finished rays are dropped
_CELL_PER_TRIANGLE = 1.0  # cell edge / median triangle size
_SAMPLES_PER_CELL = 2  # ray samples per cell edge


@dataclass(frozen=True, eq=False)
class NormalDistances:
    """Distances from each vertex of one membrane along its normal to the nearest membrane surfaces.

    Attributes
    ----------
    outward_nm : (n,) float64 array
        Distance along ``+normal`` to the first crossing of another membrane's mesh, nm; NaN if
        none within ``max_distance_nm``.
    inward_nm : (n,) float64 array
        The same along ``-normal``, nm.
    outward_membrane : (n,) int64 array
        ``membrane_id`` of the membrane hit along ``+normal``; -1 where none.
    inward_membrane : (n,) int64 array
        ``membrane_id`` of the membrane hit along ``-normal``; -1 where none.
    self_nm : (n,) float64 array
        Distance along ``-normal`` to the first crossing of the membrane's own mesh at least
        ``min_self_distance_nm`` away (the opposite face of a fold or vesicle), nm; NaN if none
        within ``max_distance_nm``.
    max_distance_nm : float
        How far the rays were cast, nm.
    self_outward_nm : (n,) float64 array
        The same as ``self_nm`` along ``+normal``, nm (the own mesh crossed first on the way out).
    """

    outward_nm: np.ndarray
    inward_nm: np.ndarray
    outward_membrane: np.ndarray
    inward_membrane: np.ndarray
    self_nm: np.ndarray
    max_distance_nm: float
    self_outward_nm: np.ndarray


def normal_distances(
    meshes: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]],
    *,
    max_distance_nm: float = DEFAULT_MAX_DISTANCE_NM,
    min_self_distance_nm: float = DEFAULT_MIN_SELF_DISTANCE_NM,
) -> dict[int, NormalDistances]:
    """Distances along each vertex normal to the other membranes and to the membrane's own far side.

    Parameters
    ----------
    meshes : sequence of (membrane_id, vertices_xyz_ang, faces, normals_xyz)
        Every membrane of one tomogram: ``vertices_xyz_ang`` (n, 3) float, Å, xyz; ``faces``
        (m, 3) int, 0-based; ``normals_xyz`` (n, 3) unit outward normals. Ids must be distinct.
    max_distance_nm : float
        Rays are cast this far, nm; farther surfaces count as none (NaN, -1).
    min_self_distance_nm : float
        Crossings of the own mesh closer than this are ignored for ``self_nm``, nm.

    Returns
    -------
    dict of int to NormalDistances
        One entry per membrane id, arrays in the order of that membrane's vertices.
    """
    max_t = _check_positive(max_distance_nm, "max_distance_nm") * ANG_PER_NM
    min_self = float(min_self_distance_nm)
    if not np.isfinite(min_self) or min_self < 0:
        raise ValueError(
            f"min_self_distance_nm must be finite and >= 0, got {min_self_distance_nm!r}; pass a few nm (e.g. 5.0)"
        )
    checked = [_checked_mesh(*mesh) for mesh in meshes]
    ids = [m[0] for m in checked]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"membrane ids must be distinct, got {duplicates} more than once; renumber the membranes")

    results: dict[int, NormalDistances] = {}
    counts = [len(m[1]) for m in checked]
    n = sum(counts)
    if n == 0 or sum(len(m[2]) for m in checked) == 0:
        for membrane_id, count in zip(ids, counts):
            results[membrane_id] = _empty_result(count, max_distance_nm)
        return results

    grid = _TriangleGrid.build(checked, max_t)
    origins = np.concatenate([m[1] for m in checked])
    normals = np.concatenate([m[3] for m in checked])
    normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    owners = np.repeat(np.arange(len(checked)), counts)
    # one pass for both directions: rays 0..n-1 go out (+n), n..2n-1 go in (-n); own hits on both
    t_other, hit_owner, t_self = grid.cast(
        np.concatenate([origins, origins]),
        np.concatenate([normals, -normals]),
        np.concatenate([owners, owners]),
        np.ones(2 * n, bool),
        max_t,
        min_self * ANG_PER_NM,
    )
    distance_nm = np.where(np.isfinite(t_other), t_other / ANG_PER_NM, np.nan)
    self_all_nm = np.where(np.isfinite(t_self), t_self / ANG_PER_NM, np.nan)
    hit_id = np.where(hit_owner >= 0, np.asarray(ids, np.int64)[np.maximum(hit_owner, 0)], -1)
    start = 0
    for membrane_id, count in zip(ids, counts):
        out, inn = slice(start, start + count), slice(n + start, n + start + count)
        results[membrane_id] = NormalDistances(
            outward_nm=distance_nm[out],
            inward_nm=distance_nm[inn],
            outward_membrane=hit_id[out],
            inward_membrane=hit_id[inn],
            self_nm=self_all_nm[inn],
            max_distance_nm=float(max_distance_nm),
            self_outward_nm=self_all_nm[out],
        )
        start += count
    return results


def normal_axis_angles_deg(normals_xyz: np.ndarray) -> np.ndarray:
    """Angle between each normal and the tomogram z axis (the beam), folded to [0, 90] degrees.

    0° is a membrane lying flat in the xy plane (normal along the beam: the side the missing wedge
    blurs most), 90° one standing parallel to the beam. A normal and its opposite give the same angle.

    Parameters
    ----------
    normals_xyz : (n, 3) float array
        Normals, xyz; need not be unit length, must not be zero.

    Returns
    -------
    (n,) float64 array of degrees
    """
    normals = np.asarray(normals_xyz, dtype=np.float64)
    if normals.ndim != 2 or normals.shape[1] != 3:
        raise ValueError(f"normals_xyz must have shape (n, 3), got {normals.shape}; pass one xyz normal per row")
    length = np.linalg.norm(normals, axis=1)
    if not np.all(np.isfinite(length) & (length > 0)):
        raise ValueError(
            f"normals_xyz must be finite and non-zero, got {int(np.sum(~(length > 0)))} zero or non-finite rows; "
            "drop or recompute those normals"
        )
    cos = np.clip(np.abs(normals[:, 2]) / length, 0.0, 1.0)
    return np.degrees(np.arccos(cos))


def _check_positive(value: float, name: str) -> float:
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}; pass a distance in nm such as 50.0")
    return number


def _checked_mesh(
    membrane_id: int, vertices_xyz_ang: np.ndarray, faces: np.ndarray, normals_xyz: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    faces = np.asarray(faces)
    normals = np.asarray(normals_xyz, dtype=np.float64)
    where = f"membrane {membrane_id}"
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.all(np.isfinite(vertices)):
        raise ValueError(f"{where}: vertices_xyz_ang must be a finite (n, 3) array, got shape {vertices.shape}")
    if normals.shape != vertices.shape:
        raise ValueError(
            f"{where}: normals_xyz must have one row per vertex ({vertices.shape}), got {normals.shape}; "
            "pass per-vertex normals, not per-face ones"
        )
    length = np.linalg.norm(normals, axis=1)
    bad = ~(np.abs(length - 1.0) <= _UNIT_TOLERANCE)
    if bad.any():
        raise ValueError(
            f"{where}: normals_xyz must be unit length, got {int(bad.sum())} rows with |n| off 1 (e.g. "
            f"{float(length[bad][0]):.4g}); normalise them (normals / norm) and drop zero ones"
        )
    if faces.size == 0:
        faces = np.empty((0, 3), np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"{where}: faces must be an (m, 3) integer array, got {faces.dtype} {faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"{where}: faces index vertices 0..{len(vertices) - 1}, got {faces.min()}..{faces.max()}")
    return int(membrane_id), vertices, faces.astype(np.int64), normals


def _empty_result(count: int, max_distance_nm: float) -> NormalDistances:
    nan, none = np.full(count, np.nan), np.full(count, -1, np.int64)
    return NormalDistances(nan, nan.copy(), none, none.copy(), nan.copy(), float(max_distance_nm), nan.copy())


@dataclass(frozen=True, eq=False)
class _TriangleGrid:
    """All triangles of all membranes, binned into a uniform grid of cubic cells (CSR layout)."""

    packed: np.ndarray  # (10, m) rows: first corner xyz (Å), second - first, third - first, |e1 x e2|
    spheres: np.ndarray  # (4, m) rows: centroid xyz (Å), radius of a sphere holding the triangle (Å)
    owner: np.ndarray  # (m,) index of the mesh the triangle belongs to
    origin: np.ndarray  # (3,) corner of cell (0, 0, 0), Å
    dims: np.ndarray  # (3,) cells per axis
    cell_ang: float  # cell edge, Å
    step_ang: float  # ray sampling step, Å
    offsets: np.ndarray  # (cells + 1,) start of each cell in `triangles`
    triangles: np.ndarray  # triangle indices sorted by cell

    @classmethod
    def build(cls, meshes: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]], max_t: float) -> _TriangleGrid:
        corners = np.concatenate([v[f] for _, v, f, _ in meshes])  # (m, 3, 3)
        owner = np.repeat(np.arange(len(meshes)), [len(f) for _, _, f, _ in meshes])
        lo_tri, hi_tri = corners.min(axis=1), corners.max(axis=1)
        extent = float(np.median((hi_tri - lo_tri).max(axis=1)))
        lo, hi = lo_tri.min(axis=0), hi_tri.max(axis=0)
        # cells a few triangles across, sampled a few times per cell: few cells per triangle and
        # few triangles per cell (the bins grow by half a step, see the module notes)
        cell = max(_CELL_PER_TRIANGLE * extent, max_t / 64.0, 1e-6 * float(np.max(hi - lo)), 1e-9)
        while np.prod((hi - lo) / cell + 4.0) > _MAX_CELLS:
            cell *= 1.25
        step = cell / _SAMPLES_PER_CELL
        margin = 0.5 * step * (1.0 + 1e-6) + 1e-9 * cell  # half a step plus rounding
        origin = lo - margin - cell
        dims = np.floor((hi + margin - origin) / cell).astype(np.int64) + 2
        first = np.floor((lo_tri - margin - origin) / cell).astype(np.int64)
        span = np.floor((hi_tri + margin - origin) / cell).astype(np.int64) - first + 1
        per_triangle = span.prod(axis=1)
        tri = np.repeat(np.arange(len(corners)), per_triangle)
        k = np.arange(len(tri)) - np.repeat(np.cumsum(per_triangle) - per_triangle, per_triangle)
        sy, sz = span[:, 1][tri], span[:, 2][tri]
        base = (first[:, 0] * dims[1] + first[:, 1]) * dims[2] + first[:, 2]
        plane = sy * sz
        cells = base[tri] + (k // plane) * (dims[1] * dims[2]) + ((k % plane) // sz) * dims[2] + k % sz
        del k, sy, sz, plane
        order = np.argsort(cells)
        offsets = np.zeros(int(np.prod(dims)) + 1, np.int64)
        np.cumsum(np.bincount(cells, minlength=int(np.prod(dims))), out=offsets[1:])
        e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        centroids = corners.mean(axis=1)
        radius = np.linalg.norm(corners - centroids[:, None, :], axis=2).max(axis=1)
        radius = radius * (1.0 + 1e-6) + 1e-9 * cell  # rounding
        return cls(
            packed=np.ascontiguousarray(
                np.concatenate([corners[:, 0], e1, e2, np.linalg.norm(np.cross(e1, e2), axis=1)[:, None]], axis=1).T
            ),
            spheres=np.ascontiguousarray(np.concatenate([centroids, radius[:, None]], axis=1).T),
            owner=owner,
            origin=origin,
            dims=dims,
            cell_ang=cell,
            step_ang=step,
            offsets=offsets,
            triangles=tri[order],
        )

    def cast(
        self,
        origins: np.ndarray,
        directions: np.ndarray,
        ray_owner: np.ndarray,
        want_self: np.ndarray,
        max_t: float,
        min_self: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest crossing of another mesh and (where ``want_self``) of the own mesh beyond ``min_self``.

        Returns
        -------
        t_other : (r,) float, Å, ``inf`` where none within ``max_t``
        owner_other : (r,) int, mesh index of that crossing, -1 where none
        t_self : (r,) float, Å, ``inf`` where none (or not wanted)
        """
        n = len(origins)
        t_other, t_self = np.full(n, np.inf), np.full(n, np.inf)
        owner_other = np.full(n, -1, np.int64)
        step = self.step_ang
        n_samples = int(np.ceil(max_t / step)) + 1
        columns = np.ascontiguousarray(origins.T), np.ascontiguousarray(directions.T)
        previous = np.full(n, -1, np.int64)  # last cell looked up per ray (skip repeats)
        for start in range(0, n, _RAYS_PER_BATCH):
            rays = np.arange(start, min(n, start + _RAYS_PER_BATCH))
            for k0 in range(0, n_samples, _SAMPLES_PER_WINDOW):
                if len(rays) == 0:
                    break
                ks = np.arange(k0, min(n_samples, k0 + _SAMPLES_PER_WINDOW))
                self._window(rays, ks * step, origins, directions, columns, ray_owner, want_self, max_t, min_self,
                             previous, t_other, owner_other, t_self)  # fmt: skip
                # a crossing not found yet lies beyond the window's last sample + step / 2
                reach = ks[-1] * step + 0.5 * step
                done = (t_other[rays] <= reach) & (~want_self[rays] | (t_self[rays] <= reach))
                rays = rays[~done]
        return t_other, owner_other, t_self

    def _window(self, rays, t_samples, origins, directions, columns, ray_owner, want_self, max_t, min_self,
                previous, t_other, owner_other, t_self) -> None:  # fmt: skip
        """Test the triangles binned at ``t_samples`` along ``rays`` and keep the nearest crossings."""
        points = origins[rays, None, :] + directions[rays, None, :] * t_samples[None, :, None]
        ijk = np.floor((points - self.origin) / self.cell_ang).astype(np.int64)
        inside = np.all((ijk >= 0) & (ijk < self.dims), axis=2)
        cells = np.where(inside, (ijk[..., 0] * self.dims[1] + ijk[..., 1]) * self.dims[2] + ijk[..., 2], -1)
        repeat = cells == np.concatenate([previous[rays, None], cells[:, :-1]], axis=1)
        # own triangles count from `self_from` on (see `keep`): that sample looks its cell up again
        self_from = min_self - 0.5 * self.step_ang
        first_self = (t_samples >= self_from) & (t_samples - self.step_ang < self_from)
        repeat[:, first_self] = False
        previous[rays] = cells[:, -1]
        cells = np.where(repeat, -1, cells)
        safe = np.maximum(cells, 0)
        counts = np.where(cells >= 0, self.offsets[safe + 1] - self.offsets[safe], 0)
        row, col = np.nonzero(counts)
        if len(row) == 0:
            return
        counts, begins = counts[row, col], self.offsets[cells[row, col]]
        total = int(counts.sum())
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        tri = self.triangles[np.repeat(begins, counts) + within]
        ray = rays[np.repeat(row, counts)]
        sample_t = np.repeat(t_samples[col], counts)
        own = self.owner[tri] == ray_owner[ray]
        # own triangles count only for self hits, and only from samples that can reach min_self
        keep = ~own | (want_self[ray] & (sample_t >= self_from))
        tri, ray, own = tri[keep], ray[keep], own[keep]
        # cheap cull: the ray line must pass within the triangle's bounding sphere
        o, d = columns[0][:, ray], columns[1][:, ray]
        cx, cy, cz, radius = self.spheres[:, tri]
        wx, wy, wz = cx - o[0], cy - o[1], cz - o[2]
        along = wx * d[0] + wy * d[1] + wz * d[2]
        near = wx * wx + wy * wy + wz * wz - along * along <= radius * radius
        tri, ray, own, o, d = tri[near], ray[near], own[near], o[:, near], d[:, near]
        t, hit = self._intersect(o, d, tri)
        hit &= t <= max_t
        hit &= np.where(own, t >= min_self, t >= 0.0)
        for is_own in (False, True):
            sel = hit & (own == is_own)
            if not sel.any():
                continue
            r, tt, tr = ray[sel], t[sel], tri[sel]
            order = np.lexsort((tt, r))
            r, tt, tr = r[order], tt[order], tr[order]
            first = np.concatenate([[True], r[1:] != r[:-1]])
            r, tt, tr = r[first], tt[first], tr[first]
            if is_own:
                t_self[r] = np.minimum(t_self[r], tt)
            else:
                better = tt < t_other[r]
                t_other[r[better]] = tt[better]
                owner_other[r[better]] = self.owner[tr[better]]

    def _intersect(self, o: np.ndarray, d: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Möller–Trumbore: ray parameter ``t`` and whether ray i crosses triangle ``tri[i]``.

        ``o`` and ``d`` are (3, k) rows x, y, z (contiguous columns keep the arithmetic fast).
        """
        v0x, v0y, v0z, ax, ay, az, bx, by, bz, twice_area = self.packed[:, tri]
        dx, dy, dz = d
        sx, sy, sz = o[0] - v0x, o[1] - v0y, o[2] - v0z
        px, py, pz = dy * bz - dz * by, dz * bx - dx * bz, dx * by - dy * bx
        det = ax * px + ay * py + az * pz
        ok = np.abs(det) > _GRAZING_COS * twice_area
        inv = 1.0 / np.where(ok, det, 1.0)
        u = (sx * px + sy * py + sz * pz) * inv
        qx, qy, qz = sy * az - sz * ay, sz * ax - sx * az, sx * ay - sy * ax
        v = (dx * qx + dy * qy + dz * qz) * inv
        t = (bx * qx + by * qy + bz * qz) * inv
        tol = _BARYCENTRIC_TOLERANCE
        ok &= (u >= -tol) & (v >= -tol) & (u + v <= 1.0 + tol)
        return t, ok
