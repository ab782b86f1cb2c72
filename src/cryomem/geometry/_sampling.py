"""Density profiles sampled along vertex normals (MemBrain-pick's per-vertex input features)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from cryomem.geometry._surface_settings import SurfaceSettings
from cryomem.io import xyz_ang_to_zyx_index

__all__ = [
    "spline_coefficients",
    "DEFAULT_FEATURE_LOWPASS_ANG",
    "DEFAULT_FEATURE_OFFSETS_ANG",
    "FEATURE_LOWPASS_ATTR",
    "sample_along_normals",
]

DEFAULT_FEATURE_OFFSETS_ANG = np.arange(-60.0, 60.0 + 1e-9, 2.5)
"""Offsets along the normal, Å: -60 .. +60 in 2.5 Å steps (49 samples); the picker uses a ±50 Å
window of these and shifts it by up to ±5 Å for test-time augmentation. Wider than the ±25 Å the
membrane itself needs because membrane proteins protrude 3-6 nm from the mid-plane (the simulator's
extrinsic domains reach ~60 Å): picking F1 at 6.3 nm on simulated tomograms at SNR 0.5 (5 training
membranes, 15 Å low-pass, TTA, default mean shift) for model windows ±25 / ±50 / ±75 Å: 0.84 / 0.87-0.88 /
0.87 (``benchmarks/bench_pick.py``; ±75 Å from the same protocol with features at ±85 Å)."""

DEFAULT_FEATURE_LOWPASS_ANG: float = SurfaceSettings.model_fields["feature_lowpass_ang"].default
"""Gaussian sigma, Å, of the low-pass filter applied to the tomogram before sampling the features
(0 samples the raw densities); the default of :class:`SurfaceSettings`, which owns the value.
Picking F1 at 6.3 nm on simulated tomograms at SNR 0.5 (model
segmentation, 4 training + 1 validation membrane, no TTA) for sigma 0 / 10 / 15 / 20 Å: 0.69 / 0.80 / 0.85 / 0.81
(best mean-shift settings each; compare with ``benchmarks/bench_pick.py --feature-lowpass``)."""

FEATURE_LOWPASS_ATTR = "feature_lowpass_ang"
"""Key of a surface's ``attrs`` holding the low-pass its features were sampled with (absent: 0)."""

_GAUSSIAN_TRUNCATE = 4.0  # scipy's default: kernel radius int(4 sigma + 0.5) voxels
_CHUNK_POINTS = 1_000_000  # sample points per map_coordinates call (bounds the coordinate buffer to 24 MB)


