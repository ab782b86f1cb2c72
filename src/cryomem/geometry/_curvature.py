"""Vertex normals and discrete mean / Gaussian curvature of triangle meshes."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from cryomem.geometry._checks import as_mesh_arrays
from cryomem.geometry._components import edge_keys
from cryomem.geometry._laplacian import laplacian_and_mass, vertex_areas

__all__ = ["gaussian_curvature", "mean_curvature", "vertex_normals"]


def vertex_normals(vertices_xyz_ang: ArrayLike, faces: ArrayLike) -> np.ndarray:
    """Area-weighted unit vertex normals.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices; counter-clockwise winding seen from outside gives outward normals.

    Returns
    -------
    (n, 3) float64 array
        Unit normals, xyz: the sum of the adjacent face normals weighted by face area, normalised.
        Vertices in no triangle (or whose face normals cancel) get ``(0, 0, 0)``.
    """
    vertices, faces = as_mesh_arrays(vertices_xyz_ang, faces)
    corners = vertices[faces]
    weighted = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # 2 * area * unit normal
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], weighted)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def mean_curvature(vertices_xyz_ang: ArrayLike, faces: ArrayLike, normals_xyz: ArrayLike | None = None) -> np.ndarray:
    """Discrete mean curvature from the cotangent Laplacian of the vertex positions.

    Uses ``L x / M = 2 H n`` (the mean-curvature normal; ``L``, ``M`` from :func:`laplacian_and_mass`),
    so ``H = (L x / M) · n / 2``.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices.
    normals_xyz : (n, 3) float array, optional
        Unit normals defining the sign; default :func:`vertex_normals`.

    Returns
    -------
    (n,) float64 array
        Mean curvature, 1/Å: ``+1/r`` on a sphere of radius ``r`` with outward normals, 0 on a plane.
        Boundary vertices carry the boundary's pull and are not meaningful; vertices in no triangle get 0.
    """
    vertices, faces = as_mesh_arrays(vertices_xyz_ang, faces)
    if normals_xyz is None:
        normals = vertex_normals(vertices, faces)
    else:
        normals = np.asarray(normals_xyz, dtype=np.float64)
        if normals.shape != vertices.shape:
            raise ValueError(f"normals_xyz must have shape {vertices.shape}, got {normals.shape}")
    laplacian, mass = laplacian_and_mass(vertices, faces)
    curvature_normal = np.asarray(laplacian @ vertices)
    projected = np.einsum("ij,ij->i", curvature_normal, normals)
    return np.divide(projected, 2.0 * mass, out=np.zeros(len(vertices)), where=mass > 0)


def gaussian_curvature(vertices_xyz_ang: ArrayLike, faces: ArrayLike) -> np.ndarray:
    """Discrete Gaussian curvature: angle defect divided by the barycentric vertex area.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles as vertex indices.

    Returns
    -------
    (n,) float64 array
        Gaussian curvature, 1/Å² (``1/r²`` on a sphere). At boundary vertices the defect is taken
        against π instead of 2π (a flat boundary gives 0); vertices in no triangle get 0.
    """
    vertices, faces = as_mesh_arrays(vertices_xyz_ang, faces)
    n = len(vertices)
    corners = vertices[faces]
    angle_sum = np.zeros(n)
    for k in range(3):
        a = corners[:, (k + 1) % 3] - corners[:, k]
        b = corners[:, (k + 2) % 3] - corners[:, k]
        cos = np.einsum("ij,ij->i", a, b)
        sin = np.linalg.norm(np.cross(a, b), axis=1)
        angle_sum += np.bincount(faces[:, k], weights=np.arctan2(sin, cos), minlength=n)
    full = np.where(_boundary_vertices(n, faces), np.pi, 2.0 * np.pi)
    area = vertex_areas(vertices, faces)
    return np.divide(full - angle_sum, area, out=np.zeros(n), where=area > 0)


def _boundary_vertices(n: int, faces: np.ndarray) -> np.ndarray:
    """(n,) bool: vertices on an edge used by exactly one triangle."""
    keys, width = edge_keys(faces)
    unique, counts = np.unique(keys, return_counts=True)
    single = unique[counts == 1]
    boundary = np.zeros(n, dtype=bool)
    boundary[single // width] = True
    boundary[single % width] = True
    return boundary
