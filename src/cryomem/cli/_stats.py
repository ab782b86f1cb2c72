"""``cryomem stats concentration|neighbours|ripley|orientation|edges|chains|all MEMBRANES... -p STAR --out DIR``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from cryomem.cli._common import StageProgress, build_settings, console, one_line_errors

stats_app = typer.Typer(
    help="Statistics of particles on membranes: concentration, geodesic neighbours, Ripley's K/L/O, "
    "in-plane orientation, chains and membrane-edge effects (MemBrain-stats).",
    no_args_is_help=True,
)

_MEMBRANES = typer.Argument(..., help="Membrane h5 files (cryomem surface), .obj/.ply/.vtp meshes in Å, or folders.")
_PARTICLES = typer.Option(..., "--particles", "-p", help="Particle STAR file(s) (repeat the option for several).")
_OUT = typer.Option(..., "--out", help="Output folder for CSV, JSON, PNG and VTP files.")
_VOXEL = typer.Option(
    None,
    "--voxel-size",
    help="Voxel size in Å of STAR pixel coordinates (and of voxel meshes); given, it replaces the pixel size "
    "the STAR files state.",
)
_UNIT = typer.Option("ang", "--mesh-unit", help="Unit of .obj/.ply/.vtp vertices: ang or voxel.")
_TOLERANCE = typer.Option(
    10.0,
    "--mesh-tolerance-nm",
    help="Particles farther than this from every mesh are left out; each other particle goes to the nearest "
    "membrane (a STAR's cryomemMembraneId only breaks ties; disagreements are counted).",
)
_METHOD = typer.Option(
    "heat",
    "--method",
    help="Geodesic distances: heat (fast; neighbours still near-exact, Ripley on local chord graphs) or exact.",
)
_EXCLUDE = typer.Option(None, "--exclude-edges-nm", help="Leave out start particles (and area) this close to edges.")
_START = typer.Option(None, "--start-classes", help="Classes of start particles, e.g. 1,2 (default: all).")
_TARGET = typer.Option(None, "--target-classes", help="Classes of target particles (default: all).")
_CLASSES = typer.Option(None, "--classes", help="Classes counted, e.g. 1,2 (default: all).")
_WORKERS = typer.Option(
    None, "--workers", min=1, help="Processes for Ripley's geodesic searches (default: one per core, at most 8)."
)


def _default_workers(workers: int | None) -> int:
    return workers if workers is not None else max(1, min(8, os.cpu_count() or 1))


def _classes(text: str | tuple[int, ...] | None, name: str) -> tuple[int, ...] | None:
    if isinstance(text, tuple):  # parsed already (chains: one --classes for start and target)
        return text
    if text is None or not text.strip():
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{name} must be class numbers separated by commas, e.g. 1,2; got {text!r}") from None


# StatsConfig setting -> the flag that sets it (for messages); unlisted settings are spelled alike
_FLAGS = {
    "voxel_size_ang": "--voxel-size",
    "n_simulations": "--simulations",
    "orientation_k": "--k",
    "edge_bin_nm": "--bin-nm",
    "edge_max_nm": "--max-nm",
    "edge_smoothing_radius_nm": "--smoothing-radius-nm",
    "edge_top_fraction": "--top-fraction",
    "edge_bend_radius_nm": "--bend-radius-nm",
    "chain_distance_nm": "--max-distance-nm",
    "chain_inplane_deg": "--max-inplane-deg",
    "chain_turn_deg": "--max-turn-deg",
    "chain_min_length": "--min-length",
}


def _config(settings: dict):
    """The validated settings; a bad value is named by its flag and value."""
    from cryomem.stats import StatsConfig

    return build_settings(StatsConfig, _FLAGS, **settings)


def _run(analyses: list[str], membranes: list[Path], particles: list[Path], out: Path, name: str, **settings) -> None:
    from cryomem.stats import run_stats

    for key in ("classes", "start_classes", "target_classes"):
        if key in settings:
            settings[key] = _classes(settings[key], "--" + key.replace("_", "-"))
    config = _config(settings)
    with StageProgress() as progress:
        written = run_stats(analyses, membranes, particles, out, config, name=name, progress=progress)
    summary = written["summary"]
    report = json.loads(summary.read_text())
    counts = report["particles"]
    console.print(
        f"[bold green]done[/]: {counts['on_membranes']} of {counts['total']} particles on "
        f"{len(report['membranes'])} membranes ({counts['off_mesh']} off-mesh)",
        highlight=False,
    )
    if counts.get("membrane_id_mismatch"):
        console.print(
            f"[yellow]warning[/]: {counts['membrane_id_mismatch']} particles' cryomemMembraneId names another "
            "membrane than the nearest one; they were counted on the nearest membrane (ids from another "
            "segmentation?)",
            highlight=False,
            soft_wrap=True,
        )
    for key, values in report["results"].items():
        text = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        console.print(f"  {key:<14} {text}", highlight=False)
    meshes = sum(1 for role in written if role.startswith("mesh_"))
    console.print(f"  wrote {len(written) - meshes} files and {meshes} meshes (.vtp) in {out}", highlight=False)


@stats_app.command("concentration")
@one_line_errors
def concentration_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    classes: str | None = _CLASSES,
    side: str = typer.Option("both", "--side", help="both (whole mesh), half (area/2) or single (one isolated side)."),
    exclude_edges_nm: float | None = _EXCLUDE,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """Particles per µm² per membrane, per tomogram and pooled, for all and each class."""
    _run(
        ["concentration"],
        membranes,
        particles,
        out,
        "concentration",
        classes=classes,
        side=side,
        exclude_edges_nm=exclude_edges_nm,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )


@stats_app.command("neighbours")
@one_line_errors
def neighbours_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    k: int = typer.Option(1, "--k", help="Nearest neighbours per particle."),
    start_classes: str | None = _START,
    target_classes: str | None = _TARGET,
    method: str = _METHOD,
    exclude_edges_nm: float | None = _EXCLUDE,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """Geodesic distances to the k nearest target particles of every start particle (nm)."""
    _run(
        ["neighbours"],
        membranes,
        particles,
        out,
        "neighbours",
        k=k,
        start_classes=start_classes,
        target_classes=target_classes,
        method=method,
        exclude_edges_nm=exclude_edges_nm,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )


@stats_app.command("ripley")
@one_line_errors
def ripley_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    bin_size_nm: float = typer.Option(2.0, "--bin-size-nm", help="Radius bin (ring width), nm."),
    max_radius_nm: float = typer.Option(50.0, "--max-radius-nm", help="Largest radius, nm."),
    simulations: int = typer.Option(20, "--simulations", help="CSR simulations for envelopes (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulations."),
    workers: int | None = _WORKERS,
    start_classes: str | None = _START,
    target_classes: str | None = _TARGET,
    method: str = _METHOD,
    exclude_edges_nm: float | None = _EXCLUDE,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """Ripley's K, L and O on the membranes (geodesic balls and rings), pooled, with CSR envelopes."""
    _run(
        ["ripley"],
        membranes,
        particles,
        out,
        "ripley",
        bin_size_nm=bin_size_nm,
        max_radius_nm=max_radius_nm,
        n_simulations=simulations,
        seed=seed,
        workers=_default_workers(workers),
        start_classes=start_classes,
        target_classes=target_classes,
        method=method,
        exclude_edges_nm=exclude_edges_nm,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )


