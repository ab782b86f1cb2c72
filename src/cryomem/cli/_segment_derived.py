"""``cryomem segment threshold`` and ``cryomem segment instances``: new outputs from saved ones, no network."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors, setting_option
from cryomem.geometry._surface_settings import SurfaceSettings
from cryomem.segment._settings import SegmentSettings


@one_line_errors
def threshold_command(
    scores: Path = typer.Argument(..., help="Saved probabilities (<stem>_scores.mrc from `cryomem segment --scores`)."),
    threshold: float = setting_option(SegmentSettings, "threshold"),
    sheet_filter: bool = setting_option(SegmentSettings, "sheet_filter", "--sheet-filter/--no-sheet-filter"),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for <stem>_seg.mrc (default: beside SCORES)."),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å; overrides the header."),
    overwrite: bool = typer.Option(False, help="Replace an existing segmentation."),
) -> None:
    """Segmentation at another threshold from saved probabilities: what `cryomem segment` would write."""
    from cryomem.segment import threshold_file

    SegmentSettings(threshold=threshold)  # a probability in [0, 1]
    written = threshold_file(scores, threshold, out_dir=out_dir, sheet_filter=sheet_filter,
                             voxel_size_ang=voxel_size, overwrite=overwrite)  # fmt: skip
    for role, path in written.items():
        console.print(f"  {role:<12} {path}", highlight=False)


@one_line_errors
def instances_command(
    segmentation: Path = typer.Argument(..., help="Segmentation (<stem>_seg.mrc, 1 = membrane)."),
    min_voxels: int = setting_option(SurfaceSettings, "min_voxels", "--min-voxels"),
    split: bool = typer.Option(
        False, "--split/--no-split", help="Split touching membranes at thick junctions and thin necks (experimental)."
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for <stem>_instances.mrc (default: beside it)."),
    voxel_size: float | None = typer.Option(None, "--voxel-size", help="Voxel size in Å; overrides the header."),
    overwrite: bool = typer.Option(False, help="Replace an existing instance map."),
) -> None:
    """One id per membrane (1 = largest; --split: touching membranes apart), for `cryomem surface` to mesh."""
    import numpy as np

    from cryomem.io import read_mrc
    from cryomem.segment import instances_file

    path = instances_file(segmentation, min_voxels, split=split, out_dir=out_dir, voxel_size_ang=voxel_size,
                          overwrite=overwrite)  # fmt: skip
    n = int(np.max(read_mrc(path, mmap=True).data_zyx))
    console.print(f"  {n} membranes -> {path}", highlight=False)
