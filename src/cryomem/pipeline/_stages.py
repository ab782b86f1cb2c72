"""The per-tomogram stages of ``cryomem run`` as pure functions over files.

Each stage reads the folder of the stage before and writes its own folder inside the tomogram's
run folder (``segment/``, ``instances/``, ``membranes/``, ``picks/``, ``stats/``) atomically: the
folder is filled under a temporary name and renamed into place only when the stage succeeded, so
a killed worker never leaves a half-written folder that looks finished. A stage returns a small
JSON-ready summary for the manifest.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryomem.io import (
    atomic_directory,
    membrane_files_in,
    particles_star_name,
    read_mrc,
    segment_output_name,
    stats_summary_name,
    stats_table_name,
    write_mrc,
)
from cryomem.pipeline._settings import RunConfig
from cryomem.pipeline._tomograms import Tomogram

__all__ = [
    "TomogramFolders",
    "instances_stage",
    "morph_stage",
    "pick_stage",
    "pooled_stats_stage",
    "segment_stage",
    "stats_stage",
    "surfaces_stage",
]


@dataclass(frozen=True)
class TomogramFolders:
    """Where the stages of one tomogram write, inside ``<run>/tomograms/<name>/``.

    Attributes
    ----------
    root : pathlib.Path
        The tomogram's run folder.
    name : str
        Tomogram name (its file stem); every output is named after it.
    """

    root: Path
    name: str

    @property
    def segment(self) -> Path:
        return self.root / "segment"

    @property
    def instances(self) -> Path:
        return self.root / "instances"

    @property
    def membranes(self) -> Path:
        return self.root / "membranes"

    @property
    def picks(self) -> Path:
        return self.root / "picks"

    @property
    def stats(self) -> Path:
        return self.root / "stats"

    @property
    def morph(self) -> Path:
        return self.root / "morph"

    def folder(self, stage: str) -> Path:
        """The folder a stage writes (``surfaces`` writes ``membranes/``)."""
        return self.membranes if stage == "surfaces" else self.root / stage

    @property
    def seg_path(self) -> Path:
        return self.segment / segment_output_name(self.name, "seg")

    @property
    def instances_path(self) -> Path:
        return self.instances / segment_output_name(self.name, "instances")

    @property
    def particles_path(self) -> Path:
        return self.picks / particles_star_name(self.name)

    def membrane_files(self, picked: bool = False) -> list[Path]:
        """Membrane h5 files from ``membranes/`` (or the pick stage's copies with predictions in ``picks/``)."""
        folder = self.picks if picked else self.membranes
        return membrane_files_in(folder, self.name)


def _relative(paths: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in paths]


@functools.lru_cache(maxsize=2)
def _segmenter(path: str | None, device: str):
    """Load a segmentation model once per worker process (kept for the next tomogram)."""
    from cryomem.segment import Segmenter

    return Segmenter.load(path, device)


@functools.lru_cache(maxsize=2)
def _picker(paths: tuple[str, ...], device: str):
    """Load a picking model (or ensemble) once per worker process (kept for the next tomogram)."""
    from cryomem.pick import Picker

    return Picker.load(paths, device)


def _device(name: str):
    from cryomem.segment import select_device

    return select_device(name)


def segment_stage(tomogram: Tomogram, folders: TomogramFolders, config: RunConfig) -> dict:
    """Segment membranes: writes ``segment/<name>_seg.mrc`` (uint8, 1 = membrane).

    Parameters
    ----------
    tomogram : Tomogram
        The tomogram, resolved once by the run (path, voxel size with the run's override applied).
    folders : TomogramFolders
        The tomogram's run folders.
    config : RunConfig
        Uses ``segment`` and ``device``.

    Returns
    -------
    dict
        ``outputs`` (paths relative to ``folders.root``), ``voxel_size_ang``, ``membrane_fraction``, and
        ``note`` when the voxel size is outside the model's training range.
    """
    from cryomem.segment import segment_file

    settings = config.segment
    model_path = str(Path(settings.model).resolve()) if settings.model is not None else None
    segmenter = _segmenter(model_path, str(_device(config.device)))
    folders.root.mkdir(parents=True, exist_ok=True)
    with atomic_directory(folders.segment, overwrite=True) as tmp:
        written = segment_file(
            tomogram.path, segmenter, tmp, settings=settings, voxel_size_ang=tomogram.voxel_size_ang, scratch_dir=tmp,
            level=0, stem=folders.name,  # OME-Zarr: level 0, the grid every later stage reads
        )  # fmt: skip
        seg = read_mrc(written["seg"], mmap=True)
        fraction = float(np.count_nonzero(seg.data_zyx)) / max(1, seg.data_zyx.size)
        del seg
    note = segmenter.voxel_size_note(tomogram.voxel_size_ang, tomogram.path.name)  # shown in the report
    return {"outputs": _relative([folders.seg_path], folders.root), "voxel_size_ang": tomogram.voxel_size_ang,
            "membrane_fraction": round(fraction, 6), **({"note": note} if note else {})}  # fmt: skip


def instances_stage(tomogram: Tomogram, folders: TomogramFolders, config: RunConfig) -> dict:
    """Split the segmentation into membranes: ``instances/<name>_instances.mrc`` (1 = largest).

    Connected (26-neighbourhood) membrane pieces of at least ``config.surfaces.min_voxels`` voxels,
    numbered by size (:func:`cryomem.segment.connected_instances`).
    """
    from cryomem.segment import connected_instances

    seg = read_mrc(folders.seg_path)
    labels = connected_instances(seg.data_zyx, config.surfaces.min_voxels)
    with atomic_directory(folders.instances, overwrite=True) as tmp:
        write_mrc(tmp / folders.instances_path.name, labels, **seg.placement)
    return {"outputs": _relative([folders.instances_path], folders.root), "membranes": int(labels.max())}


def surfaces_stage(tomogram: Tomogram, folders: TomogramFolders, config: RunConfig) -> dict:
    """One mesh with density profiles per membrane: ``membranes/<name>_mb<N>.h5`` and ``.obj``.

    See :func:`cryomem.geometry.surfaces_from_files`; the membranes are named ``folders.name``.
    """
    from cryomem.geometry import face_areas, surfaces_from_files
    from cryomem.io import read_membrane_h5

    settings = config.surfaces
    with atomic_directory(folders.membranes, overwrite=True) as tmp:
        written = surfaces_from_files(
            folders.instances_path,
            tomogram.path,
            tmp,
            voxel_size_ang=tomogram.voxel_size_ang,
            min_voxels=settings.min_voxels,
            spacing_ang=settings.spacing_ang,
            smoothing_sigma_vox=settings.smoothing_sigma_vox,
            feature_lowpass_ang=settings.feature_lowpass_ang,
            offsets_ang=config.stage_settings("surfaces")["feature_offsets_ang"],
            stem=folders.name,
        )
        h5 = [p for p in written if p.suffix == ".h5"]
        vertices, area_ang2 = 0, 0.0
        for path in h5:
            surface = read_membrane_h5(path)
            vertices += len(surface.vertices_xyz_ang)
            area_ang2 += float(face_areas(surface.vertices_xyz_ang, surface.faces).sum())
    outputs = [folders.membranes / p.name for p in written]
    return {"outputs": _relative(outputs, folders.root), "membranes": len(h5), "vertices": vertices,
            "mesh_area_um2": round(area_ang2 / 1e8, 6)}  # fmt: skip


def pick_stage(tomogram: Tomogram, folders: TomogramFolders, config: RunConfig) -> dict:
    """Pick membrane proteins: ``picks/<name>_particles.star`` and copies of the membrane files
    carrying the predicted distance to the nearest particle (point data ``predicted_distance_ang``).

    :func:`cryomem.pick.predict_membranes` writes those copies itself and only reads ``membranes/``,
    so the surfaces stage's outputs stay as that stage wrote them.
    """
    from cryomem.pick import predict_membranes, predicted_membrane_path

    settings = config.pick
    if not settings.model_paths:
        raise ValueError("the pick stage needs a picking model: pass --pick-model (pick.model in the run config)")
    sources = folders.membrane_files()
    if not sources:
        raise ValueError(f"no membrane files in {folders.membranes}; the surfaces stage found no membrane")
    with atomic_directory(folders.picks, overwrite=True) as tmp:
        cache = tmp / "operator-cache"
        picker = _picker(tuple(str(p.resolve()) for p in settings.model_paths), str(_device(config.device)))
        stars = predict_membranes(picker, sources, tmp, settings=settings, overwrite=True, cache_dir=cache)
        shutil.rmtree(cache, ignore_errors=True)
        if [s.name for s in stars] != [folders.particles_path.name]:
            raise ValueError(
                f"membranes of {folders.name} name another tomogram ({', '.join(s.stem for s in stars)}); "
                "rerun the surfaces stage"
            )
        from cryomem.io import read_particles_star

        n_particles = len(read_particles_star(stars[0]))
    outputs = [predicted_membrane_path(folders.picks, p) for p in sources] + [folders.particles_path]
    return {"outputs": _relative(outputs, folders.root), "particles": n_particles}


def stats_stage(tomogram: Tomogram, folders: TomogramFolders, config: RunConfig) -> dict:
    """Statistics of the picked particles on this tomogram's membranes: ``stats/`` (CSV, JSON, PNG, VTP)."""
    from cryomem.io import read_particles_star
    from cryomem.stats import run_stats

    settings = config.stats
    membranes = folders.membrane_files(picked=True)
    with atomic_directory(folders.stats, overwrite=True) as tmp:
        if len(read_particles_star(folders.particles_path)) == 0:
            written = _no_particles(membranes, tmp, folders.name, settings.config.side)
        else:
            written = run_stats(
                settings.analyses, membranes, [folders.particles_path], tmp, settings.config, name=folders.name
            )
        summary = _summary_results(written["summary"])
    outputs = [folders.stats / p.relative_to(tmp) for p in written.values()]
    return {"outputs": _relative(outputs, folders.root), **summary}


def morph_stage(tomogram: Tomogram, folders: TomogramFolders, config: RunConfig) -> dict:
    """Membrane morphometrics of this tomogram's membranes: ``morph/`` (VTP, CSV, PNG, JSON).

    Reads the membranes with the tomogram (bilayer thickness) and, when the run picks, the picked
    particles (patches around them against random ones; skipped when nothing was picked).
    """
    from cryomem.io import read_particles_star
    from cryomem.morph import run_morph

    picked = bool(config.pick.model_paths)
    membranes = folders.membrane_files(picked=picked)
    if not membranes:
        raise ValueError(f"no membrane files in {folders.membranes}; the surfaces stage found no membrane")
    particles = [folders.particles_path] if picked and len(read_particles_star(folders.particles_path)) else []
    settings = config.morph.config.model_copy(update={"voxel_size_ang": tomogram.voxel_size_ang})
    with atomic_directory(folders.morph, overwrite=True) as tmp:
        written = run_morph(membranes, tmp, settings, tomogram=tomogram.path, particle_paths=particles,
                            name=folders.name)  # fmt: skip
        import json

        results = json.loads(written["summary"].read_text())["results"]
    outputs = [folders.morph / p.relative_to(tmp) for p in written.values()]
    medians = results["pooled_medians"]
    keep = ("curvedness_per_nm", "bilayer_thickness_nm", "distance_out_nm", "spacing_nm")
    return {"outputs": _relative(outputs, folders.root), "membranes": len(membranes),
            "medians": {k: medians[k] for k in keep if medians.get(k) is not None},
            "particles": (results.get("particles") or {}).get("on_membranes", 0)}  # fmt: skip


def pooled_stats_stage(
    tomogram_folders: list[TomogramFolders], out_dir: str | os.PathLike[str], config: RunConfig
) -> dict:
    """Statistics pooled over all tomograms: ``pooled/`` (``config.stats.pooled_analyses``).

    Parameters
    ----------
    tomogram_folders : list of TomogramFolders
        Tomograms whose pick stage finished.
    out_dir : str or os.PathLike
        The pooled folder (replaced atomically).
    config : RunConfig
        Uses ``stats``.
    """
    from cryomem.stats import run_stats

    if not tomogram_folders:
        raise ValueError("no tomogram has picked particles; nothing to pool")
    out_dir = Path(out_dir)
    from cryomem.io import read_particles_star

    membranes = [p for f in tomogram_folders for p in f.membrane_files(picked=True)]
    stars = [f.particles_path for f in tomogram_folders]
    settings = config.stats
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(out_dir, overwrite=True) as tmp:
        if not any(len(read_particles_star(p)) for p in stars):
            written = _no_particles(membranes, tmp, "pooled", settings.config.side)
        else:
            written = run_stats(settings.pooled_analyses, membranes, stars, tmp, settings.config, name="pooled")
        summary = _summary_results(written["summary"])
    outputs = [out_dir / p.relative_to(tmp) for p in written.values()]
    return {"outputs": _relative(outputs, out_dir.parent), "tomograms": len(tomogram_folders), **summary}


def _no_particles(membranes: list[Path], out_dir: Path, name: str, side: str) -> dict[str, Path]:
    """Statistics where nothing was picked: concentration 0 on every membrane (``name``: the tomogram,
    or "pooled" for all tomograms).

    The other analyses need particles; the summary says so. Areas follow ``side`` ("both": whole
    mesh, "half": half of it; "single" needs particles' edges and is left empty).
    """
    import json

    import pandas as pd

    from cryomem.geometry import face_areas
    from cryomem.io import atomic_write_path, read_membrane_h5

    factor = {"both": 1.0, "half": 0.5}.get(side, float("nan"))
    rows = []
    for path in membranes:
        surface = read_membrane_h5(path)
        area_um2 = factor * float(face_areas(surface.vertices_xyz_ang, surface.faces).sum()) / 1e8
        tomo = surface.tomogram_name or name
        rows.append({"scope": "membrane", "tomo_name": tomo, "membrane_id": surface.membrane_id, "class": "all",
                     "n_particles": 0, "area_um2": area_um2, "concentration_per_um2": 0.0})  # fmt: skip
    for tomo in dict.fromkeys(r["tomo_name"] for r in list(rows)):
        area = sum(r["area_um2"] for r in rows if r["tomo_name"] == tomo and r["scope"] == "membrane")
        rows.append({"scope": "tomogram", "tomo_name": tomo, "membrane_id": -1, "class": "all", "n_particles": 0,
                     "area_um2": area, "concentration_per_um2": 0.0})  # fmt: skip
    total = sum(r["area_um2"] for r in rows if r["scope"] == "membrane")
    rows.append({"scope": "all", "tomo_name": "", "membrane_id": -1, "class": "all", "n_particles": 0,
                 "area_um2": total, "concentration_per_um2": 0.0})  # fmt: skip
    table_path, summary_path = out_dir / stats_table_name("concentration"), out_dir / stats_summary_name(name)
    with atomic_write_path(table_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")
    report = {
        "particles": {"total": 0, "on_membranes": 0, "off_mesh": 0},
        "results": {"concentration": {"pooled_per_um2": 0.0, "area_um2": total, "n_particles": 0}},
        "note": "no particles were picked; the other analyses need particles",
    }
    with atomic_write_path(summary_path) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return {"concentration": table_path, "summary": summary_path}


def _summary_results(path: Path) -> dict:
    import json

    report = json.loads(Path(path).read_text())
    return {"particles_on_membranes": report["particles"]["on_membranes"], "results": report["results"]}
