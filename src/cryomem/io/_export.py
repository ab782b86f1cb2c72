"""Subtomogram-averaging hand-off: the standard particle table -> RELION 5, STOPGAP and Dynamo files, and back.

Poses (:mod:`cryomem.io._euler_zxz`)
    The standard table holds RELION ZYZ angles ``(rot, tilt, psi)`` whose matrix ``M`` (see
    :func:`cryomem.io.euler_zyz_deg_to_matrix`) places the reference particle in the tomogram
    (particle z axis = outward membrane normal). The other packages write the same ``M`` as ZXZ
    Euler angles:

    * STOPGAP (AV3/TOM convention), motive-list fields ``phi, psi, the``:
      ``M = Rz(psi) Rx(the) Rz(phi)`` (``sg_euler2matrix`` / ``tom_pointrotate``: the rotation
      that takes the reference onto the particle). ``phi`` spins the particle about its own axis.
    * Dynamo, table columns 7-9 ``tdrot, tilt, narot``: ``dynamo_euler2matrix`` is
      ``Rz(narot) Rx(tilt) Rz(tdrot)`` = ``M.T`` (the same frame as RELION's angles; STOPGAP's own
      converter maps ``phi, psi, the = -narot, -tdrot, -tilt``). ``narot`` spins the particle.

    All ``Rz, Rx`` are right-handed (counter-clockwise for positive angles) acting on column
    vectors ``(x, y, z)``.

Positions
    RELION 5: ``rlnCenteredCoordinateX/Y/ZAngst`` = ``(px - N / 2) * s`` with ``px`` the 0-based
    voxel coordinate, ``N`` the tomogram size and ``s`` its voxel size (the one conversion in
    :mod:`cryomem.io._conventions`). STOPGAP and Dynamo are MATLAB programs: their positions are
    **1-based** voxel coordinates (the centre of the first voxel is 1), written as a whole voxel
    (``orig_x`` / column 24) plus a sub-voxel shift (``x_shift`` / column 4) in ``[-0.5, 0.5]``;
    the particle sits at their sum.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from cryomem.io._atomic import atomic_file_set
from cryomem.io._conventions import (
    validate_voxel_size_ang,
    xyz_ang_to_xyz_px,
    xyz_px_to_centered_ang,
    xyz_px_to_xyz_ang,
)
from cryomem.io._euler_zxz import relion_to_zxz, zxz_to_relion
from cryomem.io._layout import DYNAMO_TABLE, RELION5_PARTICLES, RELION5_TOMOGRAMS, STOPGAP_MOTL, TOMOGRAM_INDEX
from cryomem.io._star import _CENTRED, _read_blocks, _xyz_array

__all__ = [
    "read_dynamo_table",
    "read_stopgap_motl",
    "read_tomogram_index",
    "write_dynamo_table",
    "write_relion5",
    "write_stopgap_motl",
]


_STOPGAP_FIELDS = (
    "motl_idx",
    "tomo_num",
    "object",
    "subtomo_num",
    "halfset",
    "orig_x",
    "orig_y",
    "orig_z",
    "score",
    "x_shift",
    "y_shift",
    "z_shift",
    "phi",
    "psi",
    "the",
    "class",
)
_DYNAMO_COLUMNS = 35  # columns 1..35 of the Dynamo table convention (``dthelp``)


def _per_tomogram(value: object, names: Sequence[str], what: str, default: object = None) -> dict[str, object]:
    """``value`` (one value for all, or a mapping by tomogram name) as a dict over ``names``."""
    if isinstance(value, Mapping):
        missing = sorted(set(names) - set(map(str, value)))
        if missing and default is None:
            raise ValueError(
                f"no {what} for tomogram(s) {missing}; known: {sorted(map(str, value)) or 'none'} "
                "(give each tomogram with --tomogram TOMO.mrc, named by its file stem)"
            )
        return {n: value.get(n, default) for n in names}
    return {n: (default if value is None else value) for n in names}


class _Prepared:
    """Validated rows of a particle table with their tomogram's geometry."""

    def __init__(
        self,
        particles: pd.DataFrame,
        voxel_size_ang: float | Mapping[str, float],
        origins_xyz_ang: Mapping[str, Sequence[float]] | None,
    ) -> None:
        missing = [c for c in ("tomo_name", "x_ang", "y_ang", "z_ang") if c not in particles.columns]
        if missing:
            raise ValueError(f"particles lacks required column(s) {missing}; it has {list(particles.columns)}")
        if not len(particles):
            raise ValueError("particles is empty: there is nothing to export")
        self.names = particles["tomo_name"].astype(str).to_numpy(dtype=object)
        bad = [n for n in dict.fromkeys(self.names) if not n or any(ch.isspace() for ch in n)]
        if bad:
            raise ValueError(f"tomogram names must be non-empty and without whitespace, got {bad[:3]}")
        self.tomograms = sorted(set(self.names))
        sizes = _per_tomogram(voxel_size_ang, self.tomograms, "voxel size")
        self.sizes = {
            n: validate_voxel_size_ang(s, f"voxel_size_ang of tomogram {n}", explicit=True) for n, s in sizes.items()
        }
        origins = _per_tomogram(origins_xyz_ang, self.tomograms, "origin", default=(0.0, 0.0, 0.0))
        self.origins = {n: np.asarray(o, dtype=np.float64).reshape(3) for n, o in origins.items()}
        xyz = _xyz_array(particles, ("x_ang", "y_ang", "z_ang"))
        angles = np.column_stack([_numbers(particles, c, 0.0) for c in ("rot_deg", "tilt_deg", "psi_deg")]).astype(
            np.float64
        )
        if not (np.isfinite(xyz).all() and np.isfinite(angles).all()):
            raise ValueError("particles has NaN or infinite coordinates or angles; remove or fix those rows")
        self.angles = angles
        self.px = np.empty_like(xyz)  # 0-based voxel coordinates, xyz, of each particle's own tomogram
        for name in self.tomograms:
            rows = self.names == name
            self.px[rows] = xyz_ang_to_xyz_px(xyz[rows], self.sizes[name], self.origins[name])
        self.class_number = _integers(particles, "class_number", 1)
        self.membrane_id = _integers(particles, "membrane_id", -1)
        self.score = _numbers(particles, "score", np.nan)

    def tomo_numbers(self, tomo_numbers: Mapping[str, int] | None) -> dict[str, int]:
        if tomo_numbers is None:
            return {n: i + 1 for i, n in enumerate(self.tomograms)}
        numbers = {n: int(v) for n, v in _per_tomogram(tomo_numbers, self.tomograms, "tomogram number").items()}
        if len(set(numbers.values())) != len(numbers) or min(numbers.values()) < 1:
            raise ValueError(f"tomo_numbers must be distinct integers >= 1, got {numbers}")
        return numbers


