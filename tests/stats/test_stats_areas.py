"""Exact areas of geodesic balls: triangles clipped by the interpolated distance."""

import numpy as np
import pytest
from stats_helpers import hex_plane, sphere

from cryomem.geometry import face_areas
from cryomem.stats import sublevel_areas_ang2, sublevel_fraction


def test_fraction_of_one_triangle_is_exact():
    corners = np.array([[0.0, 1.0, 2.0]])
    # a < r <= b: similar triangle at the smallest corner; b < r < c: one minus the one at the largest
    assert sublevel_fraction(corners, np.array([0.5])) == pytest.approx(0.25 / 2)
    assert sublevel_fraction(corners, np.array([1.5])) == pytest.approx(1 - 0.25 / 2)
    assert sublevel_fraction(corners, np.array([-1.0])) == 0.0
    assert sublevel_fraction(corners, np.array([2.0])) == 1.0
    flat = np.array([[3.0, 3.0, 3.0]])
    assert sublevel_fraction(flat, np.array([3.0])) == 1.0 and sublevel_fraction(flat, np.array([2.9])) == 0.0


def test_disc_areas_on_a_plane_are_pi_r_squared():
    vertices, faces = hex_plane(2000.0, 40.0)
    centre = np.argmin(np.linalg.norm(vertices - [1000.0, 1000.0, 0.0], axis=1))
    distance = np.linalg.norm(vertices - vertices[centre], axis=1)
    radii = np.array([200.0, 400.0, 600.0, 900.0])
    areas = sublevel_areas_ang2(distance[None], faces, face_areas(vertices, faces), radii)[0]
    np.testing.assert_allclose(areas, np.pi * radii**2, rtol=0.01)


def test_cap_areas_on_a_sphere():
    radius = 500.0
    vertices, faces = sphere(radius, 5)
    unit = vertices / radius
    distance = radius * np.arccos(np.clip(unit @ unit[0], -1.0, 1.0))
    radii = np.linspace(100.0, np.pi * radius, 12)
    areas = sublevel_areas_ang2(distance[None], faces, face_areas(vertices, faces), radii)[0]
    np.testing.assert_allclose(areas, 2 * np.pi * radius**2 * (1 - np.cos(radii / radius)), rtol=0.01)


def test_unreachable_vertices_add_no_area():
    vertices, faces = hex_plane(400.0, 40.0)
    distance = np.full(len(vertices), np.inf)
    areas = sublevel_areas_ang2(distance[None], faces, face_areas(vertices, faces), np.array([10.0, 1e6]))
    np.testing.assert_array_equal(areas, 0.0)


@pytest.mark.parametrize("radii", [np.arange(1, 9) * 25.0, np.array([3.0, 10.0, 11.0, 60.0, 61.5, 140.0])])
def test_areas_equal_the_triangle_by_triangle_sum(radii):
    """Bins narrower and wider than the triangles, even and uneven radii, unreachable corners."""
    vertices, faces = hex_plane(400.0, 40.0)
    rng = np.random.default_rng(4)
    distances = rng.uniform(0.0, 200.0, size=(3, len(vertices)))
    distances[0, ::7] = np.inf
    areas = face_areas(vertices, faces)
    expected = [
        [(areas * sublevel_fraction(row[faces], np.full(len(faces), r))).sum() for r in radii]
        for row in np.minimum(distances, 1e9)  # an unreachable corner lies beyond every radius
    ]
    np.testing.assert_allclose(sublevel_areas_ang2(distances, faces, areas, radii), expected, rtol=1e-6)
