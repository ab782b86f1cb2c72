"""``cryomem surface SEG.mrc --tomogram TOMO.mrc``: one mesh with density profiles per membrane."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from cryomem.cli._common import StageProgress, build_settings, console, one_line_errors, setting_option
from cryomem.geometry._surface_settings import SurfaceSettings

_SURFACES = SurfaceSettings
_FLAGS = {
    "min_voxels": "--min-voxels",
    "spacing_ang": "--spacing-ang",
    "smoothing_sigma_vox": "--smoothing",
    "feature_lowpass_ang": "--feature-lowpass",
}


def _check_options(min_voxels: int, spacing_ang: float | None, smoothing: float, feature_lowpass: float) -> None:
    """The numeric flags, named as the user typed them, before any file is read."""
    if min_voxels < 1:
        raise ValueError(f"--min-voxels must be >= 1 voxel, got {min_voxels}")
    if spacing_ang is not None and not (math.isfinite(spacing_ang) and spacing_ang > 0):
        raise ValueError(f"--spacing-ang must be a distance > 0 Å, got {spacing_ang}; leave it out for 1.5 voxels")
    if not (math.isfinite(smoothing) and smoothing >= 0):
        raise ValueError(f"--smoothing must be a Gaussian sigma >= 0 voxels, got {smoothing}; 0 turns it off")
    if not (math.isfinite(feature_lowpass) and feature_lowpass >= 0):
        raise ValueError(f"--feature-lowpass must be a Gaussian sigma >= 0 Å, got {feature_lowpass}; 0 turns it off")


@one_line_errors
def surface(
    segmentation: Path = typer.Argument(..., help="Membrane segmentation (<stem>_seg.mrc) or instance map (MRC)."),
    tomogram: Path = typer.Option(..., "--tomogram", help="The tomogram the segmentation was made from (MRC)."),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Output folder (default: membranes/ next to the segmentation)."
    ),
    voxel_size: float | None = typer.Option(
        None, "--voxel-size", help="Voxel size in Å for both files; overrides the headers."
    ),
    min_voxels: int = setting_option(_SURFACES, "min_voxels", _FLAGS["min_voxels"]),
    spacing_ang: float | None = setting_option(_SURFACES, "spacing_ang", _FLAGS["spacing_ang"]),
    smoothing: float = setting_option(_SURFACES, "smoothing_sigma_vox", _FLAGS["smoothing_sigma_vox"]),
    feature_lowpass: float = setting_option(_SURFACES, "feature_lowpass_ang", _FLAGS["feature_lowpass_ang"]),
    overwrite: bool = typer.Option(False, help="Replace earlier surfaces of this tomogram."),
) -> None:
    """Mesh every membrane and sample the tomogram along the normals: writes <stem>_mb<N>.h5 and .obj."""
    from rich.table import Table

    from cryomem.geometry import face_areas, surfaces_from_files
    from cryomem.io import read_membrane_h5

    _check_options(min_voxels, spacing_ang, smoothing, feature_lowpass)
    settings = build_settings(
        _SURFACES,
        _FLAGS,
        min_voxels=min_voxels,
        spacing_ang=spacing_ang,
        smoothing_sigma_vox=smoothing,
        feature_lowpass_ang=feature_lowpass,
    )
    out = out_dir if out_dir is not None else segmentation.parent / "membranes"
    with StageProgress() as progress:
        written = surfaces_from_files(
            segmentation,
            tomogram,
            out,
            voxel_size_ang=voxel_size,
            **settings.model_dump(),
            overwrite=overwrite,
            progress=progress,
            notes=lambda text: console.print(text, style="yellow", highlight=False),
        )
    table = Table(title=f"{tomogram.name}: membrane surfaces")
    for column in ("membrane id", "vertices", "area µm²", "file"):
        table.add_column(column, justify="left" if column == "file" else "right")
    total_um2 = 0.0
    h5_files = [p for p in written if p.suffix == ".h5"]
    for path in h5_files:
        mesh = read_membrane_h5(path)
        area_um2 = float(face_areas(mesh.vertices_xyz_ang, mesh.faces).sum()) / 1e8
        total_um2 += area_um2
        table.add_row(str(mesh.membrane_id), str(len(mesh.vertices_xyz_ang)), f"{area_um2:.4f}", path.name)
    console.print(table)
    console.print(
        f"[bold green]done[/]: {len(h5_files)} membranes ({total_um2:.4f} µm², both sides), "
        f"{len(written)} files written to {out}/",
        highlight=False,
    )
