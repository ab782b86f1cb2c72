"""Particle STAR files (RELION 3/4/5, Surforama, cryomem) <-> one standard particle table.

The standard table (a pandas DataFrame, one row per particle) has the columns
:data:`PARTICLE_COLUMNS`: ``tomo_name`` (str), ``x_ang, y_ang, z_ang`` (physical Å, xyz,
including the tomogram's origin), ``rot_deg, tilt_deg, psi_deg`` (RELION ZYZ),
``class_number`` (int), ``membrane_id`` (int, -1 if unknown), ``score`` (float, NaN if unknown).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from cryomem.io._atomic import atomic_write_path
from cryomem.io._conventions import (
    centered_ang_to_xyz_px,
    validate_voxel_size_ang,
    xyz_ang_to_xyz_px,
    xyz_px_to_centered_ang,
    xyz_px_to_xyz_ang,
)

__all__ = ["PARTICLE_COLUMNS", "read_particles_star", "write_particles_star"]

PARTICLE_COLUMNS = (
    "tomo_name",
    "x_ang",
    "y_ang",
    "z_ang",
    "rot_deg",
    "tilt_deg",
    "psi_deg",
    "class_number",
    "membrane_id",
    "score",
)
_PX = ("rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ")
_CENTRED = (
    "rlnCenteredCoordinateXAngst",
    "rlnCenteredCoordinateYAngst",
    "rlnCenteredCoordinateZAngst",
)
_SHIFT_ANG = ("rlnOriginXAngst", "rlnOriginYAngst", "rlnOriginZAngst")
_SHIFT_PX = ("rlnOriginX", "rlnOriginY", "rlnOriginZ")
_ANGLES = {"rot_deg": "rlnAngleRot", "tilt_deg": "rlnAngleTilt", "psi_deg": "rlnAnglePsi"}
_PIXEL_SIZE_COLUMNS = (
    "rlnTomoTiltSeriesPixelSize",
    "rlnPixelSize",
    "rlnImagePixelSize",
    "rlnDetectorPixelSize",
)
_NAME_COLUMNS = ("rlnTomoName", "rlnMicrographName")
_MEMBRANE = "cryomemMembraneId"
_SCORE = "cryomemScore"
_DEFAULTS = {
    "rot_deg": 0.0,
    "tilt_deg": 0.0,
    "psi_deg": 0.0,
    "class_number": 1,
    "membrane_id": -1,
    "score": np.nan,
}


def _xyz_array(particles: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    return particles.loc[:, list(columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)


def _check_finite_coordinates(table: pd.DataFrame, path: Path) -> None:
    """Refuse rows whose coordinate (or origin shift) columns are NaN, infinite or not numbers."""
    columns = [c for c in (*_PX, *_CENTRED, *_SHIFT_ANG, *_SHIFT_PX) if c in table.columns]
    bad = ~np.isfinite(_xyz_array(table, columns)).all(axis=1)
    if bad.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad)[:5])
        raise ValueError(
            f"{path}: {int(bad.sum())} of {len(table)} particles have NaN, infinite or non-numeric coordinates "
            f"(rows {rows}{'...' if bad.sum() > 5 else ''}); remove or fix those rows"
        )


def _check_pixel_and_ang_agree(
    table: pd.DataFrame, sizes: np.ndarray, shape_zyx: Sequence[int] | None, path: Path
) -> None:
    """Where a file has both pixel and centred Å coordinates, they must place each particle alike.

    ``px * s - centred`` is ``N / 2 * s`` for every particle of a tomogram of size ``N``: with the
    shape known it is compared with that value, otherwise its spread over the particles of one
    tomogram must stay within a voxel (a shift shared by every particle cannot be seen then).
    """
    if not (all(c in table.columns for c in _PX) and all(c in table.columns for c in _CENTRED)) or not len(table):
        return
    px, centred = _xyz_array(table, _PX), _xyz_array(table, _CENTRED)
    names = table[_NAME_COLUMNS[0]].astype(str) if _NAME_COLUMNS[0] in table.columns else pd.Series([""] * len(table))
    groups, _ = pd.factorize(pd.MultiIndex.from_arrays([names.to_numpy(), sizes]))
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        size = float(sizes[rows[0]])
        offset = px[rows] * size - centred[rows]
        if shape_zyx is not None:
            expected = np.asarray(shape_zyx, dtype=np.float64)[::-1] / 2.0 * size
        else:
            expected = np.median(offset, axis=0)
        error = np.abs(offset - expected)
        if error.max() <= size:
            continue
        i, k = np.unravel_index(int(np.argmax(error)), error.shape)
        row, axis = rows[i], "XYZ"[k]
        raise ValueError(
            f"{path}: pixel and Å coordinates disagree by {error[i, k]:g} Å (row {row + 1}: rlnCoordinate{axis} "
            f"{px[row, k]:g} px x {size:g} Å is {px[row, k] * size - expected[k]:g} Å from the centre, "
            f"rlnCenteredCoordinate{axis}Angst says {centred[row, k]:g} Å); delete the stale set of coordinate "
            "columns from the file, or give the right pixel size with --voxel-size"
        )


def _integer_column(values: pd.Series, name: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    if np.any(~np.isfinite(numbers)) or np.any(numbers != np.round(numbers)):
        raise ValueError(f"particle column {name!r} must hold integers, got {values.tolist()[:5]}...")
    return numbers.astype(np.int64)


def write_particles_star(
    path: str | os.PathLike[str],
    particles: pd.DataFrame,
    *,
    voxel_size_ang: float,
    shape_zyx: Sequence[int],
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    overwrite: bool = True,
) -> Path:
    """Write particles as a RELION-5 style STAR file (data block ``particles``), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ``.star``; its folder must exist.
    particles : pandas.DataFrame
        Standard particle table. ``tomo_name`` (non-empty, no whitespace) and ``x_ang, y_ang,
        z_ang`` are required; missing angles default to 0, ``class_number`` to 1,
        ``membrane_id`` to -1, ``score`` to NaN. Other columns are not written.
    voxel_size_ang : float
        Voxel size of the tomogram the pixel coordinates refer to, Å.
    shape_zyx : (nz, ny, nx) ints
        Shape of that tomogram (for the centred Å coordinates).
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Origin of that tomogram, Å, xyz (subtracted before converting to pixels).
    overwrite : bool, default True
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.

    Notes
    -----
    Columns written: ``rlnTomoName``, ``rlnCoordinateX/Y/Z`` (0-based voxel indices, float),
    ``rlnCenteredCoordinateX/Y/ZAngst`` (``(px - N/2) * voxel size``), ``rlnAngleRot/Tilt/Psi``,
    ``rlnClassNumber``, ``rlnTomoTiltSeriesPixelSize`` (the voxel size of the pixel
    coordinates), ``cryomemMembraneId``, ``cryomemScore``.
    """
    size = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    missing = [c for c in ("tomo_name", "x_ang", "y_ang", "z_ang") if c not in particles.columns]
    if missing:
        raise ValueError(f"particles lacks required column(s) {missing}; it has {list(particles.columns)}")
    table = particles.copy()
    for column, default in _DEFAULTS.items():
        if column not in table.columns:
            table[column] = default
    names = table["tomo_name"].astype(str)
    if (names.str.len() == 0).any() or names.str.contains(r"\s").any():
        raise ValueError("particles['tomo_name'] must be non-empty names without whitespace")
    xyz_ang = _xyz_array(table, ("x_ang", "y_ang", "z_ang"))
    angles = _xyz_array(table, ("rot_deg", "tilt_deg", "psi_deg"))
    if not (np.isfinite(xyz_ang).all() and np.isfinite(angles).all()):
        raise ValueError("particles has NaN or infinite coordinates or angles")
    xyz_px = xyz_ang_to_xyz_px(xyz_ang, size, origin_xyz_ang)
    centred = xyz_px_to_centered_ang(xyz_px, size, shape_zyx)
    star = pd.DataFrame({"rlnTomoName": names.to_numpy(dtype=object)})
    for i in range(3):
        star[_PX[i]] = xyz_px[:, i]
    for i in range(3):
        star[_CENTRED[i]] = centred[:, i]
    for i, column in enumerate(_ANGLES.values()):
        star[column] = angles[:, i]
    star["rlnClassNumber"] = _integer_column(table["class_number"], "class_number")
    star["rlnTomoTiltSeriesPixelSize"] = size
    star[_MEMBRANE] = _integer_column(table["membrane_id"], "membrane_id")
    star[_SCORE] = pd.to_numeric(table["score"]).to_numpy(dtype=np.float64)
    path = Path(path)
    with atomic_write_path(path, overwrite=overwrite) as tmp:
        starfile.write({"particles": star}, tmp, float_format="%.12g", na_rep="nan")
    return path


def _read_blocks(path: Path) -> dict[str, pd.DataFrame]:
    if not path.is_file():
        if path.is_dir():
            raise ValueError(f"particles {path} is a folder; pass a STAR file")
        raise FileNotFoundError(f"STAR file not found: {path}")
    try:
        raw = starfile.read(path, always_dict=True, parse_as_string=list(_NAME_COLUMNS))
    except Exception as exc:  # starfile raises assorted errors on malformed input
        raise ValueError(f"{path} is not a readable STAR file ({exc})") from None
    blocks = {}
    for name, block in raw.items():
        block = block if isinstance(block, pd.DataFrame) else pd.DataFrame([block])
        for column in _NAME_COLUMNS:
            if column in block.columns and block[column].isna().any():
                block[column] = _raw_loop_column(path, name, column, len(block))
        blocks[name] = block
    return blocks


def _raw_loop_column(path: Path, block: str, column: str, n_rows: int) -> list[str]:
    """The text of one loop column as written (starfile turns names such as ``nan`` into NaN)."""
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"data_{block}"), None)
    if start is None:
        raise ValueError(f"{path}: cannot read column {column} of block {block!r} as text")
    names: list[str] = []
    rows: list[str] = []
    for line in lines[start + 1 :]:
        text = line.strip()
        if text.startswith("data_"):
            break
        if not text or text.startswith("#") or text == "loop_":
            continue
        if text.startswith("_"):
            names.append(text.split()[0][1:])
        else:
            rows.append(text)
    if column not in names or len(rows) != n_rows:
        raise ValueError(f"{path}: cannot read column {column} of block {block!r} as text")
    index = names.index(column)
    return [shlex.split(row)[index] if ('"' in row or "'" in row) else row.split()[index] for row in rows]


def _pixel_sizes(table: pd.DataFrame, optics: pd.DataFrame | None, path: Path) -> np.ndarray | None:
    """Per-row pixel size (Å) of the coordinates, from the particle table or optics block."""
    for source, frame in (("particles", table), ("optics", optics)):
        if frame is None:
            continue
        for column in _PIXEL_SIZE_COLUMNS:
            if column not in frame.columns:
                continue
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
            if column == "rlnDetectorPixelSize" and "rlnMagnification" in frame.columns:
                values = values * 1e4 / pd.to_numeric(frame["rlnMagnification"]).to_numpy(dtype=np.float64)
            for value in np.unique(values):
                validate_voxel_size_ang(value, f"column {column} of {path}")
            if source == "particles":
                return values
            if "rlnOpticsGroup" in frame.columns and "rlnOpticsGroup" in table.columns:
                lookup = dict(zip(frame["rlnOpticsGroup"].tolist(), values, strict=True))
                try:
                    return np.array([lookup[g] for g in table["rlnOpticsGroup"].tolist()], dtype=np.float64)
                except KeyError as exc:
                    raise ValueError(f"{path}: particle optics group {exc} is not in the optics block") from None
            if np.unique(values).size == 1:
                return np.full(len(table), values[0])
            raise ValueError(f"{path}: optics block has several pixel sizes but particles have no rlnOpticsGroup")
    return None


def _positions_ang(
    table: pd.DataFrame,
    sizes: np.ndarray,
    shape_zyx: Sequence[int] | None,
    origin_xyz_ang: Sequence[float],
    path: Path,
) -> np.ndarray:
    has_px = all(c in table.columns for c in _PX)
    if not has_px and shape_zyx is None:
        raise ValueError(
            f"{path} has only RELION-5 centred coordinates (rlnCenteredCoordinateX/Y/ZAngst); "
            "pass shape_zyx, the (nz, ny, nx) shape of the tomogram, to place them"
        )
    positions = np.empty((len(table), 3))
    for size in np.unique(sizes):
        rows = sizes == size
        part = table.loc[rows]
        if has_px:
            px = _xyz_array(part, _PX)
        else:
            px = centered_ang_to_xyz_px(_xyz_array(part, _CENTRED), size, shape_zyx)
        if all(c in part.columns for c in _SHIFT_ANG):
            px = px - _xyz_array(part, _SHIFT_ANG) / size
        elif all(c in part.columns for c in _SHIFT_PX):
            px = px - _xyz_array(part, _SHIFT_PX)
        positions[rows] = xyz_px_to_xyz_ang(px, size, origin_xyz_ang)
    return positions


def read_particles_star(
    path: str | os.PathLike[str],
    *,
    voxel_size_ang: float | None = None,
    shape_zyx: Sequence[int] | None = None,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    tomo_name: str | None = None,
) -> pd.DataFrame:
    """Read a particle STAR file into the standard particle table.

    Reads cryomem's own files, RELION 3/4 pixel files, RELION-5 centred-Å files and Surforama
    files (``rlnCoordinateX/Y/Z`` in pixels plus ``rlnAngleRot/Tilt/Psi``, no pixel size). The
    particle block is the first data block with coordinate columns; a ``data_optics`` block
    supplies the pixel size when the particle block has none.

    Parameters
    ----------
    path : str or os.PathLike
        STAR file.
    voxel_size_ang : float, optional
        Pixel size of the coordinates, Å. Overrides the file's ``rlnTomoTiltSeriesPixelSize``,
        ``rlnPixelSize``, ``rlnImagePixelSize`` or ``rlnDetectorPixelSize`` (used in that order).
        Required when the file has none.
    shape_zyx : (nz, ny, nx) ints, optional
        Tomogram shape; required only for files with centred Å coordinates and no pixel ones.
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Origin of the tomogram, Å, xyz, added to the positions.
    tomo_name : str, optional
        Name used when the file has neither ``rlnTomoName`` nor ``rlnMicrographName``
        (Surforama files); otherwise ``""``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PARTICLE_COLUMNS`. Pixel coordinates are used when present, else centred
        ones; RELION origin shifts (``rlnOriginX/Y/ZAngst`` or ``rlnOriginX/Y/Z``) are
        subtracted. Missing angles -> 0, class -> 1, ``cryomemMembraneId`` -> -1,
        ``cryomemScore`` (else ``rlnAutopickFigureOfMerit``) -> NaN.
    """
    path = Path(path)
    blocks = _read_blocks(path)
    candidates = [b for b in blocks.values() if _PX[0] in b.columns or _CENTRED[0] in b.columns]
    if not candidates:
        raise ValueError(
            f"{path} has no particle coordinates: no data block with rlnCoordinateX/Y/Z or "
            f"rlnCenteredCoordinateX/Y/ZAngst (blocks: {list(blocks) or 'none'})"
        )
    table = candidates[0].reset_index(drop=True)
    if not (all(c in table.columns for c in _PX) or all(c in table.columns for c in _CENTRED)):
        raise ValueError(
            f"{path} lacks a z coordinate: 3D particles need rlnCoordinateX/Y/Z or rlnCenteredCoordinateX/Y/ZAngst"
        )
    _check_finite_coordinates(table, path)
    try:
        stated = _pixel_sizes(table, blocks.get("optics"), path)
    except ValueError:
        if voxel_size_ang is None:
            raise
        stated = None  # the given pixel size replaces the file's unusable one
    if voxel_size_ang is not None:
        size = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
        sizes = np.full(len(table), size)
    elif stated is None:
        raise ValueError(
            f"{path} has no pixel size ({', '.join(_PIXEL_SIZE_COLUMNS)} or an optics "
            "block); pass voxel_size_ang (--voxel-size), the voxel size of its coordinates in Å"
        )
    else:
        sizes = stated
    _check_pixel_and_ang_agree(table, sizes, shape_zyx, path)
    xyz = _positions_ang(table, sizes, shape_zyx, origin_xyz_ang, path)
    name_column = next((c for c in _NAME_COLUMNS if c in table.columns), None)
    names = table[name_column].astype(str).tolist() if name_column else [tomo_name or ""] * len(table)
    out = pd.DataFrame({"tomo_name": pd.Series(names, dtype=str)})
    for i, column in enumerate(("x_ang", "y_ang", "z_ang")):
        out[column] = xyz[:, i]
    for column, star_column in _ANGLES.items():
        out[column] = _float_column(table, star_column, _DEFAULTS[column])
        if not np.isfinite(out[column]).all():
            raise ValueError(f"{path}: column {star_column} has missing or non-numeric angles")
    for column, star_column in (("class_number", "rlnClassNumber"), ("membrane_id", _MEMBRANE)):
        if star_column in table.columns:
            out[column] = _integer_column(table[star_column], star_column)
        else:
            out[column] = np.full(len(table), _DEFAULTS[column], dtype=np.int64)
    score_column = next((c for c in (_SCORE, "rlnAutopickFigureOfMerit") if c in table.columns), "")
    out["score"] = _float_column(table, score_column, np.nan)
    out.attrs["source"] = str(path)
    out.attrs["stated_pixel_sizes_ang"] = sorted({float(v) for v in stated}) if stated is not None else []
    out.attrs["pixel_size_ang"] = float(voxel_size_ang) if voxel_size_ang is not None else None
    return out


def _float_column(table: pd.DataFrame, column: str, default: float) -> np.ndarray:
    """A numeric column as float64 (non-numbers -> NaN), or ``default`` when it is absent."""
    if column not in table.columns:
        return np.full(len(table), default, dtype=np.float64)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
