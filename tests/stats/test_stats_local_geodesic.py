"""Truncated local geodesic searches: exact within the limit, inf beyond; fast paths agree with the exact method."""

import numpy as np
import pytest
from stats_helpers import hex_plane, membranes_with, particle_table, sphere

from cryomem.geometry import GeodesicSolver, LocalGeodesics
from cryomem.stats import nearest_neighbours, ripley


@pytest.mark.parametrize("shape", ["sphere", "plane"])
def test_truncated_steiner_search_is_exact_within_the_limit_and_inf_beyond(shape):
    vertices, faces = sphere(400.0, 4) if shape == "sphere" else hex_plane(1000.0, 40.0)
    exact = GeodesicSolver(vertices, faces, method="exact")
    local = LocalGeodesics(vertices, faces)
    for source in (0, 37, len(vertices) // 2):
        full = exact.distances_ang(source)
        field = local.distances([source], 250.0)
        found = field.at(np.arange(len(vertices)))[0]
        inside = full <= 250.0
        np.testing.assert_allclose(found[inside], full[inside], rtol=1e-12)
        assert np.isinf(found[~inside]).all()
        assert not field.complete[0]
    assert local.distances([0], 1e5).complete.all()


def test_bad_search_inputs_are_refused():
    local = LocalGeodesics(*hex_plane(400.0, 40.0))
    with pytest.raises(ValueError, match="kind must be one of"):
        local.distances([0], 10.0, kind="fast")
    with pytest.raises(ValueError, match="limit_ang must be >= 0"):
        local.distances([0], -1.0)
    with pytest.raises(ValueError, match="non-empty set of vertices"):
        local.distances([10**9], 10.0)


def _particles_on_sphere(radius, count, seed):
    directions = np.random.default_rng(seed).normal(size=(count, 3))
    return particle_table(radius * directions / np.linalg.norm(directions, axis=1, keepdims=True))


def _plane_particles(count, seed):
    return particle_table(np.c_[np.random.default_rng(seed).uniform(100, 1900, size=(count, 2)), np.zeros(count)])


@pytest.mark.parametrize("shape", ["sphere", "plane"])
def test_fast_neighbours_are_the_exact_method_ones(shape):
    mesh = sphere(600.0, 4) if shape == "sphere" else hex_plane(2000.0, 40.0)
    table = _particles_on_sphere(600.0, 80, 1) if shape == "sphere" else _plane_particles(80, 1)
    columns = ["nn1_particle_index", "nn2_particle_index", "nn1_distance_nm", "nn2_distance_nm"]
    fast = nearest_neighbours(membranes_with(*mesh, table), k=2).per_particle[columns]
    exact = nearest_neighbours(membranes_with(*mesh, table, method="exact"), k=2).per_particle[columns]
    assert (fast[columns[:2]].to_numpy() == exact[columns[:2]].to_numpy()).all()
    np.testing.assert_allclose(fast[columns[2:]], exact[columns[2:]], rtol=1e-9)


@pytest.mark.parametrize("shape", ["sphere", "plane"])
def test_fast_ripley_counts_match_the_exact_method(shape):
    """Same pairs per bin where no exact pair distance lies within 2 % of a bin edge; areas within 1 %."""
    mesh = sphere(600.0, 4) if shape == "sphere" else hex_plane(2000.0, 40.0)
    table = _particles_on_sphere(600.0, 60, 2) if shape == "sphere" else _plane_particles(60, 2)
    exact_membranes = membranes_with(*mesh, table, method="exact")
    (m,) = exact_membranes
    pairs = GeodesicSolver(*mesh, method="exact").distance_matrix_ang(m.vertices)[:, m.vertices]
    edges = 100.0 * np.arange(1, 5)
    near_edge = np.abs(pairs[..., None] / edges - 1).min(axis=-1) < 0.02
    bins = dict(bin_size_nm=10.0, max_radius_nm=40.0)
    fast = ripley(membranes_with(*mesh, table), **bins).table
    exact = ripley(exact_membranes, **bins).table
    if not near_edge.any():
        assert fast["n_pairs"].tolist() == exact["n_pairs"].tolist()
    else:
        assert np.abs(fast["n_pairs"] - exact["n_pairs"]).max() <= near_edge.sum()
    np.testing.assert_allclose(fast["mean_ball_area_nm2"], exact["mean_ball_area_nm2"], rtol=0.01)