def _numbers(table: pd.DataFrame, column: str, default: float) -> np.ndarray:
    if column not in table.columns:
        return np.full(len(table), default, dtype=np.float64)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)


def _integers(table: pd.DataFrame, column: str, default: int) -> np.ndarray:
    values = _numbers(table, column, default)
    if not np.isfinite(values).all() or np.any(values != np.round(values)):
        raise ValueError(f"particle column {column!r} must hold integers")
    return values.astype(np.int64)


def _split_voxel(px_one_based: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based coordinates -> (whole voxel, sub-voxel shift in [-0.5, 0.5]) with their sum the position."""
    whole = np.floor(px_one_based + 0.5)
    return whole.astype(np.int64), px_one_based - whole


def _targets(out_dir: str | os.PathLike[str], names: Sequence[str]) -> list[Path]:
    folder = Path(out_dir)
    if not folder.is_dir():
        raise NotADirectoryError(f"output folder {folder} does not exist or is not a folder; create it first")
    return [folder / n for n in names]


def _write_index(path: Path, numbers: Mapping[str, int]) -> None:
    lines = ["tomo_num\ttomo_name"] + [f"{num}\t{name}" for name, num in sorted(numbers.items(), key=lambda kv: kv[1])]
    path.write_text("\n".join(lines) + "\n")


def read_tomogram_index(path: str | os.PathLike[str]) -> dict[int, str]:
    """Read a :data:`TOMOGRAM_INDEX` file (``tomo_num<TAB>tomo_name`` per line) -> ``{tomo_num: tomo_name}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tomogram index not found: {path}")
    index: dict[int, str] = {}
    for number, line in enumerate(path.read_text().splitlines()[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip().lstrip("-").isdigit():
            raise ValueError(f"{path} line {number}: expected 'tomo_num<TAB>tomo_name', got {line!r}")
        index[int(parts[0])] = parts[1].strip()
    return index


# ------------------------------------------------------------------------------------ RELION 5
def write_relion5(
    particles: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    voxel_size_ang: float | Mapping[str, float],
    tomogram_shapes_zyx: Mapping[str, Sequence[int]],
    origins_xyz_ang: Mapping[str, Sequence[float]] | None = None,
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.1,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write ``particles.star`` and ``tomograms.star`` for RELION 5 subtomogram averaging, atomically.

    Parameters
    ----------
    particles : pandas.DataFrame
        Standard particle table (:data:`cryomem.io.PARTICLE_COLUMNS`; positions in Å including
        each tomogram's origin).
    out_dir : path-like
        Existing folder for :data:`RELION5_PARTICLES` and :data:`RELION5_TOMOGRAMS`.
    voxel_size_ang : float or mapping tomo_name -> float
        Voxel size of each tomogram, Å (written as ``rlnTomoTiltSeriesPixelSize``, binning 1).
    tomogram_shapes_zyx : mapping tomo_name -> (nz, ny, nx)
        Shape of every tomogram named in ``particles`` (the centre of the centred coordinates).
    origins_xyz_ang : mapping tomo_name -> (3,) floats, optional
        Origin of each tomogram, Å, xyz (default 0).
    voltage_kv, cs_mm, amplitude_contrast : float
        Optics written to both files.
    overwrite : bool, default False
        Replace existing files; otherwise an existing target raises ``FileExistsError``.

    Returns
    -------
    dict
        ``{"particles": path, "tomograms": path}``.

    Notes
    -----
    ``data_optics`` has one optics group per tomogram (``rlnOpticsGroup``, ``rlnOpticsGroupName`` =
    tomogram name, ``rlnTomoTiltSeriesPixelSize``, ``rlnVoltage``, ``rlnSphericalAberration``,
    ``rlnAmplitudeContrast``). ``data_particles`` has ``rlnTomoName``,
    ``rlnCenteredCoordinateX/Y/ZAngst``, ``rlnAngleRot/Tilt/Psi``, the priors
    ``rlnAngleTiltPrior``/``rlnAnglePsiPrior`` (the membrane normal: our poses are normal-aligned,
    ``rot`` is the free in-plane angle), ``rlnClassNumber``, ``rlnOpticsGroup``,
    ``cryomemMembraneId`` and ``cryomemScore``. ``tomograms.star`` (block ``global``) lists
    ``rlnTomoName``, the optics, ``rlnTomoTiltSeriesPixelSize``, ``rlnTomoTomogramBinning`` (1) and
    ``rlnTomoSizeX/Y/Z``; it names the tomograms, it is not a full RELION tilt-series set.
    :func:`cryomem.io.read_particles_star` with a tomogram's ``shape_zyx`` and ``origin_xyz_ang``
    reads its particles back unchanged.
    """
    prepared = _Prepared(particles, voxel_size_ang, origins_xyz_ang)
    shapes = _per_tomogram(tomogram_shapes_zyx, prepared.tomograms, "shape")
    for value, name in ((voltage_kv, "voltage_kv"), (cs_mm, "cs_mm"), (amplitude_contrast, "amplitude_contrast")):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {value}")
    groups = {n: i + 1 for i, n in enumerate(prepared.tomograms)}
    centred = np.empty_like(prepared.px)
    for name in prepared.tomograms:
        rows = prepared.names == name
        centred[rows] = xyz_px_to_centered_ang(prepared.px[rows], prepared.sizes[name], shapes[name])
    optics_values = {
        "rlnVoltage": voltage_kv,
        "rlnSphericalAberration": cs_mm,
        "rlnAmplitudeContrast": amplitude_contrast,
    }
    optics = pd.DataFrame(
        {
            "rlnOpticsGroup": list(groups.values()),
            "rlnOpticsGroupName": list(groups),
            "rlnTomoTiltSeriesPixelSize": [prepared.sizes[n] for n in groups],
            **{k: [v] * len(groups) for k, v in optics_values.items()},
        }
    )
    star = pd.DataFrame({"rlnTomoName": prepared.names})
    for i, column in enumerate(_CENTRED):
        star[column] = centred[:, i]
    for i, column in enumerate(("rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi")):
        star[column] = prepared.angles[:, i]
    star["rlnAngleTiltPrior"] = prepared.angles[:, 1]
    star["rlnAnglePsiPrior"] = prepared.angles[:, 2]
    star["rlnClassNumber"] = prepared.class_number
    star["rlnOpticsGroup"] = [groups[n] for n in prepared.names]
    star["cryomemMembraneId"] = prepared.membrane_id
    star["cryomemScore"] = prepared.score
    tomograms = pd.DataFrame({"rlnTomoName": prepared.tomograms})
    for key, value in optics_values.items():
        tomograms[key] = value
    tomograms["rlnTomoTiltSeriesPixelSize"] = [prepared.sizes[n] for n in prepared.tomograms]
    tomograms["rlnTomoTomogramBinning"] = 1.0
    for i, axis in enumerate("XYZ"):
        tomograms[f"rlnTomoSize{axis}"] = [int(shapes[n][2 - i]) for n in prepared.tomograms]
    targets = _targets(out_dir, (RELION5_PARTICLES, RELION5_TOMOGRAMS))
    with atomic_file_set(targets, overwrite=overwrite) as (tmp_particles, tmp_tomograms):
        starfile.write({"optics": optics, "particles": star}, tmp_particles, float_format="%.12g", na_rep="nan")
        starfile.write({"global": tomograms}, tmp_tomograms, float_format="%.12g")
    return dict(zip(("particles", "tomograms"), targets, strict=True))


# ------------------------------------------------------------------------------------- STOPGAP
def write_stopgap_motl(
    particles: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    voxel_size_ang: float | Mapping[str, float],
    origins_xyz_ang: Mapping[str, Sequence[float]] | None = None,
    tomo_numbers: Mapping[str, int] | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write a STOPGAP motive list (:data:`STOPGAP_MOTL`) and its :data:`TOMOGRAM_INDEX`, atomically.

    Parameters
    ----------
    particles : pandas.DataFrame
        Standard particle table (positions in Å including each tomogram's origin).
    out_dir : path-like
        Existing output folder.
    voxel_size_ang : float or mapping tomo_name -> float
        Voxel size of the tomograms STOPGAP will extract from, Å.
    origins_xyz_ang : mapping tomo_name -> (3,) floats, optional
        Origin of each tomogram, Å, xyz (default 0).
    tomo_numbers : mapping tomo_name -> int, optional
        STOPGAP ``tomo_num`` of each tomogram (default: 1, 2, ... in name order); written to the index.
    overwrite : bool, default False
        Replace existing files.

    Returns
    -------
    dict
        ``{"motl": path, "index": path}``.

    Notes
    -----
    Block ``data_stopgap_motivelist`` with the fields ``motl_idx tomo_num object subtomo_num
    halfset orig_x orig_y orig_z score x_shift y_shift z_shift phi psi the class``. Positions
    are 1-based voxels: ``orig_*`` whole, ``*_shift`` the remainder in [-0.5, 0.5]. ``object``
    holds the membrane id, ``halfset`` alternates A/B, an unknown score is written as 0 (STOPGAP
    compares scores with thresholds; NaN would drop the particle).
    """
    prepared = _Prepared(particles, voxel_size_ang, origins_xyz_ang)
    numbers = prepared.tomo_numbers(tomo_numbers)
    whole, shift = _split_voxel(prepared.px + 1.0)
    zxz = relion_to_zxz(prepared.angles, software="stopgap")
    n = len(prepared.names)
    idx = np.arange(1, n + 1)
    score = np.where(np.isfinite(prepared.score), prepared.score, 0.0)
    rows = []
    for i in range(n):
        cells = [
            str(idx[i]),
            str(numbers[prepared.names[i]]),
            str(prepared.membrane_id[i]),
            str(idx[i]),
            "A" if i % 2 == 0 else "B",
            *(str(v) for v in whole[i]),
            f"{score[i]:.10g}",
            *(f"{v:.10f}" for v in shift[i]),
            *(f"{v:.10f}" for v in zxz[i]),
            str(prepared.class_number[i]),
        ]
        rows.append(" ".join(cells))
    text = "\ndata_stopgap_motivelist\n\nloop_\n" + "".join(f"_{f}\n" for f in _STOPGAP_FIELDS) + "\n".join(rows) + "\n"
    targets = _targets(out_dir, (STOPGAP_MOTL, TOMOGRAM_INDEX))
    with atomic_file_set(targets, overwrite=overwrite) as (tmp_motl, tmp_index):
        tmp_motl.write_text(text)
        _write_index(tmp_index, numbers)
    return dict(zip(("motl", "index"), targets, strict=True))


def _names_from_numbers(numbers: np.ndarray, tomo_names: Mapping[int, str] | None, path: Path) -> list[str]:
    if tomo_names is None:
        return [str(int(v)) for v in numbers]
    missing = sorted({int(v) for v in numbers} - set(tomo_names))
    if missing:
        raise ValueError(f"{path}: tomogram number(s) {missing} are not in tomo_names ({sorted(tomo_names)})")
    return [tomo_names[int(v)] for v in numbers]


def _standard_table(
    names: list[str],
    px_zero_based: np.ndarray,
    relion_angles: np.ndarray,
    class_number: np.ndarray,
    membrane_id: np.ndarray,
    score: np.ndarray,
    voxel_size_ang: float | Mapping[str, float],
    origins_xyz_ang: Mapping[str, Sequence[float]] | None,
    path: Path,
) -> pd.DataFrame:
    tomograms = sorted(set(names))
    sizes = _per_tomogram(voxel_size_ang, tomograms, "voxel size")
    origins = _per_tomogram(origins_xyz_ang, tomograms, "origin", default=(0.0, 0.0, 0.0))
    name_array = np.asarray(names, dtype=object)
    xyz = np.empty_like(px_zero_based)
    for name in tomograms:
        rows = name_array == name
        size = validate_voxel_size_ang(sizes[name], f"voxel_size_ang of tomogram {name}", explicit=True)
        xyz[rows] = xyz_px_to_xyz_ang(px_zero_based[rows], size, origins[name])
    out = pd.DataFrame({"tomo_name": pd.Series(names, dtype=str)})
    for i, column in enumerate(("x_ang", "y_ang", "z_ang")):
        out[column] = xyz[:, i]
    for i, column in enumerate(("rot_deg", "tilt_deg", "psi_deg")):
        out[column] = relion_angles[:, i]
    out["class_number"] = class_number.astype(np.int64)
    out["membrane_id"] = membrane_id.astype(np.int64)
    out["score"] = score.astype(np.float64)
    out.attrs["source"] = str(path)
    return out


def _whole_numbers(values: np.ndarray, what: str, path: Path) -> np.ndarray:
    if not np.isfinite(values).all() or np.any(values != np.round(values)):
        raise ValueError(f"{path}: {what} must hold integers")
    return values.astype(np.int64)


def read_stopgap_motl(
    path: str | os.PathLike[str],
    *,
    voxel_size_ang: float | Mapping[str, float],
    tomo_names: Mapping[int, str] | None = None,
    origins_xyz_ang: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Read a STOPGAP motive list into the standard particle table (inverse of :func:`write_stopgap_motl`).

    Parameters
    ----------
    path : path-like
        ``.star`` motive list.
    voxel_size_ang : float or mapping tomo_name -> float
        Voxel size of the tomograms, Å.
    tomo_names : mapping tomo_num -> tomo_name, optional
        E.g. :func:`read_tomogram_index`; without it the names are the numbers as text.
    origins_xyz_ang : mapping tomo_name -> (3,) floats, optional
        Origin of each tomogram, Å, xyz (default 0), added to the positions.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`cryomem.io.PARTICLE_COLUMNS`; position = ``orig + shift - 1`` voxels;
        ``object`` -> ``membrane_id``, ``class`` -> ``class_number``.
    """
    path = Path(path)
    blocks = _read_blocks(path)
    table = next((b for b in blocks.values() if {"orig_x", "phi"} <= set(b.columns)), None)
    if table is None:
        raise ValueError(f"{path} is not a STOPGAP motive list: no block with orig_x/y/z and phi/psi/the")
    missing = [f for f in _STOPGAP_FIELDS if f != "halfset" and f not in table.columns]
    if missing:
        raise ValueError(f"{path}: STOPGAP motive list lacks field(s) {missing}")
    if not len(table):
        raise ValueError(f"{path} has no particles")
    values = {
        f: pd.to_numeric(table[f], errors="coerce").to_numpy(np.float64) for f in _STOPGAP_FIELDS if f != "halfset"
    }
    orig = np.column_stack([values[f"orig_{a}"] for a in "xyz"])
    shift = np.column_stack([values[f"{a}_shift"] for a in "xyz"])
    if not (np.isfinite(orig).all() and np.isfinite(shift).all()):
        raise ValueError(f"{path}: some particles have NaN or non-numeric positions")
    angles = zxz_to_relion(np.column_stack([values["phi"], values["psi"], values["the"]]), software="stopgap")
    names = _names_from_numbers(_whole_numbers(values["tomo_num"], "tomo_num", path), tomo_names, path)
    return _standard_table(
        names,
        orig + shift - 1.0,
        angles,
        _whole_numbers(values["class"], "class", path),
        _whole_numbers(values["object"], "object", path),
        values["score"],
        voxel_size_ang,
        origins_xyz_ang,
        path,
    )


# -------------------------------------------------------------------------------------- Dynamo
def write_dynamo_table(
    particles: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    voxel_size_ang: float | Mapping[str, float],
    origins_xyz_ang: Mapping[str, Sequence[float]] | None = None,
    tomo_numbers: Mapping[str, int] | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write a Dynamo table (:data:`DYNAMO_TABLE`) and its :data:`TOMOGRAM_INDEX`, atomically.

    Parameters are those of :func:`write_stopgap_motl`. Returns ``{"table": path, "index": path}``.

    Notes
    -----
    35 whitespace-separated numeric columns (Dynamo's table convention, ``dthelp``): 1 tag
    (1..n), 2 aligned = 1, 3 averaged = 1, 4-6 ``dx dy dz`` sub-voxel shifts, 7-9 ``tdrot tilt
    narot``, 10 ``cc`` (the score; 0 if unknown), 13 ``ftype`` = 0 (no missing wedge given; set
    it and columns 14-17 in Dynamo), 20 ``tomo``, 21 ``reg`` (the membrane id), 22 ``class``,
    24-26 ``x y z`` whole 1-based voxels; other columns 0. The particle is at ``x + dx``.
    """
    prepared = _Prepared(particles, voxel_size_ang, origins_xyz_ang)
    numbers = prepared.tomo_numbers(tomo_numbers)
    whole, shift = _split_voxel(prepared.px + 1.0)
    n = len(prepared.names)
    table = np.zeros((n, _DYNAMO_COLUMNS))
    table[:, 0] = np.arange(1, n + 1)
    table[:, 1] = 1
    table[:, 2] = 1
    table[:, 3:6] = shift
    table[:, 6:9] = relion_to_zxz(prepared.angles, software="dynamo")
    table[:, 9] = np.where(np.isfinite(prepared.score), prepared.score, 0.0)
    table[:, 19] = [numbers[name] for name in prepared.names]
    table[:, 20] = prepared.membrane_id
    table[:, 21] = prepared.class_number
    table[:, 23:26] = whole
    integer = {0, 1, 2, 12, 19, 20, 21, 23, 24, 25}
    formats = ["%d" if i in integer else "%.10g" for i in range(_DYNAMO_COLUMNS)]
    targets = _targets(out_dir, (DYNAMO_TABLE, TOMOGRAM_INDEX))
    with atomic_file_set(targets, overwrite=overwrite) as (tmp_table, tmp_index):
        np.savetxt(tmp_table, table, fmt=formats, delimiter=" ")
        _write_index(tmp_index, numbers)
    return dict(zip(("table", "index"), targets, strict=True))


def read_dynamo_table(
    path: str | os.PathLike[str],
    *,
    voxel_size_ang: float | Mapping[str, float],
    tomo_names: Mapping[int, str] | None = None,
    origins_xyz_ang: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Read a Dynamo table into the standard particle table (inverse of :func:`write_dynamo_table`).

    Parameters are those of :func:`read_stopgap_motl`. Position = ``x + dx - 1`` voxels (columns
    24-26 plus 4-6); ``reg`` (21) -> ``membrane_id``, ``class`` (22) -> ``class_number``,
    ``cc`` (10) -> ``score``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Dynamo table not found: {path}")
    try:
        table = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path} is not a numeric Dynamo table ({exc})") from None
    if table.size == 0:
        raise ValueError(f"{path} has no particles")
    if table.shape[1] < 26:
        raise ValueError(f"{path} has {table.shape[1]} columns; a Dynamo table needs at least 26")
    if not np.isfinite(table[:, :26]).all():
        raise ValueError(f"{path}: some particles have NaN or infinite values in columns 1-26")
    angles = zxz_to_relion(table[:, 6:9], software="dynamo")
    names = _names_from_numbers(_whole_numbers(table[:, 19], "column 20 (tomo)", path), tomo_names, path)
    return _standard_table(
        names,
        table[:, 23:26] + table[:, 3:6] - 1.0,
        angles,
        _whole_numbers(table[:, 21], "column 22 (class)", path),
        _whole_numbers(table[:, 20], "column 21 (reg)", path),
        table[:, 9],
        voxel_size_ang,
        origins_xyz_ang,
        path,
    )


# ------------------------------------------------------------------------- shapes from STAR
