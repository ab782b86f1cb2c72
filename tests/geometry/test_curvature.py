"""Normals and curvature on a sphere and a plane."""

import numpy as np

from cryomem.geometry import gaussian_curvature, mean_curvature, vertex_areas, vertex_normals

SPHERE_RADIUS_ANG = 50.0  # radius of the `sphere` fixture (conftest.py)


def test_sphere_normals_point_outward(sphere):
    vertices, faces = sphere
    normals = vertex_normals(vertices, faces)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert np.einsum("ij,ij->i", normals, vertices / SPHERE_RADIUS_ANG).min() > 0.999
    assert np.einsum("ij,ij->i", vertex_normals(vertices, faces[:, ::-1]), vertices).max() < 0


def test_sphere_mean_curvature_is_one_over_r(sphere):
    vertices, faces = sphere
    curvature = mean_curvature(vertices, faces) * SPHERE_RADIUS_ANG
    assert abs(np.median(curvature) - 1.0) < 0.01
    assert np.all((curvature > 0.95) & (curvature < 1.2))  # the 12 valence-5 vertices are the outliers
    inward = mean_curvature(vertices, faces, -vertex_normals(vertices, faces)) * SPHERE_RADIUS_ANG
    np.testing.assert_allclose(inward, -curvature)


def test_sphere_gaussian_curvature_and_gauss_bonnet(sphere):
    vertices, faces = sphere
    curvature = gaussian_curvature(vertices, faces)
    assert abs(np.median(curvature) * SPHERE_RADIUS_ANG**2 - 1.0) < 0.01
    total = (curvature * vertex_areas(vertices, faces)).sum()
    np.testing.assert_allclose(total, 4 * np.pi, rtol=1e-9)  # closed genus-0 surface


def test_plane_is_flat(plane):
    vertices, faces = plane
    normals = vertex_normals(vertices, faces)
    np.testing.assert_allclose(normals, np.tile([0.0, 0.0, 1.0], (len(vertices), 1)), atol=1e-12)
    interior = np.all((vertices[:, :2] > 10) & (vertices[:, :2] < 90), axis=1)
    np.testing.assert_allclose(gaussian_curvature(vertices, faces)[interior], 0.0, atol=1e-12)
    edge_midpoint = np.argmin(np.linalg.norm(vertices[:, :2] - [0.0, 50.0], axis=1))  # straight boundary: 0
    assert abs(gaussian_curvature(vertices, faces)[edge_midpoint]) < 1e-12
    np.testing.assert_allclose(mean_curvature(vertices, faces)[interior], 0.0, atol=1e-12)
