"""The per-membrane HDF5 container (``membranes/<tomo>_mb<N>.h5``) that later stages fill.

Layout (format ``"cryomem-membrane"``, version 1)::

    /                      attrs: format, format_version, membrane_id, voxel_size_ang,
                                  origin_xyz_ang (3,), tomogram_path (if known)
    /vertices_xyz_ang      (n, 3) float64, Å, xyz
    /faces                 (m, 3) int64, 0-based vertex indices
    /normals_xyz           (n, 3) float64, unit outward normals
    /features              (n, k) float32, densities sampled along the normals   (optional)
    /feature_offsets_ang   (k,) float64, signed distance of each sample, Å       (optional)
    /point_data/<name>     (n, ...) per-vertex arrays (scores, distances, ...)
    /attrs                 group whose attributes are the free-form ``attrs``
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from cryomem.io._atomic import atomic_write_path
from cryomem.io._conventions import validate_voxel_size_ang
from cryomem.io._layout import membrane_stem, volume_stem

__all__ = [
    "MEMBRANE_FORMAT",
    "MEMBRANE_FORMAT_VERSION",
    "TOMOGRAM_SHAPE_ATTR",
    "MembraneSurface",
    "read_membrane_h5",
    "write_membrane_h5",
]

TOMOGRAM_SHAPE_ATTR = "tomogram_shape_zyx"
"""Optional ``attrs`` key: the source tomogram's shape as ``"nz,ny,nx"`` (when its file may move)."""
MEMBRANE_FORMAT = "cryomem-membrane"
MEMBRANE_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class MembraneSurface:
    """One membrane as a surface, with what later stages computed on it.

    The one membrane type of cryomem, from surface extraction through picking to statistics.

    Attributes
    ----------
    vertices_xyz_ang : (n, 3) float64 array
        Vertex positions, Å, xyz (physical, origin included).
    faces : (m, 3) int64 array
        Triangles, 0-based vertex indices.
    normals_xyz : (n, 3) float64 array
        Per-vertex unit normals, xyz, pointing out of the membrane.
    membrane_id : int
        Instance label of the membrane in its tomogram.
    voxel_size_ang : float or None
        Voxel size of the source tomogram, Å; None when unknown (meshes read from ``.obj/.ply/.vtp``
        in Å), which :func:`write_membrane_h5` refuses.
    origin_xyz_ang : (float, float, float)
        Origin of the source tomogram, Å, xyz.
    tomogram_path : str or None
        Path of the source tomogram, if known.
    features : (n, k) float32 array or None
        Tomogram densities sampled along each normal at ``feature_offsets_ang``.
    feature_offsets_ang : (k,) float64 array or None
        Signed sample distances along the normal, Å; present exactly when ``features`` is.
    point_data : dict of str to (n, ...) arrays
        Other per-vertex arrays (scores, distances, labels).
    attrs : dict of str to str, int or float
        Free-form metadata (e.g. model name, parameters).
    tomo_name : str or None
        Name of the tomogram the membrane belongs to (matched against particles' ``tomo_name``);
        None to use the stem of ``tomogram_path``. Not stored in the h5 file.
    source : str
        File the membrane was read from (for messages), or ``""``. Not stored in the h5 file.
    """

    vertices_xyz_ang: np.ndarray
    faces: np.ndarray
    normals_xyz: np.ndarray
    membrane_id: int
    voxel_size_ang: float | None
    origin_xyz_ang: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tomogram_path: str | None = None
    features: np.ndarray | None = None
    feature_offsets_ang: np.ndarray | None = None
    point_data: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, str | int | float] = field(default_factory=dict)
    tomo_name: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for name, value in _validated(self).items():
            object.__setattr__(self, name, value)

    def tomogram_shape_zyx(self) -> tuple[int, int, int]:
        """Shape (nz, ny, nx) of the source tomogram: the ``tomogram_shape_zyx`` attribute, else the
        header of the tomogram file (a STAR file's RELION-5 centred coordinates need it).

        Raises
        ------
        ValueError
            Neither is available.
        """
        stored = self.attrs.get(TOMOGRAM_SHAPE_ATTR)
        if isinstance(stored, str) and re.fullmatch(r"\d+,\d+,\d+", stored):
            return tuple(int(v) for v in stored.split(","))  # type: ignore[return-value]
        tomogram = Path(self.tomogram_path) if self.tomogram_path else None
        if tomogram is None or not tomogram.is_file():
            where = self.source or self.label
            raise ValueError(
                f"cannot find the tomogram of {Path(where).name} ({self.tomogram_path or 'no tomogram path stored'}); "
                "its shape places the STAR's RELION-5 centred coordinates: put the tomogram back at that path "
                "or rebuild the membranes with `cryomem surface`"
            )
        from cryomem.io._mrc import read_mrc_header

        shape, _, _ = read_mrc_header(tomogram)
        return tuple(int(v) for v in shape)  # type: ignore[return-value]

    @property
    def tomogram_name(self) -> str:
        """``tomo_name`` if given, else the stem of ``tomogram_path`` (``t1`` of ``t1.ome.zarr``), else ``""``."""
        if self.tomo_name is not None:
            return self.tomo_name
        return volume_stem(self.tomogram_path) if self.tomogram_path else ""

    @property
    def label(self) -> str:
        """``<tomo>_mb<id>``, the name used in tables and output files."""
        return membrane_stem(self.tomogram_name, self.membrane_id)


