"""Overlapping geodesic patches of a mesh (MemBrain-pick splits membranes into such patches)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cryomem.geometry._checks import as_mesh_arrays
from cryomem.geometry._geodesic import GeodesicSolver

__all__ = ["GeodesicPatch", "geodesic_patches"]


@dataclass(frozen=True, eq=False)
class GeodesicPatch:
    """One patch: the vertices geodesically nearest to a centre vertex.

    Attributes
    ----------
    vertex_ids : (p,) int64 array
        Indices of the patch's vertices in the full mesh, ascending.
    centre_vertex : int
        Index of the centre vertex in the full mesh.
    distance_to_centre_ang : (p,) float64 array
        Heat-method geodesic distance of each of ``vertex_ids`` from the centre, Å.
    """

    vertex_ids: np.ndarray
    centre_vertex: int
    distance_to_centre_ang: np.ndarray

    @property
    def radius_ang(self) -> float:
        """Largest distance from the centre within the patch, Å."""
        return float(self.distance_to_centre_ang.max())


def geodesic_patches(
    vertices_xyz_ang: ArrayLike,
    faces: ArrayLike,
    *,
    patch_vertices: int = 2000,
    overlap: float = 0.3,
    seed: int = 0,
) -> list[GeodesicPatch]:
    """Cover a mesh with overlapping patches grown geodesically from farthest-point-sampled centres.

    Each patch holds the ``patch_vertices`` vertices geodesically nearest to its centre (heat method),
    its radius being the largest of those distances. Centres are chosen by farthest-point sampling in
    units of patch radius: the next centre is the vertex farthest (relative to each patch's radius)
    from all centres so far, until every vertex lies within ``(1 - overlap)`` of a radius from some
    centre. Neighbouring patches therefore share a band about ``2 * overlap`` radii wide, and every
    vertex lies in at least one patch. A connected component with at most ``patch_vertices`` vertices
    (in particular a small connected mesh) is one patch.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices.
    patch_vertices : int, default 2000
        Vertices per patch.
    overlap : float, default 0.3
        In ``[0, 1)``; larger means more, more strongly overlapping patches.
    seed : int, default 0
        Chooses the first centre.

    Returns
    -------
    list of GeodesicPatch
        In the order their centres were chosen.
    """
    vertices, faces = as_mesh_arrays(vertices_xyz_ang, faces)
    if int(patch_vertices) != patch_vertices or patch_vertices < 1:
        raise ValueError(f"patch_vertices must be a positive integer, got {patch_vertices}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    n = len(vertices)
    if n == 0:
        raise ValueError("the mesh has no vertices; nothing to split into patches")
    solver = GeodesicSolver(vertices, faces, method="heat")
    # relative distance of each vertex to its best centre (distance / that patch's radius)
    relative = np.full(n, np.inf)
    patches: list[GeodesicPatch] = []
    centre = int(np.random.default_rng(seed).integers(n))
    limit = 1.0 - overlap
    while True:
        distances = solver.distances_ang(centre)
        reachable = np.flatnonzero(np.isfinite(distances))
        if len(reachable) <= patch_vertices:
            members = reachable
        else:
            members = reachable[np.argpartition(distances[reachable], patch_vertices - 1)[:patch_vertices]]
        members = np.sort(members)
        patch = GeodesicPatch(members, centre, distances[members])
        patches.append(patch)
        if len(members) == len(reachable):
            relative[members] = 0.0  # the whole component is in this patch
        else:
            radius = max(patch.radius_ang, 1e-12)
            np.minimum(relative, distances / radius, out=relative)
        relative[centre] = 0.0
        centre = int(np.argmax(relative))
        if relative[centre] <= limit:
            return patches
