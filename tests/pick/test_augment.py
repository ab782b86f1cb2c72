"""The nine feature augmentations: shapes, seeds, identity at zero strength, effect on statistics."""

from __future__ import annotations

import numpy as np
import pytest
from pick_model_meshes import grid

from cryomem.pick import (
    PickAugmentConfig,
    augment_features,
    brightness_gradient,
    feature_dropout,
    feature_noise,
    feature_scale,
    feature_shift,
    local_gamma,
    normal_smoothing,
    random_erasing,
    spatial_smoothing,
)

VERTICES, _ = grid(30, 30, spacing_ang=10.0)
FEATURES = np.random.default_rng(0).normal(size=(len(VERTICES), 21)).astype(np.float32)


def _rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


ALL = {
    "spatial_smoothing": lambda f, s, rng: spatial_smoothing(f, VERTICES, sigma_ang=10.0 * s),
    "normal_smoothing": lambda f, s, rng: normal_smoothing(f, sigma_samples=1.0 * s),
    "feature_dropout": lambda f, s, rng: feature_dropout(f, 0.2 * s, rng),
    "feature_noise": lambda f, s, rng: feature_noise(f, 0.5 * s, rng),
    "feature_shift": lambda f, s, rng: feature_shift(f, 0.7 * s),
    "feature_scale": lambda f, s, rng: feature_scale(f, 1.0 + 0.5 * s),
    "random_erasing": lambda f, s, rng: random_erasing(f, VERTICES, rng, n_regions=int(2 * s), radius_ang=40.0),
    "brightness_gradient": lambda f, s, rng: brightness_gradient(f, VERTICES, rng, strength=0.5 * s),
    "local_gamma": lambda f, s, rng: local_gamma(f, VERTICES, rng, log_gamma=0.5 * s),
}


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_and_no_aliasing(name):
    original = FEATURES.copy()
    out = ALL[name](FEATURES, 1.0, _rng())
    assert out.shape == FEATURES.shape and out.dtype == np.float32
    np.testing.assert_array_equal(FEATURES, original)  # input untouched
    assert not np.array_equal(out, FEATURES)


@pytest.mark.parametrize("name", ALL)
def test_identity_at_zero_strength(name):
    np.testing.assert_allclose(ALL[name](FEATURES, 0.0, _rng()), FEATURES, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_result(name):
    np.testing.assert_array_equal(ALL[name](FEATURES, 1.0, _rng(5)), ALL[name](FEATURES, 1.0, _rng(5)))


def test_spatial_smoothing_keeps_constants_and_lowers_variance():
    constant = np.full_like(FEATURES, 3.0)
    np.testing.assert_allclose(spatial_smoothing(constant, VERTICES, 15.0), constant, rtol=1e-6)
    smoothed = spatial_smoothing(FEATURES, VERTICES, 15.0)
    assert smoothed.var() < 0.3 * FEATURES.var()
    assert abs(smoothed.mean() - FEATURES.mean()) < 0.05


def test_normal_smoothing_acts_along_the_normal_only():
    ramp_across_vertices = np.repeat(np.arange(len(VERTICES), dtype=np.float32)[:, None], 21, axis=1)
    np.testing.assert_allclose(normal_smoothing(ramp_across_vertices, 2.0), ramp_across_vertices, rtol=1e-6)
    assert normal_smoothing(FEATURES, 2.0).var() < 0.4 * FEATURES.var()


def test_dropout_zeroes_the_requested_fraction():
    out = feature_dropout(FEATURES, 0.25, _rng())
    zeroed = out == 0
    assert zeroed.mean() == pytest.approx(0.25, abs=0.02)
    np.testing.assert_array_equal(out[~zeroed], FEATURES[~zeroed])


def test_noise_has_the_requested_standard_deviation():
    assert (feature_noise(FEATURES, 0.5, _rng()) - FEATURES).std() == pytest.approx(0.5, rel=0.03)


def test_shift_and_scale_change_mean_and_spread_exactly():
    assert feature_shift(FEATURES, 0.7).mean() == pytest.approx(FEATURES.mean() + 0.7, abs=1e-5)
    assert feature_scale(FEATURES, 1.5).std() == pytest.approx(1.5 * FEATURES.std(), rel=1e-5)


def test_random_erasing_clears_whole_regions_only():
    out = random_erasing(FEATURES + 10.0, VERTICES, _rng(), n_regions=1, radius_ang=35.0)
    erased = np.all(out == 0, axis=1)
    assert 9 <= erased.sum() <= 45  # a disc of radius 3.5 spacings holds ~37 grid vertices
    centre = VERTICES[erased].mean(axis=0)
    assert np.max(np.linalg.norm(VERTICES[erased] - centre, axis=1)) <= 70.0
    np.testing.assert_array_equal(out[~erased], FEATURES[~erased] + 10.0)


def test_brightness_gradient_scales_between_one_and_one_plus_strength():
    positive = np.abs(FEATURES) + 1.0
    ratio = brightness_gradient(positive, VERTICES, _rng(), strength=0.5) / positive
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-5)  # one factor per vertex
    assert ratio.min() >= 1.0 - 1e-6 and ratio.max() == pytest.approx(1.5, rel=1e-5)


def test_local_gamma_stays_in_range_and_darkens_for_gamma_above_one():
    out = local_gamma(FEATURES, VERTICES, _rng(), log_gamma=0.5)
    assert out.min() >= FEATURES.min() - 1e-5 and out.max() <= FEATURES.max() + 1e-5
    assert out.mean() < FEATURES.mean()
    brighter = local_gamma(FEATURES, VERTICES, _rng(), log_gamma=-0.5)
    assert brighter.mean() > FEATURES.mean()


def test_augment_features_is_seeded_and_identity_with_probability_zero():
    config = PickAugmentConfig(probability=1.0)
    first = augment_features(FEATURES, VERTICES, _rng(3), config)
    np.testing.assert_array_equal(first, augment_features(FEATURES, VERTICES, _rng(3), config))
    assert not np.array_equal(first, augment_features(FEATURES, VERTICES, _rng(4), config))
    np.testing.assert_array_equal(
        augment_features(FEATURES, VERTICES, _rng(3), PickAugmentConfig(probability=0)), FEATURES
    )


def test_features_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"features must have shape \(n, k\)"):
        feature_shift(np.zeros(5), 1.0)
