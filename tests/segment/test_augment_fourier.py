"""Fourier amplitude augmentation keeps phases and is radial; missing-wedge augmentation zeroes exactly its wedge."""

from __future__ import annotations

import numpy as np
import pytest

from cryomem.segment._augment import (
    IGNORE,
    fourier_amplitude,
    missing_wedge,
    missing_wedge_mask,
    random_radial_profile,
    rotation_matrix_zyx,
    uniform_rotation_matrix,
)


def patch(shape: tuple[int, int, int] = (32, 32, 32), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright tilted slab (a membrane) in white noise; label = slab with an ignore corner."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    label = (np.abs(0.5 * zz + 0.7 * yy + 0.5 * xx - 25) < 2).astype(np.uint8)
    label[:4, :4, :4] = IGNORE
    return (3.0 * (label == 1) + rng.normal(size=shape)).astype(np.float32), label


def test_random_walk_profile_starts_at_one_and_stays_non_negative():
    profile = random_radial_profile(np.random.default_rng(0), 80, sigma=0.2)
    assert profile.shape == (80,) and profile[0] == 1.0 and np.all(profile >= 0)
    steps = np.diff(random_radial_profile(np.random.default_rng(1), 20000, sigma=0.2))
    assert np.median(np.abs(steps)) == pytest.approx(0.2 * 0.6745, rel=0.05)  # |N(0, 0.2^2)| median
    np.testing.assert_array_equal(random_radial_profile(np.random.default_rng(0), 10, sigma=0.0), np.ones(10))


def test_fourier_amplitude_keeps_phases_and_mean():
    image, label = patch()
    for seed in range(3):
        out, out_label = fourier_amplitude(image, label, np.random.default_rng(seed), sigma=0.2)
        assert out_label is label and out.dtype == np.float32 and out.shape == image.shape
        before, after = np.fft.rfftn(image.astype(np.float64)), np.fft.rfftn(out.astype(np.float64))
        ratio = np.abs(after) / np.maximum(np.abs(before), 1e-30)
        reliable = (np.abs(before) > 1e-3 * np.abs(before).max()) & (ratio > 1e-3)
        phase_change = np.angle(after[reliable] * np.conj(before[reliable]))
        assert np.abs(phase_change).max() < 1e-3
        assert out.mean() == pytest.approx(image.mean(), abs=1e-4)  # x_0 = 1: DC kept


def test_fourier_amplitude_gain_depends_on_radius_only():
    image, label = patch()
    out, _ = fourier_amplitude(image, label, np.random.default_rng(5), sigma=0.5)
    before, after = np.fft.fftn(image.astype(np.float64)), np.fft.fftn(out.astype(np.float64))
    gain = np.abs(after) / np.abs(before)
    for radius in (3, 7, 12):
        along_axes = [gain[radius, 0, 0], gain[0, radius, 0], gain[0, 0, radius], gain[-radius, 0, 0]]
        np.testing.assert_allclose(along_axes, along_axes[0], rtol=1e-3)
    assert np.ptp([gain[r, 0, 0] for r in range(1, 16)]) > 0.1  # and it does vary with radius


def test_fourier_amplitude_with_zero_sigma_is_the_identity():
    image, label = patch()
    out, out_label = fourier_amplitude(image, label, np.random.default_rng(0), sigma=0.0)
    np.testing.assert_allclose(out, image, atol=1e-5)
    assert out_label is label


def wedge_without_rotation(shape: tuple[int, int, int], half_angle_deg: float) -> np.ndarray:
    """Independent construction on the full FFT grid: angle of (k_z, k_x) from the k_z axis < half angle."""
    kz, _, kx = np.meshgrid(*(np.fft.fftfreq(n) for n in shape), indexing="ij")
    angle_from_kz = np.degrees(np.arctan2(np.abs(kx), np.abs(kz)))
    return (angle_from_kz < half_angle_deg) & (kz != 0)


@pytest.mark.parametrize("shape", [(32, 32, 32), (24, 20, 31)])
def test_missing_wedge_without_rotation_zeroes_exactly_the_wedge(shape):
    image, label = patch(shape)
    out, out_label = missing_wedge(
        image, label, np.random.default_rng(0), half_angle_range_deg=(30.0, 30.0), random_orientation=False
    )
    assert out_label is label and out.dtype == np.float32 and out.shape == image.shape
    before, after = np.fft.fftn(image.astype(np.float64)), np.fft.fftn(out.astype(np.float64))
    wedge = wedge_without_rotation(shape, 30.0)
    scale = np.abs(before).max()
    assert np.abs(after[wedge]).max() < 1e-5 * scale
    np.testing.assert_allclose(after[~wedge], before[~wedge], atol=1e-5 * scale)
    assert out.mean() == pytest.approx(image.mean(), abs=1e-4)


def test_missing_wedge_removes_the_fraction_of_coefficients_a_wedge_covers():
    """On a square (k_z, k_x) grid the wedge |k_x| < tan(a) |k_z| covers tan(a) / 2 of it (the k_x = 0 and
    Nyquist columns of the half spectrum are left out of the count: they are not sampled like the rest)."""
    for half_angle in (20.0, 30.0, 40.0):
        mask = missing_wedge_mask((64, 64, 64), half_angle)
        assert mask[..., 1:-1].mean() == pytest.approx(np.tan(np.radians(half_angle)) / 2, abs=0.015)


def test_rotated_wedge_of_a_quarter_turn_about_y_lies_around_k_x():
    shape = (32, 32, 32)
    rotated = missing_wedge_mask(shape, 30.0, rotation_matrix_zyx([0, 1, 0], 90.0))
    kz, _, kx = np.meshgrid(*(np.fft.fftfreq(n) for n in shape), indexing="ij")
    around_kx = (np.degrees(np.arctan2(np.abs(kz), np.abs(kx))) < 30.0) & (kx != 0)
    np.testing.assert_array_equal(rotated, around_kx[..., : shape[2] // 2 + 1])


def test_missing_wedge_in_a_random_orientation_zeroes_the_rotated_wedge():
    """Replay the augmentation's draws (half angle, then rotation) and check its spectrum in that frame."""
    image, label = patch()
    out, _ = missing_wedge(image, label, np.random.default_rng(3), half_angle_range_deg=(20.0, 40.0))
    replay = np.random.default_rng(3)
    half_angle = replay.uniform(20.0, 40.0)
    mask = missing_wedge_mask(image.shape, half_angle, uniform_rotation_matrix(replay))
    before, after = np.fft.rfftn(image.astype(np.float64)), np.fft.rfftn(out.astype(np.float64))
    scale = np.abs(before).max()
    assert 0.1 < mask.mean() < 0.5
    assert np.abs(after[mask]).max() < 1e-5 * scale
    np.testing.assert_allclose(after[~mask], before[~mask], atol=1e-5 * scale)
    assert np.sum(out.astype(np.float64) ** 2) < np.sum(image.astype(np.float64) ** 2)  # energy removed


@pytest.mark.parametrize("augmentation", [fourier_amplitude, missing_wedge])
def test_same_seed_same_output_and_label_and_input_untouched(augmentation):
    image, label = patch()
    image_before, label_before = image.copy(), label.copy()
    first = augmentation(image, label, np.random.default_rng(9))
    second = augmentation(image, label, np.random.default_rng(9))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], label_before)
    np.testing.assert_array_equal(image, image_before)
    assert np.all(np.isfinite(first[0]))


def test_bad_parameters_are_rejected():
    image, label = patch()
    with pytest.raises(ValueError, match="half_angle_range_deg"):
        missing_wedge(image, label, np.random.default_rng(0), half_angle_range_deg=(40.0, 95.0))
    with pytest.raises(ValueError, match="sigma"):
        fourier_amplitude(image, label, np.random.default_rng(0), sigma=-0.1)
