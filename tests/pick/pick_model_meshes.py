"""Meshes for the picking-model tests (imported by name): icospheres and flat grids with exact geometry."""

from __future__ import annotations

import numpy as np
import trimesh

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import MembraneSurface

FEATURE_OFFSETS_ANG = DEFAULT_FEATURE_OFFSETS_ANG


def sphere(radius_ang: float = 100.0, subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Icosphere vertices (Å), faces and exact outward normals."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius_ang)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    return vertices, np.asarray(mesh.faces, dtype=np.int64), vertices / np.linalg.norm(vertices, axis=1, keepdims=True)


def grid(nx: int = 20, ny: int = 20, spacing_ang: float = 10.0, jitter: float = 0.0, seed: int = 0):
    """A triangulated plane z = 0 (vertices (n, 3) Å, faces (m, 3)), optionally with in-plane jitter."""
    xs, ys = np.meshgrid(np.arange(nx) * spacing_ang, np.arange(ny) * spacing_ang, indexing="xy")
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(nx * ny)], axis=1)
    if jitter:
        vertices[:, :2] += np.random.default_rng(seed).uniform(-jitter, jitter, (nx * ny, 2)) * spacing_ang
    index = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    return vertices, faces


def plane_surface(
    nx: int = 30, ny: int = 30, spacing_ang: float = 10.0, *, seed: int = 0, offsets_ang=FEATURE_OFFSETS_ANG
) -> MembraneSurface:
    """A flat membrane side z = 0 with normals +z and random features."""
    vertices, faces = grid(nx, ny, spacing_ang)
    normals = np.tile([0.0, 0.0, 1.0], (len(vertices), 1))
    features = np.random.default_rng(seed).normal(size=(len(vertices), len(offsets_ang))).astype(np.float32)
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=faces,
        normals_xyz=normals,
        membrane_id=1,
        voxel_size_ang=10.0,
        tomogram_path="tomo.mrc",
        features=features,
        feature_offsets_ang=np.asarray(offsets_ang, dtype=np.float64),
    )
