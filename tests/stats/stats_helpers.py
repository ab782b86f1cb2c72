"""Analytic meshes and particle tables for the statistics tests."""

import numpy as np
import pandas as pd
import trimesh
from scipy.spatial import Delaunay

from cryomem.stats import assign_particles, membrane_surface


def hex_plane(size_ang: float, spacing_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """A flat square sheet at z = 0 triangulated from a hexagonal lattice (near-equilateral triangles)."""
    rows = int(size_ang / (spacing_ang * np.sqrt(3) / 2)) + 1
    cols = int(size_ang / spacing_ang) + 1
    points = [
        (i * spacing_ang + (spacing_ang / 2 if j % 2 else 0.0), j * spacing_ang * np.sqrt(3) / 2)
        for j in range(rows)
        for i in range(cols)
    ]
    xy = np.array([p for p in points if p[0] <= size_ang + 1e-9])
    return np.c_[xy, np.zeros(len(xy))], Delaunay(xy).simplices.astype(np.int64)


def disc(radius_ang: float, spacing_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """An open flat disc (single-sided) centred on the origin."""
    vertices, _ = hex_plane(2 * radius_ang + 2 * spacing_ang, spacing_ang)
    vertices[:, :2] -= radius_ang + spacing_ang
    keep = np.hypot(vertices[:, 0], vertices[:, 1]) <= radius_ang
    xy = vertices[keep, :2]
    return np.c_[xy, np.zeros(len(xy))], Delaunay(xy).simplices.astype(np.int64)


def sphere(radius_ang: float, subdivisions: int = 4) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius_ang)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces, dtype=np.int64)


def particle_table(xyz_ang: np.ndarray, *, classes=None, angles_deg=None, tomo: str = "t") -> pd.DataFrame:
    xyz = np.asarray(xyz_ang, dtype=float).reshape(-1, 3)
    n = len(xyz)
    angles = np.zeros((n, 3)) if angles_deg is None else np.asarray(angles_deg, dtype=float).reshape(n, 3)
    return pd.DataFrame(
        {
            "tomo_name": [tomo] * n,
            "x_ang": xyz[:, 0],
            "y_ang": xyz[:, 1],
            "z_ang": xyz[:, 2],
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": np.ones(n, dtype=int) if classes is None else np.asarray(classes, dtype=int),
            "membrane_id": -np.ones(n, dtype=int),
            "score": np.ones(n),
        }
    )


def membranes_with(vertices, faces, particles, *, method="heat", tomo="t", membrane_id=1, **kwargs):
    """MembraneParticles list for one mesh and a particle table."""
    mesh = membrane_surface(tomo, membrane_id, vertices, faces)
    return assign_particles([mesh], particles, method=method, **kwargs).membranes
