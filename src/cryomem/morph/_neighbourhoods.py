"""Surface neighbourhoods of every vertex: the vertices within a radius on the same sheet of membrane.

A Euclidean ball of radius ``r`` around a vertex, restricted to vertices of the same connected
component whose normals agree (``n_i · n_j > min_normal_cos``), stands in for the geodesic disc of
radius ``r``: on a surface whose curvature radius is larger than ``r`` the two hold the same
vertices, and the normal test drops the opposite face of a thin fold or of a neighbouring
membrane that the ball reaches through the lumen. Fixed-width arrays (padded with ``-1``) let the
fits over the neighbourhoods run as batched numpy, with no Python loop over vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from cryomem.geometry import vertex_components

__all__ = ["NeighbourhoodSearch", "Neighbourhoods", "sheet_ball", "surface_neighbourhoods"]

DEFAULT_MAX_NEIGHBOURS = 96
"""Vertices kept per neighbourhood (the nearest); a denser mesh is thinned evenly, see below."""

_THINNING_SEED = 0
"""Seed of the even thinning of crowded meshes: the same mesh always gives the same neighbourhoods."""


@dataclass(frozen=True, eq=False)
class Neighbourhoods:
    """The neighbours of every vertex, nearest first, in fixed-width arrays.

    Attributes
    ----------
    indices : (n, k) int64 array
        Neighbour vertex indices, the vertex itself first; ``-1`` pads rows with fewer neighbours.
    distances_ang : (n, k) float64 array
        Euclidean distance to each neighbour, Å; ``inf`` where ``indices`` is ``-1``.
    radius_ang : float
        The radius asked for, Å.
    """

    indices: np.ndarray
    distances_ang: np.ndarray
    radius_ang: float

    @property
    def valid(self) -> np.ndarray:
        """(n, k) bool: which entries are neighbours (not padding)."""
        return self.indices >= 0

    @property
    def counts(self) -> np.ndarray:
        """(n,) int: neighbours of each vertex, itself included."""
        return self.valid.sum(axis=1)

    def mean_of(self, values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-vertex (weighted) mean of ``values`` (shape ``(n, ...)``) over each neighbourhood."""
        values = np.asarray(values)
        w = self.valid.astype(np.float64) if weights is None else np.where(self.valid, weights, 0.0)
        gathered = values[np.where(self.valid, self.indices, 0)]
        w = w.reshape(w.shape + (1,) * (values.ndim - 1))
        return (gathered * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-300)


def surface_neighbourhoods(
    vertices_xyz_ang: ArrayLike,
    faces: ArrayLike,
    normals_xyz: ArrayLike,
    radius_ang: float,
    *,
    max_neighbours: int = DEFAULT_MAX_NEIGHBOURS,
    min_normal_cos: float = 0.0,
) -> Neighbourhoods:
    """The vertices within ``radius_ang`` of each vertex on the same sheet (see the module docstring).

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å.
    faces : (m, 3) int array
        Triangles (for the connected components).
    normals_xyz : (n, 3) float array
        Unit normals.
    radius_ang : float
        Neighbourhood radius, Å.
    max_neighbours : int, default 96
        Width of the arrays. When more vertices lie within the radius of the most crowded vertex,
        the search runs over an even subset of the mesh (a fixed-seed random ``1/j`` of the
        vertices, ``j = ceil(crowded / max_neighbours)``), so every neighbourhood still reaches the
        full radius; the vertex itself is always kept.
    min_normal_cos : float, default 0
        Neighbours whose normal makes a larger angle than ``arccos(min_normal_cos)`` with the
        vertex's normal are dropped (default: more than 90°).

    Returns
    -------
    Neighbourhoods
    """
    search = NeighbourhoodSearch(
        vertices_xyz_ang,
        faces,
        normals_xyz,
        radius_ang,
        max_neighbours=max_neighbours,
        min_normal_cos=min_normal_cos,
    )
    return search.of(np.arange(search.n_vertices))


