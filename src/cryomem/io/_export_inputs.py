"""What ``cryomem export`` needs before writing: the particle STARs with each tomogram's voxel size,
shape and origin (from ``--tomogram`` headers, else the STAR's own columns)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from cryomem.io._conventions import validate_voxel_size_ang
from cryomem.io._layout import source_stem
from cryomem.io._mrc import MrcHeader, read_mrc_header
from cryomem.io._star import _CENTRED, _PX, _pixel_sizes, _read_blocks, _xyz_array, read_particles_star

__all__ = ["ExportSet", "load_export_set", "particle_star_shapes_zyx"]


def particle_star_shapes_zyx(
    path: str | os.PathLike[str], *, voxel_size_ang: float | None = None
) -> dict[str, tuple[int, int, int]]:
    """The tomogram shapes a particle STAR file states, by tomogram name (``{}`` when it states none).

    From ``rlnTomoSizeX/Y/Z`` columns where present; otherwise from files that carry both pixel
    and centred Å coordinates (cryomem's own): ``N = 2 * (px - centred / s)`` must be the same
    whole number for every particle of a tomogram. ``voxel_size_ang`` overrides the file's pixel size.
    """
    path = Path(path)
    blocks = _read_blocks(path)
    table = next((b for b in blocks.values() if _PX[0] in b.columns or _CENTRED[0] in b.columns), None)
    if table is None or not len(table) or "rlnTomoName" not in table.columns:
        return {}
    names = table["rlnTomoName"].astype(str).to_numpy()
    sizes_columns = ("rlnTomoSizeX", "rlnTomoSizeY", "rlnTomoSizeZ")
    shapes: dict[str, tuple[int, int, int]] = {}
    if all(c in table.columns for c in sizes_columns):
        sizes_xyz = _xyz_array(table, sizes_columns)
        for name in dict.fromkeys(names):
            rows = sizes_xyz[names == name]
            if np.isfinite(rows).all() and (rows == rows[0]).all() and (rows[0] >= 1).all():
                shapes[name] = tuple(int(v) for v in rows[0][::-1])  # type: ignore[assignment]
        return shapes
    if not (all(c in table.columns for c in _PX) and all(c in table.columns for c in _CENTRED)):
        return {}
    if voxel_size_ang is not None:
        pixel = np.full(len(table), validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True))
    else:
        pixel = _pixel_sizes(table.reset_index(drop=True), blocks.get("optics"), path)
        if pixel is None:
            return {}
    twice_half = 2.0 * (_xyz_array(table, _PX) - _xyz_array(table, _CENTRED) / pixel[:, None])
    for name in dict.fromkeys(names):
        rows = twice_half[names == name]
        whole = np.round(rows[0])
        if np.isfinite(rows).all() and np.abs(rows - whole).max() < 1e-3 and (whole >= 1).all():
            shapes[name] = tuple(int(v) for v in whole[::-1])  # type: ignore[assignment]
    return shapes


# --------------------------------------------------------------------------- loading for export
class ExportSet(NamedTuple):
    """Particles read for export with each tomogram's geometry, by tomogram name."""

    particles: pd.DataFrame  # standard table, positions in Å including each tomogram's origin
    voxel_size_ang: dict[str, float]
    shapes_zyx: dict[str, tuple[int, int, int] | None]
    origins_xyz_ang: dict[str, tuple[float, float, float]]


def _tomogram_headers(paths: Sequence[str | os.PathLike[str]]) -> dict[str, tuple[Path, MrcHeader]]:
    headers: dict[str, tuple[Path, MrcHeader]] = {}
    for path in map(Path, paths):
        name = source_stem(path)
        if name in headers:
            raise ValueError(
                f"two tomograms are named {name!r} ({headers[name][0]} and {path}); tomograms are matched to "
                "particles by file stem, so give each tomogram once"
            )
        headers[name] = (path, read_mrc_header(path))
    return headers


def load_export_set(
    star_paths: Sequence[str | os.PathLike[str]],
    *,
    tomogram_paths: Sequence[str | os.PathLike[str]] = (),
    voxel_size_ang: float | None = None,
    need_shapes: bool = False,
) -> ExportSet:
    """Read particle STAR files and resolve each tomogram's voxel size, shape and origin.

    Parameters
    ----------
    star_paths : sequence of path-like
        Particle STAR files (any flavour :func:`cryomem.io.read_particles_star` reads).
    tomogram_paths : sequence of path-like, default ()
        Tomograms (MRC), matched to the particles' ``tomo_name`` by file stem; only headers are read.
    voxel_size_ang : float, optional
        Voxel size of the particles' pixel coordinates and of the tomograms, Å; overrides both.
    need_shapes : bool, default False
        Refuse tomograms whose shape is unknown (RELION 5's centred coordinates need it).

    Returns
    -------
    ExportSet
        Voxel size: ``voxel_size_ang``, else the tomogram header's, else the STAR's pixel size.
        Shape: the tomogram header's, else the STAR's (:func:`particle_star_shapes_zyx`), else None.
        Origin: the tomogram header's, else 0.
    """
    override = (
        None if voxel_size_ang is None else validate_voxel_size_ang(voxel_size_ang, "--voxel-size", explicit=True)
    )
    if not star_paths:
        raise ValueError("no particle STAR files given")
    for path in map(Path, star_paths):
        if not path.is_file():
            raise FileNotFoundError(f"STAR file not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    headers = _tomogram_headers(tomogram_paths)
    one_shape = next(iter(headers.values()))[1].shape_zyx if len(headers) == 1 else None
    tables, sizes, shapes = [], {}, {}
    for path in map(Path, star_paths):
        try:
            table = read_particles_star(path, voxel_size_ang=override)
        except ValueError as err:  # RELION-5 files with only centred coordinates need the tomogram's shape
            if one_shape is None or "only RELION-5 centred" not in str(err):
                raise
            table = read_particles_star(path, voxel_size_ang=override, shape_zyx=one_shape)
        if not len(table):
            raise ValueError(f"{path} has no particles; remove it from the list")
        star_shapes = particle_star_shapes_zyx(path, voxel_size_ang=override)
        stated = table.attrs.get("stated_pixel_sizes_ang") or []
        for name in dict.fromkeys(table["tomo_name"]):
            if not name:
                raise ValueError(f"{path} has particles without a tomogram name (rlnTomoName); name them first")
            shapes.setdefault(name, star_shapes.get(name))
            if name not in headers and override is None and len(stated) == 1:
                sizes.setdefault(name, float(stated[0]))
        tables.append(table)
    particles = pd.concat(tables, ignore_index=True)
    origins: dict[str, tuple[float, float, float]] = {}
    for name in dict.fromkeys(particles["tomo_name"]):
        origin = (0.0, 0.0, 0.0)
        if name in headers:
            path, header = headers[name]
            shapes[name] = tuple(int(v) for v in header.shape_zyx)  # type: ignore[assignment]
            origin = tuple(float(v) for v in header.origin_xyz_ang)  # type: ignore[assignment]
            if override is None:
                sizes[name] = validate_voxel_size_ang(header.voxel_size_ang_raw, f"the header of {path}")
        if override is not None:
            sizes[name] = override
        if name not in sizes:
            raise ValueError(
                f"no voxel size for tomogram {name!r}: pass --tomogram {name}.mrc (its header has it) or --voxel-size"
            )
        if need_shapes and shapes.get(name) is None:
            raise ValueError(
                f"the shape of tomogram {name!r} is unknown (its particle file states none); pass --tomogram "
                f"{name}.mrc so its header gives the shape"
            )
        origins[name] = origin
        rows = (particles["tomo_name"] == name).to_numpy()
        particles.loc[rows, ["x_ang", "y_ang", "z_ang"]] += np.asarray(origin)
    return ExportSet(particles, sizes, {n: shapes.get(n) for n in origins}, origins)
