"""``cryomem pick predict`` over files: membranes in, one particle STAR per tomogram out.

Every input is checked (membrane files readable, features at a sampling the model can read at
every test-time shift, tomogram shape known, outputs free) before any prediction runs; the STAR
files and the membrane files carrying the predictions (:func:`predicted_membrane_path`, in the
output folder) are written as one set once every membrane is predicted: a failure, a full disk or
an interruption leaves none of them. The input membrane files are only read, never written.
"""

from __future__ import annotations

import dataclasses
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.io import (
    PARTICLE_COLUMNS,
    FractionProgress,
    atomic_file_set,
    created_folders,
    particles_star_name,
    read_membrane_h5,
    write_membrane_h5,
    write_particles_star,
)
from cryomem.pick._clusters import Position, pick_surface
from cryomem.pick._dataset import tomogram_name
from cryomem.pick._picker import Picker
from cryomem.pick._settings import PickSettings

__all__ = [
    "PREDICTED_DISTANCE_KEY",
    "TTA_SHIFTS",
    "particles_star_path",
    "predict_membranes",
    "predicted_membrane_path",
]

PREDICTED_DISTANCE_KEY = "predicted_distance_ang"
TTA_SHIFTS = (-2, -1, 0, 1, 2)
_DEFAULT = PickSettings()  # the owner of the defaults of predict_membranes


def particles_star_path(out_dir: str | os.PathLike[str], tomo_name: str) -> Path:
    """``<out_dir>/<tomo_name>_particles.star``."""
    return Path(out_dir) / particles_star_name(tomo_name)


def predicted_membrane_path(out_dir: str | os.PathLike[str], membrane_path: str | os.PathLike[str]) -> Path:
    """``<out_dir>/<membrane file name>``: the copy of a membrane file that carries its predictions.

    It keeps the input's name (``<tomo>_mb<N>.h5``), so every reader of membrane files (``cryomem stats``,
    the run report, a viewer) takes the output folder as a membrane folder; the input stays as it was.
    """
    return Path(out_dir) / Path(membrane_path).name


def _plan(
    membrane_paths: Sequence[Path], picker: Picker, shifts: Sequence[int]
) -> dict[str, tuple[list[Path], tuple[int, int, int], float, tuple[float, float, float]]]:
    """Check every membrane file against every model and group them by tomogram: name -> (paths, shape,
    voxel size, origin)."""
    groups: dict[str, tuple[list[Path], tuple[int, int, int], float, tuple[float, float, float]]] = {}
    for path in membrane_paths:
        surface = read_membrane_h5(path)
        picker.check_surface(surface, where=f"membrane file {path}", shifts=shifts)
        name = tomogram_name(surface, path)
        if not name or re.search(r"\s", name):
            raise ValueError(f"membrane file {path} names its tomogram {name!r}; rename the tomogram without spaces")
        if name not in groups:
            groups[name] = ([], surface.tomogram_shape_zyx(), surface.voxel_size_ang, surface.origin_xyz_ang)
        groups[name][0].append(path)
    return groups


