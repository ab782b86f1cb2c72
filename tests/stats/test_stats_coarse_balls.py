"""Two-resolution geodesic balls (coarse_balls): closed forms, the fine local_balls, borders, pieces.

Tolerances are the errors measured on these meshes (in brackets) with a little room. The fine
chord graph of local_balls is itself 0.3-0.7 % long against the geodesic (its balls 1-1.5 % small),
and beyond the near field coarse_balls follows arcs between nodes, so the two differ by up to ~1 %.
"""

import numpy as np
import pytest
from stats_helpers import disc, hex_plane, membranes_with, particle_table, sphere

from cryomem.stats._balls import local_balls
from cryomem.stats._coarse_balls import coarse_balls
from cryomem.stats._coarse_cells import arc_length_ang, coarse_cells

RADII_ANG = 20.0 * np.arange(1, 51)  # 2 nm bins up to 100 nm


def _on_sphere(radius, count, seed):
    directions = np.random.default_rng(seed).normal(size=(count, 3))
    return radius * directions / np.linalg.norm(directions, axis=1, keepdims=True)


def _great_circles(xyz, radius):
    unit = xyz / radius
    return radius * np.arccos(np.clip(unit @ unit.T, -1.0, 1.0))


def _both(membrane, radii=RADII_ANG):
    vertices = membrane.vertices
    return coarse_balls(membrane, vertices, vertices, radii), local_balls(membrane, vertices, vertices, radii)


