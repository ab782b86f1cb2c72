"""In-plane angles between neighbours, the random reference, and chains."""

import numpy as np
import pytest
from stats_helpers import hex_plane, membranes_with, particle_table

from cryomem.io import normals_to_euler_zyz_deg
from cryomem.stats import (
    extract_chains,
    inplane_angle_deg,
    inplane_vectors,
    min_angle_histogram,
    nearest_neighbours,
    neighbour_orientations,
    uniform_min_angle_cdf,
)


@pytest.mark.parametrize("normal", [(0.0, 0.0, 1.0), (0.3, -0.5, 0.8), (1.0, 0.0, 0.0)])
@pytest.mark.parametrize("spin, expected", [(0.0, 0.0), (90.0, 90.0), (-90.0, 90.0), (180.0, 180.0), (30.0, 30.0)])
def test_inplane_angle_of_a_spin_about_the_normal(normal, spin, expected):
    normals = np.array([normal, normal], dtype=float)
    angles = normals_to_euler_zyz_deg(normals, np.array([25.0, 25.0 + spin]))
    vectors = inplane_vectors(angles, normals)
    flipped = -normals  # the other side of a two-sided mesh sees the same plane
    assert inplane_angle_deg(vectors[:1], normals[:1], vectors[1:], flipped[1:])[0] == pytest.approx(expected, abs=1e-6)


def test_uniform_reference_matches_sampled_triplets():
    rng = np.random.default_rng(0)
    minimum = rng.uniform(0, 180, size=(100_000, 3)).min(axis=1)
    edges = np.arange(0, 181, 20.0)
    sampled = np.histogram(minimum, bins=edges)[0] / len(minimum)
    np.testing.assert_allclose(np.diff(uniform_min_angle_cdf(edges, 3)), sampled, atol=0.005)


@pytest.fixture(scope="module")
def plane():
    return hex_plane(2000.0, 25.0)


def _row_scene():
    """Six particles in a row 30 nm apart, same in-plane angle; two rotated distractors; one stray."""
    row = np.c_[np.arange(6) * 300.0 + 200.0, np.full(6, 1000.0), np.zeros(6)]
    others = np.array([[500.0, 1250.0, 0.0], [1100.0, 750.0, 0.0], [1900.0, 1900.0, 0.0]])
    spins = np.r_[np.full(6, 10.0), 100.0, 95.0, 10.0]
    angles = normals_to_euler_zyz_deg(np.tile([0.0, 0.0, 1.0], (9, 1)), spins)
    return particle_table(np.vstack([row, others]), angles_deg=angles)


def test_neighbour_orientations_and_min_angle_histogram(plane):
    membranes = membranes_with(*plane, _row_scene())
    near = nearest_neighbours(membranes, k=3)
    table = neighbour_orientations(membranes, near)
    first = table.set_index("particle_index")
    assert first.loc[1, "min_angle_deg"] == pytest.approx(0.0, abs=1e-6)
    assert first.loc[6, "min_angle_deg"] == pytest.approx(90.0, abs=1e-6)
    histogram = min_angle_histogram(table, 3, bin_deg=30.0)
    assert histogram["n_particles"].sum() == 9
    assert (histogram["density_per_deg"] * 30.0).sum() == pytest.approx(1.0)
    assert (histogram["uniform_density_per_deg"] * 30.0).sum() == pytest.approx(1.0)


def test_chain_follows_the_row(plane):
    membranes = membranes_with(*plane, _row_scene())
    near = nearest_neighbours(membranes, k=3)
    result = extract_chains(membranes, near, max_distance_nm=40.0, max_inplane_deg=60.0, max_turn_deg=80.0)
    assert len(result.chains) == 1
    chain = result.chains.iloc[0]
    assert chain["length"] == 6 and chain["mean_spacing_nm"] == pytest.approx(30.0, rel=0.03)
    ids = result.per_particle.set_index("particle_index")["chain_id"]
    assert (ids.loc[[0, 1, 2, 3, 4, 5]] == 0).all() and (ids.loc[[6, 7, 8]] == -1).all()
    positions = result.per_particle.set_index("particle_index")["position"].loc[[0, 1, 2, 3, 4, 5]]
    assert sorted(positions) == [0, 1, 2, 3, 4, 5] and abs(positions.loc[0] - positions.loc[5]) == 5
    tight = extract_chains(membranes, near, max_distance_nm=25.0)
    assert len(tight.chains) == 0
