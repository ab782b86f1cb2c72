"""Rotated, sub-voxel placement of templates into volumes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cryomem.simulate._render import render_units, rotated_template_box
from cryomem.simulate._templates import Template, cytosolic_templates, membrane_protein_templates

_P = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # xyz <-> zyx


@pytest.fixture(scope="module")
def atp() -> Template:
    return {t.name: t for t in membrane_protein_templates(10.0)}["atp_synthase"]


@pytest.fixture(scope="module")
def ribosome() -> Template:
    return {t.name: t for t in cytosolic_templates(10.0)}["ribosome_25nm"]


def _paste(shape, box) -> np.ndarray:
    vol = np.zeros(shape, np.float32)
    slices, density, _ = box
    vol[slices] = density
    return vol


def _com_zyx(vol: np.ndarray) -> np.ndarray:
    return np.array(ndimage.center_of_mass(vol.astype(np.float64)))


def _template_com_xyz_vox(t: Template) -> np.ndarray:
    return (_com_zyx(t.density_zyx) - t.density_zyx.shape[0] // 2)[::-1]


def test_identity_at_integer_centre_reproduces_template(atp):
    n = atp.density_zyx.shape[0]
    shape = (n + 10, n + 12, n + 14)
    centre = np.array([n // 2 + 5, n // 2 + 6, n // 2 + 7], float)
    box = rotated_template_box(atp, np.eye(3), centre, shape)
    slices, density, mask = box
    assert density.dtype == np.float32 and mask.dtype == bool
    assert density.shape == mask.shape == tuple(s.stop - s.start for s in slices)
    expected = np.zeros(shape, np.float32)
    expected[5 : 5 + n, 6 : 6 + n, 7 : 7 + n] = atp.density_zyx
    assert np.array_equal(_paste(shape, box), expected)
    assert np.array_equal(mask, density > atp.threshold)
    # the box is tight: the empty half of the membrane template (below -z) is not sampled
    assert density.shape[0] < n


def test_rotation_moves_the_head_to_the_predicted_side(atp):
    # +90° about y takes the template z axis (the ATP-synthase head) to +x
    rot = Rotation.from_euler("y", 90, degrees=True).as_matrix()
    assert np.allclose(rot @ [0, 0, 1], [1, 0, 0])
    shape = (64, 64, 64)
    centre = np.array([32.0, 32.0, 12.0])
    vol = _paste(shape, rotated_template_box(atp, rot, centre, shape))
    head = vol[:, :, 12 + 12 :]  # more than 12 nm out along +x
    assert head.sum() > 0.4 * vol.sum()
    assert vol[:, :, : 12 - 4].sum() == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("seed", range(6))
def test_centre_of_mass_follows_the_rotation(atp, ribosome, seed):
    rot = Rotation.random(random_state=seed).as_matrix()
    shape = (70, 70, 70)
    centre = np.array([35.0, 34.0, 36.0])
    for t in (atp, ribosome):
        vol = _paste(shape, rotated_template_box(t, rot, centre, shape))
        predicted_zyx = centre + (rot @ _template_com_xyz_vox(t))[::-1]
        assert np.abs(_com_zyx(vol) - predicted_zyx).max() < 0.5, t.name
        # mass is preserved by the resampling
        assert vol.sum() == pytest.approx(float(t.density_zyx.sum()), rel=0.02)


def test_fractional_centre_shifts_centre_of_mass(ribosome):
    rot = Rotation.random(random_state=11).as_matrix()
    shape = (48, 48, 48)
    base = np.array([24.0, 24.0, 24.0])
    frac = np.array([0.3, -0.45, 0.7])
    com0 = _com_zyx(_paste(shape, rotated_template_box(ribosome, rot, base, shape)))
    com1 = _com_zyx(_paste(shape, rotated_template_box(ribosome, rot, base + frac, shape)))
    assert com1 - com0 == pytest.approx(frac, abs=0.05)


def test_rotation_convention_xyz_vs_zyx():
    # a single off-centre blob on +x of the template frame
    n = 15
    density = np.zeros((n, n, n), np.float32)
    density[7, 7, 11] = 1.0
    t = Template("dot", density, 10.0, 40.0, 40.0, (0.0, 0.0), 0.5, "cytosolic")
    rot = Rotation.from_euler("z", 90, degrees=True).as_matrix()  # x -> y
    slices, dens, _ = rotated_template_box(t, rot, np.array([20.0, 20.0, 20.0]), (40, 40, 40))
    vol = np.zeros((40, 40, 40), np.float32)
    vol[slices] = dens
    assert np.unravel_index(np.argmax(vol), vol.shape) == (20, 24, 20)
    assert vol.max() == pytest.approx(1.0)


def test_clipping_at_the_volume_border(ribosome):
    rot = Rotation.random(random_state=3).as_matrix()
    big_shape = (80, 80, 80)
    pad = 20
    centre_big = np.array([pad + 2.3, pad + 40.0, pad + 57.6])
    ref = _paste(big_shape, rotated_template_box(ribosome, rot, centre_big, big_shape))
    small_shape = (40, 60, 60)
    box = rotated_template_box(ribosome, rot, centre_big - pad, small_shape)
    slices, density, mask = box
    for s, size in zip(slices, small_shape):
        assert 0 <= s.start < s.stop <= size
    assert density.shape == mask.shape == tuple(s.stop - s.start for s in slices)
    assert slices[0].start == 0 and slices[2].stop == 60
    small = _paste(small_shape, box)
    assert np.allclose(small, ref[pad : pad + 40, pad : pad + 60, pad : pad + 60], atol=1e-6)


def test_entirely_outside_returns_none(ribosome):
    shape = (20, 20, 20)
    assert rotated_template_box(ribosome, np.eye(3), np.array([-30.0, 5.0, 5.0]), shape) is None
    assert rotated_template_box(ribosome, np.eye(3), np.array([5.0, 5.0, 60.0]), shape) is None


def test_bad_pose_shapes_are_rejected(ribosome):
    with pytest.raises(ValueError, match="rotation_xyz"):
        rotated_template_box(ribosome, np.eye(2), np.zeros(3), (10, 10, 10))


def test_render_units_takes_the_maximum_and_labels(ribosome):
    vol = np.zeros((60, 60, 90), np.float32)
    labels = np.zeros(vol.shape, np.uint8)
    rots = np.stack([np.eye(3)] * 3)
    centres = np.array([[30.0, 30.0, 20.0], [30.0, 30.0, 35.0], [30.0, 30.0, 500.0]])
    drawn = render_units(vol, ribosome, rots, centres, labels_zyx=labels, label=3)
    assert drawn == 2
    assert vol.max() <= 1.0 + 1e-6
    single = _paste(vol.shape, rotated_template_box(ribosome, np.eye(3), centres[0], vol.shape))
    assert np.all(vol >= single)
    assert set(np.unique(labels)) == {0, 3}
    assert np.array_equal(labels == 3, vol > ribosome.threshold)
    with pytest.raises(ValueError, match="same length"):
        render_units(vol, ribosome, rots[:2], centres)
