"""Training-time augmentation pipeline for membrane segmentation patches (MemBrain-seg style).

`augment(image, label, rng, config)` applies, each with its own probability from `AugmentationConfig`:

1. spatial: rotation at arbitrary angles and zoom 0.7-1.4 (one combined trilinear / nearest resampling),
   axis flips, axis permutation;
2. Fourier: missing wedge, then Fourier amplitude (they model how the tomogram was imaged and
   reconstructed, so they act before the "post-processing" style changes);
3. intensity: median, blur, low resolution, sharpening, noise, brightness, contrast, brightness
   gradient, local gamma, and random erasing last (so an erased box is really blank).

Only the spatial steps touch the label (``IGNORE`` = 2 where content came from outside the patch).
Parameters from the papers: zoom range 0.7-1.4 and the Fourier-amplitude random-walk step 0.2;
the probabilities and the other ranges are nnU-Net-like choices (the papers give none).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cryomem.segment._augment_fourier import (
    fourier_amplitude,
    missing_wedge,
    missing_wedge_mask,
    random_radial_profile,
)
from cryomem.segment._augment_intensity import (
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
from cryomem.segment._augment_spatial import (
    IGNORE,
    check_patch,
    random_axis_permutation,
    random_flip,
    random_rotation,
    random_rotation_matrix,
    random_zoom,
    rotate_and_zoom,
    rotation_matrix_zyx,
    uniform_rotation_matrix,
)

__all__ = [
    "IGNORE",
    "AugmentationConfig",
    "augment",
    # spatial
    "rotate_and_zoom",
    "random_rotation",
    "random_zoom",
    "random_flip",
    "random_axis_permutation",
    "rotation_matrix_zyx",
    "random_rotation_matrix",
    "uniform_rotation_matrix",
    # Fourier
    "fourier_amplitude",
    "random_radial_profile",
    "missing_wedge",
    "missing_wedge_mask",
    # intensity
    "median_filter",
    "gaussian_blur",
    "gaussian_noise",
    "brightness",
    "contrast",
    "low_resolution",
    "sharpening",
    "brightness_gradient",
    "local_gamma",
    "random_erasing",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


class AugmentationConfig(BaseModel):
    """Probabilities (``*_p``) and parameter ranges (``(low, high)``, sampled uniformly) of `augment`.

    Save it next to a trained model (``config.model_dump_json()``) so the training is reproducible.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # spatial
    rotation_p: Probability = 0.5
    rotation_max_angle_deg: Annotated[float, Field(ge=0.0, le=180.0)] = 180.0
    zoom_p: Probability = 0.3
    zoom_range: tuple[Positive, Positive] = (0.7, 1.4)  # paper
    flip_p_per_axis: Probability = 0.5
    permute_p: Probability = 0.5
    # Fourier
    missing_wedge_p: Probability = 0.25
    missing_wedge_half_angle_range_deg: tuple[
        Annotated[float, Field(ge=0.0, lt=90.0)], Annotated[float, Field(ge=0.0, lt=90.0)]
    ] = (20.0, 40.0)
    fourier_amplitude_p: Probability = 0.5
    fourier_amplitude_sigma: NonNegative = 0.2  # paper
    fourier_amplitude_n_bins: Annotated[int, Field(ge=1)] | None = None  # None: max(shape) // 2 (paper)
    # intensity
    median_p: Probability = 0.1
    median_radius_range_px: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (1, 1)
    blur_p: Probability = 0.2
    blur_sigma_range_px: tuple[NonNegative, NonNegative] = (0.5, 1.0)
    low_resolution_p: Probability = 0.25
    low_resolution_scale_range: tuple[Fraction, Fraction] = (0.5, 1.0)
    sharpening_p: Probability = 0.2
    sharpening_strength_range: tuple[NonNegative, NonNegative] = (0.2, 1.0)
    sharpening_sigma_range_px: tuple[Positive, Positive] = (0.5, 1.5)
    noise_p: Probability = 0.15
    noise_std_range: tuple[NonNegative, NonNegative] = (0.0, 0.3)  # fraction of the patch std
    brightness_p: Probability = 0.15
    brightness_range: tuple[Positive, Positive] = (0.75, 1.25)
    contrast_p: Probability = 0.15
    contrast_range: tuple[NonNegative, NonNegative] = (0.75, 1.25)
    brightness_gradient_p: Probability = 0.15
    brightness_gradient_strength_range: tuple[NonNegative, NonNegative] = (0.2, 1.0)  # fraction of patch std
    local_gamma_p: Probability = 0.15
    local_gamma_range: tuple[Positive, Positive] = (0.5, 2.0)
    smooth_field_width_fraction_range: tuple[Positive, Positive] = (0.3, 1.0)  # gradient and gamma fields
    erasing_p: Probability = 0.1
    erasing_n_boxes_range: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = (1, 3)
    erasing_size_fraction_range: tuple[Fraction, Fraction] = (0.1, 0.3)
    erasing_ignore_label: bool = False

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> AugmentationConfig:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if "_range" in name and value[0] > value[1]:
                raise ValueError(f"{name} must be (low, high) with low <= high, got {value}")
        return self


