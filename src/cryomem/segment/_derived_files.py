"""Segmentations and instance maps made again from saved outputs, without running the network.

``cryomem segment threshold`` turns saved probabilities (``<stem>_scores.mrc``) into the segmentation a
fresh run at another threshold would write; ``cryomem segment instances`` numbers the membranes of a
segmentation, splitting touching ones apart (:func:`cryomem.segment.split_instances`).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryomem.io import atomic_file_set, created_folders, read_mrc, segment_output_name, source_stem, write_mrc
from cryomem.segment._instance_split import split_instances
from cryomem.segment._instances import connected_instances
from cryomem.segment._segment_file import segmentation_and_decisions
from cryomem.segment._sheet_filter import SheetFilterRules, write_decisions_csv

__all__ = ["instances_file", "threshold_file"]


def _targets(source: Path, out_dir: str | os.PathLike[str] | None, kinds: tuple[str, ...], overwrite: bool):
    out = Path(out_dir) if out_dir is not None else source.parent
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output folder {out} is a file; pass a folder with --out")
    paths = {kind: out / segment_output_name(source_stem(source), kind) for kind in kinds}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exists; pass --overwrite to replace it")
    if source.resolve() in {p.resolve() for p in paths.values()}:
        raise ValueError(f"{source.name} would be overwritten by its own output; pass --out to another folder")
    return out, paths


def threshold_file(
    scores_path: str | os.PathLike[str],
    threshold: float,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    sheet_filter: bool = True,
    rules: SheetFilterRules | None = None,
    voxel_size_ang: float | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """``<stem>_seg.mrc`` (and the sheet filter's ``<stem>_sheet_filter.csv``) from saved probabilities.

    Exactly what ``cryomem segment`` writes at ``threshold`` (:func:`segmentation_from_probabilities`),
    with the probabilities' voxel size and origin; written beside them unless ``out_dir``.
    """
    source = Path(scores_path)
    volume = read_mrc(source, voxel_size_ang=voxel_size_ang, mmap=True)
    kinds = ("seg", "sheet_filter") if sheet_filter else ("seg",)
    out, paths = _targets(source, out_dir, kinds, overwrite)
    seg, decisions = segmentation_and_decisions(volume.data_zyx, volume.voxel_size_ang, threshold, sheet_filter, rules)
    with created_folders(out), atomic_file_set(list(paths.values()), overwrite=overwrite) as tmp:
        written = dict(zip(paths, tmp, strict=True))
        write_mrc(written["seg"], seg, **volume.placement)
        if decisions is not None:
            write_decisions_csv(decisions, written["sheet_filter"])
    return paths


def instances_file(
    seg_path: str | os.PathLike[str],
    min_voxels: int,
    *,
    split: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
    voxel_size_ang: float | None = None,
    overwrite: bool = False,
) -> Path:
    """``<stem>_instances.mrc`` from a segmentation: one id per membrane (1 = largest), touching
    membranes split apart with ``split`` (:func:`split_instances`), else connected pieces."""
    if int(min_voxels) < 0:
        raise ValueError(f"--min-voxels must be >= 0, got {min_voxels}")
    source = Path(seg_path)
    volume = read_mrc(source, voxel_size_ang=voxel_size_ang)
    if volume.data_zyx.dtype.kind not in "iub":
        raise ValueError(f"{source.name} holds {volume.data_zyx.dtype} values; give a segmentation (0/1 voxels)")
    out, paths = _targets(source, out_dir, ("instances",), overwrite)
    labels = (
        split_instances(volume.data_zyx, int(min_voxels))
        if split
        else connected_instances(volume.data_zyx, int(min_voxels))
    )
    with created_folders(out), atomic_file_set([paths["instances"]], overwrite=overwrite) as (tmp,):
        write_mrc(tmp, labels, **volume.placement)
    return paths["instances"]
