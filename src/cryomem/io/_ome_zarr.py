"""OME-Zarr (OME-NGFF 0.4) tomograms: lazy multiscale reads, atomic pyramid writes.

Placement follows the OME-NGFF definition literally: for level ``k`` the physical position of
voxel ``(i_z, i_y, i_x)`` is ``index * scale + translation`` (per axis, the dataset's transforms
then the multiscale's own), so ``translation`` is the position of voxel 0 of *that* level. Many
pyramids (ours, ngff-zarr's) shift each downsampled level by half a pooled block,
``(f - 1) / 2`` level-0 voxels, so that a level-``k`` voxel centre lies at the mean of the
level-0 voxel centres it pools; others (ome-zarr-py's ``write_image`` default, copick, the
CryoET Data Portal) store no translation, which by the same definition puts voxel 0 of every
level at the same point. We read what the file says and never guess a shift.

Arrays are ``(z, y, x)``; physical points are ``(x, y, z)`` in Å (see :mod:`cryomem.io`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryomem.io._atomic import atomic_directory
from cryomem.io._conventions import validate_voxel_size_ang
from cryomem.io._layout import MRC_SUFFIXES, ZARR_SUFFIXES, is_mrc_path, is_zarr_path
from cryomem.io._mrc import Volume, read_mrc, read_mrc_header

__all__ = ["read_volume_header", "ome_zarr_levels", "read_ome_zarr", "read_volume", "write_ome_zarr"]

NGFF_VERSION = "0.4"
_ANISOTROPY_RTOL = 0.01
_UNIT_ANG: dict[str, float] = {
    "angstrom": 1.0,
    "Å": 1.0,
    "a": 1.0,
    "nanometer": 10.0,
    "nm": 10.0,
    "micrometer": 1e4,
    "micron": 1e4,
    "µm": 1e4,
    "um": 1e4,
    "picometer": 0.01,
    "pm": 0.01,
}
_SPATIAL = ("z", "y", "x")
_CRYOMEM_ATTRS = "cryomem"


@dataclass(frozen=True)
class _Level:
    index: int
    path: str
    shape: tuple[int, ...]  # stored shape, every axis
    scale_zyx: tuple[float, float, float] | None  # file units
    translation_zyx: tuple[float, float, float]  # file units


@dataclass(frozen=True)
class _Image:
    """An OME-Zarr image's first multiscale, parsed (no array data read)."""

    path: Path
    levels: tuple[_Level, ...]
    spatial_axes: tuple[int, int, int]  # stored axis of z, y, x
    other_axes: tuple[int, ...]  # stored axes that must have size 1
    axis_names: tuple[str, ...]
    unit: str | None
    start_xyz_vox: tuple[int, int, int]

    def shape_zyx(self, level: _Level) -> tuple[int, int, int]:
        return tuple(level.shape[a] for a in self.spatial_axes)  # type: ignore[return-value]

    def placement(self, voxel_size_ang: float | None) -> list[tuple[float, tuple[float, float, float]]]:
        """``(voxel_size_ang, origin_xyz_ang)`` of every level (see :func:`read_ome_zarr`)."""
        factor = _unit_ang(self.unit)
        source = f"the OME multiscales scale of {self.path}"
        first = self.levels[0]
        if voxel_size_ang is None:
            if factor is None:
                found = "no unit" if self.unit is None else f"unit {self.unit!r}"
                raise ValueError(
                    f"{self.path} gives {found} for its z, y, x axes; cryomem understands angstrom, nanometer and "
                    "micrometer: fix the axes' 'unit' in .zattrs, or pass --voxel-size (voxel_size_ang=...) in Å"
                )
            if first.scale_zyx is None:
                raise ValueError(
                    f"{self.path} has no 'scale' coordinateTransformation at level 0; pass --voxel-size "
                    "(voxel_size_ang=...) in Å"
                )
            out = []
            for level in self.levels:
                sizes = [s * factor for s in level.scale_zyx]  # type: ignore[union-attr]
                where = f"{source} (level {level.index})"
                size = validate_voxel_size_ang(sizes[2], where, explicit=level.index > 0)
                if any(not math.isclose(s, size, rel_tol=_ANISOTROPY_RTOL) for s in sizes[:2]):
                    raise ValueError(
                        f"{where} is anisotropic: (z, y, x) = {tuple(sizes)} Å; cryomem needs isotropic voxels: "
                        "resample the volume, or pass --voxel-size (voxel_size_ang=...)"
                    )
                out.append((size, _xyz(t * factor for t in level.translation_zyx)))
            return out
        # An override sets level 0's voxel size; the file's own scales give the other levels'
        # relative to it, and its translations are kept in Å where its unit is known.
        if first.scale_zyx is None or not first.scale_zyx[2] > 0:
            ratios = [self.shape_zyx(first)[2] / max(self.shape_zyx(lv)[2], 1) for lv in self.levels]
            return [(voxel_size_ang * r, (0.0, 0.0, 0.0)) for r in ratios]
        per_unit = voxel_size_ang / first.scale_zyx[2]  # Å per file unit, as the override implies
        base = first.translation_zyx
        origin0 = [t * (factor if factor is not None else per_unit) for t in base]
        out = []
        for level in self.levels:
            scale = level.scale_zyx if level.scale_zyx is not None else first.scale_zyx
            origin = (o + (t - b) * per_unit for o, t, b in zip(origin0, level.translation_zyx, base))
            out.append((scale[2] * per_unit, _xyz(origin)))
        return out


