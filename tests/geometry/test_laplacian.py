"""Cotangent Laplacian, mass and areas against analytic values."""

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh

from cryomem.geometry import face_areas, laplacian_and_mass, vertex_areas

SPHERE_RADIUS_ANG = 50.0  # radius of the `sphere` fixture (conftest.py)


def test_sphere_spectrum_matches_spherical_harmonics(sphere):
    laplacian, mass = laplacian_and_mass(*sphere)
    from scipy.sparse import diags

    start = np.random.default_rng(0).standard_normal(len(mass))  # ARPACK's own start varies between calls
    # k = 16 closes the l = 3 cluster: a k that cuts a degenerate cluster lets Lanczos return a later eigenvalue
    eigenvalues = np.sort(eigsh(laplacian, k=16, M=diags(mass), sigma=-1e-6, v0=start)[0])
    r2 = SPHERE_RADIUS_ANG**2
    assert abs(eigenvalues[0]) < 1e-8
    np.testing.assert_allclose(eigenvalues[1:4] * r2, 2.0, rtol=0.01)  # l = 1, multiplicity 3
    np.testing.assert_allclose(eigenvalues[4:9] * r2, 6.0, rtol=0.02)  # l = 2, multiplicity 5


def test_laplacian_is_symmetric_psd_with_zero_row_sums(sphere):
    laplacian, mass = laplacian_and_mass(*sphere)
    assert laplacian.format == "csr"
    assert abs(laplacian - laplacian.T).max() < 1e-12
    np.testing.assert_allclose(np.asarray(laplacian.sum(axis=1)).ravel(), 0.0, atol=1e-10)
    x = np.random.default_rng(0).normal(size=len(mass))
    assert x @ (laplacian @ x) > 0
    np.testing.assert_allclose(mass.sum(), face_areas(*sphere).sum(), rtol=1e-9)


def test_areas_of_a_right_triangle_and_a_square():
    vertices = np.array([[0.0, 0, 0], [3, 0, 0], [3, 4, 0], [0, 4, 0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    np.testing.assert_allclose(face_areas(vertices, faces), [6.0, 6.0])
    np.testing.assert_allclose(vertex_areas(vertices, faces), [4.0, 2.0, 4.0, 2.0])


def test_vertex_in_no_triangle_gets_zero_mass_and_row(sphere):
    vertices = np.vstack([sphere[0], [[500.0, 0, 0]]])
    laplacian, mass = laplacian_and_mass(vertices, sphere[1])
    assert mass[-1] == 0 and laplacian[-1].nnz == 0
    assert vertex_areas(vertices, sphere[1])[-1] == 0


@pytest.mark.parametrize(
    "vertices, faces, message",
    [
        (np.zeros((3, 2)), [[0, 1, 2]], "vertices_xyz_ang must have shape"),
        (np.zeros((3, 3)), [[0, 1, 3]], "only 3 vertices"),
        (np.zeros((3, 3)), [[0.0, 1, 2]], "faces must be integer"),
        (np.full((3, 3), np.nan), [[0, 1, 2]], "NaN"),
    ],
)
def test_bad_meshes_are_named(vertices, faces, message):
    with pytest.raises(ValueError, match=message):
        laplacian_and_mass(vertices, np.asarray(faces))
