"""MemBrain-seg's Fourier-space training augmentations: Fourier amplitude and missing wedge.

Fourier amplitude (Lamm et al. 2025, Methods; preprint 2024, sec. 2.3.2): a radial profile ``x`` of
length "half the patch size" from the random walk ``x_0 = 1``, ``x_{n+1} = |x_n + d_n|``,
``d_n ~ N(0, sigma^2)`` with ``sigma = 0.2``, expanded into a 3D radial kernel and multiplied with the
Fourier transform of the patch. The kernel is real and non-negative, so phases are kept, and
``x_0 = 1`` keeps the mean.

Missing wedge (preprint sec. 2.3.3, after IsoNet): rotate the patch randomly, zero a wedge of Fourier
coefficients, and keep the ground truth. Because the Fourier transform commutes with rotations,
"rotate, mask, rotate back" equals masking the *rotated* wedge directly; we do the latter. It gives
the same Fourier support without two trilinear resamplings (which would low-pass the image and lose
the patch corners) and leaves the label exactly unchanged, with the patch in its original frame.

Both act on the half spectrum (``scipy.fft.rfftn``) with masks symmetric under ``k -> -k``, so the
output is real and float32. Frequencies are in cycles per voxel, axes ``(z, y, x)``.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft as sfft

from cryomem.segment._augment_spatial import check_patch, uniform_rotation_matrix


@functools.lru_cache(maxsize=8)
def _frequencies(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable full-spectrum frequency axes (cycles/voxel) for ``shape``: (n_z,1,1), (1,n_y,1), (1,1,n_x)."""
    axes = [sfft.fftfreq(n).astype(np.float32) for n in shape]
    return axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]


@functools.lru_cache(maxsize=8)
def _radius_index(shape: tuple[int, int, int]) -> np.ndarray:
    """Radial frequency on the rfft half-grid, in units of ``1 / max(shape)`` cycles/voxel (Nyquist of
    the longest axis = ``max(shape) / 2``), float32, read-only."""
    kz, ky, kx = _frequencies(shape)
    radius = np.sqrt(kz**2 + ky**2 + kx[..., : shape[2] // 2 + 1] ** 2) * np.float32(max(shape))
    radius.setflags(write=False)
    return radius


def random_radial_profile(rng: np.random.Generator, n_bins: int, sigma: float = 0.2) -> np.ndarray:
    """Random walk ``x_0 = 1``, ``x_{n+1} = |x_n + N(0, sigma^2)|`` of length ``n_bins`` (float64, >= 0)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    steps = rng.normal(0.0, sigma, size=n_bins - 1)
    profile = np.empty(n_bins)
    profile[0] = 1.0
    for n, step in enumerate(steps):
        profile[n + 1] = abs(profile[n] + step)
    return profile


def fourier_amplitude(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    sigma: float = 0.2,
    n_bins: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Multiply the amplitude spectrum by a random radial profile (`random_radial_profile`); phases kept.

    Parameters
    ----------
    sigma : float
        Step std of the random walk (paper: 0.2). 0 gives the identity (up to FFT round-off).
    n_bins : int, optional
        Length of the profile; default ``max(shape) // 2`` (the paper's "half the patch size"). Bin
        ``i`` sits at radius ``i / max(shape)`` cycles/voxel, values between bins are interpolated
        linearly and radii beyond the last bin (the corners of the spectrum) take the last value.

    The label is returned unchanged (same object).
    """
    image, _ = check_patch(image, label)
    n_bins = max(image.shape) // 2 if n_bins is None else n_bins
    profile = random_radial_profile(rng, max(n_bins, 1), sigma).astype(np.float32)
    radius = _radius_index(image.shape)
    kernel = np.interp(radius, np.arange(profile.size, dtype=np.float32), profile).astype(np.float32)
    spectrum = sfft.rfftn(image)
    spectrum *= kernel
    return sfft.irfftn(spectrum, s=image.shape).astype(np.float32, copy=False), label


def missing_wedge_mask(
    shape_zyx: tuple[int, int, int], half_angle_deg: float, rotation_zyx: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the rfft half-spectrum (``(n_z, n_y, n_x // 2 + 1)``), True inside the wedge.

    In the wedge frame (beam along z, tilt axis y) a frequency ``k`` is missing when its direction in the
    ``(k_z, k_x)`` plane lies within ``half_angle_deg`` of the ``k_z`` axis: ``|k_x| < tan(a) |k_z|``.
    A tilt series over ``+-t`` degrees leaves ``a = 90 - t`` (``+-60°`` -> 30°). The ``k_y`` axis (and so
    the mean) is never masked. With ``rotation_zyx`` = R (the random rotation applied to the patch
    before masking), frequency ``k`` is masked when ``R k`` is in the wedge. The mask is made exactly
    symmetric under ``k -> -k`` (including Nyquist planes), so the masked patch is real.
    """
    shape = tuple(int(n) for n in shape_zyx)
    if len(shape) != 3:
        raise ValueError(f"shape_zyx must have 3 entries, got {shape_zyx}")
    if not 0 <= half_angle_deg < 90:
        raise ValueError(f"half_angle_deg must lie in [0, 90), got {half_angle_deg}")
    kz, ky, kx = _frequencies(shape)
    if rotation_zyx is None:
        wedge_z, wedge_x = np.abs(kz), np.abs(kx)
    else:
        rot = np.asarray(rotation_zyx, dtype=np.float32)
        wedge_z = np.abs(rot[0, 0] * kz + rot[0, 1] * ky + rot[0, 2] * kx)
        wedge_x = np.abs(rot[2, 0] * kz + rot[2, 1] * ky + rot[2, 2] * kx)
    full = np.broadcast_to(wedge_x < np.float32(np.tan(np.deg2rad(half_angle_deg))) * wedge_z, shape)
    mirrored = np.roll(np.flip(full, axis=(0, 1, 2)), shift=1, axis=(0, 1, 2))  # value at -k
    return (full | mirrored)[..., : shape[2] // 2 + 1]


def missing_wedge(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    half_angle_range_deg: tuple[float, float] = (20.0, 40.0),
    random_orientation: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Zero an artificial missing wedge (half-angle uniform in ``half_angle_range_deg``) in the patch's
    Fourier transform, in an orientation uniform over SO(3) (or the tilt-axis-y frame of the tomogram
    when ``random_orientation`` is False). The label is returned unchanged (same object)."""
    image, _ = check_patch(image, label)
    low, high = half_angle_range_deg
    if not 0 <= low <= high < 90:
        raise ValueError(f"half_angle_range_deg must satisfy 0 <= low <= high < 90, got {half_angle_range_deg}")
    half_angle = rng.uniform(low, high)
    rotation = uniform_rotation_matrix(rng) if random_orientation else None
    mask = missing_wedge_mask(image.shape, half_angle, rotation)
    spectrum = sfft.rfftn(image)
    spectrum[mask] = 0
    return sfft.irfftn(spectrum, s=image.shape).astype(np.float32, copy=False), label