@pytest.fixture(scope="module")
def benchmark_sphere():
    """The benchmark's membrane (icosphere of radius 500 Å, 40,962 vertices, 9.4 Å edges); 16 particles
    spread over it and 4 within 30-80 Å of the first (inside its fine search)."""
    spread = _on_sphere(500.0, 16, 3)
    angles = np.array([0.06, 0.09, 0.12, 0.16])  # rad: 30-80 Å along the sphere
    first = spread[0] / 500.0
    side = np.cross(first, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    close = 500.0 * (np.cos(angles)[:, None] * first + np.sin(angles)[:, None] * side)
    (membrane,) = membranes_with(*sphere(500.0, 6), particle_table(np.r_[spread, close]))
    return membrane, *_both(membrane)


def test_sphere_areas_match_caps_and_the_fine_balls(benchmark_sphere):
    membrane, coarse, fine = benchmark_sphere
    caps = np.broadcast_to(2 * np.pi * 500.0**2 * (1 - np.cos(RADII_ANG / 500.0)), coarse.areas_ang2.shape)
    inside = RADII_ANG < 90.0  # within the fine search (108 Å on this mesh): the same triangles, clipped alike
    np.testing.assert_allclose(coarse.areas_ang2[:, inside], fine.areas_ang2[:, inside], rtol=1e-6)
    np.testing.assert_allclose(coarse.areas_ang2, fine.areas_ang2, rtol=0.012)  # [0.9 %]
    beyond = RADII_ANG >= 100.0
    np.testing.assert_allclose(coarse.areas_ang2[:, beyond], caps[:, beyond], rtol=0.02)  # [1.4 %; fine 1.3 %]
    bias = (coarse.areas_ang2[:, beyond] / caps[:, beyond] - 1).mean(axis=0)
    assert np.all(np.abs(bias) < 0.015)  # [1.2 %, at 100 Å where the fine balls are short too]


def test_sphere_pair_distances_match_great_circles(benchmark_sphere):
    membrane, coarse, fine = benchmark_sphere
    arcs = _great_circles(membrane.mesh.vertices_xyz_ang[membrane.vertices], 500.0)
    within = (arcs > 1.0) & (arcs < 1000.0)
    error = np.abs(coarse.pairs_ang[within] - arcs[within])
    assert np.all((error <= 0.02 * arcs[within]) | (error <= 2.0))  # [1.8 % worst, in the fine near field]
    near = within & (fine.pairs_ang < 95.0)
    assert near.sum() >= 8
    np.testing.assert_allclose(coarse.pairs_ang[near], fine.pairs_ang[near], rtol=1e-9)
    np.testing.assert_allclose(coarse.pairs_ang[within], fine.pairs_ang[within], rtol=0.015)  # [1.1 %]
    np.testing.assert_array_equal(np.diag(coarse.pairs_ang), 0.0)
    assert coarse.largest_ang == fine.largest_ang  # balls stop short of the far side: the search limit


def test_plane_balls_are_discs_away_from_the_border_and_clipped_at_it():
    size = 2400.0
    xy = np.random.default_rng(5).uniform(300.0, size - 300.0, size=(12, 2))
    (membrane,) = membranes_with(*hex_plane(size, 20.0), particle_table(np.c_[xy, np.zeros(len(xy))]))
    radii = 20.0 * np.arange(1, 41)
    coarse, fine = _both(membrane, radii)
    np.testing.assert_allclose(coarse.areas_ang2, fine.areas_ang2, rtol=0.02)  # [1.4 %, borders included]
    xyz = membrane.mesh.vertices_xyz_ang[membrane.vertices]
    top = membrane.mesh.vertices_xyz_ang[:, 1].max()
    border = np.minimum(np.minimum(xyz[:, 0], size - xyz[:, 0]), np.minimum(xyz[:, 1], top - xyz[:, 1]))
    discs = np.broadcast_to(np.pi * radii**2, coarse.areas_ang2.shape)
    inside = (radii[None, :] <= border[:, None] - 40.0) & (radii[None, :] >= 100.0)
    np.testing.assert_allclose(coarse.areas_ang2[inside], discs[inside], rtol=0.025)  # [2.0 %; fine 1.7 %]
    clipped = radii[None, :] > border[:, None] + 100.0
    assert np.all(coarse.areas_ang2[clipped] < 0.97 * discs[clipped])  # [at most 0.94]
    straight = np.linalg.norm(xyz[:, None] - xyz[None], axis=2)
    within = (straight > 0) & (straight < radii[-1])
    np.testing.assert_allclose(coarse.pairs_ang[within], straight[within], rtol=0.015)  # [1.1 %; fine 1.2 %]
    assert np.all(np.isinf(coarse.pairs_ang[straight > 1.05 * (radii[-1] + 40.0)]))


@pytest.fixture(scope="module")
def sphere_and_disc():
    """Two pieces: a sphere of radius 300 Å (balls up to 1000 Å wrap it) and an open disc of 900 Å."""
    sphere_xyz, sphere_faces = sphere(300.0, 5)
    disc_xyz, disc_faces = disc(900.0, 20.0)
    disc_xyz = disc_xyz + [2000.0, 0.0, 0.0]
    rng = np.random.default_rng(1)
    angle, reach = rng.uniform(0, 2 * np.pi, 8), 800.0 * np.sqrt(rng.uniform(0, 1, 8))
    on_disc = np.c_[2000.0 + reach * np.cos(angle), reach * np.sin(angle), np.zeros(8)]
    vertices, faces = np.r_[sphere_xyz, disc_xyz], np.r_[sphere_faces, disc_faces + len(sphere_xyz)]
    (membrane,) = membranes_with(vertices, faces, particle_table(np.r_[_on_sphere(300.0, 8, 2), on_disc]))
    return membrane, *_both(membrane)


def test_pieces_stay_apart_and_closed_pieces_are_covered(sphere_and_disc):
    membrane, coarse, fine = sphere_and_disc
    piece = membrane.component_of_vertex[membrane.vertices]
    assert np.all(np.isinf(coarse.pairs_ang[piece[:, None] != piece[None, :]]))
    np.testing.assert_allclose(coarse.areas_ang2, fine.areas_ang2, rtol=0.015)  # [1.0 %]
    on_sphere = piece == piece[0]
    np.testing.assert_allclose(coarse.areas_ang2[on_sphere, -1], membrane.component_area_ang2[piece[0]], rtol=1e-9)
    assert np.all(coarse.areas_ang2[~on_sphere, -1] <= membrane.component_area_ang2[piece[~on_sphere]] * (1 + 1e-9))
    assert coarse.largest_ang == fine.largest_ang  # the disc reaches beyond the balls: the search limit
    sources = membrane.vertices[on_sphere]
    largest = coarse_balls(membrane, sources, sources, RADII_ANG).largest_ang
    assert largest == pytest.approx(np.pi * 300.0, rel=0.03)  # the farthest node [1.1 % short]


def test_distances_hold_on_the_far_side_of_a_closed_piece_and_on_a_disc(sphere_and_disc):
    """Near the antipode fronts converge, and a linear fit alone reads up to 3.7 % short."""
    membrane, coarse, fine = sphere_and_disc
    piece = membrane.component_of_vertex[membrane.vertices]
    on_sphere = piece == piece[0]
    arcs = _great_circles(membrane.mesh.vertices_xyz_ang[membrane.vertices[on_sphere]], 300.0)
    found = coarse.pairs_ang[np.ix_(on_sphere, on_sphere)]
    apart = arcs > 1.0
    np.testing.assert_allclose(found[apart], arcs[apart], rtol=0.015)  # [0.9 %]
    on_disc = np.ix_(~on_sphere, ~on_sphere)
    assert np.array_equal(np.isinf(coarse.pairs_ang[on_disc]), np.isinf(fine.pairs_ang[on_disc]))
    both = np.isfinite(fine.pairs_ang[on_disc]) & (fine.pairs_ang[on_disc] > 0)
    np.testing.assert_allclose(coarse.pairs_ang[on_disc][both], fine.pairs_ang[on_disc][both], rtol=0.015)  # [1.1 %]


def test_cells_partition_the_mesh_and_are_cached(sphere_and_disc):
    membrane = sphere_and_disc[0]
    cells = coarse_cells(membrane)
    assert coarse_cells(membrane) is cells
    assert cells.area_ang2.sum() == pytest.approx(membrane.area_ang2, rel=1e-9)
    piece = membrane.component_of_vertex
    np.testing.assert_array_equal(piece[cells.nodes][cells.cell_of_vertex], piece)
    np.testing.assert_array_equal(cells.node_of_vertex[cells.nodes], np.arange(cells.n_cells))
    assert np.all(cells.graph.data > 0)


def test_small_meshes_and_short_radii_are_left_to_the_fine_search():
    (membrane,) = membranes_with(*sphere(300.0, 2), particle_table(_on_sphere(300.0, 6, 4)))
    coarse, fine = _both(membrane)
    np.testing.assert_array_equal(coarse.areas_ang2, fine.areas_ang2)
    np.testing.assert_array_equal(coarse.pairs_ang, fine.pairs_ang)
    (membrane,) = membranes_with(*sphere(500.0, 5), particle_table(_on_sphere(500.0, 6, 4)))
    coarse, fine = _both(membrane, RADII_ANG[:10])  # 200 Å: within two fine searches (~125 Å each here)
    np.testing.assert_array_equal(coarse.areas_ang2, fine.areas_ang2)


def test_bad_inputs_are_refused():
    (membrane,) = membranes_with(*sphere(500.0, 5), particle_table(_on_sphere(500.0, 3, 4)))
    vertices = membrane.vertices
    with pytest.raises(ValueError, match="near_ang must be > 0"):
        coarse_balls(membrane, vertices, vertices, RADII_ANG, near_ang=0.0)
    with pytest.raises(ValueError, match="increasing"):
        coarse_balls(membrane, vertices, vertices, RADII_ANG[::-1])
    with pytest.raises(ValueError, match="spacing_ang must be > 0"):
        coarse_balls(membrane, vertices, vertices, RADII_ANG, spacing_ang=-1.0)
    with pytest.raises(ValueError, match="spacing_ang must be > 0"):
        coarse_cells(membrane, 0.0)


def test_arcs_are_exact_on_spheres_and_planes():
    p, q = _on_sphere(200.0, 50, 1), _on_sphere(200.0, 50, 2)
    arcs = 200.0 * np.arccos(np.clip(np.sum(p * q, axis=1) / 200.0**2, -1.0, 1.0))
    np.testing.assert_allclose(arc_length_ang(p, q, p / 200.0, q / 200.0), arcs, rtol=1e-6)
    rng = np.random.default_rng(0)
    flat_p, flat_q = np.c_[rng.uniform(size=(9, 2)), np.zeros(9)], np.c_[rng.uniform(size=(9, 2)), np.zeros(9)]
    up = np.tile([0.0, 0.0, 1.0], (9, 1))
    np.testing.assert_allclose(arc_length_ang(flat_p, flat_q, up, up), np.linalg.norm(flat_p - flat_q, axis=1))