def _unit_ang(unit: object) -> float | None:
    """Å per unit of an NGFF axis unit name (or common abbreviation); None if unknown or missing."""
    if not isinstance(unit, str):
        return None
    return _UNIT_ANG.get(unit, _UNIT_ANG.get(unit.strip().lower()))


def _xyz(values_zyx) -> tuple[float, float, float]:
    z, y, x = (float(v) for v in values_zyx)
    return (x, y, z)


def _load_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); the OME-Zarr image is damaged") from None
    return value if isinstance(value, dict) else {}


def _no_metadata(path: Path) -> ValueError:
    hint = ""
    if (path / "0" / ".zattrs").is_file() and "multiscales" in _load_json(path / "0" / ".zattrs"):
        hint = f" (its image is at {path / '0'}: pass that folder)"
    return ValueError(
        f"{path} has no OME multiscales metadata (.zattrs 'multiscales'){hint}; write it with cryomem or "
        "ome-zarr, or convert to MRC"
    )


def _transforms(items: object, ndim: int, where: str) -> tuple[list[float] | None, list[float]]:
    scale: list[float] | None = None
    translation = [0.0] * ndim
    for item in items or []:  # type: ignore[union-attr]
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "identity":
            continue
        if kind not in ("scale", "translation") or kind not in item:
            raise ValueError(
                f"{where} has a coordinateTransformation {item!r} cryomem cannot use (only inline 'scale' and "
                "'translation'); rewrite the image with cryomem or ome-zarr"
            )
        values = [float(v) for v in item[kind]]
        if len(values) != ndim:
            raise ValueError(f"{where} has a {kind} of {len(values)} values for {ndim} axes; the metadata is damaged")
        if kind == "scale":
            scale = values
        else:
            translation = values
    return scale, translation


def _parse_axes(axes: object, ndim: int, path: Path) -> tuple[list[str], list[str | None], list[str | None]]:
    if axes is None:  # NGFF < 0.3: always (t, c, z, y, x), trailing axes used
        names = ["t", "c", "z", "y", "x"][-ndim:]
        return names, [None] * ndim, ["time", "channel", "space", "space", "space"][-ndim:]
    if not isinstance(axes, list) or len(axes) != ndim:
        raise ValueError(f"{path} lists axes {axes!r} for {ndim}-dimensional arrays; the metadata is damaged")
    names, units, types = [], [], []
    for axis in axes:
        if isinstance(axis, str):  # NGFF 0.3
            names.append(axis)
            units.append(None)
            types.append("space" if axis in _SPATIAL else None)
        else:
            names.append(str(axis.get("name")))
            units.append(axis.get("unit"))
            types.append(axis.get("type") or ("space" if axis.get("name") in _SPATIAL else None))
    return names, units, types


