"""Evaluation metrics for binary membrane segmentations: Dice and Surface-Dice, ignoring label 2.

Surface-Dice (MemBrain v2, Methods "Surface-Dice")::

    precision = |S_pred ∩ M_label| / |S_pred|
    recall    = |S_label ∩ M_pred| / |S_label|
    surface_dice = 2 precision recall / (precision + recall)

with ``S`` the one-voxel-thick mid-surfaces of :func:`~cryomem.segment._skeleton.skeletonize_membranes`
(the paper's skeletonization). ``skimage.morphology.skeletonize`` is NOT used: on 3D volumes
(scikit-image 0.26, Lee's thinning) it reduces a membrane slab to a few medial lines or points,
not a surface, which would make the metric meaningless for membranes.

Ignore handling: voxels labelled ``ignore_label`` are dropped from every count. The prediction's
skeleton is computed from the whole prediction (its shape does not depend on where the
annotator put ignore); the label's skeleton from ``label == 1``. Skeleton voxels that fall in
ignore regions are then not counted.

Empty inputs: Dice is 1.0 when prediction and label (outside ignore) are both empty and 0.0 when
exactly one is. Surface-Dice is 1.0 when both counted skeletons are empty, 0.0 when exactly one
is, and 0.0 when precision and recall are both 0.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cryomem.segment._skeleton import skeletonize_membranes

__all__ = [
    "DiceCounts",
    "SurfaceDiceCounts",
    "dice",
    "dice_counts",
    "surface_dice",
    "surface_dice_counts",
]


def _ratio_score(overlap_a: int, total_a: int, overlap_b: int, total_b: int) -> float:
    """Harmonic mean of ``overlap_a / total_a`` and ``overlap_b / total_b`` with the empty rules."""
    if total_a == 0 and total_b == 0:
        return 1.0
    if total_a == 0 or total_b == 0:
        return 0.0
    precision = overlap_a / total_a
    recall = overlap_b / total_b
    if precision + recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class DiceCounts:
    """Voxel counts behind a Dice score (all outside ignore regions); add them to pool files."""

    intersection: int
    pred: int
    label: int

    @property
    def value(self) -> float:
        """``2 |P ∩ L| / (|P| + |L|)``; 1.0 if both are empty."""
        total = self.pred + self.label
        return 1.0 if total == 0 else 2.0 * self.intersection / total

    def __add__(self, other: DiceCounts) -> DiceCounts:
        if not isinstance(other, DiceCounts):
            return NotImplemented
        return DiceCounts(*(a + b for a, b in zip(astuple(self), astuple(other))))


@dataclass(frozen=True)
class SurfaceDiceCounts:
    """Skeleton voxel counts behind a Surface-Dice score (outside ignore); add them to pool files."""

    pred_skeleton_in_label: int
    pred_skeleton: int
    label_skeleton_in_pred: int
    label_skeleton: int

    @property
    def precision(self) -> float:
        """``|S_pred ∩ L| / |S_pred|`` (NaN if the prediction's skeleton is empty)."""
        return self.pred_skeleton_in_label / self.pred_skeleton if self.pred_skeleton else float("nan")

    @property
    def recall(self) -> float:
        """``|S_label ∩ P| / |S_label|`` (NaN if the label's skeleton is empty)."""
        return self.label_skeleton_in_pred / self.label_skeleton if self.label_skeleton else float("nan")

    @property
    def value(self) -> float:
        """Harmonic mean of precision and recall, with the module's rules for empty skeletons."""
        return _ratio_score(
            self.pred_skeleton_in_label, self.pred_skeleton, self.label_skeleton_in_pred, self.label_skeleton
        )

    def __add__(self, other: SurfaceDiceCounts) -> SurfaceDiceCounts:
        if not isinstance(other, SurfaceDiceCounts):
            return NotImplemented
        return SurfaceDiceCounts(*(a + b for a, b in zip(astuple(self), astuple(other))))


def _prepare(pred_bool: ArrayLike, label: ArrayLike, ignore_label: int) -> tuple[NDArray, NDArray, NDArray]:
    """Validated (prediction, membrane label, valid mask) boolean arrays."""
    pred = np.asarray(pred_bool)
    lab = np.asarray(label)
    if pred.shape != lab.shape:
        raise ValueError(f"pred_bool has shape {pred.shape} but label has shape {lab.shape}; they must match")
    if pred.ndim != 3:
        raise ValueError(f"pred_bool and label must be 3D (z, y, x) volumes, got shape {pred.shape}")
    if ignore_label in (0, 1):
        raise ValueError(f"ignore_label must differ from 0 (background) and 1 (membrane), got {ignore_label}")
    if pred.dtype != np.bool_:
        if pred.dtype.kind not in "biuf" or np.any((pred != 0) & (pred != 1)):
            raise ValueError(
                "pred_bool must be boolean or hold only 0 and 1; threshold probabilities first (e.g. pred >= 0.5)"
            )
        pred = pred != 0
    if lab.dtype == np.bool_:
        return pred, lab, np.ones(lab.shape, dtype=np.bool_)
    if lab.dtype.kind not in "biuf":
        raise ValueError(f"label must be an integer array of 0, 1 and {ignore_label} (ignore), got dtype {lab.dtype}")
    membrane = lab == 1
    valid = lab != ignore_label
    bad = valid & ~membrane & (lab != 0)
    if np.any(bad):
        found = np.unique(lab[bad])[:5].tolist()
        raise ValueError(f"label must hold only 0, 1 and {ignore_label} (ignore), found {found}")
    return pred, membrane, valid


def dice_counts(pred_bool: ArrayLike, label: ArrayLike, *, ignore_label: int = 2) -> DiceCounts:
    """Counts ``(|P ∩ L|, |P|, |L|)`` over voxels not labelled ignore.

    Parameters
    ----------
    pred_bool : (nz, ny, nx) bool or 0/1 array
        Binary prediction.
    label : (nz, ny, nx) integer or bool array
        0 background, 1 membrane, ``ignore_label`` ignore.
    ignore_label : int, default 2
        Label whose voxels are not evaluated.

    Returns
    -------
    DiceCounts
    """
    pred, membrane, valid = _prepare(pred_bool, label, ignore_label)
    pred = pred & valid
    return DiceCounts(
        int(np.count_nonzero(pred & membrane)), int(np.count_nonzero(pred)), int(np.count_nonzero(membrane))
    )


def dice(pred_bool: ArrayLike, label: ArrayLike, *, ignore_label: int = 2) -> float:
    """Dice ``2 |P ∩ L| / (|P| + |L|)`` over voxels not labelled ignore.

    Parameters
    ----------
    pred_bool : (nz, ny, nx) bool or 0/1 array
        Binary prediction.
    label : (nz, ny, nx) integer or bool array
        0 background, 1 membrane, ``ignore_label`` ignore.
    ignore_label : int, default 2
        Label whose voxels are not evaluated.

    Returns
    -------
    float
        In [0, 1]; 1.0 if prediction and label are both empty (outside ignore), 0.0 if only one is.
    """
    return dice_counts(pred_bool, label, ignore_label=ignore_label).value


def surface_dice_counts(
    pred_bool: ArrayLike, label: ArrayLike, *, ignore_label: int = 2, **skeleton_options: Any
) -> SurfaceDiceCounts:
    """Skeleton counts behind Surface-Dice, over voxels not labelled ignore.

    Parameters
    ----------
    pred_bool : (nz, ny, nx) bool or 0/1 array
        Binary prediction.
    label : (nz, ny, nx) integer or bool array
        0 background, 1 membrane, ``ignore_label`` ignore.
    ignore_label : int, default 2
        Label whose voxels are not evaluated.
    **skeleton_options
        Passed to :func:`~cryomem.segment._skeleton.skeletonize_membranes` (e.g. ``sigma_px``,
        ``max_thickness_px``, ``chunk_z``).

    Returns
    -------
    SurfaceDiceCounts
    """
    pred, membrane, valid = _prepare(pred_bool, label, ignore_label)
    skeleton_pred = skeletonize_membranes(pred, **skeleton_options).view(np.bool_) & valid
    skeleton_label = skeletonize_membranes(membrane, **skeleton_options).view(np.bool_) & valid
    return SurfaceDiceCounts(
        pred_skeleton_in_label=int(np.count_nonzero(skeleton_pred & membrane)),
        pred_skeleton=int(np.count_nonzero(skeleton_pred)),
        label_skeleton_in_pred=int(np.count_nonzero(skeleton_label & pred)),
        label_skeleton=int(np.count_nonzero(skeleton_label)),
    )


def surface_dice(pred_bool: ArrayLike, label: ArrayLike, *, ignore_label: int = 2, **skeleton_options: Any) -> float:
    """Surface-Dice of a binary prediction against 0/1/ignore labels (see the module notes).

    Parameters
    ----------
    pred_bool : (nz, ny, nx) bool or 0/1 array
        Binary prediction.
    label : (nz, ny, nx) integer or bool array
        0 background, 1 membrane, ``ignore_label`` ignore.
    ignore_label : int, default 2
        Label whose voxels are not evaluated.
    **skeleton_options
        Passed to :func:`~cryomem.segment._skeleton.skeletonize_membranes`.

    Returns
    -------
    float
        In [0, 1]; 1.0 if both skeletons (outside ignore) are empty, 0.0 if only one is.
    """
    return surface_dice_counts(pred_bool, label, ignore_label=ignore_label, **skeleton_options).value
