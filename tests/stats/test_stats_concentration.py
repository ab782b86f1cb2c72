"""Concentration on analytic membranes with known particle sets."""

import numpy as np
import pytest
import trimesh
from stats_helpers import membranes_with, particle_table, sphere

from cryomem.stats import concentration, measured_region


def _on_sphere(n, radius, rng):
    points = rng.normal(size=(n, 3))
    return radius * points / np.linalg.norm(points, axis=1, keepdims=True)


def test_concentration_on_a_sphere_is_exact():
    radius = 500.0  # 50 nm vesicle
    vertices, faces = sphere(radius, 5)
    rng = np.random.default_rng(0)
    classes = np.repeat([1, 2], [120, 80])
    membranes = membranes_with(vertices, faces, particle_table(_on_sphere(200, radius, rng), classes=classes))
    table = concentration(membranes)
    area_um2 = 4 * np.pi * radius**2 / 1e8
    row = table[(table["scope"] == "membrane") & (table["class"] == "all")].iloc[0]
    assert row["n_particles"] == 200
    assert row["concentration_per_um2"] == pytest.approx(200 / area_um2, rel=0.005)
    per_class = table[(table["scope"] == "membrane")].set_index("class")["n_particles"]
    assert per_class["1"] == 120 and per_class["2"] == 80
    half = concentration(membranes, side="half")
    assert half["concentration_per_um2"].iloc[0] == pytest.approx(2 * 200 / area_um2, rel=0.005)


def test_pooled_rows_divide_summed_counts_by_summed_areas():
    small, large = sphere(300.0, 4), sphere(600.0, 4)
    rng = np.random.default_rng(1)
    a = membranes_with(*small, particle_table(_on_sphere(10, 300.0, rng)), membrane_id=1)
    b = membranes_with(*large, particle_table(_on_sphere(90, 600.0, rng), tomo="u"), tomo="u", membrane_id=2)
    table = concentration(a + b)
    pooled = table[table["scope"] == "all"].iloc[0]
    areas = table[table["scope"] == "membrane"]["area_um2"]
    assert pooled["n_particles"] == 100
    assert pooled["concentration_per_um2"] == pytest.approx(100 / areas.sum())
    assert set(table[table["scope"] == "tomogram"]["tomo_name"]) == {"t", "u"}


def test_single_side_of_a_two_sided_sheet():
    """A closed flat pillbox (the hull of a segmented sheet): one isolated side is one cap minus the band."""
    radius, band_nm = 500.0, 5.0
    hull = trimesh.creation.cylinder(radius=radius, height=50.0, sections=96).subdivide_to_size(max_edge=40.0)
    rng = np.random.default_rng(2)
    r, t = 400 * np.sqrt(rng.random(50)), rng.uniform(0, 2 * np.pi, 50)
    top = np.c_[r * np.cos(t), r * np.sin(t), np.full(50, 25.0)]
    (membrane,) = membranes_with(np.asarray(hull.vertices), np.asarray(hull.faces), particle_table(top))
    area, on = measured_region(membrane, side="single", exclude_edges_nm=band_nm)
    assert on.sum() == 50
    inner = radius - 10 * band_nm
    assert np.pi * (inner - 30.0) ** 2 < area < np.pi * inner**2
    with pytest.raises(ValueError, match="exclude_edges_nm"):
        measured_region(membrane, side="single")


def test_edge_exclusion_drops_particles_and_area_near_the_rim():
    from stats_helpers import disc

    vertices, faces = disc(1000.0, 25.0)
    xyz = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [980.0, 0.0, 0.0], [0.0, -975.0, 0.0]])
    (membrane,) = membranes_with(vertices, faces, particle_table(xyz))
    area, on = measured_region(membrane, exclude_edges_nm=10.0)
    assert on.tolist() == [True, True, False, False]
    assert area == pytest.approx(np.pi * 900.0**2, rel=0.02)
