"""MRC volumes: read with validated voxel size, write atomically with a sensible dtype."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import mrcfile
import numpy as np
from numpy.typing import ArrayLike

from cryomem.io._atomic import atomic_write_path
from cryomem.io._conventions import validate_voxel_size_ang

__all__ = ["MrcHeader", "Volume", "read_mrc", "read_mrc_header", "write_mrc"]

MMAP_THRESHOLD_BYTES = 512 * 1024**2
_ANISOTROPY_RTOL = 1e-3
_KEPT_DTYPES = {np.dtype(t) for t in (np.float32, np.float16, np.uint8, np.int8, np.int16, np.uint16)}
_INTEGER_CHOICES = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.int16, np.uint16))
# MRC mode 0 (bytes) is signed in MRC2014 but unsigned in IMOD unless IMOD's header flags say
# "signed". IMOD keeps a stamp and flags in the header's extra bytes (file offsets 152 and 156,
# i.e. bytes 40..48 of mrcfile's ``extra2``); bit 0 of the flags means signed bytes.
_IMOD_STAMP = 1146047817
_IMOD_SLICE = slice(40, 48)


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D volume with its physical placement.

    Attributes
    ----------
    data_zyx : (nz, ny, nx) array
        Voxel values in MRC order. Read-only when memory-mapped.
    voxel_size_ang : float
        Isotropic voxel size, Å.
    origin_xyz_ang : (float, float, float)
        Physical position of voxel (0, 0, 0), Å, xyz (MRC header ``origin``).
    start_xyz_vox : (int, int, int)
        The header's ``nxstart, nystart, nzstart`` (index of the first voxel in a larger map, as
        IMOD and RELION keep it). Not used for placement; kept so derived volumes carry it on.
    """

    data_zyx: np.ndarray
    voxel_size_ang: float
    origin_xyz_ang: tuple[float, float, float] = (0.0, 0.0, 0.0)
    start_xyz_vox: tuple[int, int, int] = (0, 0, 0)

    @property
    def placement(self) -> dict:
        """``voxel_size_ang``, ``origin_xyz_ang`` and ``start_xyz_vox`` as keywords of :func:`write_mrc`."""
        return {
            "voxel_size_ang": self.voxel_size_ang,
            "origin_xyz_ang": self.origin_xyz_ang,
            "start_xyz_vox": self.start_xyz_vox,
        }


class MrcHeader(NamedTuple):
    """What :func:`read_mrc_header` returns (a plain tuple, unpackable in this order)."""

    shape_zyx: tuple[int, int, int]
    voxel_size_ang_raw: float
    origin_xyz_ang: tuple[float, float, float]


def _open(path: Path, *, header_only: bool = False, mmap: bool = False):
    if not path.is_file():
        raise FileNotFoundError(f"MRC file not found: {path}")
    try:
        if mmap:
            return mrcfile.mmap(path, mode="r", permissive=False)
        return mrcfile.open(path, mode="r", permissive=False, header_only=header_only)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable MRC file ({exc})") from None


def _axis_permutation(header: np.recarray) -> tuple[int, int, int] | None:
    """Axes of the stored array to take as (z, y, x), or None for the standard order."""
    order = (int(header.maps), int(header.mapr), int(header.mapc))  # stored axes 0, 1, 2
    if sorted(order) != [1, 2, 3] or order == (3, 2, 1):
        return None
    return (order.index(3), order.index(2), order.index(1))


def _header_fields(
    mrc: mrcfile.mrcfile.MrcFile,
) -> tuple[tuple[int, int, int], tuple[float, ...], tuple[float, float, float]]:
    header = mrc.header
    shape = (int(header.nz), int(header.ny), int(header.nx))
    perm = _axis_permutation(header)
    if perm is not None:
        shape = tuple(shape[i] for i in perm)  # type: ignore[assignment]
    voxel = mrc.voxel_size
    origin = header.origin
    return (
        shape,
        (float(voxel.x), float(voxel.y), float(voxel.z)),
        (float(origin.x), float(origin.y), float(origin.z)),
    )


