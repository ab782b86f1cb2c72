"""Score-guided mean shift recovers known particle centres, with memory bounded on big meshes."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from scipy.spatial import cKDTree

from cryomem.pick import mean_shift_ang, merge_duplicates


def _plane(n_side: int, spacing_ang: float) -> np.ndarray:
    g = np.arange(n_side) * spacing_ang
    x, y = np.meshgrid(g, g, indexing="xy")
    return np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)


def _centres(extent_ang: float, spacing_ang: float, jitter_ang: float, seed: int) -> np.ndarray:
    g = np.arange(100.0, extent_ang - 100.0, spacing_ang)
    xy = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    xy += np.random.default_rng(seed).uniform(-jitter_ang, jitter_ang, xy.shape)
    return np.column_stack([xy, np.zeros(len(xy))])


def _distance_map(vertices: np.ndarray, centres: np.ndarray, max_distance_ang: float = 100.0) -> np.ndarray:
    return np.minimum(cKDTree(centres).query(vertices)[0], max_distance_ang)


def _recovered(vertices, centres, **kwargs):
    converged = mean_shift_ang(vertices, _distance_map(vertices, centres), max_distance_ang=100.0, **kwargs)
    return merge_duplicates(converged, eps_ang=25.0)


@pytest.mark.parametrize("cell_ang", [0.0, None])
def test_recovers_jittered_centres_within_a_fraction_of_the_spacing(cell_ang):
    spacing = 150.0
    vertices = _plane(70, 8.0)
    centres = _centres(70 * 8.0, spacing, 20.0, seed=1)
    found = _recovered(vertices, centres, bandwidth_ang=100.0, cell_ang=cell_ang)
    assert len(found) == len(centres)
    error, match = cKDTree(found).query(centres)
    assert len(set(match)) == len(centres)  # one found centre per true one
    assert error.max() < 0.05 * spacing


def test_exact_and_pooled_vertices_agree():
    vertices = _plane(50, 8.0)
    centres = _centres(400.0, 150.0, 15.0, seed=2)
    exact = _recovered(vertices, centres, bandwidth_ang=80.0, cell_ang=0.0)
    pooled = _recovered(vertices, centres, bandwidth_ang=80.0)
    assert len(exact) == len(pooled)
    assert cKDTree(exact).query(pooled)[0].max() < 2.0


def test_batches_do_not_change_the_result():
    vertices = _plane(40, 8.0)
    centres = _centres(320.0, 120.0, 10.0, seed=3)
    distances = _distance_map(vertices, centres)
    big = mean_shift_ang(vertices, distances, bandwidth_ang=100.0, max_distance_ang=100.0, cell_ang=0.0)
    small = mean_shift_ang(
        vertices, distances, bandwidth_ang=100.0, max_distance_ang=100.0, cell_ang=0.0, max_pairs=500
    )
    np.testing.assert_allclose(small, big, atol=1e-9)


def test_curved_surface_centres_recovered_in_3d():
    """Particles on a sphere of radius 400 Å: modes lie within a few Å of them (slightly inside)."""
    rng = np.random.default_rng(4)
    points = rng.normal(size=(40000, 3))
    vertices = 400.0 * points / np.linalg.norm(points, axis=1, keepdims=True)
    directions = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]], float)
    centres = 400.0 * directions
    found = _recovered(vertices, centres, bandwidth_ang=100.0)
    assert len(found) == 6
    assert cKDTree(found).query(centres)[0].max() < 8.0


def test_no_seeds_below_the_threshold_gives_no_centres():
    vertices = _plane(10, 10.0)
    out = mean_shift_ang(vertices, np.full(len(vertices), 90.0), bandwidth_ang=50.0, max_distance_ang=100.0)
    assert out.shape == (0, 3)


def test_200k_vertex_plane_runs_quickly_in_bounded_memory():
    vertices = _plane(450, 5.0)  # 202,500 vertices, 2.25 µm wide
    centres = _centres(450 * 5.0, 150.0, 20.0, seed=5)
    distances = _distance_map(vertices, centres)
    tracemalloc.start()
    started = time.perf_counter()
    converged = mean_shift_ang(
        vertices, distances, bandwidth_ang=100.0, max_distance_ang=100.0, seed_threshold_ang=50.0
    )
    seconds = time.perf_counter() - started
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    found = merge_duplicates(converged, eps_ang=25.0)
    assert len(found) == len(centres)
    assert cKDTree(found).query(centres)[0].max() < 10.0
    assert peak_bytes < 150e6  # vertices x vertices float64 would be 330 GB
    assert seconds < 60.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"distances_ang": np.zeros(3)}, "one distance per vertex"),
        ({"bandwidth_ang": -1.0}, "bandwidth_ang must be a positive"),
        ({"max_distance_ang": 0.0}, "max_distance_ang must be a positive"),
        ({"distances_ang": np.full(16, np.nan)}, "finite"),
        ({"kernel": "box"}, "kernel"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    arguments = {
        "vertices_xyz_ang": _plane(4, 10.0),
        "distances_ang": np.zeros(16),
        "bandwidth_ang": 50.0,
        "max_distance_ang": 100.0,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        mean_shift_ang(arguments.pop("vertices_xyz_ang"), arguments.pop("distances_ang"), **arguments)
