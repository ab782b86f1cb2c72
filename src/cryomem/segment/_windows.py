"""Sliding-window planning: where windows start, how large they are, and how they are blended.

A tomogram at input voxel size ``s_in`` is covered by windows whose physical size matches the
model's window (``window`` voxels at ``s_model``): each window spans ``round(window * s_model /
s_in)`` input voxels per axis (its *extent*) and is resampled to ``window`` model voxels.
Windows lie on a regular grid (a Cartesian product of per-axis starts) and are blended with a
separable Gaussian importance map, so the total weight at any voxel is the product of three
1D sums: no weight volume is ever stored.

Blending (:class:`Blender`) visits windows in order along the axis with the most window
positions and keeps only a float32 ring one window thick along it; every slab that no later
window touches is divided by its weight and written into the output at once. Host memory is
the output plus that ring (plus the caller's input), never a float32 copy of the tomogram.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryomem.segment._settings import SegmentSettings

__all__ = [
    "AxisPlan",
    "Blender",
    "WindowPlan",
    "available_memory_bytes",
    "gaussian_importance",
    "gaussian_importance_1d",
    "plan_windows",
    "window_starts",
]

SIGMA_FRACTION = 1.0 / 8.0  # nnU-Net: sigma = window / 8
IMPORTANCE_FLOOR = 1e-4  # relative to the centre; keeps every covered voxel's weight > 0
_MAX_OVERLAP = 0.9
# Adaptive windows hold at most this many times ``window**3`` voxels. Larger windows would repeat
# less overlap (1.5 cubes: the side-by-side benchmark's segmentation 7.5-8.4 s, not 9.3-10.0 s), but cost accuracy
# on held-out distractors (actin networks, cages: Dice -0.006 to -0.014 over 4 tomograms each,
# ``benchmarks/bench_segment_generalization.py --compare-window-volume``), so one cube it stays.
MAX_WINDOW_VOLUME_FACTOR = 1.0


def window_starts(size: int, window: int, overlap: float) -> list[int]:
    """Start indices of windows covering ``range(size)``, the last one flush with the end.

    Parameters
    ----------
    size : int
        Length of the axis, voxels (>= 1).
    window : int
        Window length, voxels (>= 1).
    overlap : float
        Fraction of ``window`` shared by neighbouring windows, in [0, 1). Neighbours overlap by
        at least ``overlap * window`` voxels (the windows are spread evenly, so usually more).

    Returns
    -------
    list of int
        Increasing starts; ``[0]`` if ``window >= size`` (one window, larger than the axis).
    """
    if size < 1 or window < 1:
        raise ValueError(f"size and window must be >= 1 voxel, got size={size}, window={window}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap}")
    if window >= size:
        return [0]
    max_step = max(1, math.floor(window * (1.0 - overlap)))
    n = math.ceil((size - window) / max_step) + 1
    step = (size - window) / (n - 1)
    return [int(round(i * step)) for i in range(n)]


def gaussian_importance_1d(length: int) -> np.ndarray:
    """Gaussian importance along one window axis (sigma = length / 8), peak 1, floored > 0.

    Returns
    -------
    (length,) float32 array
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    sigma = max(length * SIGMA_FRACTION, 1e-6)
    offsets = np.arange(length, dtype=np.float64) - (length - 1) / 2.0
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.max()
    return np.maximum(weights, IMPORTANCE_FLOOR).astype(np.float32)