def _open_image(path: str | os.PathLike[str]) -> _Image:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"OME-Zarr image not found: {path}")
    if not path.is_dir():
        raise ValueError(f"{path} is a file, not an OME-Zarr image folder; pass the .zarr folder or an MRC file")
    if (path / "zarr.json").is_file() and not (path / ".zattrs").is_file():
        raise ValueError(
            f"{path} is a Zarr v3 store (OME-NGFF 0.5); cryomem reads OME-NGFF 0.4 (Zarr v2): convert it with "
            "ome-zarr or to MRC"
        )
    attrs = _load_json(path / ".zattrs") if (path / ".zattrs").is_file() else {}
    multiscales = attrs.get("multiscales")
    if not isinstance(multiscales, list) or not multiscales or not isinstance(multiscales[0], dict):
        raise _no_metadata(path)
    ms = multiscales[0]  # NGFF: the first multiscale is the one to use by default
    datasets = ms.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise ValueError(f"{path} has OME multiscales metadata with no 'datasets'; the image is damaged")
    shapes = []
    for dataset in datasets:
        zarray = path / str(dataset.get("path")) / ".zarray"
        if not zarray.is_file():
            raise ValueError(f"{path}: pyramid level {dataset.get('path')!r} has no array ({zarray} missing)")
        shapes.append(tuple(int(n) for n in _load_json(zarray).get("shape", ())))
    ndim = len(shapes[0])
    names, units, types = _parse_axes(ms.get("axes"), ndim, path)
    if set(_SPATIAL) <= set(names):
        spatial = tuple(names.index(a) for a in _SPATIAL)
    else:
        spatial = tuple(i for i, t in enumerate(types) if t == "space")
    if len(spatial) != 3:
        raise ValueError(
            f"{path} has axes ({', '.join(names)}), not a 3D (z, y, x) image; cryomem reads 3D tomograms only"
        )
    others = tuple(i for i in range(ndim) if i not in spatial)
    if any(shapes[0][i] != 1 for i in others):
        described = ", ".join(f"{names[i]}={shapes[0][i]}" for i in others)
        raise ValueError(
            f"{path} holds {ndim}D data (axes {', '.join(names)}, shape {shapes[0]}) with {described}; cryomem "
            "reads one 3D volume: extract a single channel/time point first"
        )
    spatial_units = {units[i] for i in spatial}
    if len(spatial_units) > 1:
        raise ValueError(f"{path} gives different units {sorted(map(str, spatial_units))} to its z, y, x axes")
    global_scale, global_translation = _transforms(ms.get("coordinateTransformations"), ndim, f"{path} (multiscale)")
    levels = []
    for index, (dataset, shape) in enumerate(zip(datasets, shapes)):
        if len(shape) != ndim:
            raise ValueError(f"{path}: pyramid level {index} has {len(shape)} axes, level 0 has {ndim}")
        scale, translation = _transforms(dataset.get("coordinateTransformations"), ndim, f"{path} (level {index})")
        if global_scale is not None:
            translation = [t * g for t, g in zip(translation, global_scale)]
            scale = None if scale is None else [s * g for s, g in zip(scale, global_scale)]
            scale = scale if scale is not None else global_scale
        translation = [t + g for t, g in zip(translation, global_translation)]
        levels.append(
            _Level(
                index=index,
                path=str(dataset["path"]),
                shape=shape,
                scale_zyx=None if scale is None else tuple(scale[a] for a in spatial),  # type: ignore[arg-type]
                translation_zyx=tuple(translation[a] for a in spatial),  # type: ignore[arg-type]
            )
        )
    extra = attrs.get(_CRYOMEM_ATTRS, {})
    start = extra.get("start_xyz_vox", (0, 0, 0)) if isinstance(extra, dict) else (0, 0, 0)
    return _Image(
        path=path,
        levels=tuple(levels),
        spatial_axes=spatial,  # type: ignore[arg-type]
        other_axes=others,
        axis_names=tuple(names),
        unit=next(iter(spatial_units)),
        start_xyz_vox=tuple(int(v) for v in start),  # type: ignore[arg-type]
    )


