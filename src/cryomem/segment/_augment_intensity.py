"""Intensity training augmentations (MemBrain-seg's "conventional" list, nnU-Net style).

Lamm et al. 2025 (Methods) list: median filtering, Gaussian blurring, Gaussian noise, brightness and
contrast, low-resolution simulation, random erasing, additive brightness gradient, local gamma and
sharpening. The papers give no parameter values for these; the defaults here are nnU-Net-like.

Each function is ``(image, label, rng, **params) -> (image, label)`` on a ``(z, y, x)`` patch; the image
comes back as a new float32 array and the label is returned as it came in (the same object), except
for `random_erasing` with ``ignore_label=True``. Amplitudes (noise, gradients) are relative to the
patch's standard deviation, so the augmentations behave the same before or after normalisation.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

from cryomem.segment._augment_spatial import IGNORE, check_patch


def _patch_std(image: np.ndarray) -> float:
    """Standard deviation of the patch, or 1 for a constant patch (so relative amplitudes stay defined)."""
    std = float(image.std())
    return std if std > 0 and np.isfinite(std) else 1.0


def _uniform(rng: np.random.Generator, value_range: tuple[float, float], name: str) -> float:
    low, high = value_range
    if not low <= high:
        raise ValueError(f"{name} must satisfy low <= high, got {value_range}")
    return float(rng.uniform(low, high))


def _smooth_field(
    shape: tuple[int, ...], rng: np.random.Generator, width_fraction_range: tuple[float, float], kind: str
) -> np.ndarray:
    """Random smooth field in [0, 1]: a Gaussian blob (random centre inside the patch and per-axis width)
    or a linear ramp along a random direction. Built separably, float32."""
    if kind == "linear":
        direction = rng.normal(size=3)
        ramps = [np.linspace(-0.5, 0.5, n, dtype=np.float32) * np.float32(d) for n, d in zip(shape, direction)]
        field = ramps[0][:, None, None] + ramps[1][None, :, None] + ramps[2][None, None, :]
        span = float(field.max() - field.min())
        return (field - field.min()) / np.float32(span) if span > 0 else np.zeros(shape, np.float32)
    profiles = []
    for n in shape:
        centre = rng.uniform(0, n - 1)
        width = max(_uniform(rng, width_fraction_range, "width_fraction_range") * n, 0.5)
        coords = np.arange(n, dtype=np.float32) - np.float32(centre)
        profiles.append(np.exp(-0.5 * (coords / np.float32(width)) ** 2))
    field = profiles[0][:, None, None] * profiles[1][None, :, None] * profiles[2][None, None, :]
    return field / field.max()


def median_filter(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, radius_range_px: tuple[int, int] = (1, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """Median over a ball of random integer radius (radius 1: the 7-voxel cross; radius 2 is ~5x slower)."""
    image, _ = check_patch(image, label)
    low, high = radius_range_px
    if not 1 <= low <= high:
        raise ValueError(f"radius_range_px must satisfy 1 <= low <= high, got {radius_range_px}")
    radius = int(rng.integers(low, high + 1))
    zz, yy, xx = np.ogrid[-radius : radius + 1, -radius : radius + 1, -radius : radius + 1]
    footprint = zz**2 + yy**2 + xx**2 <= radius**2
    return ndi.median_filter(image, footprint=footprint, mode="reflect"), label


def gaussian_blur(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    sigma_range_px: tuple[float, float] = (0.5, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blur with an independent random sigma (voxels) per axis."""
    image, _ = check_patch(image, label)
    sigma = [_uniform(rng, sigma_range_px, "sigma_range_px") for _ in range(3)]
    return ndi.gaussian_filter(image, sigma, mode="reflect"), label


def gaussian_noise(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, std_range: tuple[float, float] = (0.0, 0.3)
) -> tuple[np.ndarray, np.ndarray]:
    """Add white Gaussian noise whose std is a random fraction (``std_range``) of the patch std."""
    image, _ = check_patch(image, label)
    std = _uniform(rng, std_range, "std_range") * _patch_std(image)
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    return image + np.float32(std) * noise, label


