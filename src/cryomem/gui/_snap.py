"""Exact closest points on a triangle mesh: snapping clicked points onto a membrane surface.

Pure numpy/scipy (no napari, no Qt), so widgets over it are tested without a viewer.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from cryomem.io import MembraneSurface

__all__ = ["MeshSnapper", "closest_points_on_mesh", "closest_points_on_triangles", "snap_to_surface"]

_SEED_TRIANGLES = 8
_CANDIDATES_PER_CHUNK = 1_000_000
_DEGENERATE = 1e-12


def _as_points(points_xyz_ang: ArrayLike) -> NDArray[np.float64]:
    points = np.asarray(points_xyz_ang, dtype=np.float64)
    if points.size == 0:
        return points.reshape(0, 3)
    if points.shape == (3,):
        points = points.reshape(1, 3)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points_xyz_ang must have shape (p, 3), got {points.shape}; pass xyz points in Å")
    if not np.isfinite(points).all():
        raise ValueError("points_xyz_ang holds NaN or infinite values; pass finite xyz points in Å")
    return points


def _segment_closest(
    points: NDArray[np.float64], start: NDArray[np.float64], end: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fraction ``t`` along each segment of its closest point to each point, and the squared distance."""
    edge = end - start
    length2 = np.einsum("ij,ij->i", edge, edge)
    t = np.einsum("ij,ij->i", points - start, edge) / np.where(length2 > 0.0, length2, 1.0)
    t = np.clip(t, 0.0, 1.0)
    offset = points - (start + t[:, None] * edge)
    return t, np.einsum("ij,ij->i", offset, offset)


