"""Geodesic distances on triangle meshes: the heat method, and a near-exact graph method."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from cryomem.geometry._checks import as_mesh_arrays, as_source_indices
from cryomem.geometry._components import vertex_components

__all__ = ["GeodesicSolver", "geodesic_distances"]

_METHODS = ("heat", "exact")


class GeodesicSolver:
    """Geodesic distances from source vertices, with the expensive set-up done once.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices.
    method : {"heat", "exact"}, default "heat"
        ``"heat"``: the heat method of Crane et al. (2013) as implemented by potpourri3d (intrinsic
        Delaunay Laplacian, factorised once per connected component); fast, typically within about
        1 % away from the sources, smoother (less accurate) within a few edges of them.
        ``"exact"``: Dijkstra on the mesh refined with 5 Steiner points per edge (straight segments
        across every triangle); never shorter than the polyhedral geodesic and, on regular meshes,
        within a fraction of a percent of it; slower and more memory-hungry (about 50 graph edges per
        triangle).

    Notes
    -----
    Disconnected meshes are handled per connected component: vertices that no source can reach
    get ``inf``. A vertex in no triangle is reachable only from itself.
    """

    def __init__(
        self, vertices_xyz_ang: ArrayLike, faces: ArrayLike, *, method: Literal["heat", "exact"] = "heat"
    ) -> None:
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        self.vertices_xyz_ang, self.faces = as_mesh_arrays(vertices_xyz_ang, faces)
        self.method = method
        self.n_vertices = len(self.vertices_xyz_ang)
        self._count, self._labels = vertex_components(self.n_vertices, self.faces)
        self._members = np.split(np.argsort(self._labels, kind="stable"), np.cumsum(np.bincount(self._labels))[:-1])
        self._local = np.empty(self.n_vertices, dtype=np.int64)
        for members in self._members:
            self._local[members] = np.arange(len(members))
        face_label = self._labels[self.faces[:, 0]] if len(self.faces) else np.zeros(0, dtype=np.int64)
        order = np.argsort(face_label, kind="stable")
        labels, starts = np.unique(face_label[order], return_index=True)
        groups = np.split(order, starts[1:])
        self._faces_of = {int(c): self.faces[group] for c, group in zip(labels, groups)}
        self._solvers: dict[int, object] = {}

    def _solver(self, component: int) -> object | None:
        """The per-component solver (None for an isolated vertex), built on first use."""
        if component not in self._faces_of:
            return None
        if component not in self._solvers:
            members = self._members[component]
            vertices = self.vertices_xyz_ang[members]
            faces = self._local[self._faces_of[component]]
            if self.method == "heat":
                import potpourri3d as pp3d

                self._solvers[component] = pp3d.MeshHeatMethodDistanceSolver(vertices, faces)
            else:
                from cryomem.geometry._steiner import SteinerGraph

                self._solvers[component] = SteinerGraph(vertices, faces)
        return self._solvers[component]

    def _component_distances(self, component: int, local_sources: np.ndarray) -> np.ndarray:
        """Distance from the nearest of ``local_sources`` to each vertex of one component."""
        solver = self._solver(component)
        if solver is None:
            return np.zeros(1)
        if self.method == "heat":
            sources = [int(s) for s in np.unique(local_sources)]
            if len(sources) == 1:
                result = solver.compute_distance(sources[0])
            else:
                result = solver.compute_distance_multisource(sources)
            result = np.asarray(result, dtype=np.float64)
            result[local_sources] = 0.0
            return np.maximum(result, 0.0)
        return solver.distances(local_sources, nearest=True)

    def distances_ang(self, sources: ArrayLike) -> np.ndarray:
        """Geodesic distance from the nearest source to every vertex.

        Parameters
        ----------
        sources : int or (s,) int array
            Source vertex indices.

        Returns
        -------
        (n,) float64 array
            Distances, Å; ``inf`` where no source is in the same connected component.
        """
        sources = as_source_indices(sources, self.n_vertices)
        result = np.full(self.n_vertices, np.inf)
        for component in np.unique(self._labels[sources]):
            members = self._members[component]
            local = self._local[sources[self._labels[sources] == component]]
            result[members] = self._component_distances(int(component), local)
        return result

    def distance_matrix_ang(self, sources: ArrayLike) -> np.ndarray:
        """Geodesic distance from each source to every vertex.

        Parameters
        ----------
        sources : (s,) int array
            Source vertex indices.

        Returns
        -------
        (s, n) float64 array
            ``result[i, j]`` is the distance from ``sources[i]`` to vertex ``j``, Å; ``inf`` across components.
        """
        sources = as_source_indices(sources, self.n_vertices)
        return np.stack([self.distances_ang(source) for source in sources])


def geodesic_distances(
    vertices_xyz_ang: ArrayLike,
    faces: ArrayLike,
    sources: ArrayLike,
    *,
    method: Literal["heat", "exact"] = "heat",
) -> np.ndarray:
    """One-shot geodesic distance from the nearest of ``sources`` to every vertex.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices.
    sources : int or (s,) int array
        Source vertex indices.
    method : {"heat", "exact"}, default "heat"
        See :class:`GeodesicSolver`.

    Returns
    -------
    (n,) float64 array
        Distances, Å; ``inf`` for vertices no source can reach.
    """
    return GeodesicSolver(vertices_xyz_ang, faces, method=method).distances_ang(sources)
