"""Analytic geometry of the membrane mid-surfaces."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cryomem.simulate._membranes import Bilayer, membrane_band, triangle_areas
from cryomem.simulate._shapes import Ellipsoid, Sphere, SphericalCap, Torus, oriented_mesh

ROT = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_matrix()
CENTER = np.array([400.0, 380.0, 300.0])
SHAPES = {
    "sphere": Sphere(CENTER, 250.0),
    "ellipsoid": Ellipsoid(CENTER, np.array([300.0, 220.0, 160.0]), ROT),
    "torus": Torus(CENTER, 260.0, 90.0, ROT),
    "cap": SphericalCap(CENTER - 500.0 * ROT[:, 2], 500.0, ROT[:, 2], 0.7),
}


def _mesh_area(shape, edge):
    vertices, faces = oriented_mesh(shape, edge)
    return triangle_areas(vertices, faces).sum()


def test_sphere_mesh_area_matches_analytic():
    assert _mesh_area(SHAPES["sphere"], 12.0) == pytest.approx(4 * np.pi * 250.0**2, rel=0.005)


def test_torus_and_cap_mesh_areas_match_analytic():
    assert _mesh_area(SHAPES["torus"], 8.0) == pytest.approx(4 * np.pi**2 * 260.0 * 90.0, rel=0.005)
    cap_area = 2 * np.pi * 500.0**2 * (1 - np.cos(0.7))
    assert _mesh_area(SHAPES["cap"], 8.0) == pytest.approx(cap_area, rel=0.005)


def test_ellipsoid_mesh_area_matches_numerical_integral():
    a, b, c = 300.0, 220.0, 160.0
    theta, phi = np.meshgrid(np.linspace(0, np.pi, 801), np.linspace(0, 2 * np.pi, 1601), indexing="ij")
    # |r_theta x r_phi| for r = (a sinθ cosφ, b sinθ sinφ, c cosθ)
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    integrand = st * np.sqrt((b * c * st * cp) ** 2 + (a * c * st * sp) ** 2 + (a * b * ct) ** 2)
    area = np.trapezoid(np.trapezoid(integrand, phi[0], axis=1), theta[:, 0])
    assert _mesh_area(SHAPES["ellipsoid"], 10.0) == pytest.approx(area, rel=0.01)


@pytest.mark.parametrize("name", list(SHAPES))
def test_projection_lands_on_surface_with_outward_unit_normal(name):
    shape = SHAPES[name]
    rng = np.random.default_rng(1)
    vertices, faces = oriented_mesh(shape, 15.0)
    points = vertices[rng.choice(len(vertices), 200)] + rng.normal(scale=20.0, size=(200, 3))
    on_surface, normals = shape.project(points)
    assert np.abs(shape.signed_distance_ang(on_surface)).max() < 0.5
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-9)
    # stepping along the normal moves outward by that distance
    outward = shape.signed_distance_ang(on_surface + 5.0 * normals)
    np.testing.assert_allclose(outward, 5.0, atol=0.3)


@pytest.mark.parametrize("name", list(SHAPES))
def test_mesh_faces_wound_outward(name):
    shape = SHAPES[name]
    vertices, faces = oriented_mesh(shape, 15.0)
    tri = vertices[faces]
    winding = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    _, normals = shape.project(tri.mean(axis=1))
    assert np.all((winding * normals).sum(axis=1) > 0)


def test_exact_distances_of_sphere_and_torus():
    p = CENTER + np.array([[300.0, 0, 0], [0, 100.0, 0]])
    np.testing.assert_allclose(SHAPES["sphere"].signed_distance_ang(p), [50.0, -150.0])
    torus = Torus(np.zeros(3), 200.0, 50.0, np.eye(3))
    np.testing.assert_allclose(
        torus.signed_distance_ang(np.array([[200.0, 0, 0], [0, 300.0, 0], [0, 0, 0]])), [-50.0, 50.0, 150.0]
    )


def test_sphere_band_volume_matches_shell():
    """Voxels within the label half-thickness of a sphere: analytic shell volume within 2%."""
    voxel = 10.0
    sphere = Sphere(np.array([640.0, 640.0, 640.0]), 450.0)
    bilayer = Bilayer(thickness_ang=40.0, leaflet_sigma_ang=6.0)
    h = bilayer.half_label_ang
    flat, dist = membrane_band(sphere, h + 10.0, (128, 128, 128), voxel)
    measured = np.count_nonzero(np.abs(dist) <= h) * voxel**3
    expected = 4 / 3 * np.pi * ((450.0 + h) ** 3 - (450.0 - h) ** 3)
    assert measured == pytest.approx(expected, rel=0.02)
    # the coarse-block pass misses nothing: brute force over the whole grid agrees
    grid = np.stack(np.meshgrid(*[np.arange(128)] * 3, indexing="ij"), -1).reshape(-1, 3)[:, ::-1] * voxel
    brute = np.abs(sphere.signed_distance_ang(grid)) < h + 10.0
    assert brute.sum() == len(flat)


def test_bilayer_profile_has_two_leaflets():
    bilayer = Bilayer(thickness_ang=40.0, leaflet_sigma_ang=6.0)
    d = np.linspace(-40, 40, 801)
    profile = bilayer.profile(d)
    peaks = d[1:-1][(profile[1:-1] > profile[:-2]) & (profile[1:-1] > profile[2:])]
    np.testing.assert_allclose(sorted(peaks), [-20.0, 20.0], atol=0.2)
    assert profile[400] < 0.1 * profile.max()


@pytest.mark.parametrize("name", list(SHAPES))
def test_bounds_contain_the_whole_surface(name):
    shape = SHAPES[name]
    vertices, _ = oriented_mesh(shape, 10.0)
    lo, hi = shape.bounds_ang()
    assert np.all(vertices >= lo - 1e-6) and np.all(vertices <= hi + 1e-6)
    # and are tight: within 2% of the surface's extent
    np.testing.assert_allclose(lo, vertices.min(axis=0), atol=0.02 * np.ptp(vertices, axis=0).max())
    np.testing.assert_allclose(hi, vertices.max(axis=0), atol=0.02 * np.ptp(vertices, axis=0).max())
