"""Writing a simulated tomogram and its ground truth to files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import cryomem
from cryomem.io import (
    FractionProgress,
    Mesh,
    atomic_directory,
    atomic_write_path,
    matrix_to_euler_zyz_deg,
    membrane_stem,
    simulation_file_names,
    write_mesh,
    write_mrc,
    write_particles_star,
)
from cryomem.simulate._config import SimulationConfig
from cryomem.simulate._membranes import ANG2_PER_UM2
from cryomem.simulate._phantom import PlacedObject
from cryomem.simulate._preview import write_preview
from cryomem.simulate._shapes import shape_parameters
from cryomem.simulate._tomogram import SimulatedTomogram, simulate_tomogram


def particles_table(objects: list[PlacedObject], tomo_name: str) -> pd.DataFrame:
    """Placed proteins as a particle table with cryomem's standard columns (Å, ZYZ degrees)."""
    centers = np.array([o.center_xyz_ang for o in objects], float).reshape(-1, 3)
    angles = matrix_to_euler_zyz_deg(np.array([o.rotation for o in objects], float).reshape(-1, 3, 3))
    return pd.DataFrame(
        {
            "tomo_name": [tomo_name] * len(objects),
            "x_ang": centers[:, 0],
            "y_ang": centers[:, 1],
            "z_ang": centers[:, 2],
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": np.array([o.class_number for o in objects], int),
            "membrane_id": np.array([o.membrane_id for o in objects], int),
            "score": np.ones(len(objects)),
        }
    )


def _bilayer_details(bilayer) -> dict:
    """Per-leaflet widths and peaks, contrast and the label's reach on each side, nm."""
    inner_sigma, outer_sigma = bilayer.sigmas_ang
    inner_label, outer_label = bilayer.label_extent_ang
    return {
        "inner_leaflet_sigma_nm": round(inner_sigma / 10, 4),
        "outer_leaflet_sigma_nm": round(outer_sigma / 10, 4),
        "inner_leaflet_peak": round(bilayer.inner_peak, 4),
        "outer_leaflet_peak": round(bilayer.outer_peak, 4),
        "density_factor": round(bilayer.density_factor, 4),
        "label_inner_nm": round(inner_label / 10, 4),
        "label_outer_nm": round(outer_label / 10, 4),
    }


def ground_truth_summary(sim: SimulatedTomogram, name: str, files: dict[str, str]) -> dict:
    """Every parameter, the seed, and per-membrane areas, protein counts and true concentrations."""
    phantom = sim.phantom
    counts = np.bincount([p.membrane_id for p in phantom.membrane_proteins], minlength=len(phantom.membranes) + 1)
    membranes = []
    for m in phantom.membranes:
        area = m.area_ang2
        per_class = np.bincount(
            [p.class_number for p in phantom.membrane_proteins if p.membrane_id == m.membrane_id],
            minlength=len(sim.membrane_templates) + 1,
        )[1:]
        membranes.append(
            {
                "membrane_id": m.membrane_id,
                "kind": m.kind,
                "group_id": m.group_id,
                "shape": shape_parameters(m.shape),
                "thickness_nm": round(m.bilayer.thickness_ang / 10, 4),
                "leaflet_sigma_nm": round(m.bilayer.leaflet_sigma_ang / 10, 4),
                **_bilayer_details(m.bilayer),
                "area_nm2": area / 100.0,
                "area_um2": area / ANG2_PER_UM2,
                "n_proteins": int(counts[m.membrane_id]),
                "n_proteins_per_class": per_class.tolist(),
                "concentration_per_um2": counts[m.membrane_id] / (area / ANG2_PER_UM2),
                "mesh": files["meshes"] + f"/{membrane_stem(name, m.membrane_id)}.obj",
            }
        )
    labels = np.bincount(phantom.semantic_labels().ravel(), minlength=6)
    n_voxels = float(labels.sum())
    total_area = sum(m["area_um2"] for m in membranes)

    def classes(templates):
        return [
            {
                "class_number": i + 1,
                "name": t.name,
                "radius_nm": t.radius_ang / 10,
                "inplane_radius_nm": t.inplane_radius_ang / 10,
            }
            for i, t in enumerate(templates)
        ]

    return {
        "cryomem_version": cryomem.__version__,
        "name": name,
        "seed": sim.config.seed,
        "voxel_size_ang": sim.config.voxel_size_ang,
        "shape_zyx": list(sim.config.shape_zyx),
        "config": sim.config.model_dump(mode="json"),
        "counts": {
            "membranes": len(phantom.membranes),
            "membrane_proteins": len(phantom.membrane_proteins),
            "cytosolic_proteins": len(phantom.cytosolic_proteins),
            "filaments": len(phantom.filaments),
            "hard_negatives": len(phantom.hard_negatives),
        },
        "volume_fraction": {
            n: labels[i] / n_voxels
            for i, n in enumerate(
                ("background", "membrane", "membrane_protein", "cytosolic_protein", "filament", "hard_negative")
            )
        },
        "membrane_area_um2": total_area,
        "concentration_per_um2": len(phantom.membrane_proteins) / total_area if total_area else 0.0,
        "membranes": membranes,
        "membrane_protein_classes": classes(sim.membrane_templates),
        "cytosolic_classes": classes(sim.cytosolic_templates),
        "filaments": phantom.filaments,
        "hard_negatives": phantom.hard_negatives,
        "tilt_series": {
            "angles_deg": np.asarray(sim.tilt_series.angles_deg).round(4).tolist(),
            "shifts_yx_px": np.asarray(sim.tilt_series.shifts_yx_px).round(4).tolist(),
            "defocus_ang": np.asarray(sim.tilt_series.defocus_ang).round(1).tolist(),
            "accumulated_dose_e_per_ang2": None
            if sim.tilt_series.dose_e_per_ang2 is None
            else np.asarray(sim.tilt_series.dose_e_per_ang2).round(4).tolist(),
        },
        "timings_s": {k: round(v, 3) for k, v in sim.timings_s.items()},
        "files": files,
    }