def ome_zarr_levels(
    path: str | os.PathLike[str], *, voxel_size_ang: float | None = None
) -> list[tuple[int, float, tuple[int, int, int]]]:
    """The pyramid levels of an OME-Zarr image, without reading voxel data.

    Parameters
    ----------
    path : str or os.PathLike
        OME-Zarr image folder (``.zattrs`` holding ``multiscales``).
    voxel_size_ang : float, optional
        Level 0's voxel size in Å overriding the metadata (as in :func:`read_ome_zarr`).

    Returns
    -------
    list of (int, float, (int, int, int))
        ``(level_index, voxel_size_ang, shape_zyx)`` per level, finest first.
    """
    image = _open_image(path)
    if voxel_size_ang is not None:
        voxel_size_ang = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    sizes = [size for size, _ in image.placement(voxel_size_ang)]
    return [(level.index, size, image.shape_zyx(level)) for level, size in zip(image.levels, sizes)]


def _describe_levels(levels: list[tuple[int, float, tuple[int, int, int]]]) -> str:
    return ", ".join(f"{i} ({size:g} Å, {'x'.join(map(str, shape))})" for i, size, shape in levels)


def _choose_level(
    path: Path,
    levels: list[tuple[int, float, tuple[int, int, int]]],
    level: int | None,
    target_voxel_size_ang: float | None,
) -> int:
    if level is not None:
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level < len(levels):
            raise ValueError(
                f"level {level!r} does not exist in {path}; its levels are {_describe_levels(levels)}: "
                f"pass level=0..{len(levels) - 1}"
            )
        return int(level)
    if target_voxel_size_ang is None:
        return 0
    target = float(target_voxel_size_ang)
    if not math.isfinite(target) or target <= 0:
        raise ValueError(f"target_voxel_size_ang is {target_voxel_size_ang!r}; it must be a finite voxel size > 0 Å")
    # Closest on a log scale (14 Å between 7.5 and 15 Å picks 15 Å); ties go to the finer level.
    return min(range(len(levels)), key=lambda i: (abs(math.log(levels[i][1] / target)), i))