def _intensity_steps(config: AugmentationConfig) -> list[tuple[float, Any, dict[str, Any]]]:
    """(probability, function, parameters) of the intensity steps, in the order they are applied."""
    width = config.smooth_field_width_fraction_range
    return [
        (config.median_p, median_filter, {"radius_range_px": config.median_radius_range_px}),
        (config.blur_p, gaussian_blur, {"sigma_range_px": config.blur_sigma_range_px}),
        (config.low_resolution_p, low_resolution, {"scale_range": config.low_resolution_scale_range}),
        (
            config.sharpening_p,
            sharpening,
            {"strength_range": config.sharpening_strength_range, "sigma_range_px": config.sharpening_sigma_range_px},
        ),
        (config.noise_p, gaussian_noise, {"std_range": config.noise_std_range}),
        (config.brightness_p, brightness, {"factor_range": config.brightness_range}),
        (config.contrast_p, contrast, {"factor_range": config.contrast_range}),
        (
            config.brightness_gradient_p,
            brightness_gradient,
            {"strength_range": config.brightness_gradient_strength_range, "width_fraction_range": width},
        ),
        (config.local_gamma_p, local_gamma, {"gamma_range": config.local_gamma_range, "width_fraction_range": width}),
        (
            config.erasing_p,
            random_erasing,
            {
                "n_boxes_range": config.erasing_n_boxes_range,
                "size_fraction_range": config.erasing_size_fraction_range,
                "ignore_label": config.erasing_ignore_label,
            },
        ),
    ]


def augment(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    config: AugmentationConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly augment one training patch; the inputs are not modified.

    Parameters
    ----------
    image : (z, y, x) float array
        Patch, ideally already normalised per patch (zero mean, unit std, as MemBrain-seg does).
    label : (z, y, x) int array
        0 background, 1 membrane, 2 ignore.
    rng : numpy.random.Generator
        Source of all randomness (same generator state, same output).
    config : AugmentationConfig, optional
        Probabilities and ranges; default ``AugmentationConfig()``.

    Returns
    -------
    image : float32 array, input shape.
    label : uint8 array, input shape; values from the input plus ``IGNORE`` where spatial steps
        brought in content from outside the patch. The intensity is not re-normalised.
    """
    config = AugmentationConfig() if config is None else config
    image, label = check_patch(image, label)
    image, label = image.copy(), label.copy()

    rotate = rng.random() < config.rotation_p
    zoom = rng.random() < config.zoom_p
    if rotate or zoom:
        rotation = random_rotation_matrix(rng, config.rotation_max_angle_deg) if rotate else None
        factor = rng.uniform(*config.zoom_range) if zoom else 1.0
        image, label = rotate_and_zoom(image, label, rotation_zyx=rotation, zoom=factor)
    image, label = random_flip(image, label, rng, p_per_axis=config.flip_p_per_axis)
    if rng.random() < config.permute_p:
        image, label = random_axis_permutation(image, label, rng)

    if rng.random() < config.missing_wedge_p:
        image, label = missing_wedge(image, label, rng, half_angle_range_deg=config.missing_wedge_half_angle_range_deg)
    if rng.random() < config.fourier_amplitude_p:
        image, label = fourier_amplitude(
            image, label, rng, sigma=config.fourier_amplitude_sigma, n_bins=config.fourier_amplitude_n_bins
        )

    for probability, step, params in _intensity_steps(config):
        if rng.random() < probability:
            image, label = step(image, label, rng, **params)
    return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(label, dtype=np.uint8)