def _array(value: object, name: str, shape: tuple[int | None, ...], dtype: type) -> np.ndarray:
    array = np.asarray(value)
    ok = array.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, array.shape, strict=False))
    if not ok:
        sizes = ["n" if s is None and i == 0 else "k" if s is None else str(s) for i, s in enumerate(shape)]
        wanted = f"({sizes[0]},)" if len(sizes) == 1 else "(" + ", ".join(sizes) + ")"
        raise ValueError(f"{name} must have shape {wanted}, got {array.shape}")
    if dtype is np.int64 and array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def _validated(surface: MembraneSurface) -> dict[str, object]:
    vertices = _array(surface.vertices_xyz_ang, "vertices_xyz_ang", (None, 3), np.float64)
    n = len(vertices)
    faces = _array(
        np.asarray(surface.faces).reshape(-1, 3) if np.size(surface.faces) == 0 else surface.faces,
        "faces",
        (None, 3),
        np.int64,
    )
    if faces.size and (faces.min() < 0 or faces.max() >= n):
        raise ValueError(f"faces must index vertices 0..{n - 1}, found {faces.min()}..{faces.max()}")
    values: dict[str, object] = {
        "vertices_xyz_ang": vertices,
        "faces": faces,
        "normals_xyz": _array(surface.normals_xyz, "normals_xyz", (n, 3), np.float64),
        "membrane_id": int(surface.membrane_id),
        "voxel_size_ang": None
        if surface.voxel_size_ang is None
        else validate_voxel_size_ang(surface.voxel_size_ang, "voxel_size_ang", explicit=True),
        "tomo_name": None if surface.tomo_name is None else str(surface.tomo_name),
        "source": str(surface.source),
    }
    origin = tuple(float(v) for v in surface.origin_xyz_ang)
    if len(origin) != 3 or not all(math.isfinite(v) for v in origin):
        raise ValueError(f"origin_xyz_ang must be 3 finite numbers, got {surface.origin_xyz_ang!r}")
    values["origin_xyz_ang"] = origin
    if (surface.features is None) != (surface.feature_offsets_ang is None):
        raise ValueError("features and feature_offsets_ang must be given together (or both None)")
    if surface.features is not None:
        features = _array(surface.features, "features", (n, None), np.float32)
        values["features"] = features
        values["feature_offsets_ang"] = _array(
            surface.feature_offsets_ang, "feature_offsets_ang", (features.shape[1],), np.float64
        )
    point_data = {}
    for name, array in surface.point_data.items():
        array = np.asarray(array)
        if not isinstance(name, str) or not name or "/" in name or array.ndim < 1 or len(array) != n:
            raise ValueError(
                f"point_data[{name!r}] must be named (no '/') with first dimension {n}, got shape {array.shape}"
            )
        if array.dtype.kind not in "biuf":
            raise ValueError(f"point_data[{name!r}] must be numeric or bool, got dtype {array.dtype}")
        point_data[name] = array
    values["point_data"] = point_data
    for key, value in surface.attrs.items():
        if not isinstance(key, str) or not isinstance(value, (str, int, float)):
            raise ValueError(f"attrs[{key!r}] must map a str to a str, int or float, got {value!r}")
    values["attrs"] = dict(surface.attrs)
    return values


