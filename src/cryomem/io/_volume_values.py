"""Checks on a tomogram's voxel values where it enters: no NaN/inf inside, not constant.

A tomogram rotated or cropped by another program may carry a border of NaN where it has no data;
that border is found here (non-finite voxels connected to a face of the volume) so a caller can
mask it and say so. NaN or inf anywhere else, an all-NaN volume or a constant one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NonFiniteBorder", "check_tomogram_values"]

_SLAB_VOXELS = 8 * 1024**2  # values are scanned in z slabs of about this many voxels


@dataclass(frozen=True, eq=False)
class NonFiniteBorder:
    """The NaN/inf voxels of a tomogram, all connected to a face of the volume.

    Attributes
    ----------
    mask_zyx : (nz, ny, nx) bool array
        True at the non-finite voxels.
    fill_value : float
        Mean of the finite voxels, to put in their place.
    """

    mask_zyx: np.ndarray
    fill_value: float

    @property
    def voxels(self) -> int:
        return int(np.count_nonzero(self.mask_zyx))

    def filled(self, data_zyx: np.ndarray) -> np.ndarray:
        """A float32 copy of ``data_zyx`` with the border set to ``fill_value``."""
        out = np.array(data_zyx, dtype=np.float32)
        out[self.mask_zyx] = self.fill_value
        return out

    def note(self, name: str, effect: str = "get no membrane") -> str:
        """One line for the user: how many voxels were masked, and ``effect`` on the result."""
        share = 100.0 * self.voxels / self.mask_zyx.size
        return (
            f"note: {name} has a border of {self.voxels} NaN/infinite voxels ({share:.1f}%), e.g. from a "
            f"rotation; they were set to the mean density and {effect}"
        )


def _slabs(shape: tuple[int, ...]):
    step = max(1, _SLAB_VOXELS // max(1, shape[1] * shape[2]))
    for z0 in range(0, shape[0], step):
        yield slice(z0, z0 + step)


def _nonfinite_mask(data: np.ndarray) -> np.ndarray:
    mask = np.empty(data.shape, dtype=bool)
    for slab in _slabs(data.shape):
        np.logical_not(np.isfinite(data[slab]), out=mask[slab])
    return mask


def _interior(mask: np.ndarray) -> np.ndarray:
    """Non-finite voxels that are not connected (26-neighbourhood) to any face of the volume."""
    import cc3d

    labels = cc3d.connected_components(mask.view(np.uint8), connectivity=26)
    faces = [labels[0], labels[-1], labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]]
    touching = np.unique(np.concatenate([f.ravel() for f in faces]))
    return mask & ~np.isin(labels, touching)


def check_tomogram_values(data_zyx: np.ndarray, name: str) -> NonFiniteBorder | None:
    """Refuse a tomogram that holds no usable image; return its NaN/inf border if it has one.

    Parameters
    ----------
    data_zyx : (nz, ny, nx) array
        Voxel values (may be memory-mapped; read in z slabs).
    name : str
        How to name the volume in messages (its file name).

    Returns
    -------
    NonFiniteBorder or None
        The non-finite voxels when they all touch a face of the volume (mask them), else None.

    Raises
    ------
    ValueError
        Every voxel is NaN/inf; NaN/inf voxels lie inside the volume (the count and the first one
        are named); or every finite voxel has the same value (a constant volume holds no image).
    """
    lazy = hasattr(data_zyx, "shape") and hasattr(data_zyx, "dtype") and hasattr(data_zyx, "__getitem__")
    data = data_zyx if lazy else np.asarray(data_zyx)  # a dask/zarr array is read slab by slab too
    if data.ndim != 3 or data.size == 0:
        raise ValueError(f"{name} holds data of shape {data.shape}, not a 3D volume")
    floating = data.dtype.kind == "f"
    n_bad, low, high, total = 0, np.inf, -np.inf, 0.0
    for slab in _slabs(data.shape):
        chunk = np.asarray(data[slab], dtype=np.float64)
        finite = chunk[np.isfinite(chunk)] if floating else chunk.ravel()
        n_bad += chunk.size - finite.size
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
            total += float(finite.sum())
    if n_bad == data.size:
        raise ValueError(f"every voxel of {name} is NaN or infinite: it holds no image; pass the tomogram itself")
    if low == high:
        raise ValueError(
            f"{name} is constant (every voxel is {low:g}): it holds no image to segment or sample; "
            "pass the tomogram itself"
        )
    if n_bad == 0:
        return None
    mask = _nonfinite_mask(data)
    inside = _interior(mask)
    n_inside = int(np.count_nonzero(inside))
    if n_inside:
        z, y, x = (int(v[0]) for v in np.nonzero(inside))
        raise ValueError(
            f"{name} has {n_inside} NaN or infinite voxels inside the volume (first at z={z}, y={y}, x={x}; "
            f"{n_bad} in all); replace them (e.g. with the mean density) and pass the fixed file"
        )
    return NonFiniteBorder(mask, total / (data.size - n_bad))