def read_ome_zarr(
    path: str | os.PathLike[str],
    *,
    voxel_size_ang: float | None = None,
    target_voxel_size_ang: float | None = None,
    level: int | None = None,
) -> Volume:
    """Read one pyramid level of a local OME-Zarr (OME-NGFF 0.4) image, lazily.

    Parameters
    ----------
    path : str or os.PathLike
        Image folder (``tomo.zarr``) whose ``.zattrs`` holds ``multiscales``; the first
        multiscale is used. Axes ``z, y, x`` (any leading size-1 time/channel axes are dropped).
    voxel_size_ang : float, optional
        Level 0's voxel size in Å overriding the metadata's scale (like :func:`read_mrc`'s
        override). Other levels keep their scale ratios to level 0; translations stay in Å where
        the axes' unit is known, otherwise they are converted with the override as well.
    target_voxel_size_ang : float, optional
        Without ``level``: take the level whose voxel size is closest to this (on a log scale;
        ties to the finer level).
    level : int, optional
        Pyramid level to read (0 = full resolution). Default: 0, or the one chosen by
        ``target_voxel_size_ang``.

    Returns
    -------
    Volume
        ``data_zyx`` is a lazy ``dask.array.Array`` over the zarr array (dask's chunks = the
        zarr chunks), not numpy: nothing is read until sliced or computed, so a tomogram larger
        than RAM streams. dask rather than the bare ``zarr.Array`` because it drops the size-1
        time/channel axes and reorders axes lazily, and behaves like numpy (``np.asarray``,
        arithmetic, ``.compute()``). Voxel size from the level's ``scale`` converted to Å (units
        angstrom, nanometer, micrometer); origin (Å, xyz) from its ``translation``: the
        physical position of voxel 0 of *that* level, read literally (a half-voxel shift of a
        downsampled level is honoured when stored, never invented). ``start_xyz_vox`` is kept
        from a cryomem-written level 0, else (0, 0, 0).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the folder has no OME multiscales metadata, is not a 3D image, has unknown units,
        anisotropic (> 1 %) or 0/1 Å voxels without an override, or ``level`` does not exist.
    """
    import dask.array as da
    import zarr

    image = _open_image(path)
    if voxel_size_ang is not None:
        voxel_size_ang = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    placements = image.placement(voxel_size_ang)
    levels = [(lv.index, size, image.shape_zyx(lv)) for lv, (size, _) in zip(image.levels, placements)]
    chosen = _choose_level(image.path, levels, level, target_voxel_size_ang)
    info = image.levels[chosen]
    shape_zyx = image.shape_zyx(info)
    if min(shape_zyx) < 1:
        raise ValueError(f"{image.path} level {chosen} has shape (z, y, x) = {shape_zyx}; it holds no voxels")
    array = zarr.open_array(str(image.path / info.path), mode="r")
    data = da.from_zarr(array)
    data = data[tuple(0 if i in image.other_axes else slice(None) for i in range(data.ndim))]
    kept = [a for a in range(len(info.shape)) if a not in image.other_axes]
    data = data.transpose([kept.index(a) for a in image.spatial_axes])
    size, origin = placements[chosen]
    start = image.start_xyz_vox if chosen == 0 else (0, 0, 0)
    return Volume(data_zyx=data, voxel_size_ang=size, origin_xyz_ang=origin, start_xyz_vox=start)


def _factors(levels: int | Sequence[int]) -> list[int]:
    if isinstance(levels, bool):
        raise ValueError(f"levels must be a number of levels or a sequence of downsample factors, got {levels!r}")
    if isinstance(levels, (int, np.integer)):
        if levels < 1:
            raise ValueError(f"levels must be >= 1 (1 = full resolution only), got {levels}")
        return [2**k for k in range(int(levels))]
    factors = [int(f) for f in levels]
    if (
        not factors
        or factors[0] != 1
        or any(int(f) != f for f in levels)
        or any(b <= a or b % a for a, b in zip(factors, factors[1:]))
    ):
        raise ValueError(
            f"levels={tuple(levels)!r}: downsample factors must start at 1 (full resolution) and each must be a "
            "larger multiple of the one before, e.g. (1, 2, 4)"
        )
    return factors


def _blocks(shape: tuple[int, int, int], chunks: tuple[int, int, int]) -> Iterator[tuple[slice, slice]]:
    """(z, y) slabs of whole chunks covering ``shape`` (x whole): bounded memory per step."""
    for z0 in range(0, shape[0], chunks[0]):
        for y0 in range(0, shape[1], chunks[1]):
            yield slice(z0, min(z0 + chunks[0], shape[0])), slice(y0, min(y0 + chunks[1], shape[1]))


def _pool(block: np.ndarray, ratio: int, out_shape: tuple[int, int, int], dtype: np.dtype) -> np.ndarray:
    nz, ny, nx = out_shape
    cropped = np.asarray(block[: nz * ratio, : ny * ratio, : nx * ratio], dtype=np.float64)
    pooled = cropped.reshape(nz, ratio, ny, ratio, nx, ratio).mean(axis=(1, 3, 5))
    return pooled.astype(dtype)