def read_mrc_header(path: str | os.PathLike[str]) -> MrcHeader:
    """Read shape, voxel size and origin without loading the data.

    Parameters
    ----------
    path : str or os.PathLike
        MRC file.

    Returns
    -------
    MrcHeader
        ``(shape_zyx, voxel_size_ang_raw, origin_xyz_ang)``: shape as (nz, ny, nx); the header's
        x voxel size in Å, NOT validated (may be 0 or 1); origin in Å, xyz.
    """
    path = Path(path)
    with _open(path, header_only=True) as mrc:
        shape, voxel, origin = _header_fields(mrc)
    return MrcHeader(shape, voxel[0], origin)


def _header_voxel_size(voxel_xyz: tuple[float, ...], path: Path) -> float:
    source = f"the header of {path}"
    size = validate_voxel_size_ang(voxel_xyz[0], source)
    if any(not math.isclose(v, size, rel_tol=_ANISOTROPY_RTOL) for v in voxel_xyz[1:]):
        raise ValueError(
            f"{source} has anisotropic voxel size (x, y, z) = {voxel_xyz} Å; cryomem needs "
            "isotropic voxels: resample the volume, or pass --voxel-size (voxel_size_ang=...)"
        )
    return size


def read_mrc(path: str | os.PathLike[str], *, voxel_size_ang: float | None = None, mmap: bool | None = None) -> Volume:
    """Read a 3D MRC volume.

    Parameters
    ----------
    path : str or os.PathLike
        MRC file.
    voxel_size_ang : float, optional
        Voxel size in Å overriding the header's. Without it the header value is used and must
        be isotropic and not 0 or 1 Å (the defaults of writers that store none).
    mmap : bool, optional
        Memory-map (read-only) instead of loading. Default: only files above 512 MiB.

    Returns
    -------
    Volume
        Data in (z, y, x) order (native byte order when loaded), voxel size, origin. Mode-0
        bytes are int8 (MRC2014) unless IMOD's header flags mark them unsigned: then uint8.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable MRC, not 3D (nz == 1), or the voxel size is unusable.
    """
    path = Path(path)
    if voxel_size_ang is not None:
        voxel_size_ang = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    with _open(path, header_only=True) as mrc:
        shape, voxel_xyz, origin = _header_fields(mrc)
    if shape[0] < 2 or min(shape) < 1:
        raise ValueError(
            f"{path} holds data of shape (z, y, x) = {shape}, not a 3D volume; a 2D image or a "
            "single-image stack cannot be used as a tomogram"
        )
    size = voxel_size_ang if voxel_size_ang is not None else _header_voxel_size(voxel_xyz, path)
    if mmap is None:
        mmap = path.stat().st_size > MMAP_THRESHOLD_BYTES
    with _open(path, mmap=mmap) as mrc:
        data = mrc.data
        if data is None or data.ndim != 3:
            shape_found = None if data is None else data.shape
            raise ValueError(f"{path} holds data of shape {shape_found}, not a 3D volume")
        perm = _axis_permutation(mrc.header)
        header = mrc.header
        start = (int(header.nxstart), int(header.nystart), int(header.nzstart))
        if data.dtype == np.int8 and _bytes_are_unsigned(mrc.header):
            data = data.view(np.uint8)
    if perm is not None:
        data = data.transpose(perm)
    if not mmap:
        data = _writeable_native(data)
    return Volume(data_zyx=data, voxel_size_ang=size, origin_xyz_ang=origin, start_xyz_vox=start)


def _imod_words(header: np.recarray) -> np.ndarray:
    """IMOD's (stamp, flags) words from the header, in the header's byte order."""
    dtype = np.dtype(np.int32).newbyteorder(header.mode.dtype.byteorder)
    return np.frombuffer(bytes(np.asarray(header.extra2))[_IMOD_SLICE], dtype=dtype)


def _bytes_are_unsigned(header: np.recarray) -> bool:
    """True for mode-0 files that IMOD marks as unsigned (IMOD stamp, flag bit 0 clear)."""
    stamp, flags = (int(v) for v in _imod_words(header))
    return stamp == _IMOD_STAMP and not flags & 1


