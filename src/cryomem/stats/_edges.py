"""Membrane edges: found from curvature (and open mesh boundaries), then excluded by geodesic distance.

MemBrain v2 (Methods, "Edge Exclusion for Robust Analysis"): segmented membranes are thin sheets,
so their edges are the regions of highest curvature, measured as the average angle between
neighbouring triangles within a radius R; the top 5 % of vertices are edges, and everything
within a distance d of them is excluded. Here the average angle is normalised by the distance
between the triangles' centres (a curvature in 1/Å, which on a sphere of radius ρ is exactly
1/ρ), and a vertex counts as an edge only if it also bends more tightly than
``bend_radius_nm`` — so a closed vesicle, whose top 5 % is mere noise, has no edge. Boundary
vertices of open meshes (single-sided mid-surfaces) are edges by definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from cryomem.io import MembraneSurface
from cryomem.stats._areas import sublevel_fraction
from cryomem.stats._particles import MembraneParticles

__all__ = ["EdgeSettings", "beyond_edge_area_ang2", "edge_distance_ang", "edge_vertex_mask", "surface_bending"]


@dataclass(frozen=True)
class EdgeSettings:
    """How membrane edges are found.

    Attributes
    ----------
    smoothing_radius_nm : float, default 2
        Radius R of the neighbourhood whose triangle angles are averaged, nm.
    top_fraction : float, default 0.05
        Fraction of vertices with the highest curvature that may be edges (the paper's 5 %).
    bend_radius_nm : float, default 10
        Only vertices bending with a radius of curvature below this are edges, nm.
    """

    smoothing_radius_nm: float = 2.0
    top_fraction: float = 0.05
    bend_radius_nm: float = 10.0

    def __post_init__(self) -> None:
        if not self.smoothing_radius_nm > 0:
            raise ValueError(f"edge smoothing radius must be > 0 nm, got {self.smoothing_radius_nm}")
        if not 0 < self.top_fraction <= 1:
            raise ValueError(f"edge top fraction must be in (0, 1], got {self.top_fraction}")
        if not self.bend_radius_nm > 0:
            raise ValueError(f"edge bend radius must be > 0 nm, got {self.bend_radius_nm}")


def _adjacent_faces(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interior edges ``(e, 2)`` with their two faces ``(e, 2)``, and the boundary vertices."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges.sort(axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    counts = np.diff(np.concatenate([starts, [len(edges)]]))
    pairs = starts[counts == 2]
    interior = edges[pairs]
    face_pairs = np.stack([owner[pairs], owner[pairs + 1]], axis=1)
    boundary = np.unique(edges[starts[counts == 1]])
    return interior, face_pairs, boundary


def surface_bending(mesh: MembraneSurface, smoothing_radius_nm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex curvature from the angles between neighbouring triangles, and the boundary vertices.

    Parameters
    ----------
    mesh : MembraneSurface
        The membrane.
    smoothing_radius_nm : float, default 2
        Interior edges whose midpoints lie within this Euclidean radius of a vertex are averaged, nm.

    Returns
    -------
    bending_per_ang : (n,) float64 array
        Sum of the angles between adjacent face normals divided by the sum of the distances between
        their centres, 1/Å (1/ρ on a sphere of radius ρ, 0 on a plane).
    boundary : (b,) int64 array
        Vertices on open boundary edges.
    """
    vertices, faces = mesh.vertices_xyz_ang, mesh.faces
    interior, face_pairs, boundary = _adjacent_faces(faces)
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    centres = corners.mean(axis=1)
    cosine = np.einsum("ij,ij->i", normals[face_pairs[:, 0]], normals[face_pairs[:, 1]])
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    spacing = np.linalg.norm(centres[face_pairs[:, 0]] - centres[face_pairs[:, 1]], axis=1)
    midpoints = vertices[interior].mean(axis=1)
    near = cKDTree(vertices).sparse_distance_matrix(
        cKDTree(midpoints), 10.0 * smoothing_radius_nm, output_type="coo_matrix"
    )
    n = len(vertices)
    angle_sum = np.bincount(near.row, weights=angle[near.col], minlength=n)
    spacing_sum = np.bincount(near.row, weights=spacing[near.col], minlength=n)
    bending = np.divide(angle_sum, spacing_sum, out=np.zeros(n), where=spacing_sum > 0)
    return bending, boundary


def edge_vertex_mask(mesh: MembraneSurface, settings: EdgeSettings = EdgeSettings()) -> np.ndarray:
    """(n,) bool: edge vertices (open-boundary vertices, plus the top curved ones bending tightly enough)."""
    bending, boundary = surface_bending(mesh, settings.smoothing_radius_nm)
    threshold = max(np.quantile(bending, 1.0 - settings.top_fraction), 1.0 / (10.0 * settings.bend_radius_nm))
    mask = bending >= threshold
    mask[boundary] = True
    return mask


def edge_distance_ang(membrane: MembraneParticles, settings: EdgeSettings = EdgeSettings()) -> np.ndarray:
    """(n,) geodesic distance of every vertex to the nearest edge vertex, Å (``inf`` without edges); cached."""
    key = ("edge_distance", settings)
    if key not in membrane.cache:
        edges = np.flatnonzero(edge_vertex_mask(membrane.mesh, settings))
        distance = np.full(membrane.n_vertices, np.inf)
        if edges.size:
            distance = membrane.solver.distances_ang(edges)
        membrane.cache[key] = distance
    return membrane.cache[key]  # type: ignore[return-value]


def beyond_edge_area_ang2(
    membrane: MembraneParticles, distance_ang: float, settings: EdgeSettings = EdgeSettings()
) -> np.ndarray:
    """(m,) area of each triangle farther than ``distance_ang`` from the edges, Å² (clipped exactly)."""
    corners = edge_distance_ang(membrane, settings)[membrane.mesh.faces]
    finite = np.isfinite(corners).all(axis=1)
    kept = np.ones(len(corners))
    kept[finite] = 1.0 - sublevel_fraction(corners[finite], np.full(int(finite.sum()), float(distance_ang)))
    return membrane.face_areas_ang2 * kept