def write_ome_zarr(
    path: str | os.PathLike[str],
    volume: Volume,
    *,
    levels: int | Sequence[int] = 1,
    chunks: tuple[int, int, int] = (64, 64, 64),
    overwrite: bool = False,
) -> Path:
    """Write a volume as an OME-NGFF 0.4 multiscale image, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination folder, ending in ``.zarr``; its parent must exist.
    volume : Volume
        Data (numpy, memory-mapped or dask; written in chunk-sized slabs, never loaded whole),
        voxel size and origin. ``start_xyz_vox`` is kept in the root ``.zattrs`` (``cryomem``).
    levels : int or sequence of int, default 1
        Number of pyramid levels, with factors 1, 2, 4, ... (2x mean-pooling per level); or the
        downsample factors themselves, starting at 1, each a multiple of the one before
        (``(1, 2, 4)``). Level ``k`` with factor ``f`` is the mean of ``f x f x f`` blocks of
        level 0; trailing voxels that do not fill a block are dropped (shape ``n // f``).
    chunks : (int, int, int), default (64, 64, 64)
        Zarr chunk shape (z, y, x), clipped to each level's shape.
    overwrite : bool, default False
        Replace an existing ``path`` (only once the new image is complete).

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Axes ``z, y, x`` in ``angstrom``; level ``k`` carries ``scale = f * voxel_size_ang`` and
    ``translation = origin + (f - 1) / 2 * voxel_size_ang`` (z, y, x order), so each of its voxel
    centres lies at the mean of the level-0 voxel centres it pools, and :func:`read_ome_zarr`
    returns level 0's voxel size and origin unchanged. Level 0 keeps the data's dtype (native
    byte order); pooled levels keep a float dtype and are float32 for integer or bool data.
    Arrays use ``/`` as dimension separator and zarr's default compressor, as ome-zarr does.
    """
    import zarr

    path = Path(path)
    if not is_zarr_path(path):
        raise ValueError(f"OME-Zarr output {path} must end in .zarr (e.g. tomo.zarr or tomo.ome.zarr)")
    data = volume.data_zyx
    if len(data.shape) != 3 or min(data.shape) < 1:
        raise ValueError(
            f"volume.data_zyx has shape {tuple(data.shape)}; write_ome_zarr needs a non-empty 3D (z, y, x)"
        )
    size = validate_voxel_size_ang(volume.voxel_size_ang, "volume.voxel_size_ang", explicit=True)
    origin_xyz = tuple(float(v) for v in volume.origin_xyz_ang)
    if len(origin_xyz) != 3 or not all(math.isfinite(v) for v in origin_xyz):
        raise ValueError(f"volume.origin_xyz_ang is {volume.origin_xyz_ang!r}; it must be 3 finite numbers (Å, xyz)")
    if len(chunks) != 3 or any(isinstance(c, bool) or int(c) != c or c < 1 for c in chunks):
        raise ValueError(f"chunks is {tuple(chunks)!r}; it must be 3 positive integers (z, y, x)")
    factors = _factors(levels)
    shape0 = tuple(int(n) for n in data.shape)
    if min(shape0) // factors[-1] < 1:
        usable = max(k for k, f in enumerate(factors) if min(shape0) // f >= 1) + 1
        raise ValueError(
            f"levels {tuple(factors)} would shrink the shortest axis of shape {shape0} below 1 voxel; use at most "
            f"{usable} levels"
        )
    dtype0 = np.dtype(data.dtype).newbyteorder("=")
    pooled_dtype = dtype0 if dtype0.kind == "f" else np.dtype(np.float32)
    origin_zyx = origin_xyz[::-1]
    datasets = []
    with atomic_directory(path, overwrite=overwrite) as tmp:
        root = zarr.group(store=zarr.DirectoryStore(str(tmp)))
        previous = None
        for k, factor in enumerate(factors):
            shape = tuple(n // factor for n in shape0)
            level_chunks = tuple(min(int(c), n) for c, n in zip(chunks, shape))
            array = root.create_dataset(
                str(k),
                shape=shape,
                chunks=level_chunks,
                dtype=dtype0 if k == 0 else pooled_dtype,
                dimension_separator="/",
            )
            if previous is None:
                for zs, ys in _blocks(shape, level_chunks):
                    array[zs, ys] = np.asarray(data[zs, ys], dtype=dtype0)
            else:
                ratio = factor // factors[k - 1]
                for zs, ys in _blocks(shape, level_chunks):
                    block = previous[zs.start * ratio : zs.stop * ratio, ys.start * ratio : ys.stop * ratio]
                    out_shape = (zs.stop - zs.start, ys.stop - ys.start, shape[2])
                    array[zs, ys] = _pool(block, ratio, out_shape, pooled_dtype)
            previous = array
            datasets.append(
                {
                    "path": str(k),
                    "coordinateTransformations": [
                        {"type": "scale", "scale": [factor * size] * 3},
                        {"type": "translation", "translation": [o + (factor - 1) / 2 * size for o in origin_zyx]},
                    ],
                }
            )
        root.attrs.put(
            {
                "multiscales": [
                    {
                        "version": NGFF_VERSION,
                        "name": path.name.split(".")[0],
                        "axes": [{"name": a, "type": "space", "unit": "angstrom"} for a in _SPATIAL],
                        "datasets": datasets,
                        "type": "mean",
                        "metadata": {
                            "description": "mean of f x f x f blocks of level 0 (trailing voxels dropped)",
                            "method": "cryomem.io.write_ome_zarr",
                            "downsample_factors": factors,
                        },
                    }
                ],
                _CRYOMEM_ATTRS: {"start_xyz_vox": [int(v) for v in volume.start_xyz_vox]},
            }
        )
    return path


def read_volume(
    path: str | os.PathLike[str],
    *,
    voxel_size_ang: float | None = None,
    target_voxel_size_ang: float | None = None,
    mmap: bool | None = True,
    level: int | None = None,
) -> Volume:
    """Read a tomogram from an MRC file or an OME-Zarr image, chosen by the path.

    Parameters
    ----------
    path : str or os.PathLike
        An MRC file (:data:`MRC_SUFFIXES`) or an OME-Zarr folder (``.zarr``, or any folder with
        zarr metadata).
    voxel_size_ang : float, optional
        Voxel size in Å overriding the file's (for OME-Zarr: level 0's).
    target_voxel_size_ang : float, optional
        OME-Zarr only: read the pyramid level closest to this voxel size. An MRC file has one
        resolution and is read as it is (no resampling).
    mmap : bool or None, default True
        MRC only: memory-map instead of loading (None: only files above 512 MiB). OME-Zarr data
        is always lazy (a dask array).
    level : int, optional
        OME-Zarr only: read this pyramid level (wins over ``target_voxel_size_ang``).

    Returns
    -------
    Volume
    """
    path = Path(path)
    if is_mrc_path(path):
        return read_mrc(path, voxel_size_ang=voxel_size_ang, mmap=mmap)
    if is_zarr_path(path) or (path.is_dir() and any((path / n).is_file() for n in (".zattrs", ".zgroup"))):
        return read_ome_zarr(
            path, voxel_size_ang=voxel_size_ang, target_voxel_size_ang=target_voxel_size_ang, level=level
        )
    kinds = f"an MRC file ({', '.join(MRC_SUFFIXES)}) or an OME-Zarr folder ({', '.join(ZARR_SUFFIXES)})"
    if not path.exists():
        raise FileNotFoundError(f"volume not found: {path} (cryomem reads {kinds})")
    raise ValueError(f"{path} is not a volume cryomem reads; pass {kinds}, or convert it to MRC")


def read_volume_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], float, tuple[float, float, float]]:
    """Shape (z, y, x), raw voxel size (Å, unchecked) and origin (x, y, z, Å) of an MRC file or of level 0
    of an OME-Zarr image, without reading voxel data (see :func:`cryomem.io.read_mrc_header`)."""
    path = Path(path)
    if not is_zarr_path(path):
        return read_mrc_header(path)
    _, voxel, shape = ome_zarr_levels(path)[0]
    return tuple(int(n) for n in shape), float(voxel), read_ome_zarr(path, level=0).origin_xyz_ang