def predict_membranes(
    picker: Picker,
    membrane_paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    settings: PickSettings = _DEFAULT,
    min_seeds: int = 1,
    fixed_inplane_deg: float | None = None,
    position: Position = "mid",
    overwrite: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: FractionProgress | None = None,
) -> list[Path]:
    """Predict particles on membranes with a trained model; write one STAR per tomogram.

    Parameters
    ----------
    picker : Picker
        The loaded model (:meth:`Picker.load`), or an ensemble of models (e.g. trained with
        different seeds) whose predicted distances are averaged per vertex, which smooths the noise
        of single models (pooled F1 0.832 -> 0.845 for 2 models on the tuning tomograms of
        ``benchmarks/tune_pick_mean_shift.py``, default mean shift). Each model reads its own window.
    membrane_paths : sequence of paths
        Membrane ``.h5`` files (``cryomem surface``), of one or several tomograms.
    out_dir : str or os.PathLike
        Folder (created) for ``<tomo_name>_particles.star`` and the membrane files with predictions
        (:func:`predicted_membrane_path`); it must not be the folder of a membrane file.
    settings : PickSettings
        ``tta`` (average predictions over feature windows shifted by -2..2 samples along the
        normal), the mean-shift ``bandwidth_ang`` and ``seed_threshold_ang`` (Å, see
        :func:`cryomem.pick.pick_surface`; None: the calibrated ones of a single model's card, else
        derived from ``max_distance_ang``) and ``seed`` (of the random in-plane angles, one stream
        per tomogram name, used in membrane order). ``settings.model`` is not read: the model is
        ``picker``.
    min_seeds : int, default 1
        Fewest converged mean-shift seeds that make a particle.
    fixed_inplane_deg : float, optional
        Give every particle this in-plane angle (``rlnAngleRot``, degrees) instead.
    position : {"mid", "surface"}, default "mid"
        Particles on the membrane's mid-surface or on the segmentation's surface (see
        :func:`cryomem.pick.pick_surface`).
    overwrite : bool, default False
        Replace existing outputs (STAR files and membrane files in ``out_dir``).
    cache_dir : str or os.PathLike, optional
        Operator cache folder (default ``~/.cache/cryomem/operators``).
    progress : callable ``(stage, fraction)``, optional
        Progress report.

    Returns
    -------
    list of pathlib.Path
        The written STAR files, one per tomogram (sorted by tomogram name), with positions in Å
        (see ``position``), RELION ZYZ angles (particle z axis = outward normal), ``membrane_id``
        and ``score``. Beside them, :func:`predicted_membrane_path` of each membrane file: a copy of it
        with ``point_data["predicted_distance_ang"]`` (float32, Å) and the attribute ``pick_model``
        added. The input membrane files are not modified.

    Raises
    ------
    FileNotFoundError
        The model or a membrane file is missing.
    FileExistsError
        A STAR or output membrane file exists and ``overwrite`` is False.
    ValueError
        No membranes, an output folder holding an input membrane file, two membrane files of one
        name, no model or ensemble models trained with other distances or low-pass, a file that is
        not a model or membrane, features the model cannot read (another sampling along the
        normal), an unknown tomogram shape, or bad settings.
    """
    paths = [Path(p) for p in membrane_paths]
    out_dir = Path(out_dir)
    if not paths:
        raise ValueError("no membrane files given; pass the .h5 files written by `cryomem surface`")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"membrane file {path} does not exist; pass .h5 files from `cryomem surface`")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output folder {out_dir} is a file; pass a folder")
    outputs = _membrane_outputs(paths, out_dir)
    if position not in ("mid", "surface"):
        raise ValueError(f"position must be 'mid' or 'surface', got {position!r}")
    if fixed_inplane_deg is not None and not np.isfinite(fixed_inplane_deg):
        raise ValueError(f"fixed_inplane_deg must be a finite angle in degrees, got {fixed_inplane_deg}")
    shifts = TTA_SHIFTS if settings.tta else (0,)
    groups = _plan(paths, picker, shifts)
    if not overwrite:
        for existing in [particles_star_path(out_dir, name) for name in groups] + list(outputs.values()):
            if existing.exists():
                raise FileExistsError(f"{existing} already exists; pass --overwrite")
    calibration = picker.calibration  # chosen on held-out data
    seed_threshold_ang = settings.seed_threshold_ang or (calibration and calibration.seed_threshold_ang)
    bandwidth_ang = settings.bandwidth_ang or (calibration and calibration.bandwidth_ang)
    total = sum(len(g[0]) for g in groups.values())
    done = 0
    stars: dict[str, pd.DataFrame] = {}
    predicted: dict[Path, np.ndarray] = {}
    for name in sorted(groups):
        members = groups[name][0]
        rng = np.random.default_rng([settings.seed, zlib.crc32(name.encode())])
        tables = []
        for path in members:
            surface = read_membrane_h5(path)

            def report(stage: str, fraction: float, _done: int = done, _name: str = name) -> None:
                if progress:
                    progress(f"{stage} ({_name})", (_done + fraction) / total)

            distances = picker.distances_ang(surface, tta_shifts=shifts, progress=report, cache_dir=cache_dir)
            tables.append(
                pick_surface(
                    surface,
                    distances,
                    max_distance_ang=picker.max_distance_ang,
                    bandwidth_ang=bandwidth_ang,
                    seed_threshold_ang=seed_threshold_ang,
                    min_seeds=min_seeds,
                    inplane_deg=fixed_inplane_deg,
                    position=position,
                    seed=rng,
                    tomo_name=name,
                )
            )
            predicted[path] = distances
            done += 1
        stars[name] = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(PARTICLE_COLUMNS))
    return _write_outputs(stars, predicted, outputs, groups, out_dir, [str(m.resolve()) for m in picker.paths])


def _membrane_outputs(paths: Sequence[Path], out_dir: Path) -> dict[Path, Path]:
    """Input membrane file -> its copy with predictions; refuses an output that is an input or is shared."""
    inputs = {path.resolve() for path in paths}
    outputs: dict[Path, Path] = {}
    taken: dict[Path, Path] = {}
    for path in paths:
        output = predicted_membrane_path(out_dir, path)
        if output.resolve() in inputs:
            raise ValueError(
                f"output folder {out_dir} holds the membrane file {path.name}; predictions are written to copies "
                "of the membrane files, never into them: pass another output folder"
            )
        if output.resolve() in taken and taken[output.resolve()] != path.resolve():
            raise ValueError(
                f"membrane files {taken[output.resolve()]} and {path} would both be written to {output}; "
                "predict them into separate output folders"
            )
        taken[output.resolve()] = path.resolve()
        outputs[path] = output
    return outputs


def _write_outputs(
    stars: dict[str, pd.DataFrame],
    predicted: dict[Path, np.ndarray],
    outputs: dict[Path, Path],
    groups: dict[str, tuple[list[Path], tuple[int, int, int], float, tuple[float, float, float]]],
    out_dir: Path,
    model_names: list[str],
) -> list[Path]:
    """Write every STAR and every membrane file with predictions as one set: all appear, or none changes."""
    star_paths = [particles_star_path(out_dir, name) for name in sorted(stars)]
    membranes = list(predicted)
    with created_folders(out_dir):
        with atomic_file_set([*star_paths, *(outputs[path] for path in membranes)]) as tmps:
            for name, tmp in zip(sorted(stars), tmps, strict=False):
                _, shape, voxel_size, origin = groups[name]
                write_particles_star(
                    tmp, stars[name], voxel_size_ang=voxel_size, shape_zyx=shape, origin_xyz_ang=origin
                )
            for path, tmp in zip(membranes, tmps[len(star_paths) :], strict=True):
                surface = read_membrane_h5(path)
                updated = dataclasses.replace(
                    surface,
                    point_data={**surface.point_data, PREDICTED_DISTANCE_KEY: predicted[path].astype(np.float32)},
                    attrs={**surface.attrs, "pick_model": ";".join(model_names)},
                )
                write_membrane_h5(tmp, updated)
    return star_paths