def _mark_byte_signedness(header: np.recarray, *, signed: bool) -> None:
    """Stamp the header the way IMOD does, saying whether mode-0 bytes are signed."""
    raw = bytearray(bytes(np.asarray(header.extra2)))
    dtype = np.dtype(np.int32).newbyteorder(header.mode.dtype.byteorder)
    raw[_IMOD_SLICE] = np.array([_IMOD_STAMP, int(signed)], dtype=dtype).tobytes()
    header.extra2 = np.frombuffer(bytes(raw), dtype="V84")[0]


def _writeable_native(data: np.ndarray) -> np.ndarray:
    if not data.dtype.isnative:
        return data.astype(data.dtype.newbyteorder("="))
    try:
        data.flags.writeable = True
    except ValueError:
        data = data.copy()
    return data


def _storage_dtype(data: np.ndarray) -> np.dtype:
    """The dtype :func:`write_mrc` stores ``data`` as (see there)."""
    dtype = data.dtype
    if dtype in _KEPT_DTYPES:
        return dtype
    if dtype.kind == "f":
        return np.dtype(np.float32)
    if dtype.kind in "biu":
        if data.size == 0:
            return np.dtype(np.uint8)
        low, high = int(data.min()), int(data.max())
        for choice in _INTEGER_CHOICES:
            info = np.iinfo(choice)
            if info.min <= low and high <= info.max:
                return choice
        return np.dtype(np.float32)
    raise ValueError(f"data_zyx has dtype {dtype}, which MRC cannot store; convert it to float32")


def write_mrc(
    path: str | os.PathLike[str],
    data_zyx: ArrayLike,
    *,
    voxel_size_ang: float,
    origin_xyz_ang: tuple[float, float, float] = (0.0, 0.0, 0.0),
    start_xyz_vox: tuple[int, int, int] = (0, 0, 0),
    overwrite: bool = True,
) -> Path:
    """Write a 3D volume to an MRC file atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    data_zyx : (nz, ny, nx) array
        Volume in MRC order. Stored dtype: float32, float16, uint8, int8, int16, uint16 are
        kept; other floats -> float32; other integers and bool -> the smallest of uint8, int8,
        int16, uint16 holding the value range, else float32 (exact only up to 2**24).
        Bytes (mode 0) carry IMOD's signed/unsigned flag, so IMOD and :func:`read_mrc` read
        uint8 back as uint8; plain MRC2014 readers (mrcfile) see int8, which is only the same
        for values <= 127.
    voxel_size_ang : float
        Isotropic voxel size, Å (finite, > 0).
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel (0, 0, 0), Å, xyz; stored in the header ``origin`` field.
    start_xyz_vox : (3,) ints, default (0, 0, 0)
        The header's ``nxstart, nystart, nzstart``; pass the input's (``Volume.start_xyz_vox``,
        or ``**volume.placement``) so a derived volume keeps them.
    overwrite : bool, default True
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    size = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    data = np.asarray(data_zyx)
    if data.ndim != 3:
        raise ValueError(f"data_zyx must be 3D (nz, ny, nx), got shape {data.shape}")
    origin = tuple(float(v) for v in origin_xyz_ang)
    if len(origin) != 3 or not all(math.isfinite(v) for v in origin):
        raise ValueError(f"origin_xyz_ang must be 3 finite numbers (Å, xyz), got {origin_xyz_ang!r}")
    start = tuple(start_xyz_vox)
    if len(start) != 3 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in start):
        raise ValueError(f"start_xyz_vox must be 3 integers (nxstart, nystart, nzstart), got {start_xyz_vox!r}")
    data = np.ascontiguousarray(data, dtype=_storage_dtype(data))
    path = Path(path)
    with atomic_write_path(path, overwrite=overwrite) as tmp, mrcfile.new(tmp) as mrc:
        mrc.set_data(data.view(np.int8) if data.dtype == np.uint8 else data)
        if data.dtype.itemsize == 1:
            _mark_byte_signedness(mrc.header, signed=data.dtype == np.int8)
        mrc.voxel_size = size
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = origin
        mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = (int(v) for v in start)
    return path
