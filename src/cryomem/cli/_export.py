"""``cryomem export relion5 | stopgap | dynamo | surforama``: picks to subtomogram averaging, membranes to Surforama."""

from __future__ import annotations

from pathlib import Path

import typer

from cryomem.cli._common import console, one_line_errors

export_app = typer.Typer(
    help="Export particles (STAR) for subtomogram averaging in RELION 5, STOPGAP or Dynamo, and membranes for "
    "Surforama.",
    no_args_is_help=True,
)

_PICKS = typer.Argument(..., help="Particle STAR files (cryomem, RELION 3/4/5, Surforama); never modified.")
_OUT = typer.Option(..., "--out", help="Output folder (created if missing).")
_VOXEL_SIZE = typer.Option(
    None, "--voxel-size", help="Voxel size in Å of the particles' pixel coordinates and tomograms; overrides headers."
)
_TOMOGRAMS = typer.Option(
    None,
    "--tomogram",
    help="Tomogram (MRC) the particles were picked in, matched by file stem to rlnTomoName; its header gives "
    "voxel size, shape and origin (repeatable; only headers are read).",
)
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace existing output files.")


def _check_out(out: Path, names: tuple[str, ...], overwrite: bool) -> None:
    """Refuse an output folder that is a file, or existing outputs without --overwrite (before any reading)."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; give a folder")
    existing = [str(out / n) for n in names if (out / n).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace")


def _export(kind: str, picks: list[Path], out: Path, voxel_size, tomograms, overwrite: bool, **options) -> None:
    from cryomem import io

    writers = {
        "relion5": (io.write_relion5, (io.RELION5_PARTICLES, io.RELION5_TOMOGRAMS)),
        "stopgap": (io.write_stopgap_motl, (io.STOPGAP_MOTL, io.TOMOGRAM_INDEX)),
        "dynamo": (io.write_dynamo_table, (io.DYNAMO_TABLE, io.TOMOGRAM_INDEX)),
    }
    writer, names = writers[kind]
    if voxel_size is not None:
        io.validate_voxel_size_ang(voxel_size, "--voxel-size", explicit=True)
    _check_out(out, names, overwrite)
    loaded = io.load_export_set(
        picks, tomogram_paths=tomograms or (), voxel_size_ang=voxel_size, need_shapes=kind == "relion5"
    )
    if kind == "relion5":
        options["tomogram_shapes_zyx"] = loaded.shapes_zyx
    with io.created_folders(out):
        written = writer(
            loaded.particles,
            out,
            voxel_size_ang=loaded.voxel_size_ang,
            origins_xyz_ang=loaded.origins_xyz_ang,
            overwrite=overwrite,
            **options,
        )
    files = ", ".join(p.name for p in written.values())
    console.print(
        f"wrote {len(loaded.particles)} particles of {len(loaded.origins_xyz_ang)} tomogram(s) to {out} ({files})",
        highlight=False,
    )


@export_app.command("relion5")
@one_line_errors
def relion5(
    picks: list[Path] = _PICKS,
    out: Path = _OUT,
    voxel_size: float | None = _VOXEL_SIZE,
    tomogram: list[Path] | None = _TOMOGRAMS,
    voltage_kv: float = typer.Option(300.0, "--voltage-kv", help="Acceleration voltage, kV."),
    cs_mm: float = typer.Option(2.7, "--cs-mm", help="Spherical aberration, mm."),
    amplitude_contrast: float = typer.Option(0.1, "--amplitude-contrast", help="Amplitude contrast fraction."),
    overwrite: bool = _OVERWRITE,
) -> None:
    """particles.star (centred Å coordinates, poses, tilt/psi priors from the membrane normal) and tomograms.star."""
    _export(
        "relion5",
        picks,
        out,
        voxel_size,
        tomogram,
        overwrite,
        voltage_kv=voltage_kv,
        cs_mm=cs_mm,
        amplitude_contrast=amplitude_contrast,
    )


@export_app.command("stopgap")
@one_line_errors
def stopgap(
    picks: list[Path] = _PICKS,
    out: Path = _OUT,
    voxel_size: float | None = _VOXEL_SIZE,
    tomogram: list[Path] | None = _TOMOGRAMS,
    overwrite: bool = _OVERWRITE,
) -> None:
    """STOPGAP motive list allmotl_1.star (1-based voxels, ZXZ phi/psi/the) and tomograms.tsv (tomo_num -> name)."""
    _export("stopgap", picks, out, voxel_size, tomogram, overwrite)


@export_app.command("dynamo")
@one_line_errors
def dynamo(
    picks: list[Path] = _PICKS,
    out: Path = _OUT,
    voxel_size: float | None = _VOXEL_SIZE,
    tomogram: list[Path] | None = _TOMOGRAMS,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Dynamo table particles.tbl (1-based voxels, tdrot/tilt/narot) and tomograms.tsv (tomo column -> name)."""
    _export("dynamo", picks, out, voxel_size, tomogram, overwrite)


@export_app.command("surforama")
@one_line_errors
def surforama(
    membranes: list[Path] = typer.Argument(..., help="Membrane h5 files from cryomem surface, or folders of them."),
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Membranes as the .obj meshes Surforama opens with their tomogram (vertices in voxels, not Å):
    surforama --image-path tomo.mrc --mesh-path OUT/<tomo>_mb<N>.obj"""
    from cryomem import io
    from cryomem.geometry import read_membrane_meshes

    surfaces = read_membrane_meshes(membranes)
    targets = [out / f"{s.label}.obj" for s in surfaces]
    _check_out(out, tuple(t.name for t in targets), overwrite)
    unknown = [s.source or s.label for s in surfaces if s.voxel_size_ang is None]
    if unknown:
        raise ValueError(
            f"{unknown[0]} has no voxel size (a mesh in Å without its tomogram); pass the h5 containers "
            "cryomem surface writes"
        )
    with io.created_folders(out), io.atomic_file_set(targets, overwrite=True) as temporary:  # all or none
        for surface, target in zip(surfaces, temporary, strict=True):
            io.write_surforama_obj(target, surface, overwrite=True)
    console.print(f"wrote {len(targets)} meshes in voxels to {out}", highlight=False)
