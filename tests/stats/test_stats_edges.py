"""Edges from curvature and open boundaries; concentration against the distance to the edge."""

import numpy as np
import pytest
import trimesh
from stats_helpers import disc, membranes_with, particle_table, sphere

from cryomem.stats import (
    EdgeSettings,
    edge_distance_ang,
    edge_profile,
    edge_vertex_mask,
    membrane_surface,
    nearest_neighbours,
    surface_bending,
)


def test_edge_exclusion_on_an_open_disc_removes_the_rim_and_keeps_the_centre():
    vertices, faces = disc(1000.0, 25.0)
    xyz = np.array([[0.0, 0.0, 0.0], [300.0, 0.0, 0.0], [960.0, 0.0, 0.0], [0.0, 990.0, 0.0]])
    (membrane,) = membranes_with(vertices, faces, particle_table(xyz))
    radius = np.hypot(vertices[:, 0], vertices[:, 1])
    edge = edge_vertex_mask(membrane.mesh)
    assert edge.sum() > 100 and radius[edge].min() > 950  # the rim, and only the rim
    distance = edge_distance_ang(membrane)
    centre = np.argmin(radius)
    assert distance[centre] == pytest.approx(1000.0, rel=0.03)
    result = nearest_neighbours([membrane], exclude_edges_nm=10.0).per_particle
    assert result["particle_index"].tolist() == [0, 1]
    assert result["distance_to_edge_nm"].iloc[0] == pytest.approx(100.0, rel=0.03)


def test_rim_of_a_two_sided_sheet_is_its_edge_and_a_vesicle_has_none():
    hull = trimesh.creation.cylinder(radius=500.0, height=50.0, sections=96).subdivide_to_size(max_edge=40.0)
    mesh = membrane_surface("t", 1, hull.vertices, hull.faces)
    edge = edge_vertex_mask(mesh)
    radius = np.hypot(mesh.vertices_xyz_ang[:, 0], mesh.vertices_xyz_ang[:, 1])
    assert edge.any() and (radius[edge] > 450).all()
    assert not edge[radius < 400].any()
    vesicle = membrane_surface("t", 2, *sphere(300.0, 4))
    bending, boundary = surface_bending(vesicle)
    assert np.median(bending) == pytest.approx(1 / 300.0, rel=0.05) and boundary.size == 0
    assert not edge_vertex_mask(vesicle).any()
    assert edge_vertex_mask(vesicle, EdgeSettings(bend_radius_nm=40.0)).sum() == pytest.approx(0.05 * 2562, rel=0.3)


def test_concentration_against_distance_to_the_edge():
    vertices, faces = disc(1000.0, 25.0)
    rng = np.random.default_rng(0)
    r, t = 1000.0 * np.sqrt(rng.random(400)), rng.uniform(0, 2 * np.pi, 400)
    inner = r < 500.0  # particles only in the centre: none within 50 nm of the rim
    xyz = np.c_[r * np.cos(t), r * np.sin(t), np.zeros(400)][inner]
    membranes = membranes_with(vertices, faces, particle_table(xyz))
    profile = edge_profile(membranes, bin_size_nm=10.0, max_distance_nm=100.0)
    pooled = profile[profile["scope"] == "all"]
    ring_um2 = np.pi * ((100.0 - pooled["edge_lo_nm"]) ** 2 - (100.0 - pooled["edge_hi_nm"]) ** 2) / 1e6
    np.testing.assert_allclose(pooled["area_um2"].iloc[1:-1], ring_um2.iloc[1:-1], rtol=0.05)
    assert pooled["area_um2"].sum() == pytest.approx(membranes[0].area_ang2 / 1e8, rel=0.01)
    assert pooled["n_particles"].iloc[:4].sum() == 0
    assert pooled["n_particles"].sum() == len(xyz)
    with pytest.raises(ValueError, match="edge bins"):
        edge_profile(membranes, bin_size_nm=10.0, max_distance_nm=5.0)
