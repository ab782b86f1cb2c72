"""Geodesic nearest neighbours: analytic distances, heat vs exact, start and target classes."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from stats_helpers import hex_plane, membranes_with, particle_table, sphere

from cryomem.stats import nearest_neighbours


@pytest.fixture(scope="module")
def plane():
    return hex_plane(2000.0, 40.0)


def test_distance_between_poles_is_pi_r():
    radius = 400.0
    vertices, faces = sphere(radius, 5)
    poles = np.array([[0, 0, radius], [0, 0, -radius]])
    (membrane,) = membranes_with(vertices, faces, particle_table(poles))
    result = nearest_neighbours([membrane])
    np.testing.assert_allclose(result.per_particle["nn1_distance_nm"], np.pi * radius / 10, rtol=0.01)
    assert result.per_particle["nn1_particle_index"].tolist() == [1, 0]


def test_heat_and_exact_agree_and_match_euclidean_on_a_plane():
    """Particles 16-24 nm apart on 1 nm triangles, as on real membrane meshes (> 12 edges apart)."""
    fine = hex_plane(1000.0, 10.0)
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(4)), axis=-1).reshape(-1, 2) * 200.0 + 200.0
    xyz = np.c_[grid + np.random.default_rng(0).uniform(-20, 20, size=grid.shape), np.zeros(16)]
    table = particle_table(xyz)
    heat = nearest_neighbours(membranes_with(*fine, table), k=3).per_particle
    exact = nearest_neighbours(membranes_with(*fine, table, method="exact"), k=3).per_particle
    columns = ["nn1_distance_nm", "nn2_distance_nm", "nn3_distance_nm"]
    np.testing.assert_allclose(heat[columns], exact[columns], rtol=0.02)
    # Euclidean between the vertices the particles snap to (the measured points)
    snapped = fine[0][heat["vertex"].to_numpy()]
    euclid = np.sort(cdist(snapped, snapped) + np.diag(np.full(16, np.inf)), axis=1)[:, :3] / 10
    np.testing.assert_allclose(heat[columns], euclid, rtol=0.02)
    np.testing.assert_allclose(exact[columns], euclid, rtol=0.02)


def test_different_start_and_target_classes_keep_the_true_nearest(plane):
    starts = np.array([[500.0, 500.0, 0], [1500.0, 1500.0, 0]])
    targets = np.array([[600.0, 500.0, 0], [900.0, 500.0, 0], [1500.0, 1300.0, 0]])
    table = particle_table(np.vstack([starts, targets]), classes=[1, 1, 2, 2, 2])
    membranes = membranes_with(*plane, table)
    result = nearest_neighbours(membranes, k=2, start_classes=[1], target_classes=[2]).per_particle
    assert result["particle_index"].tolist() == [0, 1]
    assert result["nn1_particle_index"].tolist() == [2, 4]
    np.testing.assert_allclose(result["nn1_distance_nm"], [10.0, 20.0], rtol=0.07)  # ~10 and 20 nm apart
    snapped = plane[0][membranes[0].vertices]  # on a plane the geodesic is the straight line between vertices
    straight = np.linalg.norm(snapped[[0, 1]] - snapped[[2, 4]], axis=1) / 10.0
    np.testing.assert_allclose(result["nn1_distance_nm"], straight, rtol=0.01)
    assert result["nn2_particle_index"].tolist() == [3, 3]


def test_self_is_never_a_neighbour_and_missing_neighbours_are_nan(plane):
    table = particle_table(np.array([[500.0, 500.0, 0], [700.0, 500.0, 0]]))
    result = nearest_neighbours(membranes_with(*plane, table), k=3)
    per = result.per_particle
    assert per["nn1_particle_index"].tolist() == [1, 0]
    assert per["nn2_particle_index"].tolist() == [-1, -1] and per["nn2_distance_nm"].isna().all()
    assert result.per_membrane["nn1_mean_nm"].iloc[0] == pytest.approx(20.0, abs=0.5)


def test_two_particles_on_one_vertex_are_at_distance_zero(plane):
    table = particle_table(np.array([[500.0, 500.0, 0], [501.0, 500.0, 0], [900.0, 500.0, 0]]))
    per = nearest_neighbours(membranes_with(*plane, table)).per_particle
    assert per["nn1_distance_nm"].tolist()[:2] == [0.0, 0.0]


def test_refined_heat_neighbours_are_the_exact_ones_on_a_sphere():
    """Random particles ~20 nm apart on a 80 nm sphere of ~2.8 nm edges: plain heat runs short by
    up to ~15 % near a source, the refined heat method matches the exact method."""
    radius = 800.0
    vertices, faces = sphere(radius, 5)
    directions = np.random.default_rng(5).normal(size=(120, 3))
    particles = particle_table(radius * directions / np.linalg.norm(directions, axis=1, keepdims=True))
    columns = ["nn1_distance_nm", "nn2_distance_nm", "nn3_distance_nm"]

    def neighbours(method, refine):
        table = nearest_neighbours(membranes_with(vertices, faces, particles, method=method), k=3, refine=refine)
        return table.per_particle.sort_values("particle_index")[columns].to_numpy()

    exact, refined, plain = neighbours("exact", True), neighbours("heat", True), neighbours("heat", False)
    np.testing.assert_allclose(refined, exact, rtol=1e-9)
    assert np.abs(plain / exact - 1).max() > 0.05  # what the refinement repairs
