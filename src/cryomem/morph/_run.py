"""Files in, files out: ``cryomem morph`` (per-vertex VTP and CSV, per-membrane CSV, PNG, JSON).

Everything is read, validated and computed before the first file is written; the files appear
together or not at all (:func:`cryomem.io.atomic_file_set`).

cryomem's membrane meshes (``cryomem surface``) are the closed boundary of the segmented slab: both
faces of a membrane, normals pointing away from the membrane body. On such a mesh, along a
vertex's normal lies the space next to the membrane (the next membrane, or a fold of the same
one), and against it the slab's other face. Any other mesh in Å (one sheet per membrane) works
too; then ``slab_thickness_nm`` is simply empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import cryomem
from cryomem.geometry import face_areas, read_membrane_meshes
from cryomem.io import (
    MORPH_VERTEX_FOLDER,
    STATS_MESH_FOLDER,
    FractionProgress,
    MembraneSurface,
    Mesh,
    read_particles_star,
    read_volume,
    stats_mesh_name,
    stats_plot_name,
    stats_summary_name,
    stats_table_name,
    write_file_set_with_summary,
    write_mesh,
    write_numeric_csv,
    write_table_csv,
)
from cryomem.morph._config import MorphConfig
from cryomem.morph._measures import MembraneMeasures, measure_membranes
from cryomem.morph._particles import (
    ParticlesOnMembranes,
    compare_patches,
    null_centres,
    particles_on_membranes,
    patch_means,
)
from cryomem.morph._plots import plot_histograms, plot_maps, plot_particle_patches
from cryomem.morph._thickness import check_mesh_inside

__all__ = ["run_morph"]

_PATCH_QUANTITIES = (
    "mean_curvature_per_nm",
    "gaussian_curvature_per_nm2",
    "curvedness_per_nm",
    "bilayer_thickness_nm",
    "distance_out_nm",
    "self_out_nm",
)


def _check_mesh_units(surfaces: Sequence[MembraneSurface]) -> None:
    """Refuse meshes whose edges are far shorter than any voxel: coordinates in voxels, not Å."""
    for surface in surfaces:
        edges = (
            surface.vertices_xyz_ang[surface.faces[:, [0, 1, 2]]]
            - surface.vertices_xyz_ang[surface.faces[:, [1, 2, 0]]]
        )
        mean_edge = float(np.linalg.norm(edges, axis=2).mean())
        if mean_edge < 2.0:
            raise ValueError(
                f"{surface.source or surface.label}: mesh edges average {mean_edge:.2f} Å, shorter than any voxel: "
                "is the mesh in voxels? pass --mesh-unit voxel --voxel-size <Å>"
            )


def _read_tomogram(path: str | os.PathLike[str], surfaces: Sequence[MembraneSurface], voxel_size_ang: float | None):
    tomogram = read_volume(path, voxel_size_ang=voxel_size_ang)  # MRC or OME-Zarr level 0
    for surface in surfaces:
        if surface.voxel_size_ang is not None and abs(surface.voxel_size_ang - tomogram.voxel_size_ang) > (
            0.01 * tomogram.voxel_size_ang
        ):
            raise ValueError(
                f"the tomogram {path} has {tomogram.voxel_size_ang:g} Å voxels but the membrane "
                f"{surface.source or surface.label} was meshed from {surface.voxel_size_ang:g} Å voxels: pass the "
                "tomogram the membranes came from (or resample it with cryomem preprocess pixel-size)"
            )
        try:
            check_mesh_inside(
                tomogram.data_zyx.shape, tomogram.voxel_size_ang, surface.vertices_xyz_ang, tomogram.origin_xyz_ang
            )
        except ValueError as exc:
            raise ValueError(f"{surface.source or surface.label}: {exc}") from None
    return tomogram


def _membrane_row(surface: MembraneSurface, measures: MembraneMeasures) -> dict:
    values = measures.values
    row = {
        "tomo_name": surface.tomogram_name,
        "membrane_id": surface.membrane_id,
        "vertices": len(surface.vertices_xyz_ang),
        "area_nm2": float(face_areas(surface.vertices_xyz_ang, surface.faces).sum()) / 100.0,
    }
    for name in (
        "curvedness_per_nm", "gaussian_curvature_per_nm2", "bilayer_thickness_nm", "self_in_nm",
        "distance_out_nm", "spacing_nm", "self_out_nm", "normal_to_z_deg",
    ):  # fmt: skip
        if name in values:
            finite = np.asarray(values[name], dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            row[f"median_{name}"] = float(np.median(finite)) if len(finite) else np.nan
    if "mean_curvature_per_nm" in values:
        h = np.abs(np.asarray(values["mean_curvature_per_nm"], dtype=np.float64))
        row["median_abs_mean_curvature_per_nm"] = float(np.nanmedian(h)) if np.isfinite(h).any() else np.nan
    if "bilayer_thickness_nm" in values:
        row["thickness_fitted_fraction"] = float(np.isfinite(values["bilayer_thickness_nm"]).mean())
    if "membrane_out_id" in values:
        hits = np.asarray(values["membrane_out_id"])
        hits = hits[hits >= 0]
        row["nearest_membrane_id"] = int(np.bincount(hits).argmax()) if len(hits) else -1
    row["note"] = measures.note
    return row


def run_morph(
    membrane_paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: MorphConfig = MorphConfig(),
    *,
    tomogram: str | os.PathLike[str] | None = None,
    particle_paths: Sequence[str | os.PathLike[str]] = (),
    name: str = "morph",
    progress: FractionProgress | None = None,
) -> dict[str, Path]:
    """Measure membrane geometry and write it (see the module docstring and :mod:`cryomem.morph`).

    Parameters
    ----------
    membrane_paths : sequence of path-like
        Membrane h5 files / meshes in Å (files or folders).
    out_dir : path-like
        Output folder (created). Files of an earlier run of the same ``name`` that this run does not
        write are removed.
    config : MorphConfig
        Settings.
    tomogram : path-like, optional
        The tomogram the membranes came from; needed for the bilayer thickness (left out without).
    particle_paths : sequence of path-like
        STAR files of particles on the membranes; adds particle distances and angles and the patch
        comparison against random positions.
    name : str, default "morph"
        Stem of the summary, tables and figures.
    progress : callable, optional
        ``progress(stage, fraction)``.

    Returns
    -------
    dict of str to pathlib.Path
        Every written file by role.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output folder {out} is a file; pass a folder with --out")
    surfaces = read_membrane_meshes(membrane_paths, mesh_unit=config.mesh_unit, voxel_size_ang=config.voxel_size_ang)
    _check_mesh_units(surfaces)
    volume = _read_tomogram(tomogram, surfaces, config.voxel_size_ang) if tomogram is not None else None
    on = None
    if particle_paths:
        tables = [read_particles_star(p, voxel_size_ang=config.voxel_size_ang) for p in particle_paths]
        on = _particles_on(surfaces, pd.concat(tables, ignore_index=True), config)
    measures = measure_membranes(surfaces, config, volume=volume, progress=progress)

    writers: dict[str, tuple[Path, Callable[[Path], object]]] = {}
    for surface, measured in zip(surfaces, measures):
        values = {k: np.asarray(v) for k, v in measured.values.items()}
        mesh = Mesh(surface.vertices_xyz_ang, surface.faces, surface.normals_xyz, values)
        writers[f"mesh_{surface.label}"] = (
            out / STATS_MESH_FOLDER / stats_mesh_name(surface.label, name),
            lambda p, mesh=mesh: write_mesh(p, mesh),
        )
        table = {"x_ang": surface.vertices_xyz_ang[:, 0], "y_ang": surface.vertices_xyz_ang[:, 1],
                 "z_ang": surface.vertices_xyz_ang[:, 2], **values}  # fmt: skip
        writers[f"vertices_{surface.label}"] = (
            out / MORPH_VERTEX_FOLDER / stats_table_name(f"{surface.label}_{name}"),
            lambda p, t=table: write_numeric_csv(p, t),
        )
    membranes = pd.DataFrame([_membrane_row(s, m) for s, m in zip(surfaces, measures)])
    writers["membranes"] = (out / stats_table_name(f"{name}_membranes"), lambda p: write_table_csv(p, membranes))
    pooled = {k: np.concatenate([m.values[k] for m in measures]) for k in measures[0].values}
    vertices = np.concatenate([s.vertices_xyz_ang for s in surfaces])
    writers["histograms"] = (out / stats_plot_name(f"{name}_histograms"), lambda p: plot_histograms(pooled, p))
    writers["maps"] = (out / stats_plot_name(f"{name}_maps"), lambda p: plot_maps(vertices, pooled, p))

    summary: dict = {
        "pooled_medians": {
            k: (float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else None)
            for k, v in pooled.items()
            if np.issubdtype(np.asarray(v).dtype, np.floating)
        },
        "notes": [f"{s.label}: {m.note}" for s, m in zip(surfaces, measures) if m.note],
    }
    if on is not None:
        summary["particles"] = _particle_outputs(surfaces, measures, on, config, out, name, writers)

    report = {
        "cryomem_version": cryomem.__version__,
        "config": config.model_dump(mode="json"),
        "membranes": [s.source or s.label for s in surfaces],
        "tomogram": None if tomogram is None else str(tomogram),
        "particle_files": [str(p) for p in particle_paths],
        "results": summary,
    }
    return write_file_set_with_summary(out, writers, out / stats_summary_name(name), report)


