"""Geodesic distances against Euclidean distances on a plane and great circles on a sphere."""

import numpy as np
import pytest

from cryomem.geometry import GeodesicSolver, geodesic_distances

SPHERE_RADIUS_ANG = 50.0  # radius of the `sphere` fixture (conftest.py)


def _relative_errors(distances, truth, keep):
    return np.abs(distances - truth)[keep] / truth[keep]


@pytest.fixture(scope="module")
def plane_truth(plane):
    vertices, _ = plane
    centre = int(np.argmin(np.linalg.norm(vertices - vertices.mean(axis=0), axis=1)))
    return centre, np.linalg.norm(vertices - vertices[centre], axis=1)


@pytest.fixture(scope="module")
def sphere_truth(sphere):
    vertices, _ = sphere
    cosine = np.clip(vertices @ vertices[0] / SPHERE_RADIUS_ANG**2, -1, 1)
    return 0, np.arccos(cosine) * SPHERE_RADIUS_ANG


def test_exact_is_within_one_percent_on_a_plane(plane, plane_truth):
    centre, truth = plane_truth
    distances = geodesic_distances(*plane, centre, method="exact")
    assert distances[centre] == 0
    assert _relative_errors(distances, truth, truth > 5).max() < 0.01
    assert np.all(distances >= truth - 1e-9)  # paths on the surface are never shorter than straight lines


def test_exact_is_within_one_percent_on_a_sphere(sphere, sphere_truth):
    source, truth = sphere_truth
    distances = GeodesicSolver(*sphere, method="exact").distances_ang(source)
    assert _relative_errors(distances, truth, truth > 10).max() < 0.01


def test_heat_is_within_two_percent_on_a_plane_and_a_sphere(plane, plane_truth, sphere, sphere_truth):
    centre, truth = plane_truth
    errors = _relative_errors(geodesic_distances(*plane, centre), truth, truth > 10)
    assert errors.mean() < 0.015 and np.percentile(errors, 95) < 0.025
    source, truth = sphere_truth
    errors = _relative_errors(GeodesicSolver(*sphere).distances_ang(source), truth, truth > 10)
    assert errors.mean() < 0.015 and np.percentile(errors, 95) < 0.025


@pytest.mark.parametrize("method", ["heat", "exact"])
def test_nearest_of_several_sources_and_distance_matrix(sphere, method):
    solver = GeodesicSolver(*sphere, method=method)
    sources = np.array([0, 100, 2000])
    matrix = solver.distance_matrix_ang(sources)
    assert matrix.shape == (3, len(sphere[0]))
    np.testing.assert_allclose(matrix[:, sources].diagonal(), 0.0, atol=1e-9)
    nearest = solver.distances_ang(sources)
    difference = np.abs(nearest - matrix.min(axis=0))
    if method == "exact":
        assert difference.max() < 1e-9
    else:  # the heat method rounds the kinks where two sources' regions meet
        assert np.median(difference) < 0.02 * SPHERE_RADIUS_ANG and difference.max() < 0.1 * SPHERE_RADIUS_ANG


@pytest.mark.parametrize("method", ["heat", "exact"])
def test_disconnected_components_are_unreachable(sphere, method):
    vertices, faces = sphere
    n = len(vertices)
    two = np.vstack([vertices, vertices + [200.0, 0, 0], [[0.0, 500, 0]]])
    faces2 = np.vstack([faces, faces + n])
    solver = GeodesicSolver(two, faces2, method=method)
    distances = solver.distances_ang(0)
    assert np.isfinite(distances[:n]).all() and np.isinf(distances[n:]).all()
    both = solver.distances_ang([0, n])
    np.testing.assert_allclose(both[n:-1], both[:n], atol=1e-6)
    isolated = solver.distances_ang(2 * n)
    assert isolated[2 * n] == 0 and np.isinf(isolated[:-1]).all()


def test_bad_arguments_are_named(sphere):
    with pytest.raises(ValueError, match="method must be one of"):
        GeodesicSolver(*sphere, method="fast")
    solver = GeodesicSolver(*sphere)
    with pytest.raises(ValueError, match="sources must lie in 0..2561"):
        solver.distances_ang([5000])
    with pytest.raises(ValueError, match="sources is empty"):
        solver.distances_ang([])
