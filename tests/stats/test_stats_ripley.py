"""Ripley's K, L, O on membranes: complete spatial randomness, lattices, bins and envelopes."""

import numpy as np
import pytest
from stats_helpers import hex_plane, membranes_with, particle_table

from cryomem.stats import radius_edges_ang, ripley


@pytest.fixture(scope="module")
def plane():
    return hex_plane(2000.0, 40.0)  # 200 nm square, 4 nm triangles


def _csr(n, seed, size=2000.0):
    return np.c_[np.random.default_rng(seed).uniform(0, size, size=(n, 2)), np.zeros(n)]


def test_k_is_pi_r_squared_under_complete_spatial_randomness(plane):
    membranes = membranes_with(*plane, particle_table(_csr(150, 0)))
    table = ripley(membranes, bin_size_nm=5.0, max_radius_nm=60.0).table
    wide = table[table["r_nm"] >= 20]
    assert np.abs(wide["K_ratio"] - 1).mean() < 0.08
    np.testing.assert_allclose(wide["K_nm2"], np.pi * wide["r_nm"] ** 2 * wide["K_ratio"])
    assert np.abs(wide["L_nm"]).max() < 0.1 * wide["r_nm"].max()
    assert np.abs(table["g"] - 1).mean() < 0.25  # 0.199 with the exact method: noise of 150 particles in thin rings


def test_random_positions_stay_inside_the_envelope(plane):
    membranes = membranes_with(*plane, particle_table(_csr(120, 1)))
    result = ripley(membranes, bin_size_nm=5.0, max_radius_nm=60.0, n_simulations=19, seed=3, pool_factor=4)
    table = result.table
    assert result.n_simulations == 19
    assert (table["L_nm_csr_low"] <= table["L_nm_csr_high"]).all()
    outside = (table["L_nm"] < table["L_nm_csr_low"]) | (table["L_nm"] > table["L_nm_csr_high"])
    assert outside.mean() <= 0.1
    # 0.059 with the exact method too: 5 nm bins on 4 nm triangles, positions snapped to vertices
    assert np.abs(table["K_ratio_csr_mean"] - 1).mean() < 0.07
    again = ripley(membranes, bin_size_nm=5.0, max_radius_nm=60.0, n_simulations=19, seed=3, pool_factor=4)
    np.testing.assert_array_equal(again.table["L_nm_csr_low"], table["L_nm_csr_low"])


def test_parallel_searches_give_the_same_table(plane):
    """Two processes search the batches of sources (two-level balls here: radii up to 60 nm on a 200 nm
    plane); nothing may change."""
    membranes = membranes_with(*plane, particle_table(_csr(120, 5)))
    one = ripley(membranes, bin_size_nm=5.0, max_radius_nm=60.0, n_simulations=3, seed=2).table
    two = ripley(membranes, bin_size_nm=5.0, max_radius_nm=60.0, n_simulations=3, seed=2, workers=2).table
    assert one.equals(two)
    assert ("coarse_cells", 100.0) in membranes[0].cache  # the coarse cells (2 bins apart) were used
    with pytest.raises(ValueError, match="workers must be >= 1"):
        ripley(membranes, workers=0)


def test_clustered_positions_leave_the_envelope(plane):
    rng = np.random.default_rng(2)
    centres = rng.uniform(300, 1700, size=(12, 2))
    xy = (centres[:, None, :] + rng.normal(scale=40.0, size=(12, 10, 2))).reshape(-1, 2)
    membranes = membranes_with(*plane, particle_table(np.c_[xy, np.zeros(len(xy))]))
    table = ripley(membranes, bin_size_nm=5.0, max_radius_nm=40.0, n_simulations=9).table
    assert (table["L_nm"] > table["L_nm_csr_high"]).all()


def test_lattice_of_35_nm_puts_the_first_o_peak_at_35_nm():
    vertices, faces = hex_plane(3000.0, 20.0)
    lattice = np.stack(np.meshgrid(np.arange(8), np.arange(8)), axis=-1).reshape(-1, 2) * 350.0 + 275.0
    membranes = membranes_with(vertices, faces, particle_table(np.c_[lattice, np.zeros(64)]))
    table = ripley(membranes, bin_size_nm=5.0, max_radius_nm=60.0).table
    peak = table.loc[table["O_per_um2"].idxmax()]
    assert abs((peak["r_lo_nm"] + peak["r_nm"]) / 2 - 35.0) <= 2.5
    assert table.loc[table["r_nm"] <= 30, "O_per_um2"].max() == 0.0


def test_counts_and_ring_areas_share_one_bin(plane):
    """Two particles 12 nm apart: the pair lands in the 10-15 nm ring, whose area is pi (15^2 - 10^2) nm^2."""
    xyz = np.array([[1000.0, 1000.0, 0.0], [1120.0, 1000.0, 0.0]])
    (membrane,) = membranes_with(*plane, particle_table(xyz), method="exact")
    distance = membrane.distance_between_ang(membrane.vertices[:1], membrane.vertices[1:])[0, 0] / 10
    assert 10.0 < distance < 15.0
    table = ripley([membrane], bin_size_nm=5.0, max_radius_nm=25.0).table.set_index("r_nm")
    assert table["n_pairs"].tolist() == [0, 0, 2, 2, 2]
    ring_nm2 = np.pi * (15.0**2 - 10.0**2)
    assert table.loc[15.0, "O_per_um2"] == pytest.approx(1e6 / ring_nm2, rel=0.03)
    assert table.loc[10.0, "O_per_um2"] == 0.0 and table.loc[20.0, "O_per_um2"] == 0.0


def test_cross_ripley_between_independent_classes_is_near_one(plane):
    xyz = np.vstack([_csr(100, 4), _csr(100, 5)])
    membranes = membranes_with(*plane, particle_table(xyz, classes=np.repeat([1, 2], 100)))
    result = ripley(membranes, bin_size_nm=5.0, max_radius_nm=50.0, start_classes=[1], target_classes=[2])
    assert result.n_start == 100 and result.n_target == 100
    assert np.abs(result.table.loc[result.table["r_nm"] >= 20, "K_ratio"] - 1).mean() < 0.1


def test_radius_range_larger_than_the_membrane_is_refused():
    vertices, faces = hex_plane(400.0, 40.0)
    membranes = membranes_with(vertices, faces, particle_table(_csr(10, 0, 400.0)))
    with pytest.raises(ValueError, match="larger than the membranes"):
        ripley(membranes, bin_size_nm=5.0, max_radius_nm=100.0)
    with pytest.raises(ValueError, match="below one bin"):
        radius_edges_ang(5.0, 2.0)
