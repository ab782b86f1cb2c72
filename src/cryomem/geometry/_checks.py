"""Validation of mesh arrays shared by the geometry functions."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_mesh_arrays(vertices_xyz_ang: ArrayLike, faces: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(vertices float64 (n, 3), faces int64 (m, 3))`` or raise a ``ValueError`` naming the problem."""
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices_xyz_ang must have shape (n, 3), got {vertices.shape}")
    if not np.isfinite(vertices).all():
        raise ValueError("vertices_xyz_ang contains NaN or inf; remove those vertices first")
    faces = np.asarray(faces)
    faces = faces.reshape(0, 3) if faces.size == 0 else faces
    if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and faces.dtype.kind not in "iu"):
        raise ValueError(f"faces must be integer triangles with shape (m, 3), got {faces.shape} {faces.dtype}")
    faces = faces.astype(np.int64, copy=False)
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(
            f"faces index vertices {faces.min()}..{faces.max()} but there are only {len(vertices)} vertices"
        )
    return vertices, faces


def as_source_indices(sources: ArrayLike, n_vertices: int) -> np.ndarray:
    """Source vertex indices as a non-empty int64 array within ``0..n_vertices-1``."""
    indices = np.atleast_1d(np.asarray(sources))
    if indices.size == 0:
        raise ValueError("sources is empty; give at least one vertex index")
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(f"sources must be vertex indices (1-D integers), got shape {indices.shape} {indices.dtype}")
    if indices.min() < 0 or indices.max() >= n_vertices:
        raise ValueError(f"sources must lie in 0..{n_vertices - 1}, got {indices.min()}..{indices.max()}")
    return indices.astype(np.int64)
