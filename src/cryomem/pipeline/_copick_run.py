"""``cryomem run --copick``: a copick project's tomograms through the pipeline, the results written back.

The tomograms are read where copick keeps them (their OME-Zarr images, level 0), each named by its
copick run, so the run folder looks as for loose files (``tomograms/<run>/<stage>/``) and resumes
the same way. When the run ends, what each tomogram finished goes back into the project under one
user and session, written through copick's own API (:mod:`cryomem.io`), so napari-copick and
ChimeraX-copick show it:

- the membrane segmentation (binary) and the membrane instances (instance segmentation), both of
  the membrane object, at the tomograms' voxel spacing;
- every membrane of the run as one copick mesh of the membrane object (copick keeps one mesh per
  object, user and session; the instance segmentation tells the membranes apart);
- the picked particles as picks of the protein object, with orientations (the membrane normal as
  the particle's z axis) and the membrane id as the instance id.

Positions in copick are Å from the centre of voxel 0, so the tomogram's origin is taken off ours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryomem.io import (
    check_copick_writes,
    copick_tomograms,
    read_mrc,
    read_particles_star,
    write_copick_mesh,
    write_copick_picks,
    write_copick_segmentation,
)
from cryomem.pipeline._manifest import Manifest
from cryomem.pipeline._runner import RunResult, run_pipeline
from cryomem.pipeline._settings import RunConfig
from cryomem.pipeline._stages import TomogramFolders

__all__ = ["CopickSource", "CopickTarget", "CopickWrite", "run_copick"]


@dataclass(frozen=True)
class CopickSource:
    """Which tomograms of a copick project to run.

    Attributes
    ----------
    config_path : pathlib.Path
        The project's JSON config.
    tomo_type : str
        copick tomogram type (e.g. ``"wbp"``, ``"denoised"``).
    voxel_spacing_ang : float
        copick voxel spacing, Å.
    runs : tuple of str or None
        Run names; None for every run that holds the tomogram.
    """

    config_path: Path
    tomo_type: str
    voxel_spacing_ang: float
    runs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CopickTarget:
    """Where the results go in the copick project.

    Attributes
    ----------
    user_id, session_id : str
        copick names of the writer (no ``_`` or spaces).
    membrane_object : str
        Declared object (``is_particle: false``) of the segmentations and meshes.
    protein_object : str
        Declared particle object of the picks.
    overwrite : bool
        Replace results of this user and session already in the project.
    """

    user_id: str = "cryomem"
    session_id: str = "0"
    membrane_object: str = "membrane"
    protein_object: str = "protein"
    overwrite: bool = False


@dataclass(frozen=True)
class CopickWrite:
    """One result written into the project: run, what (segmentation, instances, mesh, picks) and where."""

    run: str
    kind: str
    where: str
    count: int | None = None


def _local_tomograms(source: CopickSource) -> dict[Path, str]:
    """The OME-Zarr folder of each selected run's tomogram -> its run name."""
    tomograms = copick_tomograms(
        source.config_path, tomo_type=source.tomo_type, voxel_spacing_ang=source.voxel_spacing_ang, runs=source.runs
    )
    remote = [t.run for t in tomograms if t.zarr_path is None]
    if remote:
        raise ValueError(
            f"the tomograms of run(s) {', '.join(remote[:5])} are not on the local filesystem; copy the project "
            "locally (copick's own tools can sync it) and pass that config"
        )
    return {Path(t.zarr_path): t.run for t in tomograms}


def run_copick(
    source: CopickSource,
    target: CopickTarget,
    out_dir: str | os.PathLike[str],
    config: RunConfig | None = None,
    **pipeline_options,
) -> tuple[RunResult, list[CopickWrite]]:
    """Run the pipeline on a copick project's tomograms and write the results back into the project.

    Parameters
    ----------
    source : CopickSource
        The project and which tomograms.
    target : CopickTarget
        User, session and objects the results are written under.
    out_dir : str or os.PathLike
        The run folder (as :func:`run_pipeline`'s).
    config : RunConfig, optional
        Run settings.
    **pipeline_options
        Passed to :func:`run_pipeline` (``client``, ``progress``, ``write_report``, ``on_start``, ...).

    Returns
    -------
    (RunResult, list of CopickWrite)
        The run, and what was written into the project. A result that could not be written is
        a failure of stage ``"copick"`` in the run result.

    Raises
    ------
    ValueError, FileNotFoundError, ImportError
        Before any work: as :func:`run_pipeline`, plus a config that is not copick's, runs, tomogram
        type or voxel spacing that the project lacks, tomograms not on the local filesystem, objects
        not declared, bad copick names, or results of this user and session already in the project
        without ``target.overwrite``.
    """
    config = config or RunConfig()
    named = _local_tomograms(source)
    check_copick_writes(
        source.config_path,
        list(named.values()),
        voxel_spacing_ang=source.voxel_spacing_ang,
        user_id=target.user_id,
        session_id=target.session_id,
        membrane_object=target.membrane_object,
        protein_object=target.protein_object if config.pick.model_paths else None,
        overwrite=target.overwrite,
    )
    result = run_pipeline(list(named), out_dir, config, names=named, **pipeline_options)
    return result, write_back(source, target, result)