def closest_points_on_triangles(
    points_xyz_ang: NDArray[np.float64],
    a_xyz_ang: NDArray[np.float64],
    b_xyz_ang: NDArray[np.float64],
    c_xyz_ang: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Closest point of triangle ``i`` to point ``i``, pairwise, for any triangle (degenerate ones too).

    The closest point lies in the triangle's interior (the projection onto its plane, when that falls
    inside) or on one of its three edges; the nearest of those four candidates is exact.

    Parameters
    ----------
    points_xyz_ang : (q, 3) float array
        Query points, Å, xyz.
    a_xyz_ang, b_xyz_ang, c_xyz_ang : (q, 3) float arrays
        Triangle corners, Å, xyz.

    Returns
    -------
    barycentric : (q, 3) float64 array
        Weights of ``a, b, c`` giving the closest point (non-negative, summing to 1).
    distance2 : (q,) float64 array
        Squared distances, Å².
    """
    e0, e1, v = b_xyz_ang - a_xyz_ang, c_xyz_ang - a_xyz_ang, points_xyz_ang - a_xyz_ang
    d00, d01, d11 = (np.einsum("ij,ij->i", x, y) for x, y in ((e0, e0), (e0, e1), (e1, e1)))
    d20, d21 = np.einsum("ij,ij->i", v, e0), np.einsum("ij,ij->i", v, e1)
    area2 = d00 * d11 - d01 * d01
    flat = area2 > _DEGENERATE * np.maximum(d00 * d11, _DEGENERATE)
    safe = np.where(flat, area2, 1.0)
    wb, wc = (d11 * d20 - d01 * d21) / safe, (d00 * d21 - d01 * d20) / safe
    inside = flat & (wb >= 0.0) & (wc >= 0.0) & (wb + wc <= 1.0)
    projected = a_xyz_ang + wb[:, None] * e0 + wc[:, None] * e1
    offset = points_xyz_ang - projected
    best2 = np.where(inside, np.einsum("ij,ij->i", offset, offset), np.inf)
    weights = np.stack([1.0 - wb - wc, wb, wc], axis=1)
    corners = (a_xyz_ang, b_xyz_ang, c_xyz_ang)
    for first, second in ((0, 1), (1, 2), (2, 0)):
        t, edge2 = _segment_closest(points_xyz_ang, corners[first], corners[second])
        better = edge2 < best2
        on_edge = np.zeros((len(t), 3))
        on_edge[:, first], on_edge[:, second] = 1.0 - t, t
        weights[better] = on_edge[better]
        best2 = np.where(better, edge2, best2)
    return weights, best2


class MeshSnapper:
    """Closest points on one triangle mesh, queried many times (the search tree is built once).

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Mesh vertices, Å, xyz.
    faces : (m, 3) int array
        Triangles, 0-based vertex indices; at least one.
    normals_xyz : (n, 3) float array, optional
        Per-vertex normals, needed only by :meth:`snap`.

    Notes
    -----
    Each triangle lies in the ball of radius ``r_t`` about its centroid ``c_t``, so its distance to
    a point ``p`` is at least ``|p - c_t| - r_t``. The nearest few centroids give an upper bound
    ``d`` on the distance to the mesh; every triangle that could be closer has
    ``|p - c_t| <= d + r_t <= d + max(r)``, so the exact test runs on exactly those candidates.
    """

    def __init__(self, vertices_xyz_ang: ArrayLike, faces: ArrayLike, normals_xyz: ArrayLike | None = None) -> None:
        vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
        triangles = np.asarray(faces)
        if vertices.ndim != 2 or vertices.shape[1] != 3:
            raise ValueError(f"vertices_xyz_ang must have shape (n, 3), got {vertices.shape}; pass xyz vertices in Å")
        if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
            raise ValueError(f"faces must have shape (m, 3) with m >= 1, got {triangles.shape}; pass a triangle mesh")
        triangles = triangles.astype(np.int64)
        if triangles.min() < 0 or triangles.max() >= len(vertices):
            raise ValueError(
                f"faces index vertices {triangles.min()}..{triangles.max()} but there are {len(vertices)}; "
                "pass faces of these vertices"
            )
        self.vertices_xyz_ang = vertices
        self.faces = triangles
        self.normals_xyz = None if normals_xyz is None else np.asarray(normals_xyz, dtype=np.float64)
        if self.normals_xyz is not None and self.normals_xyz.shape != vertices.shape:
            raise ValueError(
                f"normals_xyz must have the vertices' shape {vertices.shape}, got {self.normals_xyz.shape}; "
                "pass one normal per vertex"
            )
        corners = vertices[triangles]
        self._corners = corners
        self._centroids = (corners[:, 0] + corners[:, 1] + corners[:, 2]) / 3.0
        spokes = corners - self._centroids[:, None, :]
        self._radii_ang = np.sqrt(np.einsum("fkj,fkj->fk", spokes, spokes).max(axis=1))
        self._max_radius_ang = float(self._radii_ang.max())
        self._tree = cKDTree(self._centroids, balanced_tree=False, compact_nodes=False)

    def closest(self, points_xyz_ang: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        """Exact closest point on the mesh to each point.

        Parameters
        ----------
        points_xyz_ang : (p, 3) float array
            Query points, Å, xyz.

        Returns
        -------
        closest_xyz_ang : (p, 3) float64 array
            Closest points on the mesh, Å, xyz.
        face_index : (p,) int64 array
            Triangle holding each closest point (the first of equally close ones).
        barycentric : (p, 3) float64 array
            Weights of that triangle's three vertices giving the closest point.
        """
        points = _as_points(points_xyz_ang)
        face_index = np.zeros(len(points), dtype=np.int64)
        barycentric = np.zeros((len(points), 3))
        if len(points) == 0:
            return np.empty((0, 3)), face_index, barycentric
        candidates = self._candidates(points)
        counts = np.fromiter(map(len, candidates), dtype=np.int64, count=len(points))
        for rows in _chunks(counts, _CANDIDATES_PER_CHUNK):
            lists = candidates[rows[0] : rows[-1] + 1]
            faces = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(counts[rows].sum()))
            owner = np.repeat(rows, counts[rows])
            corners = self._corners[faces]
            weights, distance2 = closest_points_on_triangles(points[owner], corners[:, 0], corners[:, 1], corners[:, 2])
            order = np.lexsort((faces, distance2, owner))
            first = order[np.r_[0, np.flatnonzero(np.diff(owner[order])) + 1]]
            face_index[owner[first]] = faces[first]
            barycentric[owner[first]] = weights[first]
        closest = np.einsum("pk,pkj->pj", barycentric, self._corners[face_index])
        return closest, face_index, barycentric

    def snap(self, points_xyz_ang: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Closest points on the mesh and unit normals interpolated there from the vertex normals.

        Parameters
        ----------
        points_xyz_ang : (p, 3) float array
            Query points, Å, xyz.

        Returns
        -------
        snapped_xyz_ang : (p, 3) float64 array
            Closest points on the mesh, Å, xyz.
        normals_xyz : (p, 3) float64 array
            Unit normals: the barycentric blend of the triangle's vertex normals, renormalised (the
            normal of its most-weighted vertex where the blend cancels out).
        """
        if self.normals_xyz is None:
            raise ValueError("this MeshSnapper has no vertex normals; build it with normals_xyz to snap with normals")
        closest, face_index, barycentric = self.closest(points_xyz_ang)
        vertex_ids = self.faces[face_index]
        blended = np.einsum("pk,pkj->pj", barycentric, self.normals_xyz[vertex_ids])
        lengths = np.linalg.norm(blended, axis=1)
        cancelled = lengths < 1e-9
        if cancelled.any():
            strongest = vertex_ids[np.flatnonzero(cancelled), np.argmax(barycentric[cancelled], axis=1)]
            blended[cancelled] = self.normals_xyz[strongest]
            lengths[cancelled] = np.linalg.norm(blended[cancelled], axis=1)
        return closest, blended / np.where(lengths > 0.0, lengths, 1.0)[:, None]

    def _candidates(self, points: NDArray[np.float64]) -> list[list[int]]:
        """Per point, every triangle that can be as close as the best of its nearest few."""
        k = min(_SEED_TRIANGLES, len(self._centroids))
        _, seeds = self._tree.query(points, k=k)
        seeds = np.asarray(seeds, dtype=np.int64).reshape(len(points), k)
        corners = self._corners[seeds.ravel()]
        _, distance2 = closest_points_on_triangles(
            np.repeat(points, k, axis=0), corners[:, 0], corners[:, 1], corners[:, 2]
        )
        bound_ang = np.sqrt(distance2.reshape(len(points), k).min(axis=1))
        reach_ang = bound_ang + self._max_radius_ang
        found = self._tree.query_ball_point(points, reach_ang * (1.0 + 1e-9) + 1e-9)
        return [_within(self._centroids, self._radii_ang, p, b, ids) for p, b, ids in zip(points, bound_ang, found)]


