"""Membrane variety: asymmetric leaflets, contrast, small vesicles, tight stacks, and the label span."""

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage

from cryomem.simulate._config import MembraneConfig
from cryomem.simulate._membranes import HALF_MAXIMUM_SIGMAS, Bilayer, random_bilayer, random_membrane_group
from cryomem.simulate._phantom import add_membrane_group, empty_phantom, insert_membranes
from cryomem.simulate._shapes import Sphere

ASYMMETRIC = Bilayer(40.0, 5.0, outer_sigma_ang=9.0, inner_peak=0.6, outer_peak=1.0)


def test_asymmetric_profile_peaks_have_the_configured_heights_and_widths():
    d = np.linspace(-60.0, 60.0, 2401)
    profile = ASYMMETRIC.profile(d)
    inner, outer = profile[d < 0], profile[d > 0]
    assert inner.max() == pytest.approx(0.6, abs=0.01) and d[d < 0][inner.argmax()] == pytest.approx(-20.0, abs=0.5)
    assert outer.max() == pytest.approx(1.0, abs=0.01) and d[d > 0][outer.argmax()] == pytest.approx(20.0, abs=0.5)
    # each leaflet's outer half-maximum edge is where the label ends on that side
    lo, hi = ASYMMETRIC.label_extent_ang
    assert (lo, hi) == pytest.approx((20 + HALF_MAXIMUM_SIGMAS * 5.0, 20 + HALF_MAXIMUM_SIGMAS * 9.0))
    assert ASYMMETRIC.profile(np.array([-lo]))[0] == pytest.approx(0.3, abs=0.01)
    assert ASYMMETRIC.profile(np.array([hi]))[0] == pytest.approx(0.5, abs=0.01)
    # the symmetric default is unchanged
    assert Bilayer(40.0, 6.0).label_extent_ang == pytest.approx((20 + HALF_MAXIMUM_SIGMAS * 6.0,) * 2)


def test_random_bilayer_draws_asymmetry_within_its_ranges():
    config = MembraneConfig(leaflet_sigma_ratio=(0.5, 2.0), leaflet_peak_ratio=(0.5, 2.0), density_factor=(0.5, 1.5))
    rng = np.random.default_rng(0)
    for _ in range(50):
        b = random_bilayer(config, rng)
        inner, outer = b.sigmas_ang
        assert 0.5 - 1e-9 <= outer / inner <= 2.0 + 1e-9
        assert max(b.inner_peak, b.outer_peak) == pytest.approx(1.0)
        assert 0.5 - 1e-9 <= b.outer_peak / b.inner_peak <= 2.0 + 1e-9
        assert 0.5 <= b.density_factor <= 1.5
    symmetric = random_bilayer(MembraneConfig(), np.random.default_rng(0))
    assert symmetric.outer_sigma_ang is None and symmetric.inner_peak == symmetric.outer_peak == 1.0


