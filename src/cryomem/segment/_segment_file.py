"""Segment one MRC tomogram file: checks, membrane probabilities, thresholding and atomic writes.

The probabilities come from :func:`cryomem.segment._inference.predict_probabilities`; this module
validates the inputs before any work, thresholds in slabs and writes every requested output
beside the others, renamed into place only once all succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cryomem.geometry._surface_settings import DEFAULT_MIN_VOXELS
from cryomem.io import (
    FractionProgress,
    NonFiniteBorder,
    atomic_file_set,
    check_tomogram_values,
    created_folders,
    is_derived_volume,
    read_volume,
    segment_output_paths,
    write_mrc,
)
from cryomem.segment._instances import connected_instances
from cryomem.segment._segmenter import Segmenter
from cryomem.segment._settings import SegmentSettings
from cryomem.segment._sheet_filter import SheetFilterRules, load_sheet_filter, sheet_decisions, write_decisions_csv
from cryomem.segment._windows import plan_windows

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SegmentOutputs",
    "is_derived_volume",
    "segment_file",
    "segment_output_paths",
    "segmentation_and_decisions",
    "segmentation_from_probabilities",
]

_CHUNK_VOXELS = 8 * 1024**2  # thresholding runs in slabs of about this size
_DEFAULT = SegmentSettings()  # the owner of the defaults below


def _mask_border(border: NonFiniteBorder | None, *volumes: np.ndarray | None) -> None:
    """Zero the NaN border of the tomogram in every output volume (it has no data, so no membrane)."""
    if border is None:
        return
    for volume in volumes:
        if volume is not None:
            volume[border.mask_zyx] = 0


def _threshold(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    seg = np.empty(probabilities.shape, dtype=np.uint8)
    plane = max(1, probabilities.shape[1] * probabilities.shape[2])
    step = max(1, _CHUNK_VOXELS // plane)
    for z0 in range(0, probabilities.shape[0], step):
        chunk = probabilities[z0 : z0 + step].astype(np.float32)
        np.greater(chunk, threshold, out=seg[z0 : z0 + step], casting="unsafe")
    return seg


def segmentation_from_probabilities(
    probabilities_zyx: np.ndarray,
    voxel_size_ang: float,
    threshold: float = _DEFAULT.threshold,
    *,
    sheet_filter: bool = _DEFAULT.sheet_filter,
    rules: SheetFilterRules | None = None,
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """The segmentation :func:`segment_file` writes, from membrane probabilities (e.g. a saved
    ``<stem>_scores.mrc``): thresholded, then, with ``sheet_filter``, only the sheet-like pieces kept.

    Returns the uint8 segmentation (1 = membrane) and the sheet filter's decisions (None without it).
    Re-thresholding saved probabilities this way gives exactly what a fresh segmentation at that
    threshold gives, without running the network again.
    """
    seg, columns = segmentation_and_decisions(probabilities_zyx, voxel_size_ang, threshold, sheet_filter, rules)
    if columns is None:
        return seg, None
    import pandas as pd

    return seg, pd.DataFrame(columns)


def segmentation_and_decisions(
    probabilities_zyx: np.ndarray,
    voxel_size_ang: float,
    threshold: float,
    sheet_filter: bool,
    rules: SheetFilterRules | None,
) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """:func:`segmentation_from_probabilities` with the decisions as named columns (no pandas),
    for :func:`cryomem.segment._sheet_filter.write_decisions_csv`."""
    threshold = SegmentSettings(threshold=threshold).threshold  # validated: a probability in [0, 1]
    seg = _threshold(probabilities_zyx, threshold)
    if not sheet_filter:
        return seg, None
    return sheet_decisions(seg, probabilities_zyx, voxel_size_ang, load_sheet_filter() if rules is None else rules)


@dataclass(frozen=True)
class SegmentOutputs:
    """Which optional files :func:`segment_file` writes beside ``<stem>_seg.mrc``.

    Attributes
    ----------
    scores : bool, default False
        ``<stem>_scores.mrc``: float16 membrane probabilities.
    instances : bool, default False
        ``<stem>_instances.mrc``: 26-connected membranes of at least ``min_instance_voxels`` voxels,
        1 = largest.
    uncertainty : bool, default False
        ``<stem>_uncertainty.mrc``: float16 standard deviation of the 8 flip probabilities (needs TTA).
    min_instance_voxels : int, default :data:`cryomem.geometry.DEFAULT_MIN_VOXELS`
        Smallest membrane instance kept, voxels.
    """

    scores: bool = False
    instances: bool = False
    uncertainty: bool = False
    min_instance_voxels: int = DEFAULT_MIN_VOXELS


def segment_file(
    path: str | os.PathLike[str],
    segmenter: Segmenter,
    out_dir: str | os.PathLike[str],
    *,
    settings: SegmentSettings = _DEFAULT,
    outputs: SegmentOutputs = SegmentOutputs(),
    voxel_size_ang: float | None = None,
    level: int | None = None,
    stem: str | None = None,
    sheet_filter_rules: SheetFilterRules | None = None,
    overwrite: bool = False,
    scratch_dir: str | os.PathLike[str] | None = None,
    progress: FractionProgress | None = None,
    notes: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Segment the membranes of one tomogram (MRC or OME-Zarr) and write the results beside each other.

    Writes ``<stem>_seg.mrc`` (uint8, 1 = membrane: probability > ``settings.threshold``) and the
    optional ``outputs`` (:class:`SegmentOutputs`). With ``settings.sheet_filter`` (the default),
    connected pieces that do not look like membranes (filaments, protein clusters, specks; see
    :mod:`cryomem.segment._sheet_filter`) are removed from the segmentation and the instances, and
    every piece's decision goes to ``<stem>_sheet_filter.csv``.
    The MRCs carry the input's voxel size (or ``voxel_size_ang``), origin and ``nxstart`` fields, and
    appear together only once everything succeeded (atomic writes; nothing is left behind on error).
    Outputs of an earlier run that this run does not rewrite (an instance map or a decisions CSV of
    another segmentation) are removed once the new set is in place.

    A constant or all-NaN tomogram, or one with NaN/inf voxels inside, is refused before any work; a
    border of NaN/inf voxels (e.g. from a rotation) is masked: set to the mean density for the
    network and no membrane in the outputs, with a note.

    Parameters
    ----------
    path : str or os.PathLike
        3D MRC tomogram. Read memory-mapped, one window at a time.
    segmenter : Segmenter
        The loaded model (:meth:`Segmenter.load`); runs on its device.
    out_dir : str or os.PathLike
        Output folder, created if missing.
    settings : SegmentSettings
        Threshold, overlap, TTA, batch size and sheet filter (``settings.model`` is not read: the
        model is ``segmenter``).
    outputs : SegmentOutputs
        Which optional files to write.
    voxel_size_ang : float, optional
        Overrides the header's voxel size (``--voxel-size``); required when the header says 0 or 1 Å.
    level : int, optional
        OME-Zarr: the pyramid level to segment (default: the one nearest the model's voxel size).
    stem : str, optional
        Name of the outputs (default: the tomogram's file stem; e.g. a copick run's name instead of
        its tomogram's ``wbp``).
    sheet_filter_rules : SheetFilterRules, optional
        The sheet prior's rules; default the shipped ones (:func:`load_sheet_filter`).
    overwrite : bool, default False
        Replace existing outputs; otherwise any output of an earlier run (of any kind) raises
        ``FileExistsError`` before any work.
    scratch_dir, progress
        See :func:`predict_probabilities`.
    notes : callable(str), optional
        Receives one-line notes (a masked NaN border, removed outputs of an earlier run).

    Returns
    -------
    dict of str to Path
        ``"seg"`` and, when written, ``"scores"``, ``"instances"``, ``"uncertainty"``, ``"sheet_filter"``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a 3D MRC, unusable voxel size, constant or all-NaN tomogram, NaN/inf voxels inside the
        volume, uncertainty without TTA, bad settings.
    """
    threshold, tta, sheet_filter = settings.threshold, settings.tta, settings.sheet_filter
    if int(outputs.min_instance_voxels) < 0:
        raise ValueError(f"min_instance_voxels must be >= 0, got {outputs.min_instance_voxels}")
    if outputs.uncertainty and not tta:
        raise ValueError("the uncertainty output is the spread of the 8 flip predictions: it needs TTA (--tta)")
    path = Path(path)
    volume = read_volume(  # exists, 3D MRC or OME-Zarr (the level nearest the model's voxels), voxel size rule
        path, voxel_size_ang=voxel_size_ang, target_voxel_size_ang=segmenter.voxel_size_ang, level=level
    )
    plan_windows(  # window, divisor, overlap before any work
        volume.data_zyx.shape,
        window=segmenter.window,
        divisor=segmenter.divisor,
        input_voxel_size_ang=volume.voxel_size_ang,
        model_voxel_size_ang=segmenter.voxel_size_ang,
        overlap=settings.overlap,
    )
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"out_dir {out_dir} exists and is not a folder")
    wanted = {
        "seg": True,
        "scores": outputs.scores,
        "instances": outputs.instances,
        "uncertainty": outputs.uncertainty,
        "sheet_filter": sheet_filter,
    }
    every = segment_output_paths(path, out_dir, stem)
    targets = {kind: every[kind] for kind, on in wanted.items() if on}
    if sheet_filter:
        sheet_filter_rules = load_sheet_filter() if sheet_filter_rules is None else sheet_filter_rules
    existing = [str(p) for p in every.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"outputs of an earlier run exist: {', '.join(existing)}; pass --overwrite (overwrite=True) to replace them"
        )
    border = check_tomogram_values(volume.data_zyx, path.name)
    if border is not None and notes is not None:
        notes(border.note(path.name))
    result = segmenter.probabilities(
        volume.data_zyx if border is None else border.filled(volume.data_zyx),
        volume.voxel_size_ang,
        overlap=settings.overlap,
        adaptive_windows=settings.adaptive_windows,
        tta=tta,
        batch_size=settings.batch_size,
        uncertainty=outputs.uncertainty,
        scratch_dir=scratch_dir,
        progress=progress,
    )
    probabilities, spread = result if outputs.uncertainty else (result, None)
    placement = volume.placement
    del volume, result
    _mask_border(border, probabilities, spread)
    stale = [p for kind, p in every.items() if kind not in targets and p.exists()]
    with (
        created_folders(out_dir),
        atomic_file_set(list(targets.values()), overwrite=overwrite, stale=stale) as tmp_paths,
    ):
        tmp = dict(zip(targets, tmp_paths, strict=True))  # every file is renamed into place only if all succeed
        if progress is not None:
            progress("writing segmentation", 0.0)
        if sheet_filter and progress is not None:
            progress("sheet filter", 0.25)
        seg, decisions = segmentation_and_decisions(
            probabilities, placement["voxel_size_ang"], threshold, sheet_filter, sheet_filter_rules
        )
        if decisions is not None:
            write_decisions_csv(decisions, tmp["sheet_filter"])
        write_mrc(tmp["seg"], seg, **placement)
        if outputs.scores:
            write_mrc(tmp["scores"], probabilities, **placement)
        del probabilities
        if spread is not None:
            write_mrc(tmp["uncertainty"], spread, **placement)
            del spread
        if outputs.instances:
            if progress is not None:
                progress("writing segmentation", 0.5)
            write_mrc(tmp["instances"], connected_instances(seg, int(outputs.min_instance_voxels)), **placement)
        if progress is not None:
            progress("writing segmentation", 1.0)
    if stale and notes is not None:
        names = ", ".join(p.name for p in stale)
        notes(f"note: removed {names} of an earlier run: not rewritten by this run, so not matching its segmentation")
    return targets