def _within(
    centroids: NDArray[np.float64], radii: NDArray[np.float64], point: NDArray[np.float64], bound: float, ids: list
) -> list[int]:
    """The triangles among ``ids`` whose bounding ball reaches within ``bound`` of ``point``."""
    ids_array = np.asarray(ids, dtype=np.int64)
    reach = np.linalg.norm(centroids[ids_array] - point, axis=1) - radii[ids_array]
    return ids_array[reach <= bound * (1.0 + 1e-9) + 1e-9].tolist()


def _chunks(counts: NDArray[np.int64], budget: int) -> list[NDArray[np.int64]]:
    """Consecutive runs of point indices whose candidate counts add up to about ``budget``."""
    group = np.cumsum(counts) // max(budget, 1)
    _, starts = np.unique(group, return_index=True)
    return np.split(np.arange(len(counts)), starts[1:])


def closest_points_on_mesh(
    points_xyz_ang: ArrayLike, vertices_xyz_ang: ArrayLike, faces: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Exact closest point on a triangle mesh to each point (one-shot :meth:`MeshSnapper.closest`).

    Parameters
    ----------
    points_xyz_ang : (p, 3) float array
        Query points, Å, xyz.
    vertices_xyz_ang : (n, 3) float array
        Mesh vertices, Å, xyz.
    faces : (m, 3) int array
        Triangles, 0-based vertex indices.

    Returns
    -------
    closest_xyz_ang : (p, 3) float64 array
        Closest points on the mesh, Å, xyz.
    face_index : (p,) int64 array
        Triangle holding each closest point.
    barycentric : (p, 3) float64 array
        Weights of that triangle's vertices giving the closest point.
    """
    return MeshSnapper(vertices_xyz_ang, faces).closest(points_xyz_ang)


def snap_to_surface(
    points_xyz_ang: ArrayLike, surface: MembraneSurface
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Snap points onto a membrane surface (one-shot :meth:`MeshSnapper.snap`).

    Parameters
    ----------
    points_xyz_ang : (p, 3) float array
        Points, Å, xyz (physical, origin included, like the surface's vertices).
    surface : cryomem.io.MembraneSurface
        The membrane.

    Returns
    -------
    snapped_xyz_ang : (p, 3) float64 array
        Closest points on the surface, Å, xyz.
    normals_xyz : (p, 3) float64 array
        Unit normals there, interpolated from the vertex normals.
    """
    return MeshSnapper(surface.vertices_xyz_ang, surface.faces, surface.normals_xyz).snap(points_xyz_ang)
