"""Spatial augmentations keep image and label aligned, mark outside content as ignore, and are exact where
they should be (90° rotations, flips, permutations)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cryomem.segment._augment import (
    IGNORE,
    random_axis_permutation,
    random_flip,
    random_rotation,
    random_zoom,
    rotate_and_zoom,
    rotation_matrix_zyx,
    uniform_rotation_matrix,
)


def membrane_patch(shape: tuple[int, int, int] = (40, 40, 40), slab: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric test patch: an off-centre spherical shell, optionally a tilted slab, an ignore block;
    the image is the membrane indicator."""
    zz, yy, xx = np.indices(shape, dtype=np.float64)
    radius = np.sqrt((zz - 0.45 * shape[0]) ** 2 + (yy - 0.55 * shape[1]) ** 2 + (xx - 0.4 * shape[2]) ** 2)
    shell = np.abs(radius - 0.25 * min(shape)) < 2.0
    label = (shell | (slab & (np.abs(0.3 * zz + 0.8 * yy + 0.5 * xx - 0.9 * shape[1]) < 1.5))).astype(np.uint8)
    label[2:8, 3:10, 30:36] = IGNORE
    return (label == 1).astype(np.float32), label


def agreement(image: np.ndarray, label: np.ndarray) -> float:
    """Fraction of non-ignore voxels where the thresholded image equals the membrane label."""
    valid = label != IGNORE
    return float(np.mean((image[valid] > 0.5) == (label[valid] == 1)))


def membrane_dice(image: np.ndarray, label: np.ndarray) -> float:
    """Dice of the thresholded image and the membrane label over non-ignore voxels (shift-sensitive)."""
    predicted = (image > 0.5) & (label != IGNORE)
    membrane = label == 1
    return 2 * float((predicted & membrane).sum()) / float(predicted.sum() + membrane.sum())


# nearest-neighbour labels and thresholded trilinear images differ on ~10% of boundary voxels, so the
# voxel agreement is tested on a patch with a realistic membrane fraction (~7%, one vesicle in 48^3);
# the Dice check would fail for a one-voxel misalignment (Dice ~0.86, see below).
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("augmentation", [random_rotation, random_zoom])
def test_rotation_and_zoom_keep_image_and_label_aligned(augmentation, seed):
    image, label = membrane_patch((48, 48, 48), slab=False)
    out_image, out_label = augmentation(image, label, np.random.default_rng(seed))
    assert out_image.dtype == np.float32 and out_label.dtype == np.uint8
    assert out_image.shape == image.shape == out_label.shape
    assert set(np.unique(out_label)) <= {0, 1, IGNORE}
    assert agreement(out_image, out_label) >= 0.99
    assert membrane_dice(out_image, out_label) >= 0.93
    assert membrane_dice(np.roll(out_image, 1, axis=2), out_label) < 0.93  # the check detects a 1-voxel shift


@pytest.mark.parametrize("seed", range(3))
def test_rotation_keeps_a_dense_patch_aligned(seed):
    image, label = membrane_patch()  # shell + slab + ignore block: 15% membrane
    out_image, out_label = random_rotation(image, label, np.random.default_rng(seed), max_angle_deg=180.0)
    assert agreement(out_image, out_label) >= 0.98
    assert (out_label == 1).sum() > 0.5 * (label == 1).sum()  # a rotation about the centre keeps most in view


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_rotation_by_multiples_of_90_degrees_is_exact(axis, quarter_turns):
    image, label = membrane_patch()
    image = image + np.random.default_rng(0).normal(size=image.shape).astype(np.float32)  # non-binary values
    axis_zyx = np.zeros(3)
    axis_zyx[axis] = 1.0
    rotation = rotation_matrix_zyx(axis_zyx, 90.0 * quarter_turns)
    out_image, out_label = rotate_and_zoom(image, label, rotation_zyx=rotation)
    plane = ((axis + 1) % 3, (axis + 2) % 3)  # right-handed: rotates from the first plane axis to the second
    np.testing.assert_allclose(out_image, np.rot90(image, quarter_turns, axes=plane), atol=1e-5)
    np.testing.assert_array_equal(out_label, np.rot90(label, quarter_turns, axes=plane))


