"""Filament variety: protofilament numbers, diameters, intermediate rods, bundles, branched networks."""

import numpy as np
import pytest
from scipy import ndimage

from cryomem.simulate._config import CytosolConfig
from cryomem.simulate._filament_insert import hexagonal_offsets_xy, insert_filaments
from cryomem.simulate._filament_network import branch_direction
from cryomem.simulate._filament_units import (
    actin_unit_variant,
    intermediate_unit,
    microtubule_diameter_ang,
    microtubule_protofilament_radius_ang,
    microtubule_unit_variant,
)
from cryomem.simulate._phantom import LABEL_FILAMENT, LABEL_MEMBRANE, empty_phantom
from cryomem.simulate._templates import actin_unit, microtubule_unit

VOXEL = 10.0
SHAPE = (48, 64, 64)
NONE = dict(microtubules=0, actin_filaments=0)


def _ring_profile(template, radius_ang, n=720):
    """Density of the central z slice sampled around a circle of ``radius_ang``."""
    c = template.density_zyx.shape[0] // 2
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rows = c + radius_ang * np.sin(phi) / template.voxel_size_ang
    cols = c + radius_ang * np.cos(phi) / template.voxel_size_ang
    return ndimage.map_coordinates(template.density_zyx[c], [rows, cols], order=1)


@pytest.mark.parametrize("n", [11, 13, 16])
def test_protofilament_number_shows_as_density_maxima_around_the_wall(n):
    t = microtubule_unit_variant(5.0, n)
    profile = _ring_profile(t, microtubule_protofilament_radius_ang(n) + 21.0)
    # the wall's angular density oscillates n times per turn: one maximum per protofilament
    harmonics = np.abs(np.fft.rfft(profile - profile.mean()))
    assert int(np.argmax(harmonics[2:40])) + 2 == n
    smooth = ndimage.gaussian_filter1d(profile, 6, mode="wrap")
    peaks = (smooth > np.roll(smooth, 1)) & (smooth >= np.roll(smooth, -1))
    assert peaks.sum() == n
    assert 2 * t.inplane_radius_ang == pytest.approx(microtubule_diameter_ang(n), abs=2 * 5.0)


def test_microtubule_diameter_follows_protofilaments_and_13_is_the_standard_unit():
    assert microtubule_diameter_ang(11) == pytest.approx(219, abs=2)
    assert microtubule_diameter_ang(13) == pytest.approx(250, abs=1e-6)
    assert microtubule_diameter_ang(16) == pytest.approx(296, abs=2)
    assert microtubule_unit_variant(VOXEL, 13) is microtubule_unit(VOXEL)
    assert actin_unit_variant(VOXEL, 70.0) is actin_unit(VOXEL)


def test_actin_diameter_scales_and_intermediate_rod_is_smooth():
    thin, thick = actin_unit_variant(5.0, 50.0), actin_unit_variant(5.0, 90.0)
    assert 2 * thick.inplane_radius_ang - 2 * thin.inplane_radius_ang == pytest.approx(40.0, abs=10.0)
    rod = intermediate_unit(5.0, 100.0)
    assert 2 * rod.inplane_radius_ang == pytest.approx(100.0, abs=10.0)
    # no texture around the rod, unlike a microtubule's protofilaments
    assert np.ptp(_ring_profile(rod, 45.0)) < 0.05
    assert np.ptp(_ring_profile(microtubule_unit_variant(5.0, 13), 121.0)) > 0.3


def _phantom(seed=0, **settings):
    phantom = empty_phantom(SHAPE, VOXEL)
    config = CytosolConfig(**(NONE | settings))
    units = {"microtubule": microtubule_unit(VOXEL), "actin": actin_unit(VOXEL)}
    insert_filaments(phantom, units, config, np.random.default_rng(seed))
    return phantom


@pytest.mark.parametrize(
    "settings",
    [
        dict(microtubules=1, microtubule_protofilaments=(11, 16)),
        dict(actin_filaments=2, actin_diameter_nm=(5.0, 9.0)),
        dict(intermediate_filaments=2),
        dict(filament_bundles=1),
        dict(actin_networks=1),
    ],
    ids=["protofilaments", "actin_diameter", "intermediate", "bundle", "network"],
)
def test_each_option_changes_the_phantom_keeps_determinism_and_labels_filaments(settings):
    plain_counts = "microtubules" in settings or "actin_filaments" in settings
    base = {"microtubules": 1, "actin_filaments": 2} if plain_counts else {}
    default = _phantom(**base)
    a, b = _phantom(**settings), _phantom(**settings)
    np.testing.assert_array_equal(a.density_zyx, b.density_zyx)
    assert a.filaments == b.filaments and a.filaments
    assert not np.array_equal(a.density_zyx, default.density_zyx)
    labels = a.semantic_labels()
    assert np.all(labels[a.object_ids_zyx > 0] == LABEL_FILAMENT) and not np.any(labels == LABEL_MEMBRANE)


def test_records_carry_the_variant_parameters():
    p = _phantom(seed=1, microtubules=2, microtubule_protofilaments=(11, 16), intermediate_filaments=1)
    tubes = [f for f in p.filaments if f["kind"] == "microtubule"]
    assert tubes and all(11 <= f["protofilaments"] <= 16 for f in tubes)
    for f in tubes:
        assert f["diameter_nm"] == pytest.approx(microtubule_diameter_ang(f["protofilaments"]) / 10, abs=0.01)
    rods = [f for f in p.filaments if f["kind"] == "intermediate"]
    assert rods and all(9.0 <= f["diameter_nm"] <= 11.0 for f in rods)


def test_bundle_members_are_parallel_neighbours_at_the_drawn_spacing():
    offsets = hexagonal_offsets_xy(7, 120.0)
    d = np.linalg.norm(offsets[:, None] - offsets[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(axis=1), 120.0) and np.allclose(offsets[0], 0.0)
    p = _phantom(seed=3, filament_bundles=1, bundle_size=(4, 4))
    members = [f for f in p.filaments if f.get("bundle_id") == 1]
    assert len(members) >= 2
    assert all(8.0 <= f["bundle_spacing_nm"] <= 15.0 for f in members)


def test_branch_direction_makes_the_requested_angle():
    rng = np.random.default_rng(0)
    t = np.array([0.3, -0.5, 0.8])
    for angle in (30.0, 70.0, 90.0):
        d = branch_direction(t, angle, rng)
        assert np.linalg.norm(d) == pytest.approx(1.0)
        assert np.degrees(np.arccos(d @ t / np.linalg.norm(t))) == pytest.approx(angle, abs=1e-9)


def test_branched_network_has_daughters_at_about_70_degrees():
    p = _phantom(seed=2, actin_networks=1, network_branches=(6, 6), branch_angle_deg=(65.0, 75.0))
    network = [f for f in p.filaments if f.get("network_id") == 1]
    daughters = [f for f in network if f["parent_object_id"] > 0]
    assert len(daughters) >= 3
    ids = {f["object_id"] for f in network}
    for f in daughters:
        assert f["parent_object_id"] in ids
        measured = np.degrees(np.arccos(np.dot(f["parent_tangent_xyz"], f["start_tangent_xyz"])))
        assert 65.0 - 0.01 <= measured <= 75.0 + 0.01
        assert measured == pytest.approx(f["branch_angle_deg"], abs=0.01)
