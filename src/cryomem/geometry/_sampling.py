"""Density profiles sampled along vertex normals (MemBrain-pick's per-vertex input features)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from cryomem.io import xyz_ang_to_zyx_index

__all__ = ["DEFAULT_FEATURE_OFFSETS_ANG", "sample_along_normals"]

DEFAULT_FEATURE_OFFSETS_ANG = np.arange(-30.0, 30.0 + 1e-9, 2.5)
"""Offsets along the normal, Å: -30 .. +30 in 2.5 Å steps (25 samples); the picker uses a ±25 Å
window of these and shifts it by up to ±5 Å for test-time augmentation."""

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
    if volume.dtype.kind in "iu":
        volume = volume.astype(np.float32)
    n, k = len(vertices), len(offsets)
    result = np.zeros((n, k), dtype=np.float32)
    if n == 0:
        return result
    if order == 3:
        volume = ndimage.spline_filter(volume, order=3, output=np.float64, mode="mirror")
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
