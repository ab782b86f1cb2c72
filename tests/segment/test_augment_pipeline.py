"""The `augment` pipeline and its `AugmentationConfig`."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from cryomem.segment._augment import IGNORE, AugmentationConfig, augment

PROBABILITIES = [name for name in AugmentationConfig.model_fields if name.endswith("_p")]
SPATIAL = {"rotation_p", "zoom_p", "permute_p"}


def config_with(probability: float, only: set[str] | None = None, **extra) -> AugmentationConfig:
    """Every ``*_p`` (and the per-axis flip probability) set to ``probability``, or only those in ``only``."""
    chosen = set(PROBABILITIES) | {"flip_p_per_axis"} if only is None else only
    update = {name: (probability if name in chosen else 0.0) for name in [*PROBABILITIES, "flip_p_per_axis"]}
    return AugmentationConfig(**update, **extra)


def membrane_patch(shape: tuple[int, int, int] = (48, 48, 48)) -> tuple[np.ndarray, np.ndarray]:
    """One vesicle (shell, 4 voxels thick) off centre, an ignore block; image = membrane indicator."""
    zz, yy, xx = np.indices(shape, dtype=np.float64)
    radius = np.sqrt((zz - 0.45 * shape[0]) ** 2 + (yy - 0.55 * shape[1]) ** 2 + (xx - 0.4 * shape[2]) ** 2)
    label = (np.abs(radius - 0.25 * min(shape)) < 2.0).astype(np.uint8)
    label[2:8, 3:10, 30:36] = IGNORE
    return (label == 1).astype(np.float32), label


def test_paper_parameters_are_the_defaults():
    config = AugmentationConfig()
    assert config.zoom_range == (0.7, 1.4)
    assert config.fourier_amplitude_sigma == 0.2
    assert config.fourier_amplitude_n_bins is None  # half the patch size


def test_all_probabilities_zero_is_the_identity():
    image, label = membrane_patch()
    out_image, out_label = augment(image, label, np.random.default_rng(0), config_with(0.0))
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_label, label)
    assert not np.shares_memory(out_image, image) and not np.shares_memory(out_label, label)


def test_everything_on_keeps_shape_dtype_and_label_values():
    image, label = membrane_patch((40, 40, 40))
    for seed in range(3):
        out_image, out_label = augment(image, label, np.random.default_rng(seed), config_with(1.0))
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert out_label.shape == label.shape and out_label.dtype == np.uint8
        assert np.all(np.isfinite(out_image))
        assert set(np.unique(out_label)) <= {0, 1, IGNORE}


def test_non_spatial_steps_never_change_the_label():
    image, label = membrane_patch((40, 40, 40))
    non_spatial = set(PROBABILITIES) - SPATIAL
    out_image, out_label = augment(image, label, np.random.default_rng(1), config_with(1.0, only=non_spatial))
    np.testing.assert_array_equal(out_label, label)
    assert not np.allclose(out_image, image)


def test_spatial_steps_keep_image_and_label_aligned():
    image, label = membrane_patch()
    config = config_with(1.0, only=SPATIAL | {"flip_p_per_axis"})
    for seed in range(4):
        out_image, out_label = augment(image, label, np.random.default_rng(seed), config)
        valid = out_label != IGNORE
        assert np.mean((out_image[valid] > 0.5) == (out_label[valid] == 1)) >= 0.99


def test_same_seed_same_output_different_seed_different_output():
    image, label = membrane_patch((32, 32, 32))
    config = config_with(1.0)
    first = augment(image, label, np.random.default_rng(4), config)
    second = augment(image, label, np.random.default_rng(4), config)
    third = augment(image, label, np.random.default_rng(5), config)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], third[0])


def test_default_config_runs_on_a_non_cubic_patch():
    image, label = membrane_patch((24, 40, 32))
    for seed in range(5):
        out_image, out_label = augment(image, label, np.random.default_rng(seed))
        assert out_image.shape == out_label.shape == (24, 40, 32)


def test_config_validation_names_the_field():
    with pytest.raises(pydantic.ValidationError, match="zoom_range"):
        AugmentationConfig(zoom_range=(1.4, 0.7))
    with pytest.raises(pydantic.ValidationError, match="rotation_p"):
        AugmentationConfig(rotation_p=1.5)
    with pytest.raises(pydantic.ValidationError, match="missing_wedge_half_angle_range_deg"):
        AugmentationConfig(missing_wedge_half_angle_range_deg=(20.0, 90.0))
    with pytest.raises(pydantic.ValidationError, match="zoom_ragne"):
        AugmentationConfig(zoom_ragne=(0.7, 1.4))  # typo: extra fields are forbidden
    with pytest.raises(pydantic.ValidationError):
        AugmentationConfig().rotation_p = 0.1  # frozen


def test_config_round_trips_through_json(tmp_path):
    config = AugmentationConfig(zoom_range=(0.8, 1.2), erasing_ignore_label=True, fourier_amplitude_n_bins=40)
    path = tmp_path / "augmentation.json"
    path.write_text(config.model_dump_json(indent=2))
    assert AugmentationConfig.model_validate_json(path.read_text()) == config


def test_bad_patch_is_rejected():
    image, label = membrane_patch((16, 16, 16))
    with pytest.raises(ValueError, match="label shape"):
        augment(image, label[:, :, :8], np.random.default_rng(0))
