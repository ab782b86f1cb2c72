"""Distance targets: exact distances to known particles, in-plane or straight, on one face or both."""

from __future__ import annotations

import numpy as np
import pytest
from pick_model_meshes import grid, sphere

from cryomem.io import MembraneSurface
from cryomem.pick import assign_particles_to_surfaces, distance_targets_ang


def _surface(vertices, faces, normals) -> MembraneSurface:
    return MembraneSurface(
        vertices_xyz_ang=vertices, faces=faces, normals_xyz=normals, membrane_id=1, voxel_size_ang=10
    )


def _slab(half_thickness_ang: float = 20.0) -> tuple[MembraneSurface, np.ndarray]:
    """Two parallel planes (z = ±h) facing away from each other, like the two sides of a segmented sheet."""
    vertices, faces = grid(25, 25, spacing_ang=8.0)
    top = vertices + [0, 0, half_thickness_ang]
    bottom = vertices - [0, 0, half_thickness_ang]
    normals = np.concatenate([np.tile([0, 0, 1.0], (len(top), 1)), np.tile([0, 0, -1.0], (len(bottom), 1))])
    surface = _surface(np.vstack([top, bottom]), np.vstack([faces, faces[:, ::-1] + len(top)]), normals)
    return surface, np.arange(len(vertices), 2 * len(vertices))


def test_plane_distances_are_euclidean_and_clipped():
    vertices, faces = grid(30, 30, spacing_ang=5.0)
    surface = _surface(vertices, faces, np.tile([0, 0, 1.0], (len(vertices), 1)))
    particles = np.array([[30.0, 40.0, 0.0], [120.0, 100.0, 10.0]])
    targets = distance_targets_ang(surface, particles, max_distance_ang=50.0, measure="euclidean")
    expected = np.min(np.linalg.norm(vertices[:, None] - particles[None], axis=2), axis=1)
    np.testing.assert_allclose(targets, np.minimum(expected, 50.0), atol=1e-4)
    assert targets.dtype == np.float32
    assert targets[np.argmin(np.linalg.norm(vertices - particles[0], axis=1))] == pytest.approx(0.0, abs=1e-5)
    assert targets.max() == pytest.approx(50.0)


def test_particles_count_only_on_their_side_of_the_membrane():
    surface, bottom = _slab(20.0)
    particles = np.array([[96.0, 96.0, 0.0]])  # on the mid-surface, above a grid vertex
    one_side = {"max_distance_ang": 100.0, "sides": "particle", "measure": "euclidean"}
    up = distance_targets_ang(surface, particles, particle_normals_xyz=[[0, 0, 1.0]], **one_side)
    down = distance_targets_ang(surface, particles, particle_normals_xyz=[[0, 0, -1.0]], **one_side)
    top = np.setdiff1d(np.arange(len(up)), bottom)
    exact_top = np.linalg.norm(surface.vertices_xyz_ang[top] - particles[0], axis=1)
    np.testing.assert_allclose(up[top], np.minimum(exact_top, 100.0), atol=1e-4)
    assert np.all(up[bottom] == 100.0)
    assert np.all(down[top] == 100.0)
    assert down[bottom].min() == pytest.approx(20.0, abs=1e-4)


def test_without_normals_a_particle_takes_the_side_it_sits_on():
    surface, bottom = _slab(20.0)
    particles = np.array([[100.0, 100.0, 35.0], [40.0, 60.0, -30.0]])  # protruding above / below
    targets = distance_targets_ang(surface, particles, max_distance_ang=100.0, sides="particle", measure="euclidean")
    top = np.setdiff1d(np.arange(len(targets)), bottom)
    np.testing.assert_allclose(
        targets[top], np.minimum(np.linalg.norm(surface.vertices_xyz_ang[top] - particles[0], axis=1), 100), atol=1e-4
    )
    np.testing.assert_allclose(
        targets[bottom],
        np.minimum(np.linalg.norm(surface.vertices_xyz_ang[bottom] - particles[1], axis=1), 100),
        atol=1e-4,
    )


