"""Intensity augmentations never touch the label, keep shape/dtype/finite values, and do what they say."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from cryomem.segment._augment import (
    IGNORE,
    brightness,
    brightness_gradient,
    contrast,
    gaussian_blur,
    gaussian_noise,
    local_gamma,
    low_resolution,
    median_filter,
    random_erasing,
    sharpening,
)

INTENSITY = [
    median_filter,
    gaussian_blur,
    gaussian_noise,
    brightness,
    contrast,
    low_resolution,
    random_erasing,
    brightness_gradient,
    local_gamma,
    sharpening,
]


def noisy_patch(shape: tuple[int, int, int] = (32, 32, 32), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-looking patch: a bright slab plus white noise; label = slab, with an ignore corner."""
    rng = np.random.default_rng(seed)
    label = np.zeros(shape, np.uint8)
    label[:, 12:16, :] = 1
    label[:4, :4, :4] = IGNORE
    image = (2.0 * (label == 1) + rng.normal(size=shape)).astype(np.float32)
    return image, label


def power_above(image: np.ndarray, fraction_of_nyquist: float) -> float:
    """Fraction of the (non-DC) spectral power above ``fraction_of_nyquist``."""
    spectrum = np.abs(np.fft.fftn(image - image.mean())) ** 2
    kz, ky, kx = np.meshgrid(*(np.fft.fftfreq(n) for n in image.shape), indexing="ij")
    k = np.sqrt(kz**2 + ky**2 + kx**2)
    return float(spectrum[k > 0.5 * fraction_of_nyquist].sum() / spectrum.sum())


@pytest.mark.parametrize("augmentation", INTENSITY)
def test_label_untouched_and_image_valid(augmentation):
    image, label = noisy_patch()
    image_before, label_before = image.copy(), label.copy()
    for seed in range(3):
        out_image, out_label = augmentation(image, label, np.random.default_rng(seed))
        np.testing.assert_array_equal(out_label, label_before)
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert np.all(np.isfinite(out_image))
        assert not np.array_equal(out_image, image)
    np.testing.assert_array_equal(image, image_before)  # input not modified


@pytest.mark.parametrize("augmentation", INTENSITY)
def test_same_seed_gives_same_output(augmentation):
    image, label = noisy_patch()
    first, _ = augmentation(image, label, np.random.default_rng(11))
    second, _ = augmentation(image, label, np.random.default_rng(11))
    np.testing.assert_array_equal(first, second)


def test_noise_std_is_relative_to_patch_std():
    image, label = noisy_patch()
    out, _ = gaussian_noise(image, label, np.random.default_rng(0), std_range=(0.3, 0.3))
    assert np.std(out - image) == pytest.approx(0.3 * image.std(), rel=0.02)
    assert np.mean(out - image) == pytest.approx(0.0, abs=0.01)


def test_brightness_multiplies_and_contrast_keeps_the_mean():
    image, label = noisy_patch()
    out, _ = brightness(image, label, np.random.default_rng(0), factor_range=(1.2, 1.2))
    np.testing.assert_allclose(out, 1.2 * image, rtol=1e-6)
    out, _ = contrast(image, label, np.random.default_rng(0), factor_range=(0.5, 0.5))
    assert out.mean() == pytest.approx(image.mean(), abs=1e-5)
    assert out.std() == pytest.approx(0.5 * image.std(), rel=1e-5)


def test_median_removes_an_isolated_spike_and_keeps_a_flat_patch():
    image = np.zeros((16, 16, 16), np.float32)
    label = np.zeros(image.shape, np.uint8)
    image[8, 8, 8] = 100.0
    out, _ = median_filter(image, label, np.random.default_rng(0))
    assert np.all(out == 0.0)
    out, _ = median_filter(np.full_like(image, 3.0), label, np.random.default_rng(0), radius_range_px=(2, 2))
    assert np.all(out == 3.0)


def test_blur_and_low_resolution_remove_high_frequencies_and_sharpening_adds_them():
    image, label = noisy_patch()
    before = power_above(image, 0.6)
    blurred, _ = gaussian_blur(image, label, np.random.default_rng(0), sigma_range_px=(1.0, 1.0))
    coarse, _ = low_resolution(image, label, np.random.default_rng(0), scale_range=(0.5, 0.5))
    assert power_above(blurred, 0.6) < 0.1 * before
    assert power_above(coarse, 0.6) < 0.5 * before
    smooth = ndi.gaussian_filter(image, 1.0)
    sharp, _ = sharpening(smooth, label, np.random.default_rng(0), strength_range=(1.0, 1.0))
    assert power_above(sharp, 0.3) > 1.5 * power_above(smooth, 0.3)


def test_low_resolution_at_scale_one_is_the_identity():
    image, label = noisy_patch()
    out, _ = low_resolution(image, label, np.random.default_rng(0), scale_range=(1.0, 1.0))
    np.testing.assert_array_equal(out, image)


def test_local_gamma_keeps_the_intensity_range_and_is_identity_for_gamma_one():
    image, label = noisy_patch()
    out, _ = local_gamma(image, label, np.random.default_rng(0), gamma_range=(2.0, 2.0))
    assert out.min() == pytest.approx(image.min(), abs=1e-5)
    assert out.max() == pytest.approx(image.max(), abs=1e-4)
    assert out.mean() < image.mean()  # gamma > 1 darkens the mid-tones
    same, _ = local_gamma(image, label, np.random.default_rng(0), gamma_range=(1.0, 1.0))
    np.testing.assert_allclose(same, image, atol=1e-5)


def test_brightness_gradient_is_a_smooth_field_of_the_requested_amplitude():
    image, label = noisy_patch()
    for seed in range(4):
        out, _ = brightness_gradient(image, label, np.random.default_rng(seed), strength_range=(0.5, 0.5))
        field = out - image
        assert np.abs(field).max() == pytest.approx(0.5 * image.std(), rel=1e-3)
        assert np.abs(np.diff(field, axis=0)).max() < 0.1 * np.abs(field).max()  # smooth, no noise


def test_random_erasing_blanks_boxes_and_optionally_ignores_them():
    image, label = noisy_patch()
    out, out_label = random_erasing(image, label, np.random.default_rng(0), n_boxes_range=(1, 1))
    erased = out != image
    assert 0 < erased.mean() < 0.1
    np.testing.assert_allclose(out[erased], image.mean(), rtol=1e-6)
    assert out_label is label
    out, out_label = random_erasing(image, label, np.random.default_rng(0), n_boxes_range=(1, 1), ignore_label=True)
    np.testing.assert_array_equal(out_label[out != image], IGNORE)
    np.testing.assert_array_equal(out_label[out == image], label[out == image])
    assert not np.shares_memory(out_label, label)


def test_bad_ranges_are_rejected_with_the_parameter_name():
    image, label = noisy_patch()
    with pytest.raises(ValueError, match="sigma_range_px"):
        gaussian_blur(image, label, np.random.default_rng(0), sigma_range_px=(2.0, 1.0))
    with pytest.raises(ValueError, match="scale_range"):
        low_resolution(image, label, np.random.default_rng(0), scale_range=(1.5, 2.0))
    with pytest.raises(ValueError, match="radius_range_px"):
        median_filter(image, label, np.random.default_rng(0), radius_range_px=(0, 1))
