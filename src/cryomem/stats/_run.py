"""Files in, files out: the statistics behind ``cryomem stats`` (CSV, JSON, PNG and per-membrane VTP).

Everything is read, validated and computed before the first file is written, so bad input leaves
no output; each file is written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

import cryomem
from cryomem.geometry import read_membrane_meshes
from cryomem.io import (
    STATS_MESH_FOLDER,
    FractionProgress,
    Mesh,
    read_particles_star,
    stats_mesh_name,
    stats_plot_name,
    stats_summary_name,
    stats_table_name,
    write_file_set_with_summary,
    write_mesh,
    write_table_csv,
)
from cryomem.stats._analyses import compute_stats
from cryomem.stats._config import StatsConfig
from cryomem.stats._particles import ParticleAssignment, assign_particles
from cryomem.stats._plots import (
    plot_concentration,
    plot_edge_profile,
    plot_min_angles,
    plot_neighbour_histogram,
    plot_ripley,
)

__all__ = ["compute_stats", "load_inputs", "run_stats"]


def load_inputs(
    membrane_paths: Sequence[str | os.PathLike[str]],
    particle_paths: Sequence[str | os.PathLike[str]],
    config: StatsConfig = StatsConfig(),
) -> ParticleAssignment:
    """Read meshes and STAR files and snap the particles to the membranes."""
    if not particle_paths:
        raise ValueError("no particle files given; pass --particles STAR (one or more)")
    meshes = read_membrane_meshes(membrane_paths, mesh_unit=config.mesh_unit, voxel_size_ang=config.voxel_size_ang)
    tables = [read_particles_star(p, voxel_size_ang=config.voxel_size_ang) for p in particle_paths]
    particles = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    _check_classes(particles, config)
    return assign_particles(meshes, particles, tolerance_nm=config.mesh_tolerance_nm, method=config.method)


def _check_classes(particles: pd.DataFrame, config: StatsConfig) -> None:
    """Refuse class numbers that no particle has (a typo would otherwise give empty statistics)."""
    present = sorted(set(particles["class_number"].astype(int).tolist()))
    for setting in ("classes", "start_classes", "target_classes"):
        wanted = getattr(config, setting) or ()
        unknown = [c for c in wanted if c not in present]
        if unknown:
            raise ValueError(
                f"no particle has class {', '.join(map(str, unknown))} ({setting}); the particles' classes are "
                f"{', '.join(map(str, present[:20])) or 'none'}: choose among them"
            )


def run_stats(
    analyses: Sequence[str],
    membrane_paths: Sequence[str | os.PathLike[str]],
    particle_paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: StatsConfig = StatsConfig(),
    *,
    name: str | None = None,
    progress: FractionProgress | None = None,
) -> dict[str, Path]:
    """Compute the chosen analyses and write CSV tables, a JSON summary, PNG plots and VTP meshes.

    Parameters
    ----------
    analyses : sequence of str
        Any of ``concentration, neighbours, ripley, orientation, edges, chains``.
    membrane_paths, particle_paths : sequences of path-like
        Membrane meshes/h5 (files or folders) and particle STAR files.
    out_dir : path-like
        Output folder (created). The files appear together or not at all: an error or interruption
        leaves the folder as it was. Files of the same names are replaced, and files that an earlier
        run of the same ``name`` listed in its summary but this run does not write are removed.
    config : StatsConfig
        Settings.
    name : str, optional
        Stem of the summary and mesh files (default: the single analysis, or ``"stats"``).
    progress : callable, optional
        ``progress(stage, fraction)``.

    Returns
    -------
    dict of str to pathlib.Path
        Every written file by role.
    """
    name = name or (analyses[0] if len(analyses) == 1 else "stats")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output folder {out} is a file; pass a folder with --out")
    assignment = load_inputs(membrane_paths, particle_paths, config)
    tables, point_data, summary = compute_stats(assignment, analyses, config, progress)
    writers: dict[str, tuple[Path, Callable[[Path], object]]] = {
        stem: (out / stats_table_name(stem), lambda p, t=table: write_table_csv(p, t)) for stem, table in tables.items()
    }
    if len(assignment.off_mesh):
        writers["off_mesh_particles"] = (
            out / stats_table_name("off_mesh_particles"),
            lambda p: write_table_csv(p, assignment.off_mesh),
        )
    plots = {
        "concentration": lambda p: plot_concentration(tables["concentration"], p),
        "neighbours": lambda p: plot_neighbour_histogram(tables["neighbours"], p, k=config.k),
        "ripley": lambda p: plot_ripley(tables["ripley"], p),
        "edges": lambda p: plot_edge_profile(tables["edges"], p),
        "orientation": lambda p: plot_min_angles(tables["orientation_min_angle"], p, k=config.orientation_k),
    }
    for stem, plot in plots.items():
        if stem in tables:
            writers[f"{stem}_plot"] = (out / stats_plot_name(stem), plot)
    for m in assignment.membranes:
        mesh = Mesh(m.mesh.vertices_xyz_ang, m.mesh.faces, m.mesh.normals_xyz, point_data[m.mesh.label])
        path = out / STATS_MESH_FOLDER / stats_mesh_name(m.mesh.label, name)
        writers[f"mesh_{m.mesh.label}"] = (path, lambda p, mesh=mesh: write_mesh(p, mesh))
    report = {
        "cryomem_version": cryomem.__version__,
        "analyses": list(analyses),
        "config": config.model_dump(mode="json"),
        "membranes": [m.mesh.source or m.mesh.label for m in assignment.membranes],
        "particle_files": [str(p) for p in particle_paths],
        "particles": {
            "total": assignment.n_particles,
            "on_membranes": assignment.n_assigned,
            "off_mesh": len(assignment.off_mesh),
            "membrane_id_mismatch": assignment.n_membrane_id_mismatch,
            "mesh_tolerance_nm": config.mesh_tolerance_nm,
        },
        "results": summary,
    }
    return write_file_set_with_summary(out, writers, out / stats_summary_name(name), report)