def brightness(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, factor_range: tuple[float, float] = (0.75, 1.25)
) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative brightness: ``image * f`` with ``f`` uniform in ``factor_range``."""
    image, _ = check_patch(image, label)
    return image * np.float32(_uniform(rng, factor_range, "factor_range")), label


def contrast(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, factor_range: tuple[float, float] = (0.75, 1.25)
) -> tuple[np.ndarray, np.ndarray]:
    """Contrast about the patch mean: ``mean + (image - mean) * f`` (mean preserved, no clipping)."""
    image, _ = check_patch(image, label)
    mean = np.float32(image.mean())
    return mean + (image - mean) * np.float32(_uniform(rng, factor_range, "factor_range")), label


def low_resolution(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, scale_range: tuple[float, float] = (0.5, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a coarser voxel size: downsample by ``scale`` (nearest, aliasing like a real coarse
    acquisition), then upsample back to the input shape (trilinear). Voxel centres stay aligned."""
    image, _ = check_patch(image, label)
    scale = _uniform(rng, scale_range, "scale_range")
    if not 0 < scale <= 1:
        raise ValueError(f"scale_range must lie in (0, 1], got {scale_range}")
    shape = np.asarray(image.shape)
    small_shape = np.maximum(np.round(shape * scale).astype(int), 1)
    if np.array_equal(small_shape, shape):
        return image.copy(), label

    def _resize(volume: np.ndarray, out_shape: np.ndarray, order: int) -> np.ndarray:
        ratio = np.asarray(volume.shape) / out_shape  # input voxels per output voxel, per axis
        return ndi.affine_transform(
            volume, ratio, offset=0.5 * ratio - 0.5, output_shape=tuple(out_shape), order=order, mode="nearest"
        )

    return _resize(_resize(image, small_shape, order=0), shape, order=1), label


def random_erasing(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    n_boxes_range: tuple[int, int] = (1, 3),
    size_fraction_range: tuple[float, float] = (0.1, 0.3),
    ignore_label: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Blank random boxes to the patch mean (box side per axis: a random fraction of the patch side).

    By default the label is kept, as in MemBrain-seg's blank-cuboid augmentation: like the missing-wedge
    augmentation, it asks the network to continue membranes through regions without signal from their
    context. ``ignore_label=True`` instead marks the boxes ``IGNORE`` (then the label is a new array).
    """
    image, label = check_patch(image, label)
    low, high = n_boxes_range
    if not 0 <= low <= high:
        raise ValueError(f"n_boxes_range must satisfy 0 <= low <= high, got {n_boxes_range}")
    out = image.copy()
    label_out = label.copy() if ignore_label else label
    fill = np.float32(image.mean())
    for _ in range(int(rng.integers(low, high + 1))):
        box = []
        for n in image.shape:
            size = int(np.clip(round(_uniform(rng, size_fraction_range, "size_fraction_range") * n), 1, n))
            start = int(rng.integers(0, n - size + 1))
            box.append(slice(start, start + size))
        out[tuple(box)] = fill
        if ignore_label:
            label_out[tuple(box)] = IGNORE
    return out, label_out


def brightness_gradient(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    strength_range: tuple[float, float] = (0.2, 1.0),
    width_fraction_range: tuple[float, float] = (0.3, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Add a smooth brightness field (Gaussian blob or linear ramp, 50/50) of random sign whose peak
    amplitude is ``strength`` x patch std; mimics uneven ice thickness / illumination."""
    image, _ = check_patch(image, label)
    kind = "linear" if rng.random() < 0.5 else "gaussian"
    field = _smooth_field(image.shape, rng, width_fraction_range, kind)
    amplitude = _uniform(rng, strength_range, "strength_range") * _patch_std(image) * rng.choice([-1.0, 1.0])
    return image + np.float32(amplitude) * field, label


def local_gamma(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    gamma_range: tuple[float, float] = (0.5, 2.0),
    width_fraction_range: tuple[float, float] = (0.3, 1.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Gamma correction whose exponent varies smoothly in space: ``u ** gamma(r)`` with ``u`` the patch
    rescaled to [0, 1], ``gamma(r) = gamma ** blob(r)`` (``gamma`` log-uniform in ``gamma_range``, ``blob``
    a random Gaussian field in [0, 1]); the result is mapped back to the input's min-max range."""
    image, _ = check_patch(image, label)
    low, high = gamma_range
    if not 0 < low <= high:
        raise ValueError(f"gamma_range must satisfy 0 < low <= high, got {gamma_range}")
    log_gamma = rng.uniform(np.log(low), np.log(high))
    field = _smooth_field(image.shape, rng, width_fraction_range, "gaussian")
    lowest, highest = float(image.min()), float(image.max())
    if not highest > lowest:
        return image.copy(), label
    scale = np.float32(highest - lowest)
    unit = (image - np.float32(lowest)) / scale
    exponent = np.exp(np.float32(log_gamma) * field)
    return np.power(unit, exponent) * scale + np.float32(lowest), label


def sharpening(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    strength_range: tuple[float, float] = (0.2, 1.0),
    sigma_range_px: tuple[float, float] = (0.5, 1.5),
) -> tuple[np.ndarray, np.ndarray]:
    """Unsharp mask: ``image + strength * (image - gaussian(image, sigma))``."""
    image, _ = check_patch(image, label)
    sigma = _uniform(rng, sigma_range_px, "sigma_range_px")
    strength = np.float32(_uniform(rng, strength_range, "strength_range"))
    blurred = ndi.gaussian_filter(image, sigma, mode="reflect")
    return image + strength * (image - blurred), label