def write_simulated_tomogram(
    sim: SimulatedTomogram, folder: Path, name: str, *, save_density: bool = False, save_tilt_series: bool = False
) -> dict[str, str]:
    """Write tomogram, labels, instances, meshes, STAR tables, JSON and preview into ``folder``.

    Returns the written files by role, relative to ``folder``.
    """
    folder = Path(folder)
    s = sim.config.voxel_size_ang
    shape = sim.config.shape_zyx
    phantom = sim.phantom
    files = simulation_file_names(name)
    labels = phantom.semantic_labels()
    write_mrc(folder / files["tomogram"], sim.tomogram_zyx, voxel_size_ang=s)
    write_mrc(folder / files["labels"], labels, voxel_size_ang=s)
    write_mrc(folder / files["membrane_instances"], phantom.membrane_ids_zyx, voxel_size_ang=s)
    for key, objects in (
        ("membrane_proteins", phantom.membrane_proteins),
        ("cytosolic_proteins", phantom.cytosolic_proteins),
    ):
        write_particles_star(folder / files[key], particles_table(objects, name), voxel_size_ang=s, shape_zyx=shape)
    (folder / files["meshes"]).mkdir(exist_ok=True)
    for m in phantom.membranes:
        _, normals = m.shape.project(m.vertices_xyz_ang)
        mesh = Mesh(m.vertices_xyz_ang, m.faces, normals, {})
        write_mesh(folder / files["meshes"] / f"{membrane_stem(name, m.membrane_id)}.obj", mesh)
    if save_density:
        files["density"] = simulation_file_names(name, density=True)["density"]
        write_mrc(folder / files["density"], phantom.density_zyx, voxel_size_ang=s)
    if save_tilt_series:
        optional = simulation_file_names(name, tilt_series=True)
        files["tilt_series"], files["tilt_angles"] = optional["tilt_series"], optional["tilt_angles"]
        write_mrc(folder / files["tilt_series"], sim.tilt_series.images, voxel_size_ang=s)
        with atomic_write_path(folder / files["tilt_angles"]) as tmp:
            Path(tmp).write_text("".join(f"{a:.2f}\n" for a in sim.tilt_series.angles_deg))
    write_preview(folder / files["preview"], sim.tomogram_zyx, labels, s, title=name)
    summary = ground_truth_summary(sim, name, files)
    with atomic_write_path(folder / files["ground_truth"]) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=2, default=_json_default))
    return files


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def check_output_folder(out_dir: Path, name: str | None, *, overwrite: bool) -> None:
    """Refuse, before any work, a tomogram name that is not a plain file name or an output folder in the way."""
    if name is None:
        pass
    elif not name or name != name.strip() or any(c in name for c in "/\\ \t") or name in (".", ".."):
        raise ValueError(
            f"tomogram name {name!r} must be a plain file name (no folders, no spaces); pass e.g. --name tomo"
        )
    parent = Path(out_dir).parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {out_dir}: folder {parent} does not exist; create it first")
    if Path(out_dir).is_file():
        raise FileExistsError(f"output folder {out_dir} is a file; choose a new folder")
    if Path(out_dir).exists() and not overwrite and any(Path(out_dir).iterdir()):
        raise FileExistsError(
            f"output folder {out_dir} exists and is not empty; choose a new folder or pass --overwrite"
        )


def simulate_to_folder(
    config: SimulationConfig,
    out_dir: Path,
    *,
    name: str = "tomo",
    overwrite: bool = False,
    save_density: bool = False,
    save_tilt_series: bool = False,
    progress: FractionProgress | None = None,
) -> tuple[Path, dict[str, str], SimulatedTomogram]:
    """Simulate one tomogram and write it into a new folder ``out_dir``, atomically.

    The folder appears only when every file is written; a failure leaves nothing behind.
    """
    out_dir = Path(out_dir)
    check_output_folder(out_dir, name, overwrite=overwrite)
    sim = simulate_tomogram(config, progress)
    with atomic_directory(out_dir, overwrite=True) as tmp:
        files = write_simulated_tomogram(
            sim, Path(tmp), name, save_density=save_density, save_tilt_series=save_tilt_series
        )
    return out_dir, files, sim