def test_sphere_shell_outer_side_only():
    """A vesicle's segmented shell: outer sphere (normals out) and inner sphere (normals in)."""
    outer_v, faces, outer_n = sphere(120.0, subdivisions=3)
    inner_v, _, inner_n = sphere(80.0, subdivisions=3)
    surface = _surface(
        np.vstack([outer_v, inner_v]), np.vstack([faces, faces[:, ::-1] + len(outer_v)]), np.vstack([outer_n, -inner_n])
    )
    particle = np.array([[0.0, 0.0, 100.0]])  # on the mid-sphere, outward normal +z
    targets = distance_targets_ang(
        surface,
        particle,
        particle_normals_xyz=[[0, 0, 1.0]],
        max_distance_ang=60.0,
        sides="particle",
        measure="euclidean",
    )
    outer = np.arange(len(outer_v))
    np.testing.assert_allclose(
        targets[outer], np.minimum(np.linalg.norm(outer_v - particle[0], axis=1), 60.0), atol=1e-4
    )
    assert targets[outer].min() == pytest.approx(20.0, abs=0.5)
    assert np.all(targets[len(outer_v) :] == 60.0)


def test_in_plane_distances_on_both_faces_by_default():
    """A transmembrane particle on the mid-surface: 0 right above and right below it, the lateral offset elsewhere."""
    surface, bottom = _slab(20.0)
    particle = np.array([[96.0, 96.0, 0.0]])
    targets = distance_targets_ang(surface, particle, particle_normals_xyz=[[0, 0, 1.0]], max_distance_ang=100.0)
    lateral = np.linalg.norm(surface.vertices_xyz_ang[:, :2] - particle[0, :2], axis=1)
    np.testing.assert_allclose(targets, np.minimum(lateral, 100.0), atol=1e-4)
    top = np.setdiff1d(np.arange(len(targets)), bottom)
    assert targets[top].min() == pytest.approx(0.0, abs=1e-5) and targets[bottom].min() == pytest.approx(0.0, abs=1e-5)
    # one face only, in-plane: the bottom face does not see it
    one = distance_targets_ang(surface, particle, particle_normals_xyz=[[0, 0, 1.0]], sides="particle")
    np.testing.assert_allclose(one[top], np.minimum(lateral[top], 100.0), atol=1e-4)
    assert np.all(one[bottom] == 100.0)
    # far along the particle's axis does not count
    far = distance_targets_ang(surface, particle + [0, 0, 150.0], particle_normals_xyz=[[0, 0, 1.0]])
    assert np.all(far == 100.0)


def test_no_particles_gives_the_clip_value_everywhere():
    vertices, faces = grid(5, 5)
    surface = _surface(vertices, faces, np.tile([0, 0, 1.0], (25, 1)))
    assert np.all(distance_targets_ang(surface, np.zeros((0, 3)), max_distance_ang=80.0) == 80.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_distance_ang": 0.0}, "max_distance_ang must be a positive"),
        ({"particle_normals_xyz": np.zeros((2, 3))}, "particle_normals_xyz must have shape"),
        ({"sides": "top"}, "sides must be"),
        ({"measure": "geodesic"}, "measure must be"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    vertices, faces = grid(5, 5)
    surface = _surface(vertices, faces, np.tile([0, 0, 1.0], (25, 1)))
    with pytest.raises(ValueError, match=message):
        distance_targets_ang(surface, np.zeros((1, 3)), **kwargs)


def test_nan_particles_are_rejected():
    vertices, faces = grid(5, 5)
    surface = _surface(vertices, faces, np.tile([0, 0, 1.0], (25, 1)))
    with pytest.raises(ValueError, match="NaN"):
        distance_targets_ang(surface, np.array([[np.nan, 0, 0]]))


def test_particles_are_assigned_to_the_nearest_membrane():
    vertices, faces = grid(10, 10, spacing_ang=10.0)
    normals = np.tile([0, 0, 1.0], (100, 1))
    low = _surface(vertices, faces, normals)
    high = _surface(vertices + [0, 0, 150.0], faces, normals)
    particles = np.array([[50.0, 50.0, 20.0], [50.0, 50.0, 130.0], [50.0, 50.0, 75.0 - 1.0], [50.0, 50.0, 900.0]])
    owner = assign_particles_to_surfaces(particles, [low, high], max_distance_ang=100.0)
    np.testing.assert_array_equal(owner, [0, 1, 0, -1])