def sample_along_normals(
    volume_zyx: np.ndarray,
    voxel_size_ang: float,
    vertices_xyz_ang: ArrayLike,
    normals_xyz: ArrayLike,
    offsets_ang: ArrayLike,
    *,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    order: int = 1,
    lowpass_sigma_ang: float = 0.0,
    prefiltered: bool = False,
) -> np.ndarray:
    """Interpolate a volume at ``vertex + offset * normal`` for every vertex and offset.

    Parameters
    ----------
    volume_zyx : (nz, ny, nx) array
        Density, e.g. a tomogram.
    voxel_size_ang : float
        Voxel size, Å.
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz (physical, origin included).
    normals_xyz : (n, 3) float array
        Unit normals, xyz.
    offsets_ang : (k,) float array
        Signed distances along the normal, Å (positive = the side the normal points to).
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel ``(0, 0, 0)``, Å.
    order : {1, 3}, default 1
        1 = trilinear; 3 = cubic B-spline (prefilters a float64 copy of the volume: 8 bytes/voxel).
    lowpass_sigma_ang : float, default 0
        Gaussian low-pass of the volume before sampling, sigma in Å (0: none). Only the box the
        sample points need (plus the kernel's reach) is filtered, as a float32 copy; the values are
        those of filtering the whole volume (``scipy.ndimage.gaussian_filter``, mode "reflect").
    prefiltered : bool, default False
        With ``order=3``: ``volume_zyx`` already holds the cubic B-spline coefficients
        (:func:`spline_coefficients`), so many calls on one tomogram share one prefilter.

    Returns
    -------
    (n, k) float32 array
        Sampled densities. Points outside the grid of voxel centres (beyond ``0 .. N-1`` on any
        axis) read 0.
    """
    from scipy import ndimage

    volume = np.asarray(volume_zyx)
    if volume.ndim != 3:
        raise ValueError(f"volume_zyx must be 3-D (z, y, x), got shape {volume.shape}")
    if order not in (1, 3):
        raise ValueError(f"order must be 1 (trilinear) or 3 (cubic), got {order}")
    if not np.isfinite(voxel_size_ang) or voxel_size_ang <= 0:
        raise ValueError(f"voxel_size_ang must be finite and > 0, got {voxel_size_ang}")
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    normals = np.asarray(normals_xyz, dtype=np.float64)
    offsets = np.asarray(offsets_ang, dtype=np.float64).ravel()
    if vertices.ndim != 2 or vertices.shape[1] != 3 or normals.shape != vertices.shape:
        raise ValueError(
            f"vertices_xyz_ang and normals_xyz must both have shape (n, 3), got {vertices.shape} and {normals.shape}"
        )
    if offsets.size == 0:
        raise ValueError("offsets_ang is empty; give at least one offset in Å")
    if volume.dtype.kind not in "fiu":
        raise ValueError(f"volume_zyx must be numeric, got {volume.dtype}")
    if not np.isfinite(lowpass_sigma_ang) or lowpass_sigma_ang < 0:
        raise ValueError(f"lowpass_sigma_ang must be finite and >= 0 Å, got {lowpass_sigma_ang}")
    if volume.dtype.kind in "iu":
        volume = volume.astype(np.float32)
    n, k = len(vertices), len(offsets)
    result = np.zeros((n, k), dtype=np.float32)
    if n == 0:
        return result
    if lowpass_sigma_ang > 0:
        volume, origin_xyz_ang = _lowpassed_box(
            volume, voxel_size_ang, vertices, np.abs(offsets).max(), origin_xyz_ang, lowpass_sigma_ang
        )
        if volume.size == 0:
            return result  # every sample point lies outside the volume
    if prefiltered and (order != 3 or lowpass_sigma_ang > 0):
        raise ValueError("prefiltered spline coefficients need order=3 and no low-pass")
    if order == 3 and not prefiltered:
        volume = spline_coefficients(volume)
    per_chunk = max(1, _CHUNK_POINTS // k)
    for start in range(0, n, per_chunk):
        stop = min(n, start + per_chunk)
        points = vertices[start:stop, None, :] + offsets[None, :, None] * normals[start:stop, None, :]
        index_zyx = xyz_ang_to_zyx_index(points.reshape(-1, 3), voxel_size_ang, origin_xyz_ang)
        values = ndimage.map_coordinates(
            volume, index_zyx.T, order=order, mode="constant", cval=0.0, prefilter=False, output=np.float32
        )
        result[start:stop] = values.reshape(stop - start, k)
    return result


def spline_coefficients(volume_zyx: np.ndarray) -> np.ndarray:
    """Cubic B-spline coefficients of a volume (mirror boundaries), for ``sample_along_normals(...,
    order=3, prefiltered=True)``. float64, 8 bytes per voxel."""
    from scipy import ndimage

    return ndimage.spline_filter(np.asarray(volume_zyx), order=3, output=np.float64, mode="mirror")


def _lowpassed_box(
    volume: np.ndarray,
    voxel_size_ang: float,
    vertices_xyz_ang: np.ndarray,
    reach_ang: float,
    origin_xyz_ang: Sequence[float],
    sigma_ang: float,
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The Gaussian-filtered part of ``volume`` around the sample points, and that part's origin.

    The box covers every point within ``reach_ang`` of a vertex, plus the trilinear neighbour and
    the kernel radius, so inside it the filtered values equal those of the whole filtered volume;
    it is clipped to the volume, whose own borders are reflected as in a whole-volume filter.
    """
    from scipy import ndimage

    sigma_vox = sigma_ang / voxel_size_ang
    pad = int(_GAUSSIAN_TRUNCATE * sigma_vox + 0.5) + 2
    index_zyx = xyz_ang_to_zyx_index(vertices_xyz_ang, voxel_size_ang, origin_xyz_ang)
    reach_vox = reach_ang / voxel_size_ang
    low = np.floor(index_zyx.min(axis=0) - reach_vox).astype(np.int64) - pad
    high = np.ceil(index_zyx.max(axis=0) + reach_vox).astype(np.int64) + 1 + pad
    low = np.clip(low, 0, volume.shape)
    high = np.clip(high, low, volume.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
    part = np.asarray(volume[box], dtype=np.float32)
    if part.size:
        part = ndimage.gaussian_filter(part, sigma_vox, mode="reflect", truncate=_GAUSSIAN_TRUNCATE, output=np.float32)
    origin = np.asarray(origin_xyz_ang, dtype=np.float64) + low[::-1] * voxel_size_ang
    return part, (float(origin[0]), float(origin[1]), float(origin[2]))
