"""Membrane instances: 26-connected components of a segmentation, small ones removed."""

from __future__ import annotations

import cc3d
import numpy as np

__all__ = ["connected_instances"]

_CHUNK_VOXELS = 16 * 1024**2  # relabel/count in slabs of about this many voxels (bounded temporaries)


def _slabs(shape_zyx: tuple[int, ...]):
    plane = max(1, int(np.prod(shape_zyx[1:])))
    step = max(1, _CHUNK_VOXELS // plane)
    for z0 in range(0, shape_zyx[0], step):
        yield slice(z0, min(z0 + step, shape_zyx[0]))


def connected_instances(seg_zyx: np.ndarray, min_size_voxels: int = 1, *, connectivity: int = 26) -> np.ndarray:
    """Label connected membrane pieces, drop small ones, number the rest by size.

    Parameters
    ----------
    seg_zyx : (nz, ny, nx) array
        Segmentation; non-zero voxels are membrane.
    min_size_voxels : int, default 1
        Components with fewer voxels are removed (set to 0).
    connectivity : {26, 18, 6}, default 26
        Voxel neighbourhood (26: faces, edges and corners).

    Returns
    -------
    (nz, ny, nx) uint16 or uint32 array
        0 background; 1..n the kept components, 1 the largest (ties: first in scan order).
        uint16 when n <= 65535.
    """
    seg = np.asarray(seg_zyx)
    if seg.ndim != 3:
        raise ValueError(f"seg_zyx must be a 3D (z, y, x) array, got shape {seg.shape}")
    if connectivity not in (6, 18, 26):
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity}")
    if min_size_voxels < 0:
        raise ValueError(f"min_size_voxels must be >= 0, got {min_size_voxels}")
    if seg.dtype != bool:
        seg = seg != 0
    labels, n = cc3d.connected_components(seg, connectivity=connectivity, return_N=True)
    if labels.dtype not in (np.uint16, np.uint32):
        labels = labels.astype(np.uint32)
    counts = np.zeros(n + 1, dtype=np.int64)
    for slab in _slabs(labels.shape):
        counts += np.bincount(labels[slab].ravel(), minlength=n + 1)
    counts[0] = 0
    kept = np.flatnonzero(counts >= max(min_size_voxels, 1))
    kept = kept[np.argsort(-counts[kept], kind="stable")]
    lut = np.zeros(n + 1, dtype=labels.dtype)
    lut[kept] = np.arange(1, kept.size + 1, dtype=labels.dtype)
    for slab in _slabs(labels.shape):
        labels[slab] = lut[labels[slab]]
    if kept.size <= np.iinfo(np.uint16).max and labels.dtype != np.uint16:
        labels = labels.astype(np.uint16)
    return labels