class NeighbourhoodSearch:
    """The set-up of :func:`surface_neighbourhoods` (k-d tree, components, width), queried for any vertices.

    ``NeighbourhoodSearch(...).of(indices)`` gives the same rows as ``surface_neighbourhoods(...)`` for
    those vertices, so a caller can walk a large mesh in chunks of vertices with bounded memory.
    Parameters as in :func:`surface_neighbourhoods`.
    """

    def __init__(
        self,
        vertices_xyz_ang: ArrayLike,
        faces: ArrayLike,
        normals_xyz: ArrayLike,
        radius_ang: float,
        *,
        max_neighbours: int = DEFAULT_MAX_NEIGHBOURS,
        min_normal_cos: float = 0.0,
    ) -> None:
        vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
        faces = np.asarray(faces, dtype=np.int64)
        normals = np.asarray(normals_xyz, dtype=np.float64)
        if not (np.isfinite(radius_ang) and radius_ang > 0):
            raise ValueError(f"the neighbourhood radius must be a positive number of Å, got {radius_ang}")
        if max_neighbours < 1:
            raise ValueError(f"max_neighbours must be >= 1, got {max_neighbours}")
        n = len(vertices)
        _, self._component = vertex_components(n, faces)
        self._vertices, self._normals = vertices, normals
        self._tree = cKDTree(vertices)
        self.radius_ang = float(radius_ang)
        self.min_normal_cos = float(min_normal_cos)
        counts = self._tree.query_ball_point(vertices, radius_ang, return_length=True)
        crowded = int(np.max(counts, initial=1))
        self.width = min(crowded, max(max_neighbours, 1))
        stride = max(1, int(np.ceil(crowded / self.width)))
        if stride > 1 and self.width > 1:
            # thin the mesh evenly (a fixed-seed random 1/stride of the vertices) and take the nearest of
            # those: the neighbourhood still reaches the full radius, and the search is width-wide
            keep = int(np.ceil(n / stride))
            self._pool = np.sort(np.random.default_rng(_THINNING_SEED).permutation(n)[:keep])
            self._pool_tree = cKDTree(vertices[self._pool])
            self._k = min(keep, self.width - 1)
        else:
            self._pool, self._pool_tree, self._k = None, self._tree, min(n, self.width)

    @property
    def n_vertices(self) -> int:
        """Number of vertices of the mesh."""
        return len(self._vertices)

    def of(self, vertex_indices: ArrayLike) -> Neighbourhoods:
        """Neighbourhoods of the given vertices (rows in the order given); see :func:`surface_neighbourhoods`."""
        centres = np.asarray(vertex_indices, dtype=np.int64).reshape(-1)
        n, k, radius_ang = self.n_vertices, self._k, self.radius_ang
        m = len(centres)
        distances, indices = self._pool_tree.query(self._vertices[centres], k=k, distance_upper_bound=radius_ang)
        distances, indices = np.asarray(distances).reshape(m, k), np.asarray(indices).reshape(m, k)
        if self._pool is not None:  # thinned: pool indices to vertex indices, the vertex itself put first
            inside = indices < len(self._pool)
            indices = np.where(inside, self._pool[np.where(inside, indices, 0)], n)
            indices = np.where(indices == centres[:, None], n, indices)
            indices = np.column_stack([centres, indices])
            distances = np.column_stack([np.zeros(m), distances])
        found = indices < n
        safe = np.where(found, indices, 0)
        found &= self._component[safe] == self._component[centres][:, None]
        found &= np.einsum("nkj,nj->nk", self._normals[safe], self._normals[centres]) > self.min_normal_cos
        found[:, 0] = True  # the vertex itself
        indices = np.where(found, safe, -1)
        distances = np.where(found, distances, np.inf)
        order = np.argsort(distances, axis=1, kind="stable")
        return Neighbourhoods(
            np.take_along_axis(indices, order, axis=1), np.take_along_axis(distances, order, axis=1), radius_ang
        )


def sheet_ball(
    tree: cKDTree, vertices: np.ndarray, normals: np.ndarray, component: np.ndarray, vertex: int, radius_ang: float
) -> np.ndarray:
    """Every vertex within ``radius_ang`` of ``vertex`` on its sheet (same component, normals within 90°),
    exactly (no cap on the count): ``tree`` is a k-d tree of ``vertices``, ``component`` their
    connected-component labels."""
    inside = np.asarray(tree.query_ball_point(vertices[vertex], radius_ang), dtype=np.int64)
    return inside[(component[inside] == component[vertex]) & (normals[inside] @ normals[vertex] > 0)]
