"""Analytic meshes shared by the geometry tests."""

import numpy as np
import pytest
import trimesh
from scipy.spatial import Delaunay

SPHERE_RADIUS_ANG = 50.0


@pytest.fixture(scope="session")
def sphere():
    """Icosphere of radius 50 Å (2562 vertices), outward winding."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=SPHERE_RADIUS_ANG)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


@pytest.fixture(scope="session")
def plane():
    """Flat equilateral-lattice patch in z = 0, 48 x 48 vertices, 2.5 Å spacing, normals +z."""
    j, i = np.meshgrid(np.arange(48), np.arange(48), indexing="ij")
    x = (i + 0.5 * (j % 2)) * 2.5
    y = j * 2.5 * np.sqrt(3) / 2
    vertices = np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])
    faces = Delaunay(vertices[:, :2]).simplices.astype(np.int64)
    corners = vertices[faces]
    up = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[:, 2] > 0
    faces[~up] = faces[~up][:, ::-1]
    return vertices, faces