def test_rotation_corners_from_outside_become_ignore():
    """A cube turned by 45° about z keeps a regular octagon of its y-x square: 3 - 2*sqrt(2) comes from outside."""
    image = np.zeros((8, 64, 64), np.float32)
    label = np.zeros(image.shape, np.uint8)
    _, out_label = rotate_and_zoom(image, label, rotation_zyx=rotation_matrix_zyx([1, 0, 0], 45.0))
    assert np.mean(out_label == IGNORE) == pytest.approx(3 - 2 * np.sqrt(2), abs=0.02)
    assert np.all(out_label[:, 0, 0] == IGNORE) and np.all(out_label[:, 32, 32] == 0)


@pytest.mark.parametrize("zoom", [0.7, 1.25])
def test_zoom_scales_an_object_volume_by_zoom_cubed(zoom):
    zz, yy, xx = np.indices((48, 48, 48)) - 23.5
    label = (zz**2 + yy**2 + xx**2 < 10.0**2).astype(np.uint8)
    out_image, out_label = rotate_and_zoom(label.astype(np.float32), label, zoom=zoom)
    assert (out_label == 1).sum() == pytest.approx(zoom**3 * (label == 1).sum(), rel=0.05)
    assert (out_image > 0.5).sum() == pytest.approx(zoom**3 * (label == 1).sum(), rel=0.05)


def test_zoom_out_pads_with_ignore_and_zoom_in_crops():
    image, label = membrane_patch()
    _, zoomed_out = rotate_and_zoom(image, label, zoom=0.5)
    assert np.mean(zoomed_out == IGNORE) == pytest.approx(1 - 0.5**3, abs=0.03)
    _, zoomed_in = rotate_and_zoom(np.zeros_like(image), np.zeros_like(label), zoom=1.4)
    assert not np.any(zoomed_in == IGNORE)


def test_flips_are_exact_and_cover_all_axis_subsets():
    image, label = membrane_patch()
    subsets = [axes for k in range(4) for axes in itertools.combinations(range(3), k)]
    seen = set()
    for seed in range(40):
        out_image, out_label = random_flip(image, label, np.random.default_rng(seed))
        matches = [axes for axes in subsets if np.array_equal(out_label, np.flip(label, axes))]
        assert matches, "output is not a flip of the input"
        np.testing.assert_array_equal(out_image, np.flip(image, matches[0]))
        seen.add(matches[0])
    assert len(seen) == 8


def test_permutations_are_exact_and_cover_all_orders_for_a_cube():
    image, label = membrane_patch()
    seen = set()
    for seed in range(40):
        out_image, out_label = random_axis_permutation(image, label, np.random.default_rng(seed))
        matches = [p for p in itertools.permutations(range(3)) if np.array_equal(out_label, label.transpose(p))]
        assert matches
        np.testing.assert_array_equal(out_image, image.transpose(matches[0]))
        seen.add(matches[0])
    assert len(seen) == 6


def test_permutation_of_a_non_cubic_patch_only_swaps_equal_axes():
    image, label = membrane_patch((24, 40, 40))
    seen = set()
    for seed in range(20):
        out_image, out_label = random_axis_permutation(image, label, np.random.default_rng(seed))
        assert out_label.shape == label.shape
        swapped = np.array_equal(out_label, label.transpose(0, 2, 1)) and not np.array_equal(out_label, label)
        assert swapped or np.array_equal(out_label, label)
        np.testing.assert_array_equal(out_image, image.transpose(0, 2, 1) if swapped else image)
        seen.add(swapped)
    assert seen == {True, False}
    three_lengths = membrane_patch((20, 30, 40))
    out = random_axis_permutation(*three_lengths, np.random.default_rng(0))
    np.testing.assert_array_equal(out[1], three_lengths[1])


@pytest.mark.parametrize("augmentation", [random_rotation, random_zoom, random_flip, random_axis_permutation])
def test_same_seed_gives_same_output_and_inputs_are_not_modified(augmentation):
    image, label = membrane_patch()
    image_before, label_before = image.copy(), label.copy()
    first = augmentation(image, label, np.random.default_rng(7))
    second = augmentation(image, label, np.random.default_rng(7))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(label, label_before)


def test_rotation_matrices_are_proper_rotations():
    rng = np.random.default_rng(3)
    for rotation in [uniform_rotation_matrix(rng) for _ in range(5)] + [rotation_matrix_zyx([1, 2, 3], 37.0)]:
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_bad_input_is_rejected_with_a_message():
    image, label = membrane_patch()
    with pytest.raises(ValueError, match="label shape"):
        random_flip(image, label[:-1], np.random.default_rng(0))
    with pytest.raises(ValueError, match="3D"):
        random_flip(image[0], label[0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="zoom_range"):
        random_zoom(image, label, np.random.default_rng(0), zoom_range=(1.4, 0.7))