def write_membrane_h5(path: str | os.PathLike[str], surface: MembraneSurface, *, overwrite: bool = True) -> Path:
    """Write a membrane surface to an HDF5 container atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ``.h5``; its folder must exist.
    surface : MembraneSurface
        Membrane to write (validated again here); its voxel size must be known. ``tomo_name`` is
        stored when set (a name other than the tomogram's file stem); ``source`` is not stored.
    overwrite : bool, default True
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    ValueError
        If a field is invalid or ``surface.voxel_size_ang`` is None.
    """
    checked = _validated(surface)
    if checked["voxel_size_ang"] is None:
        raise ValueError(f"membrane {surface.label} has no voxel size; set voxel_size_ang (Å) before writing it as .h5")
    path = Path(path)
    with atomic_write_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format"] = MEMBRANE_FORMAT
        h5.attrs["format_version"] = MEMBRANE_FORMAT_VERSION
        h5.attrs["membrane_id"] = checked["membrane_id"]
        h5.attrs["voxel_size_ang"] = checked["voxel_size_ang"]
        h5.attrs["origin_xyz_ang"] = np.asarray(checked["origin_xyz_ang"], dtype=np.float64)
        if surface.tomogram_path is not None:
            h5.attrs["tomogram_path"] = str(surface.tomogram_path)
        if checked["tomo_name"] is not None:
            h5.attrs["tomo_name"] = checked["tomo_name"]
        for name in ("vertices_xyz_ang", "faces", "normals_xyz", "features", "feature_offsets_ang"):
            if checked.get(name) is not None:
                h5.create_dataset(name, data=checked[name])
        group = h5.create_group("point_data")
        for name, array in checked["point_data"].items():  # type: ignore[attr-defined]
            group.create_dataset(name, data=array)
        user = h5.create_group("attrs")
        for key, value in checked["attrs"].items():  # type: ignore[attr-defined]
            user.attrs[key] = value
    return path


def _python(value: object) -> str | int | float:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value.item() if isinstance(value, np.generic) else value  # type: ignore[return-value]


def read_membrane_h5(path: str | os.PathLike[str]) -> MembraneSurface:
    """Read a membrane surface written by :func:`write_membrane_h5`.

    The surface's ``source`` is ``path``; its ``tomo_name`` is the stored one, else None (named by
    ``tomogram_path``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not HDF5, not a cryomem membrane container, or from a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"membrane file not found: {path}")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from None
    with h5:
        try:
            return _read_open(h5, path)
        except KeyError as exc:
            raise ValueError(f"{path} is an incomplete membrane file (missing {exc})") from None


def _read_open(h5: h5py.File, path: Path) -> MembraneSurface:
    """Build the surface from an open container (KeyError if a part is missing)."""
    kind = _python(h5.attrs.get("format", ""))
    if kind != MEMBRANE_FORMAT:
        raise ValueError(f"{path} is not a cryomem membrane file (format attribute {kind!r})")
    version = int(h5.attrs["format_version"])
    if version > MEMBRANE_FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {version}, newer than this cryomem reads "
            f"({MEMBRANE_FORMAT_VERSION}); upgrade cryomem"
        )
    optional = {n: h5[n][()] for n in ("features", "feature_offsets_ang") if n in h5}
    tomogram_path = h5.attrs.get("tomogram_path")
    tomo_name = h5.attrs.get("tomo_name")
    return MembraneSurface(
        vertices_xyz_ang=h5["vertices_xyz_ang"][()],
        faces=h5["faces"][()],
        normals_xyz=h5["normals_xyz"][()],
        membrane_id=int(h5.attrs["membrane_id"]),
        voxel_size_ang=float(h5.attrs["voxel_size_ang"]),
        origin_xyz_ang=tuple(float(v) for v in h5.attrs["origin_xyz_ang"]),  # type: ignore[arg-type]
        tomogram_path=None if tomogram_path is None else str(_python(tomogram_path)),
        tomo_name=None if tomo_name is None else str(_python(tomo_name)),
        features=optional.get("features"),
        feature_offsets_ang=optional.get("feature_offsets_ang"),
        point_data={n: d[()] for n, d in h5.get("point_data", {}).items()},
        attrs={k: _python(v) for k, v in h5["attrs"].attrs.items()} if "attrs" in h5 else {},
        source=str(path),
    )
