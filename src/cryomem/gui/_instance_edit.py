"""Undoable editor over a membrane instance map (the "membrane editor" widget's logic).

Pure numpy/scipy: no napari or Qt. Each edit records one undo step holding only the old values of
the voxels it changed (as a dense copy of their bounding box, or as flat indices + values within it
when that is smaller), so the history costs about what the edits touched, not a full copy per step.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from cryomem.gui._lasso import apply_lasso
from cryomem.io import write_mrc
from cryomem.segment import connected_instances

__all__ = ["InstanceEditor", "save_instances"]

_FLOAT32_EXACT_MAX = 2**24
_STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class _UndoStep:
    """Old values of one edit: ``region`` of the labels, dense or as (flat index, value) pairs.

    ``full`` holds the whole previous array when the edit widened the dtype.
    """

    region: tuple[slice, ...] = ()
    dense: np.ndarray | None = None
    flat_index: np.ndarray | None = None
    values: np.ndarray | None = None
    full: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        arrays = (self.dense, self.flat_index, self.values, self.full)
        return sum(a.nbytes for a in arrays if a is not None)


class InstanceEditor:
    """Undoable edits of a membrane instance map (0 = background, 1..n = membrane ids).

    Parameters
    ----------
    labels_zyx : (nz, ny, nx) integer array
        Instance ids, non-negative. Copied: the caller's array is never modified.
    max_undo : int, default 20
        Undo steps kept (the oldest are dropped); 0 disables undo.

    Notes
    -----
    Every successful edit records exactly one undo step, also when it changes no voxel, so that
    :meth:`undo` always reverts the user's last action. Edits happen in place on :attr:`labels`
    except when a new id does not fit the dtype; then the array is widened and replaced.
    """

    def __init__(self, labels_zyx: np.ndarray, max_undo: int = 20) -> None:
        self._setup(np.array(labels_zyx, copy=True), max_undo)

    @classmethod
    def from_segmentation(cls, seg_zyx: np.ndarray, min_voxels: int = 1, *, max_undo: int = 20) -> InstanceEditor:
        """Editor over the 26-connected components of a segmentation, 1 = largest.

        Parameters
        ----------
        seg_zyx : (nz, ny, nx) array
            Segmentation; non-zero voxels are membrane.
        min_voxels : int, default 1
            Components with fewer voxels are dropped.
        max_undo : int, default 20
            Undo steps kept.
        """
        editor = cls.__new__(cls)
        editor._setup(connected_instances(seg_zyx, min_voxels, connectivity=26), max_undo)
        return editor

    def _setup(self, labels: np.ndarray, max_undo: int) -> None:
        _check_labels(labels, "labels_zyx")
        if not (isinstance(max_undo, (int, np.integer)) and max_undo >= 0):
            raise ValueError(f"max_undo must be an integer >= 0, got {max_undo!r}; pass e.g. 20")
        self._labels = labels
        self._history: deque[_UndoStep] = deque(maxlen=int(max_undo))

    @property
    def labels(self) -> np.ndarray:
        """(nz, ny, nx) array: the current instance map (display it; edit it only through the editor)."""
        return self._labels

    @property
    def can_undo(self) -> bool:
        """True when :meth:`undo` has a step to revert."""
        return len(self._history) > 0

    @property
    def undo_nbytes(self) -> int:
        """Memory held by the undo history, bytes."""
        return sum(step.nbytes for step in self._history)

    def instance_sizes(self) -> dict[int, int]:
        """Voxel count of every instance id present (background excluded)."""
        counts = _bincount(self._labels)
        ids = np.flatnonzero(counts)
        return {int(i): int(counts[i]) for i in ids if i != 0}

    def apply_mask(self, mask_zyx: np.ndarray, mode: str) -> int:
        """Cut the instances with a lasso mask (see :func:`cryomem.gui._lasso.apply_lasso`).

        Returns
        -------
        int
            Number of voxels changed.
        """
        new = apply_lasso(self._labels, mask_zyx, mode=mode)
        return self._commit((slice(None),) * 3, new)

    def merge(self, ids: Iterable[int]) -> int:
        """Merge instances: all ``ids`` become the smallest of them; returns that id."""
        wanted = sorted({int(i) for i in ids})
        if not wanted or wanted[0] <= 0:
            raise ValueError(f"merge needs instance ids > 0, got {wanted}; pick membranes, not background")
        present = self.instance_sizes()
        missing = [i for i in wanted if i not in present]
        if missing:
            raise ValueError(f"merge ids {missing} are not in the labels; pick ids from instance_sizes()")
        target = wanted[0]
        new = self._labels.copy()
        new[np.isin(self._labels, wanted[1:])] = target
        self._commit((slice(None),) * 3, new)
        return target

    def split(self, instance_id: int) -> list[int]:
        """Split one instance into its 26-connected components.

        The largest component keeps ``instance_id`` (ties: first in scan order); the others get
        new ids above the current maximum, in order of decreasing size.

        Returns
        -------
        list of int
            The new ids (empty when the instance is one piece).
        """
        instance_id = int(instance_id)
        inside = self._labels == instance_id
        if instance_id <= 0 or not inside.any():
            raise ValueError(
                f"split id {instance_id} is not an instance in the labels; pick an id from instance_sizes()"
            )
        region = _bounding_box(inside)
        pieces, n = ndimage.label(inside[region], structure=_STRUCTURE_26)
        counts = np.bincount(pieces.ravel(), minlength=n + 1)[1:]
        order = np.argsort(-counts, kind="stable") + 1
        first_new = int(self._labels.max()) + 1
        new_ids = list(range(first_new, first_new + n - 1))
        lut = np.zeros(n + 1, dtype=np.int64)
        lut[order] = [instance_id, *new_ids]
        dtype = _dtype_for(self._labels.dtype, first_new + n - 2)
        new_region = self._labels[region].astype(dtype)
        piece_mask = pieces > 0
        new_region[piece_mask] = lut[pieces[piece_mask]]
        self._commit(region, new_region)
        return new_ids

    def paint(self, centre_zyx_index: Sequence[float], radius_vox: float, value: int) -> int:
        """Set a ball of voxels to ``value`` (0 erases), clipped to the volume.

        Parameters
        ----------
        centre_zyx_index : (3,) floats
            Brush centre, voxel index (z, y, x); may lie outside the volume.
        radius_vox : float
            Brush radius, voxels (>= 0); voxels at distance <= radius are painted.
        value : int
            Instance id to paint (>= 0).

        Returns
        -------
        int
            Number of voxels changed.
        """
        centre = np.asarray(centre_zyx_index, dtype=np.float64).reshape(-1)
        if centre.shape != (3,) or not np.all(np.isfinite(centre)):
            raise ValueError(f"centre_zyx_index must be 3 finite numbers, got {centre_zyx_index!r}; pass (z, y, x)")
        if not (np.isfinite(radius_vox) and radius_vox >= 0):
            raise ValueError(f"radius_vox must be finite and >= 0, got {radius_vox!r}; pass the brush radius")
        if not (isinstance(value, (int, np.integer)) and value >= 0):
            raise ValueError(f"value must be an integer id >= 0, got {value!r}; use 0 to erase")
        lo = np.maximum(np.floor(centre - radius_vox).astype(int), 0)
        hi = np.minimum(np.ceil(centre + radius_vox).astype(int) + 1, self._labels.shape)
        region = tuple(slice(int(a), int(max(a, b))) for a, b in zip(lo, hi))
        grids = np.ogrid[region]
        dist2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
        ball = dist2 <= float(radius_vox) ** 2
        new_region = self._labels[region].astype(_dtype_for(self._labels.dtype, int(value)))
        new_region[ball] = value
        return self._commit(region, new_region)

    def relabel_by_size(self) -> dict[int, int]:
        """Renumber the instances by size: 1 = largest, consecutive (ties: smaller id first).

        Returns
        -------
        dict
            Old id -> new id.
        """
        counts = _bincount(self._labels)
        counts[0] = 0
        ids = np.flatnonzero(counts)
        ids = ids[np.argsort(-counts[ids], kind="stable")]
        lut = np.zeros(counts.size, dtype=self._labels.dtype)
        lut[ids] = np.arange(1, ids.size + 1)
        self._commit((slice(None),) * 3, lut[self._labels])
        return {int(old): int(new) for new, old in enumerate(ids, start=1)}

    def undo(self) -> bool:
        """Revert the last edit; False when there is nothing to undo."""
        if not self._history:
            return False
        step = self._history.pop()
        if step.full is not None:
            self._labels = step.full
        elif step.dense is not None:
            self._labels[step.region] = step.dense
        elif step.flat_index is not None:
            view = self._labels[step.region]
            view[np.unravel_index(step.flat_index, view.shape)] = step.values
        return True

    def _commit(self, region: tuple[slice, ...], new_region: np.ndarray) -> int:
        old_region = self._labels[region]
        changed = old_region != new_region
        n_changed = int(np.count_nonzero(changed))
        widened = new_region.dtype != self._labels.dtype
        if self._history.maxlen:
            step = _UndoStep(full=self._labels) if widened else _undo_step(region, old_region, changed, n_changed)
            self._history.append(step)
        if widened:
            self._labels = self._labels.astype(new_region.dtype)
        self._labels[region] = new_region
        return n_changed


def _undo_step(region: tuple[slice, ...], old_region: np.ndarray, changed: np.ndarray, n_changed: int) -> _UndoStep:
    if n_changed == 0:
        return _UndoStep()
    box = _bounding_box(changed)
    old_box = old_region[box]
    changed_box = changed[box]
    offset = tuple(slice(r.start + b.start, r.start + b.stop) for r, b in zip(_resolve(region, old_region), box))
    index_dtype = np.uint32 if changed_box.size <= np.iinfo(np.uint32).max else np.int64
    sparse_nbytes = n_changed * (np.dtype(index_dtype).itemsize + old_box.itemsize)
    if sparse_nbytes < old_box.nbytes:
        flat_index = np.flatnonzero(changed_box).astype(index_dtype)
        return _UndoStep(region=offset, flat_index=flat_index, values=old_box[changed_box])
    return _UndoStep(region=offset, dense=old_box.copy())


def _resolve(region: tuple[slice, ...], view: np.ndarray) -> tuple[slice, ...]:
    return tuple(slice(s.start or 0, (s.start or 0) + n) for s, n in zip(region, view.shape))


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def _bincount(labels: np.ndarray) -> np.ndarray:
    flat = labels.ravel()
    if flat.dtype == np.uint64:
        flat = flat.astype(np.int64)
    return np.bincount(flat, minlength=1)


def _dtype_for(dtype: np.dtype, max_id: int) -> np.dtype:
    if max_id <= np.iinfo(dtype).max:
        return np.dtype(dtype)
    return np.promote_types(dtype, np.min_scalar_type(max_id))


def _check_labels(labels: np.ndarray, name: str) -> None:
    if labels.ndim != 3:
        raise ValueError(f"{name} must be a 3D (z, y, x) array, got shape {labels.shape}; pass one volume")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer ids, got dtype {labels.dtype}; cast with .astype(np.int32)")
    if labels.size and np.issubdtype(labels.dtype, np.signedinteger) and labels.min() < 0:
        raise ValueError(f"{name} has negative ids (min {labels.min()}); ids must be >= 0, 0 = background")


def save_instances(
    path: str | os.PathLike[str],
    labels_zyx: np.ndarray,
    *,
    voxel_size_ang: float,
    origin_xyz_ang: tuple[float, float, float],
    start_xyz_vox: tuple[int, int, int] = (0, 0, 0),
    overwrite: bool = True,
) -> Path:
    """Write an instance map to an MRC file atomically (via :func:`cryomem.io.write_mrc`).

    Ids up to 65535 are stored as uint16; larger ids as float32, which ``write_mrc`` would pick
    anyway for wider integers and which is exact up to 2**24.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    labels_zyx : (nz, ny, nx) integer array
        Instance ids, 0 = background.
    voxel_size_ang : float
        Isotropic voxel size, Å.
    origin_xyz_ang : (3,) floats
        Physical position of voxel (0, 0, 0), Å, **xyz** (napari ``translate`` reversed).
    start_xyz_vox : (3,) ints, default (0, 0, 0)
        The header's ``nxstart, nystart, nzstart`` of the source volume.
    overwrite : bool, default True
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    labels = np.asarray(labels_zyx)
    _check_labels(labels, "labels_zyx")
    max_id = int(labels.max()) if labels.size else 0
    if max_id > _FLOAT32_EXACT_MAX:
        raise ValueError(
            f"labels_zyx has ids up to {max_id}, above {_FLOAT32_EXACT_MAX} (exact in an MRC's float32); "
            "renumber with InstanceEditor.relabel_by_size() first"
        )
    dtype = np.uint16 if max_id <= np.iinfo(np.uint16).max else np.float32
    return write_mrc(
        path,
        labels.astype(dtype, copy=False),
        voxel_size_ang=voxel_size_ang,
        origin_xyz_ang=tuple(origin_xyz_ang),
        start_xyz_vox=tuple(start_xyz_vox),
        overwrite=overwrite,
    )
