"""``cryomem morph MEMBRANES... --out DIR [--tomogram TOMO] [-p STAR]``: membrane morphometrics."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cryomem.cli._common import StageProgress, build_settings, console, one_line_errors

_FLAGS = {
    "voxel_size_ang": "--voxel-size",
    "null_patches_per_particle": "--null-per-particle",
    "particle_patch_radius_nm": "--patch-radius-nm",
    "dark_membrane": "--bright-membrane",
}


def _default(name: str):
    from cryomem.morph._config import MorphConfig

    return MorphConfig.model_fields[name].default


@one_line_errors
def morph(
    membranes: list[Path] = typer.Argument(
        ..., help="Membrane h5 files (cryomem surface), .obj/.ply/.vtp meshes in Å, or folders."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder for VTP, CSV, PNG and JSON files."),
    tomogram: Path | None = typer.Option(
        None, "--tomogram", "-t", help="The tomogram the membranes came from (for the bilayer thickness)."
    ),
    particles: list[Path] = typer.Option(
        [], "--particles", "-p", help="Particle STAR file(s): distances, angles and patches around particles."
    ),
    curvature_scale_nm: float = typer.Option(
        _default("curvature_scale_nm"), "--curvature-scale-nm", help="Radius of the surface fit for curvature, nm."
    ),
    thickness_patch_radius_nm: float = typer.Option(
        _default("thickness_patch_radius_nm"),
        "--thickness-patch-radius-nm",
        help="Radius of the patch whose density profiles are averaged before the leaflet fit, nm.",
    ),
    defocus_um: float | None = typer.Option(
        None,
        "--defocus-um",
        help="Underfocus of the tilt series, µm: leaflets are fitted through the CTF (without it the thickness "
        "reads some 2 Å thick at 3 µm).",
    ),
    phase_flipped: bool = typer.Option(
        True, "--phase-flipped/--no-phase-flipped", help="The tomogram was CTF-corrected (with --defocus-um)."
    ),
    bright_membrane: bool = typer.Option(
        False, "--bright-membrane", help="Membranes are brighter than the background (an inverted tomogram)."
    ),
    max_distance_nm: float = typer.Option(
        _default("max_distance_nm"), "--max-distance-nm", help="Longest ray for inter-membrane distances, nm."
    ),
    particle_patch_radius_nm: float = typer.Option(
        _default("particle_patch_radius_nm"), "--patch-radius-nm", help="Radius of the patch around particles, nm."
    ),
    particle_tolerance_nm: float = typer.Option(
        _default("particle_tolerance_nm"),
        "--particle-tolerance-nm",
        help="Particles farther than this from every membrane are left out, nm.",
    ),
    null_patches_per_particle: int = typer.Option(
        _default("null_patches_per_particle"), "--null-per-particle", help="Random patches per particle (null model)."
    ),
    seed: int = typer.Option(_default("seed"), "--seed", help="Seed of the null model."),
    voxel_size: float | None = typer.Option(
        None, "--voxel-size", help="Voxel size in Å of the tomogram (overrides its header), STAR pixels, voxel meshes."
    ),
    mesh_unit: str = typer.Option("ang", "--mesh-unit", help="Unit of .obj/.ply/.vtp vertices: ang or voxel."),
    name: str = typer.Option("morph", "--name", help="Stem of the output tables, figures and summary."),
) -> None:
    """Membrane morphometrics: curvature, bilayer thickness, inter-membrane distances, orientation, and
    membrane patches around particles against random ones."""
    from cryomem.morph import MorphConfig, run_morph

    config = build_settings(
        MorphConfig,
        _FLAGS,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        curvature_scale_nm=curvature_scale_nm,
        thickness_patch_radius_nm=thickness_patch_radius_nm,
        dark_membrane=not bright_membrane,
        defocus_um=defocus_um,
        phase_flipped=phase_flipped,
        max_distance_nm=max_distance_nm,
        particle_patch_radius_nm=particle_patch_radius_nm,
        particle_tolerance_nm=particle_tolerance_nm,
        null_patches_per_particle=null_patches_per_particle,
        seed=seed,
    )
    if tomogram is not None and not tomogram.is_file():
        raise FileNotFoundError(f"tomogram {tomogram} not found; pass the MRC the membranes came from")
    with StageProgress() as progress:
        written = run_morph(
            membranes, out, config, tomogram=tomogram, particle_paths=particles, name=name, progress=progress
        )
    report = json.loads(written["summary"].read_text())
    results = report["results"]
    console.print(f"[bold green]done[/]: {len(report['membranes'])} membranes", highlight=False)
    for key, value in results["pooled_medians"].items():
        if value is not None and not key.endswith("_id"):
            console.print(f"  median {key:<28} {value:.4g}", highlight=False)
    if "particles" in results:
        p = results["particles"]
        console.print(
            f"  particles: {p['on_membranes']} on the membranes ({p['off_membranes']} off), median distance "
            f"{p['median_distance_to_membrane_nm']:.3g} nm, axis to normal {p['median_axis_to_normal_deg']:.3g}°",
            highlight=False,
        )
    for note in results["notes"]:
        console.print(f"  [yellow]note[/]: {note}", highlight=False, soft_wrap=True)
    meshes = sum(1 for role in written if role.startswith("mesh_"))
    console.print(f"  wrote {len(written) - meshes} files and {meshes} meshes (.vtp) in {out}", highlight=False)