def gaussian_importance(shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """The 3D importance map of a window: outer product of the per-axis Gaussians.

    Returns
    -------
    (nz, ny, nx) float32 array
        Peak 1 at the centre; every value > 0 (``IMPORTANCE_FLOOR ** 3`` at worst).
    """
    gz, gy, gx = (gaussian_importance_1d(int(n)) for n in shape_zyx)
    return gz[:, None, None] * gy[None, :, None] * gx[None, None, :]


@dataclass(frozen=True, eq=False)
class AxisPlan:
    """Windows along one axis.

    Attributes
    ----------
    size : int
        Axis length, input voxels.
    model_window : int
        Window length the network sees, model voxels (a multiple of the divisor).
    extent : int
        Window length cut from the input, input voxels (may exceed ``size`` for a single,
        padded window).
    starts : tuple of int
        Window starts, input voxels.
    importance : (extent,) float32 array
        Gaussian importance of one window along this axis.
    total_weight : (size,) float32 array
        Sum of ``importance`` over all windows at every position (> 0 everywhere).
    """

    size: int
    model_window: int
    extent: int
    starts: tuple[int, ...]
    importance: np.ndarray
    total_weight: np.ndarray

    @property
    def padding(self) -> int:
        """Voxels a window reaches beyond the end of the axis (only for a single window)."""
        return max(0, self.extent - self.size)

    def valid(self, start: int) -> int:
        """Number of voxels of the window at ``start`` that lie inside the axis."""
        return min(self.extent, self.size - start)


def _fitted_window(size: int, window: int, divisor: int, scale: float) -> int:
    """``window``, or on an axis shorter than it the smallest multiple of ``divisor`` covering the axis.

    Never below two divisors: a window of one divisor reaches the bottleneck as a single voxel,
    which instance normalisation cannot normalise.
    """
    if window * scale <= size:
        return window
    return min(window, max(2 * divisor, math.ceil(size / (scale * divisor)) * divisor))


def _axis_starts(size: int, model_window: int, scale: float, overlap_model_vox: float) -> tuple[int, ...]:
    extent = max(1, int(round(model_window * scale)))
    return tuple(window_starts(size, extent, min(overlap_model_vox / model_window, _MAX_OVERLAP)))


def _adaptive_windows(shape_zyx, window: int, divisor: int, scale: float, overlap: float) -> tuple[int, int, int]:
    """Per-axis window sides (model voxels) that cover the tomogram with the fewest network voxels.

    Each side is a multiple of ``divisor`` between ``window / 2`` and ``2 * window``, the window's
    volume is at most ``MAX_WINDOW_VOLUME_FACTOR * window**3`` (so activations, hence peak memory,
    never grow), and neighbours still share at least ``overlap * window`` model voxels. A cube of
    ``window`` is one candidate, so the chosen shape never costs more network voxels than cubic
    windows.
    """
    floor = max(2 * divisor, math.ceil(window / 2 / divisor) * divisor)
    context = overlap * window
    options = []
    for size in shape_zyx:
        sides = {_fitted_window(size, w, divisor, scale) for w in range(floor, 2 * window + 1, divisor)}
        sides.add(_fitted_window(size, window, divisor, scale))
        options.append(sorted((w, w * len(_axis_starts(size, w, scale, context))) for w in sides))
    max_voxels = MAX_WINDOW_VOLUME_FACTOR * window**3
    best, best_cost = None, math.inf
    for wz, cz in options[0]:
        for wy, cy in options[1]:
            if wz * wy * options[2][0][0] > max_voxels:
                break
            for wx, cx in options[2]:
                if wz * wy * wx > max_voxels:
                    break
                cost = cz * cy * cx
                if cost < best_cost:
                    best, best_cost = (wz, wy, wx), cost
    return best  # type: ignore[return-value]


def _plan_axis(size: int, model_window: int, scale: float, overlap_model_vox: float) -> AxisPlan:
    """``scale`` = input voxels per model voxel (model voxel size / input voxel size)."""
    extent = max(1, int(round(model_window * scale)))
    starts = _axis_starts(size, model_window, scale, overlap_model_vox)
    importance = gaussian_importance_1d(extent)
    total = np.zeros(size, dtype=np.float64)
    for start in starts:
        stop = min(start + extent, size)
        total[start:stop] += importance[: stop - start]
    return AxisPlan(size, model_window, extent, starts, importance, total.astype(np.float32))


@dataclass(frozen=True, eq=False)
class WindowPlan:
    """Windows over a whole tomogram (the product of three :class:`AxisPlan`).

    Attributes
    ----------
    axes : tuple of 3 AxisPlan
        z, y, x.
    scale : float
        Input voxels per model voxel (model voxel size / input voxel size).
    """

    axes: tuple[AxisPlan, AxisPlan, AxisPlan]
    scale: float

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return tuple(a.size for a in self.axes)  # type: ignore[return-value]

    @property
    def model_window_zyx(self) -> tuple[int, int, int]:
        """Shape of the network input, model voxels."""
        return tuple(a.model_window for a in self.axes)  # type: ignore[return-value]

    @property
    def extent_zyx(self) -> tuple[int, int, int]:
        """Shape of a window cut from the input, input voxels."""
        return tuple(a.extent for a in self.axes)  # type: ignore[return-value]

    @property
    def n_windows(self) -> int:
        return math.prod(len(a.starts) for a in self.axes)

    @property
    def stream_axis(self) -> int:
        """The axis with the most window positions: windows are visited along it in order."""
        counts = [len(a.starts) for a in self.axes]
        return counts.index(max(counts))

    def importance(self, starts_zyx: tuple[int, int, int]) -> np.ndarray:
        """Importance map of the window at ``starts_zyx``, cropped to the tomogram, float32."""
        gz, gy, gx = (a.importance[: a.valid(s)] for a, s in zip(self.axes, starts_zyx))
        return gz[:, None, None] * gy[None, :, None] * gx[None, None, :]


def plan_windows(
    shape_zyx: tuple[int, int, int],
    *,
    window: int,
    divisor: int,
    input_voxel_size_ang: float,
    model_voxel_size_ang: float,
    overlap: float = SegmentSettings.model_fields["overlap"].default,
    adaptive: bool = SegmentSettings.model_fields["adaptive_windows"].default,
) -> WindowPlan:
    """Plan the sliding windows over a tomogram.

    Parameters
    ----------
    shape_zyx : (3,) ints
        Tomogram shape, input voxels.
    window : int
        Cubic window side the model sees, model voxels; a multiple of ``divisor``.
    divisor : int
        Every network input side must be a multiple of this (``2**(depth - 1)`` for a U-Net).
    input_voxel_size_ang, model_voxel_size_ang : float
        Voxel sizes of the tomogram and of the model, Å.
    overlap : float, default ``SegmentSettings().overlap``
        Neighbouring windows share at least ``overlap * window`` model voxels, in [0, 1).
    adaptive : bool, default ``SegmentSettings().adaptive_windows``
        Choose the window's side per axis (multiples of ``divisor``, volume at most ``window**3``)
        so the tomogram is covered with the fewest network voxels: a 100-voxel axis gets one
        window of 104 instead of two of 96. False: cubic windows of ``window``.

    Returns
    -------
    WindowPlan
        Along an axis shorter than a window, the window shrinks to the smallest multiple of
        ``divisor`` that covers it (one window, padded by less than ``divisor`` model voxels), but
        not below two divisors (nor above ``window``).
    """
    if divisor < 1 or window < divisor or window % divisor:
        raise ValueError(
            f"window must be a positive multiple of divisor={divisor} model voxels, got window={window}; "
            f"use e.g. {max(divisor, (window // max(divisor, 1)) * divisor)}"
        )
    if len(shape_zyx) != 3 or min(shape_zyx) < 1:
        raise ValueError(f"shape_zyx must be 3 positive sizes (z, y, x), got {shape_zyx}")
    for name, value in (("input_voxel_size_ang", input_voxel_size_ang), ("model_voxel_size_ang", model_voxel_size_ang)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be finite and > 0 Å, got {value}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap}")
    scale = model_voxel_size_ang / input_voxel_size_ang
    shape = tuple(int(n) for n in shape_zyx)
    if adaptive:
        sides = _adaptive_windows(shape, window, divisor, scale, overlap)
    else:
        sides = tuple(_fitted_window(n, window, divisor, scale) for n in shape)
    axes = tuple(_plan_axis(n, side, scale, overlap * window) for n, side in zip(shape, sides))
    return WindowPlan(axes, scale)  # type: ignore[arg-type]


def available_memory_bytes() -> int | None:
    """Memory the system can still hand out (``MemAvailable``), bytes; None if unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    return None


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _new_array(shape: tuple[int, ...], dtype: np.dtype, on_disk: bool, scratch_dir: Path | None) -> np.ndarray:
    """A zeroed array in memory, or memory-mapped from an anonymous (already unlinked) scratch file."""
    if not on_disk:
        return np.zeros(shape, dtype=dtype)
    fd, name = tempfile.mkstemp(prefix=".cryomem-scratch-", suffix=".bin", dir=scratch_dir)
    os.close(fd)
    try:
        array = np.memmap(name, dtype=dtype, mode="w+", shape=shape)
    except BaseException:
        _unlink_quietly(name)
        raise
    try:
        os.unlink(name)  # POSIX: the mapping stays valid; the disk space is freed with it
    except OSError:
        weakref.finalize(array, _unlink_quietly, name)
    return array


def _ring_pieces(row0: int, row1: int, capacity: int) -> Iterator[tuple[int, int, int]]:
    """(absolute row, ring row, length) pieces of rows [row0, row1) in a ring of ``capacity`` rows."""
    row = row0
    while row < row1:
        ring_row = row % capacity
        length = min(row1 - row, capacity - ring_row)
        yield row, ring_row, length
        row += length


class Blender:
    """Gaussian-weighted blending of window predictions into a full-size output.

    Windows must arrive row by row along ``plan.stream_axis`` (all windows with one start along
    that axis, then :meth:`finish_rows` up to the next start). Channel 0 is blended as a weighted
    mean into :attr:`out`; with ``with_spread`` channel 1 (a variance) is blended the same way
    and its square root stored in :attr:`spread`.

    Parameters
    ----------
    plan : WindowPlan
    dtype : numpy dtype
        Of :attr:`out` (float16 or float32).
    with_spread : bool
        Also blend a variance into :attr:`spread` (float16 standard deviation).
    on_disk : bool
        Output and ring in memory-mapped scratch files instead of memory.
    scratch_dir : Path, optional
        Folder of those files (default: the system temporary folder).
    """

    chunk_voxels = 2 * 1024**2  # rows are finished in slabs of about this size (bounded temporaries)

    def __init__(
        self, plan: WindowPlan, dtype: np.dtype, with_spread: bool, on_disk: bool, scratch_dir: Path | None = None
    ) -> None:
        self.plan = plan
        self.axis = axis = plan.stream_axis
        shape = plan.shape_zyx
        self.capacity = min(plan.axes[axis].extent, shape[axis])
        ring_shape = tuple(self.capacity if i == axis else n for i, n in enumerate(shape))
        self.out = _new_array(shape, np.dtype(dtype), on_disk, scratch_dir)
        self.spread = _new_array(shape, np.dtype(np.float16), on_disk, scratch_dir) if with_spread else None
        n_rings = 2 if with_spread else 1
        self.rings = [_new_array(ring_shape, np.dtype(np.float32), on_disk, scratch_dir) for _ in range(n_rings)]
        others = [plan.axes[i].total_weight for i in range(3) if i != axis]
        self.plane_weight = np.expand_dims(np.multiply.outer(*others), axis)
        self.rows_per_chunk = max(1, self.chunk_voxels // max(1, self.plane_weight.size))

    @staticmethod
    def bytes_needed(plan: WindowPlan, dtype: np.dtype, with_spread: bool) -> int:
        """Host bytes of output(s) and ring(s) for ``plan``."""
        voxels = math.prod(plan.shape_zyx)
        length = plan.shape_zyx[plan.stream_axis]
        ring = voxels // length * min(plan.axes[plan.stream_axis].extent, length)
        return voxels * (np.dtype(dtype).itemsize + 2 * with_spread) + 4 * ring * (1 + with_spread)

    def _index(self, row: int, length: int, other: tuple[slice, ...] | None = None) -> tuple[slice, ...]:
        index = list(other) if other is not None else [slice(None)] * 3
        index[self.axis] = slice(row, row + length)
        return tuple(index)

    def add(self, starts_zyx: tuple[int, int, int], weighted: list[np.ndarray]) -> None:
        """Add importance-weighted values (one array per ring, cropped to the tomogram) at ``starts_zyx``."""
        span = weighted[0].shape
        other = tuple(slice(s, s + n) for s, n in zip(starts_zyx, span))
        first = starts_zyx[self.axis]
        for row, ring_row, length in _ring_pieces(first, first + span[self.axis], self.capacity):
            local = self._index(row - first, length)
            target = self._index(ring_row, length, other)
            for ring, values in zip(self.rings, weighted):
                ring[target] += values[local]

    def finish_rows(self, row0: int, row1: int) -> None:
        """Rows [row0, row1) along the stream axis get no more windows: divide by weight and store."""
        total = self.plan.axes[self.axis].total_weight
        shape = [1, 1, 1]
        for row, ring_row, length in _ring_pieces(row0, row1, self.capacity):
            for offset in range(0, length, self.rows_per_chunk):
                n = min(self.rows_per_chunk, length - offset)
                shape[self.axis] = n
                weight = total[row + offset : row + offset + n].reshape(shape) * self.plane_weight
                ring_index = self._index(ring_row + offset, n)
                out_index = self._index(row + offset, n)
                self.out[out_index] = self.rings[0][ring_index] / weight
                if self.spread is not None:
                    variance = np.divide(self.rings[1][ring_index], weight, out=weight)
                    self.spread[out_index] = np.sqrt(np.maximum(variance, 0.0, out=variance), out=variance)
                for ring in self.rings:
                    ring[ring_index] = 0.0
