"""Rescaling single windows between the tomogram's and the model's voxel size, on the device.

Only windows are resampled, never the whole tomogram (the MemBrain-seg v2 approach: cut at the
input resolution, rescale, predict, rescale back). Edges are aligned (``align_corners=False``):
a window of ``n`` voxels and its resampled copy of ``m`` voxels span the same physical box.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["resample_window"]


def resample_window(window: torch.Tensor, size_zyx: Sequence[int]) -> torch.Tensor:
    """Resample a batch of 3D windows to ``size_zyx`` voxels.

    Parameters
    ----------
    window : (batch, channels, nz, ny, nx) float tensor
    size_zyx : (3,) ints
        Output spatial shape.

    Returns
    -------
    (batch, channels, *size_zyx) tensor
        ``window`` itself when the shape already matches (exact identity). Otherwise trilinear
        interpolation (as the training crops), which keeps positions exact. Shrinking an axis
        by a factor f >= 2 first averages over an odd, centred box of about f voxels along it,
        so noise does not alias into the smaller window.
    """
    if window.ndim != 5:
        raise ValueError(f"window must be (batch, channels, nz, ny, nx), got shape {tuple(window.shape)}")
    size = tuple(int(n) for n in size_zyx)
    if len(size) != 3 or min(size) < 1:
        raise ValueError(f"size_zyx must be 3 positive sizes, got {tuple(size_zyx)}")
    current = tuple(window.shape[2:])
    if current == size:
        return window
    box = tuple(2 * int(cur / out // 2) + 1 for out, cur in zip(size, current))  # 1 unless shrinking >= 2x
    if max(box) > 1:
        window = F.avg_pool3d(window, box, stride=1, padding=tuple(b // 2 for b in box), count_include_pad=False)
    return F.interpolate(window, size=size, mode="trilinear", align_corners=False)