def test_label_thickness_of_a_simulated_vesicle_equals_the_leaflet_span():
    voxel = 5.0
    phantom = empty_phantom((64, 64, 64), voxel)
    centre, radius = np.full(3, 31.5 * voxel), 100.0
    bilayer = Bilayer(40.0, 5.0, outer_sigma_ang=9.0, inner_peak=0.6, density_factor=0.8)
    assert add_membrane_group(phantom, [(Sphere(centre, radius), bilayer)], "sphere", MembraneConfig())
    inner_edge, outer_edge = bilayer.label_extent_ang
    span = inner_edge + outer_edge  # outer half-max edge to outer half-max edge
    # along the six axis directions through the centre (voxel centres at 31.5 ± (k + 0.5) voxels)
    labels = phantom.membrane_ids_zyx > 0
    r = (np.arange(32) + 0.5) * voxel
    rays = [labels[32:, 31, 31], labels[:32, 31, 31][::-1], labels[31, 32:, 31], labels[31, :32, 31][::-1]]
    rays += [labels[31, 31, 32:], labels[31, 31, :32][::-1]]
    for ray in rays:
        assert abs(ray.sum() * voxel - span) <= voxel
        assert abs(r[ray].min() - (radius - inner_edge)) <= voxel and abs(r[ray].max() - (radius + outer_edge)) <= voxel
    # and on average over the whole vesicle: label volume over mid-surface area
    shell = 4 / 3 * np.pi * ((radius + outer_edge) ** 3 - (radius - inner_edge) ** 3)
    assert labels.sum() * voxel**3 == pytest.approx(shell, rel=0.03)
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(200, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    r = np.arange(40.0, 150.0, 0.25)
    points_xyz = centre + directions[:, None, :] * r[None, :, None]
    density = ndimage.map_coordinates(phantom.density_zyx, (points_xyz[..., ::-1] / voxel).T, order=1).T
    # the two leaflets' peaks, with the per-membrane contrast factor
    inner_peak = density[:, np.abs(r - (radius - 20.0)) < 0.2].mean()
    outer_peak = density[:, np.abs(r - (radius + 20.0)) < 0.2].mean()
    assert inner_peak == pytest.approx(0.8 * 0.6, rel=0.1) and outer_peak == pytest.approx(0.8 * 1.0, rel=0.1)


def test_small_vesicles_are_inserted_with_their_radius():
    config = MembraneConfig(kinds={"small_vesicle": 1.0}, occupancy=0.01)
    group = random_membrane_group("small_vesicle", config, np.full(3, 640.0), np.random.default_rng(0))
    assert len(group) == 1 and 150.0 <= group[0][0].radius_ang <= 250.0
    phantom = empty_phantom((48, 64, 64), 10.0)
    insert_membranes(phantom, config, np.random.default_rng(1))
    assert phantom.membranes and all(m.kind == "small_vesicle" for m in phantom.membranes)
    assert all(150.0 <= m.shape.radius_ang <= 250.0 for m in phantom.membranes)


def test_tight_stacks_down_to_5_nm_keep_their_bilayers_apart():
    config = MembraneConfig(stack_spacing_nm=(5.0, 5.0), stack_count=(3, 3), sheet_radius_nm=(300.0, 300.0))
    rng = np.random.default_rng(4)
    group = random_membrane_group("stack", config, np.array([640.0, 640.0, 480.0]), rng)
    radii = np.array([shape.radius_ang for shape, _ in group])
    inner, outer = group[0][1].label_extent_ang
    assert np.all(np.diff(radii) >= max(50.0, inner + outer + 10.0) - 1e-9)
    # a thin bilayer keeps the full 5 nm spacing
    thin = MembraneConfig(
        stack_spacing_nm=(5.0, 5.0), thickness_nm=(3.0, 3.0), leaflet_sigma_nm=(0.3, 0.3), stack_count=(3, 3)
    )
    group = random_membrane_group("stack", thin, np.array([640.0, 640.0, 480.0]), np.random.default_rng(4))
    assert np.allclose(np.diff([shape.radius_ang for shape, _ in group]), 50.0)


def test_bad_membrane_ranges_are_refused():
    with pytest.raises(ValidationError, match="stack_spacing_nm"):
        MembraneConfig(stack_spacing_nm=(4.0, 6.0))
    with pytest.raises(ValidationError, match="leaflet_peak_ratio"):
        MembraneConfig(leaflet_peak_ratio=(0.1, 1.0))
    with pytest.raises(ValidationError, match="density_factor"):
        MembraneConfig(density_factor=(0.0, 1.0))
    with pytest.raises(ValidationError, match="small_vesicle_radius_nm"):
        MembraneConfig(small_vesicle_radius_nm=(1.0, 20.0))


@pytest.mark.parametrize(
    "settings",
    [dict(leaflet_sigma_ratio=(0.6, 1.6)), dict(leaflet_peak_ratio=(0.5, 2.0)), dict(density_factor=(0.4, 1.6))],
    ids=["sigma_ratio", "peak_ratio", "density_factor"],
)
def test_each_membrane_option_changes_the_phantom_and_keeps_determinism(settings):
    def run(**extra):
        phantom = empty_phantom((40, 48, 48), 10.0)
        config = MembraneConfig(occupancy=0.01, kinds={"sphere": 1.0}, radius_nm=(12.0, 16.0), **extra)
        insert_membranes(phantom, config, np.random.default_rng(5))
        return phantom.density_zyx

    a, b = run(**settings), run(**settings)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run())
