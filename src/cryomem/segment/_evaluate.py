"""Evaluate predicted segmentations against labelled MRC volumes: Dice and Surface-Dice per file."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.io import MRC_SUFFIXES, atomic_write_path, is_mrc_path, read_mrc, read_mrc_header, validate_voxel_size_ang
from cryomem.segment._metrics import DiceCounts, SurfaceDiceCounts, dice_counts, surface_dice_counts
from cryomem.segment._settings import SegmentSettings

__all__ = ["EVALUATION_COLUMNS", "POOLED_ROW", "evaluate_segmentation", "write_evaluation_csv"]

POOLED_ROW = "pooled"
EVALUATION_COLUMNS = (
    "file",
    "dice",
    "surface_dice",
    "surface_precision",
    "surface_recall",
    "voxels",
    "ignored_voxels",
    "intersection_voxels",
    "pred_voxels",
    "label_voxels",
    "pred_skeleton_voxels",
    "pred_skeleton_in_label_voxels",
    "label_skeleton_voxels",
    "label_skeleton_in_pred_voxels",
)
_VOXEL_SIZE_RTOL = 1e-3

PathInput = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _is_single_file(paths: PathInput) -> bool:
    return isinstance(paths, str | os.PathLike) and not Path(paths).is_dir()


def _listing(paths: PathInput, name: str) -> dict[str, Path]:
    """File name -> path, from a folder (its MRC files), one file, or a sequence of files."""
    if isinstance(paths, str | os.PathLike):
        single = Path(paths)
        if single.is_dir():
            files = sorted(p for p in single.iterdir() if p.is_file() and is_mrc_path(p))
            if not files:
                raise FileNotFoundError(f"{name}: folder {single} holds no MRC files ({', '.join(MRC_SUFFIXES)})")
        else:
            files = [single]
    else:
        files = [Path(p) for p in paths]
        if not files:
            raise ValueError(f"{name} is an empty list; pass MRC files or a folder")
    listing: dict[str, Path] = {}
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{name}: file not found: {path}")
        if path.name in listing:
            raise ValueError(
                f"{name}: two files are named {path.name!r} ({listing[path.name]} and {path}); names must be unique"
            )
        listing[path.name] = path
    return listing


def _pairs(pred_paths: PathInput, label_paths: PathInput) -> list[tuple[str, Path, Path]]:
    preds = _listing(pred_paths, "pred_paths")
    labels = _listing(label_paths, "label_paths")
    if _is_single_file(pred_paths) and _is_single_file(label_paths):
        ((pred_name, pred), (_, label)) = (*preds.items(), *labels.items())
        return [(pred_name, pred, label)]
    only_pred = sorted(set(preds) - set(labels))
    only_label = sorted(set(labels) - set(preds))
    if only_pred or only_label:
        raise ValueError(
            "predictions and labels are matched by file name, but these names have no partner: "
            f"predictions only {only_pred}, labels only {only_label}; rename them to match"
        )
    return [(file, preds[file], labels[file]) for file in sorted(preds)]


def _check_headers(file: str, pred: Path, label: Path, voxel_size_ang: float | None) -> None:
    """Compare shapes (and voxel sizes without an override) before loading any data."""
    pred_header = read_mrc_header(pred)
    label_header = read_mrc_header(label)
    if pred_header.shape_zyx != label_header.shape_zyx:
        raise ValueError(
            f"{file}: prediction {pred} has shape (z, y, x) {pred_header.shape_zyx} but label {label} has "
            f"{label_header.shape_zyx}; they must cover the same voxels"
        )
    if voxel_size_ang is None:
        sizes = [
            validate_voxel_size_ang(h.voxel_size_ang_raw, f"the header of {p}")
            for h, p in ((pred_header, pred), (label_header, label))
        ]
        if not math.isclose(sizes[0], sizes[1], rel_tol=_VOXEL_SIZE_RTOL):
            raise ValueError(
                f"{file}: prediction voxel size {sizes[0]} Å differs from label voxel size {sizes[1]} Å; "
                "resample one of them, or pass voxel_size_ang to use one size for both"
            )


def _prediction_mask(data: np.ndarray, threshold: float, path: Path) -> np.ndarray:
    """Membrane voxels of a prediction; NaN and (for a threshold in (0, 1)) values outside [0, 1] refused."""
    if data.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise ValueError(f"prediction {path} holds {bad} NaN or infinite voxels; pass a segmentation or scores")
    if 0.0 < threshold < 1.0 and data.size:  # a probability threshold (0.0 is the one for logits)
        low, high = float(data.min()), float(data.max())
        if low < 0.0 or high > 1.0 and not (data.dtype.kind in "biu" and _is_binary(data)):
            raise ValueError(
                f"prediction {path} holds values from {low:g} to {high:g}, neither a 0/1 segmentation nor "
                "probabilities in [0, 1] (a tomogram?); pass <stem>_seg.mrc or <stem>_scores.mrc"
            )
    return data > threshold


def _is_binary(data: np.ndarray) -> bool:
    """One non-zero value only (e.g. a mask stored as 0/255)."""
    return np.unique(data).size <= 2 and data.min() >= 0


def _row(file: str, dice: DiceCounts, surface: SurfaceDiceCounts, voxels: int, ignored: int) -> dict[str, object]:
    return {
        "file": file,
        "dice": dice.value,
        "surface_dice": surface.value,
        "surface_precision": surface.precision,
        "surface_recall": surface.recall,
        "voxels": voxels,
        "ignored_voxels": ignored,
        "intersection_voxels": dice.intersection,
        "pred_voxels": dice.pred,
        "label_voxels": dice.label,
        "pred_skeleton_voxels": surface.pred_skeleton,
        "pred_skeleton_in_label_voxels": surface.pred_skeleton_in_label,
        "label_skeleton_voxels": surface.label_skeleton,
        "label_skeleton_in_pred_voxels": surface.label_skeleton_in_pred,
    }


def evaluate_segmentation(
    pred_paths: PathInput,
    label_paths: PathInput,
    *,
    threshold: float = SegmentSettings.model_fields["threshold"].default,
    ignore_label: int = 2,
    voxel_size_ang: float | None = None,
    sigma_px: float = 1.0,
    max_thickness_px: float = 20.0,
) -> pd.DataFrame:
    """Dice and Surface-Dice of predicted segmentations against labels, per file and pooled.

    Parameters
    ----------
    pred_paths : path or sequence of paths
        A folder (its ``.mrc``/``.rec``/``.map`` files), one MRC file, or a list of MRC files.
        Values above ``threshold`` are membrane (0/1 masks and probabilities both work).
    label_paths : path or sequence of paths
        The same for labels: 0 background, 1 membrane, ``ignore_label`` ignore.
        Predictions and labels are paired by file name; two single file paths are paired
        whatever their names.
    threshold : float, default ``SegmentSettings().threshold``
        Prediction voxels with value ``> threshold`` are membrane (use 0.0 for logits).
    ignore_label : int, default 2
        Label whose voxels are left out of every count.
    voxel_size_ang : float, optional
        Voxel size in Å for both files, overriding the headers. Without it the headers must hold
        valid, matching voxel sizes.
    sigma_px, max_thickness_px : float
        Skeleton options, see :func:`~cryomem.segment._skeleton.skeletonize_membranes`.

    Returns
    -------
    pandas.DataFrame
        One row per pair in file-name order, then a row whose ``file`` is ``"pooled"``. Columns
        (:data:`EVALUATION_COLUMNS`): ``file``, ``dice``, ``surface_dice``, ``surface_precision``,
        ``surface_recall`` (NaN when the skeleton is empty), ``voxels`` (evaluated, i.e. not
        ignore), ``ignored_voxels``, and the voxel and skeleton counts behind the scores. The
        pooled row sums the counts over files and computes the scores from the sums (so a file
        with more membrane weighs more); it is NOT the mean of the per-file ratios.

    Raises
    ------
    FileNotFoundError
        A path or folder does not exist, or a folder holds no MRC files.
    ValueError
        Unpaired file names, different shapes or voxel sizes, labels other than 0/1/ignore, labels
        that are all ignore, predictions with NaN or (for a threshold in (0, 1)) values outside
        [0, 1] other than a 0/N mask, or an unusable voxel size. All pairs are checked (headers
        only) before any data is read.
    """
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    if voxel_size_ang is not None:
        voxel_size_ang = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    pairs = _pairs(pred_paths, label_paths)
    for file, pred, label in pairs:
        _check_headers(file, pred, label, voxel_size_ang)

    rows = []
    total_dice = DiceCounts(0, 0, 0)
    total_surface = SurfaceDiceCounts(0, 0, 0, 0)
    total_voxels = total_ignored = 0
    for file, pred_path, label_path in pairs:
        pred = _prediction_mask(read_mrc(pred_path, voxel_size_ang=voxel_size_ang).data_zyx, threshold, pred_path)
        label = np.asarray(read_mrc(label_path, voxel_size_ang=voxel_size_ang).data_zyx)
        ignored = int(np.count_nonzero(label == ignore_label))
        if ignored == label.size:
            raise ValueError(
                f"{file}: every voxel of label {label_path} is {ignore_label} (ignore), so there is nothing to "
                "score; pass labels with 0 (background) and 1 (membrane) voxels"
            )
        try:
            dice = dice_counts(pred, label, ignore_label=ignore_label)
            surface = surface_dice_counts(
                pred, label, ignore_label=ignore_label, sigma_px=sigma_px, max_thickness_px=max_thickness_px
            )
        except ValueError as exc:
            raise ValueError(f"{file} ({pred_path} vs {label_path}): {exc}") from None
        voxels = label.size - ignored
        rows.append(_row(file, dice, surface, voxels, ignored))
        total_dice += dice
        total_surface += surface
        total_voxels += voxels
        total_ignored += ignored
    rows.append(_row(POOLED_ROW, total_dice, total_surface, total_voxels, total_ignored))
    return pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))


def write_evaluation_csv(df: pd.DataFrame, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write an evaluation table to CSV atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`evaluate_segmentation`.
    path : str or os.PathLike
        Destination ``.csv``; its folder must exist.
    overwrite : bool, default True
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame from evaluate_segmentation, got {type(df).__name__}")
    path = Path(path)
    with atomic_write_path(path, overwrite=overwrite) as tmp:
        df.to_csv(tmp, index=False)
    return path