@stats_app.command("orientation")
@one_line_errors
def orientation_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    k: int = typer.Option(3, "--k", help="Neighbours compared per particle."),
    angle_bin_deg: float = typer.Option(10.0, "--angle-bin-deg", help="Histogram bin, degrees."),
    start_classes: str | None = _START,
    target_classes: str | None = _TARGET,
    method: str = _METHOD,
    exclude_edges_nm: float | None = _EXCLUDE,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """In-plane angles to the k nearest neighbours and the minimum-angle histogram vs random."""
    _run(
        ["orientation"],
        membranes,
        particles,
        out,
        "orientation",
        orientation_k=k,
        angle_bin_deg=angle_bin_deg,
        start_classes=start_classes,
        target_classes=target_classes,
        method=method,
        exclude_edges_nm=exclude_edges_nm,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )


@stats_app.command("edges")
@one_line_errors
def edges_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    bin_nm: float = typer.Option(5.0, "--bin-nm", help="Band width of distance to the edge, nm."),
    max_nm: float = typer.Option(50.0, "--max-nm", help="Largest distance to the edge binned, nm."),
    smoothing_radius_nm: float = typer.Option(2.0, "--smoothing-radius-nm", help="Curvature averaging radius, nm."),
    top_fraction: float = typer.Option(0.05, "--top-fraction", help="Most curved vertex fraction that may be edge."),
    bend_radius_nm: float = typer.Option(10.0, "--bend-radius-nm", help="Edges bend more tightly than this, nm."),
    classes: str | None = _CLASSES,
    method: str = _METHOD,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """Membrane edges, and concentration and neighbour distance against the distance to them."""
    _run(
        ["edges", "neighbours"],
        membranes,
        particles,
        out,
        "edges",
        edge_bin_nm=bin_nm,
        edge_max_nm=max_nm,
        edge_smoothing_radius_nm=smoothing_radius_nm,
        edge_top_fraction=top_fraction,
        edge_bend_radius_nm=bend_radius_nm,
        classes=classes,
        method=method,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )


@stats_app.command("chains")
@one_line_errors
def chains_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    k: int = typer.Option(3, "--k", help="Neighbours considered per particle."),
    max_distance_nm: float = typer.Option(40.0, "--max-distance-nm", help="Largest spacing of chain units, nm."),
    max_inplane_deg: float = typer.Option(60.0, "--max-inplane-deg", help="Largest in-plane angle of units."),
    max_turn_deg: float = typer.Option(80.0, "--max-turn-deg", help="Largest turn between connections."),
    min_length: int = typer.Option(3, "--min-length", help="Shortest chain kept, particles."),
    classes: str | None = _CLASSES,
    method: str = _METHOD,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """Polysome-like chains from distance, in-plane angle and continuation-angle limits."""
    _run(
        ["chains"],
        membranes,
        particles,
        out,
        "chains",
        orientation_k=k,
        chain_distance_nm=max_distance_nm,
        chain_inplane_deg=max_inplane_deg,
        chain_turn_deg=max_turn_deg,
        chain_min_length=min_length,
        start_classes=_classes(classes, "--classes"),
        target_classes=_classes(classes, "--classes"),
        method=method,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )


@stats_app.command("all")
@one_line_errors
def all_command(
    membranes: list[Path] = _MEMBRANES,
    particles: list[Path] = _PARTICLES,
    out: Path = _OUT,
    bin_size_nm: float = typer.Option(2.0, "--bin-size-nm", help="Ripley radius bin, nm."),
    max_radius_nm: float = typer.Option(50.0, "--max-radius-nm", help="Largest Ripley radius, nm."),
    simulations: int = typer.Option(20, "--simulations", help="CSR simulations for Ripley envelopes."),
    seed: int = typer.Option(0, "--seed"),
    workers: int | None = _WORKERS,
    k: int = typer.Option(1, "--k", help="Nearest neighbours per particle."),
    side: str = typer.Option("both", "--side", help="Area counted: both, half or single."),
    method: str = _METHOD,
    exclude_edges_nm: float | None = _EXCLUDE,
    voxel_size: float | None = _VOXEL,
    mesh_unit: str = _UNIT,
    mesh_tolerance_nm: float = _TOLERANCE,
) -> None:
    """Every analysis with its defaults: concentration, neighbours, Ripley, orientation, edges, chains."""
    from cryomem.stats import ANALYSES

    _run(
        list(ANALYSES),
        membranes,
        particles,
        out,
        "stats",
        bin_size_nm=bin_size_nm,
        max_radius_nm=max_radius_nm,
        n_simulations=simulations,
        seed=seed,
        workers=_default_workers(workers),
        k=k,
        side=side,
        method=method,
        exclude_edges_nm=exclude_edges_nm,
        voxel_size_ang=voxel_size,
        mesh_unit=mesh_unit,
        mesh_tolerance_nm=mesh_tolerance_nm,
    )