def _done(manifest: Manifest, name: str, stage: str) -> bool:
    return (manifest.record(name, stage) or {}).get("status") == "done"


def write_back(source: CopickSource, target: CopickTarget, result: RunResult) -> list[CopickWrite]:
    """Write each tomogram's finished results into the copick project (failures go to ``result``)."""
    manifest = Manifest.load(result.run_dir)
    writes: list[CopickWrite] = []
    for name in result.tomograms:
        folders = TomogramFolders(result.run_dir / "tomograms" / name, name)
        origin = np.asarray((manifest.tomograms.get(name) or {}).get("origin_xyz_ang") or (0.0, 0.0, 0.0))
        for stage, write in (
            ("segment", _write_segmentation),
            ("instances", _write_instances),
            ("surfaces", _write_mesh),
            ("pick", _write_picks),
        ):
            if not _done(manifest, name, stage):
                continue
            try:
                written = write(source, target, folders, origin)
            except (ValueError, OSError) as err:
                result.failures.append((name, "copick", f"writing the {stage} results into copick: {err}"))
                continue
            if written is not None:  # None: nothing to write (no membrane, no particle)
                writes.append(written)
    return writes


def _common(target: CopickTarget) -> dict:
    return {"user_id": target.user_id, "session_id": target.session_id, "overwrite": target.overwrite}


def _write_segmentation(source, target, folders: TomogramFolders, origin) -> CopickWrite:
    labels = (np.asarray(read_mrc(folders.seg_path).data_zyx) > 0).astype(np.uint8)
    where = write_copick_segmentation(
        source.config_path, folders.name, voxel_spacing_ang=source.voxel_spacing_ang, name=target.membrane_object,
        labels_zyx=labels, **_common(target),
    )  # fmt: skip
    return CopickWrite(folders.name, "segmentation", where)


def _write_instances(source, target, folders: TomogramFolders, origin) -> CopickWrite:
    labels = np.asarray(read_mrc(folders.instances_path).data_zyx)
    where = write_copick_segmentation(
        source.config_path, folders.name, voxel_spacing_ang=source.voxel_spacing_ang, name=target.membrane_object,
        labels_zyx=labels, is_instance=True, **_common(target),
    )  # fmt: skip
    return CopickWrite(folders.name, "instances", where, int(labels.max()) if labels.size else 0)


def _write_mesh(source, target, folders: TomogramFolders, origin) -> CopickWrite | None:
    from cryomem.geometry import read_membrane_meshes

    files = folders.membrane_files()
    meshes = [m for m in read_membrane_meshes(files) if len(m.faces)] if files else []
    if not meshes:
        return None
    offsets = np.cumsum([0] + [len(m.vertices_xyz_ang) for m in meshes])
    vertices = np.concatenate([m.vertices_xyz_ang for m in meshes]) - origin
    faces = np.concatenate([m.faces + offset for m, offset in zip(meshes, offsets)])
    where = write_copick_mesh(
        source.config_path, folders.name, object_name=target.membrane_object, vertices_xyz_ang=vertices, faces=faces,
        **_common(target),
    )  # fmt: skip
    return CopickWrite(folders.name, "mesh", where, len(meshes))


def _write_picks(source, target, folders: TomogramFolders, origin) -> CopickWrite | None:
    particles = read_particles_star(folders.particles_path)
    if not len(particles):
        return None
    for axis, shift in zip("xyz", origin):
        particles[f"{axis}_ang"] = particles[f"{axis}_ang"] - shift
    particles["tomo_name"] = folders.name
    where = write_copick_picks(
        source.config_path, folders.name, object_name=target.protein_object, particles=particles,
        **_common(target),
    )  # fmt: skip
    return CopickWrite(folders.name, "picks", where, len(particles))