def _particles_on(surfaces: Sequence[MembraneSurface], particles: pd.DataFrame, config: MorphConfig):
    """The particles snapped to the membranes, or a one-line error when none is near them."""
    on = particles_on_membranes(surfaces, particles, tolerance_nm=config.particle_tolerance_nm)
    if on.table.empty:
        raise ValueError(
            f"no particle lies within {config.particle_tolerance_nm:g} nm of the membranes "
            f"({len(particles)} particles, tomograms {sorted(set(particles['tomo_name'].astype(str)))[:3]}); "
            "check that the STAR file belongs to these membranes and its pixel size (--voxel-size), "
            "or raise --particle-tolerance-nm"
        )
    return on


def _particle_outputs(
    surfaces: Sequence[MembraneSurface],
    measures: Sequence[MembraneMeasures],
    on: ParticlesOnMembranes,
    config: MorphConfig,
    out: Path,
    name: str,
    writers: dict,
) -> dict:
    """Particle table, patch comparison and its figure (added to ``writers``); the summary's part."""
    values = [{k: v for k, v in m.values.items() if k in _PATCH_QUANTITIES} for m in measures]
    quantities = [q for q in _PATCH_QUANTITIES if q in values[0]]
    around = patch_means(surfaces, values, on.table, config.particle_patch_radius_nm)
    counts = on.table["membrane"].value_counts().to_dict()
    null = null_centres(surfaces, {m: c * config.null_patches_per_particle for m, c in counts.items()}, config.seed)
    around_null = patch_means(surfaces, values, null, config.particle_patch_radius_nm)
    comparison = compare_patches(around, around_null, quantities)
    table = pd.concat([on.table.drop(columns=["membrane"]), around.add_prefix("patch_")], axis=1)
    writers["particles"] = (out / stats_table_name(f"{name}_particles"), lambda p: write_table_csv(p, table))
    writers["particle_patches"] = (
        out / stats_table_name(f"{name}_particle_patches"),
        lambda p: write_table_csv(p, comparison),
    )
    writers["particle_patches_plot"] = (
        out / stats_plot_name(f"{name}_particle_patches"),
        lambda p: plot_particle_patches(around, around_null, comparison, p),
    )
    return {
        "on_membranes": len(on.table),
        "off_membranes": on.n_off,
        "median_distance_to_membrane_nm": float(on.table["distance_to_membrane_nm"].median()),
        "median_axis_to_normal_deg": float(on.table["axis_to_normal_deg"].median()),
        "patch_comparison": comparison.to_dict(orient="records"),
    }
