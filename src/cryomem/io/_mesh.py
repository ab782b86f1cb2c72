"""Triangle meshes in Å: one ``Mesh`` type, files ``.obj``, ``.ply`` and ``.vtp``.

Vertex order is kept exactly in every format (no merging, no reordering).
"""

from __future__ import annotations

import os
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cryomem.io._atomic import atomic_write_path
from cryomem.io._vtp import read_vtp_arrays, write_vtp_arrays

__all__ = ["MESH_SUFFIXES", "Mesh", "read_mesh", "write_mesh", "write_surforama_obj"]

MESH_SUFFIXES = (".obj", ".ply", ".vtp")
_PLY_TYPES = {
    "f8": "double",
    "f4": "float",
    "i1": "char",
    "u1": "uchar",
    "i2": "short",
    "u2": "ushort",
    "i4": "int",
    "u4": "uint",
}


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh in physical coordinates.

    Attributes
    ----------
    vertices_xyz_ang : (n, 3) float64 array
        Vertex positions, Å, xyz.
    faces : (m, 3) int64 array
        Triangles as 0-based vertex indices.
    normals_xyz : (n, 3) float64 array or None
        Per-vertex unit normals, xyz.
    point_data : dict of str to (n,) or (n, k) arrays
        Per-vertex values (scores, labels, ...).
    """

    vertices_xyz_ang: np.ndarray
    faces: np.ndarray
    normals_xyz: np.ndarray | None = None
    point_data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        vertices = np.asarray(self.vertices_xyz_ang, dtype=np.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.isfinite(vertices).all():
            raise ValueError(f"vertices_xyz_ang must be finite with shape (n, 3), got {vertices.shape}")
        faces = np.asarray(self.faces)
        faces = faces.reshape(0, 3) if faces.size == 0 else faces
        if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and faces.dtype.kind not in "iu"):
            raise ValueError(f"faces must be integers with shape (m, 3), got {faces.shape} {faces.dtype}")
        faces = faces.astype(np.int64)
        if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise ValueError(f"faces index vertices 0..{len(vertices) - 1}, found {faces.min()}..{faces.max()}")
        normals = self.normals_xyz
        if normals is not None:
            normals = np.asarray(normals, dtype=np.float64)
            if normals.shape != vertices.shape:
                raise ValueError(f"normals_xyz must have shape {vertices.shape}, got {normals.shape}")
        point_data = {}
        for name, values in self.point_data.items():
            values = np.asarray(values)
            if not isinstance(name, str) or not name or values.ndim not in (1, 2) or len(values) != len(vertices):
                raise ValueError(
                    f"point_data[{name!r}] must be a named ({len(vertices)},) or "
                    f"({len(vertices)}, k) array, got shape {values.shape}"
                )
            point_data[name] = values
        object.__setattr__(self, "vertices_xyz_ang", vertices)
        object.__setattr__(self, "faces", faces)
        object.__setattr__(self, "normals_xyz", normals)
        object.__setattr__(self, "point_data", point_data)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f"{path}: unsupported mesh suffix {suffix!r}; use one of {', '.join(MESH_SUFFIXES)}")
    return suffix


def write_mesh(path: str | os.PathLike[str], mesh: Mesh, *, overwrite: bool = True) -> Path:
    """Write a mesh atomically; the format follows the suffix (``.obj``, ``.ply``, ``.vtp``).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    mesh : Mesh
        Mesh to write. OBJ stores vertices, faces and normals only, so a mesh with
        ``point_data`` is refused there; PLY stores point data as vertex properties
        (``name`` or ``name_0 .. name_{k-1}``); VTP stores everything.
    overwrite : bool, default True
        If False, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix == ".obj" and mesh.point_data:
        raise ValueError(
            f"OBJ cannot store point_data {sorted(mesh.point_data)}; write .vtp or .ply instead, "
            "or drop it with dataclasses.replace(mesh, point_data={})"
        )
    writer = {".obj": _write_obj, ".ply": _write_ply, ".vtp": _write_vtp}[suffix]
    with atomic_write_path(path, overwrite=overwrite) as tmp:
        writer(tmp, mesh)
    return path


def read_mesh(path: str | os.PathLike[str]) -> Mesh:
    """Read a mesh; the format follows the suffix (``.obj``, ``.ply``, ``.vtp``).

    Parameters
    ----------
    path : str or os.PathLike
        Mesh file. Polygons are fan-triangulated; vertex order is kept.

    Returns
    -------
    Mesh
        Coordinates are returned as stored (cryomem writes Å).
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    reader = {".obj": _read_obj, ".ply": _read_ply, ".vtp": _read_vtp}[suffix]
    try:
        return reader(path)
    except (ValueError, IndexError, KeyError, ET.ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a readable {suffix[1:].upper()} mesh ({exc})") from None


def _write_vtp(path: Path, mesh: Mesh) -> None:
    write_vtp_arrays(path, mesh.vertices_xyz_ang, mesh.faces, mesh.normals_xyz, mesh.point_data)


def _read_vtp(path: Path) -> Mesh:
    vertices, faces, normals, point_data = read_vtp_arrays(path)
    return Mesh(vertices, faces, normals, point_data)


def _write_obj(path: Path, mesh: Mesh) -> None:
    lines = ["# cryomem mesh: vertices in Å, xyz"]
    lines += [f"v {x!r} {y!r} {z!r}" for x, y, z in mesh.vertices_xyz_ang.tolist()]
    one_based = (mesh.faces + 1).tolist()
    if mesh.normals_xyz is not None:
        lines += [f"vn {x!r} {y!r} {z!r}" for x, y, z in mesh.normals_xyz.tolist()]
        lines += [f"f {a}//{a} {b}//{b} {c}//{c}" for a, b, c in one_based]
    else:
        lines += [f"f {a} {b} {c}" for a, b, c in one_based]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _obj_index(token: str, count: int) -> int:
    index = int(token)
    return count + index if index < 0 else index - 1


def _read_obj(path: Path) -> Mesh:
    text = path.read_text(encoding="utf-8")
    simple = _read_plain_obj(text)
    if simple is not None:
        return simple
    vertices, normals, corners_v, corners_n, triangles = [], [], [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0] not in ("v", "vn", "f"):
            continue
        if parts[0] in ("v", "vn"):
            (vertices if parts[0] == "v" else normals).append([float(p) for p in parts[1:4]])
            continue
        if len(parts) < 4:
            raise ValueError(f"line {number}: a face needs at least 3 corners")
        fields = [p.split("/") for p in parts[1:]]
        v = [_obj_index(f[0], len(vertices)) for f in fields]
        triangles += [(v[0], v[j], v[j + 1]) for j in range(1, len(v) - 1)]
        for f, vi in zip(fields, v, strict=True):
            if len(f) >= 3 and f[2]:
                corners_v.append(vi)
                corners_n.append(_obj_index(f[2], len(normals)))
    vertex_array = np.array(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.array(triangles, np.int64).reshape(-1, 3)
    return Mesh(vertex_array, faces, _obj_normals(vertex_array, normals, corners_v, corners_n))


def _read_plain_obj(text: str) -> Mesh | None:
    """The common file of only ``v x y z`` and ``f a b c`` lines (1-based, no normals), parsed by numpy.

    None for anything else (normals, texture corners, polygons, negative indices, indented or
    unusual lines): the line-by-line reader takes those.
    """
    lines = text.splitlines()
    v_lines = [line[2:] for line in lines if line.startswith("v ")]
    f_lines = [line[2:] for line in lines if line.startswith("f ")]
    if sum(1 for line in lines if line.lstrip()[:1] in ("v", "f")) != len(v_lines) + len(f_lines):
        return None
    face_text = " ".join(f_lines)
    if "/" in face_text:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # text numpy cannot read to the end: the line-by-line reader decides
        try:
            vertices = np.fromstring(" ".join(v_lines), dtype=np.float64, sep=" ")
            corners = np.fromstring(face_text, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    if vertices.size != 3 * len(v_lines) or corners.size != 3 * len(f_lines):
        return None
    if corners.size and (corners.min() < 1 or corners.max() > len(v_lines)):
        return None
    return Mesh(vertices.reshape(-1, 3), corners.reshape(-1, 3) - 1, None)


def _obj_normals(vertices: np.ndarray, normals: list, corners_v: list, corners_n: list) -> np.ndarray | None:
    """Per-vertex normals if the file defines them unambiguously, else None."""
    if not normals:
        return None
    normal_array = np.array(normals, dtype=np.float64).reshape(-1, 3)
    same_count = len(normal_array) == len(vertices)
    if not corners_v or corners_v == corners_n:  # "f a b c" or "f a//a b//b c//c"
        return normal_array if same_count else None
    per_vertex = np.full(vertices.shape, np.nan)
    per_vertex[corners_v] = normal_array[corners_n]
    consistent = np.allclose(per_vertex[corners_v], normal_array[corners_n])
    return per_vertex if consistent and not np.isnan(per_vertex).any() else None


def _write_ply(path: Path, mesh: Mesh) -> None:
    fields = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    columns = list(mesh.vertices_xyz_ang.T)
    if mesh.normals_xyz is not None:
        fields += [("nx", "<f8"), ("ny", "<f8"), ("nz", "<f8")]
        columns += list(mesh.normals_xyz.T)
    for name, values in mesh.point_data.items():
        if re.search(r"\s", name) or name in ("x", "y", "z", "nx", "ny", "nz"):
            raise ValueError(f"point_data name {name!r} cannot be a PLY property; rename it")
        values = values.astype(np.uint8) if values.dtype == np.bool_ else values
        code = values.dtype.newbyteorder("<").str[1:]
        if (
            code in ("i8", "u8")
            and values.size
            and np.iinfo(np.int32).min <= values.min()
            and values.max() <= np.iinfo(np.int32).max
        ):
            code = "i4"
        dtype = "<" + (code if code in _PLY_TYPES else "f8")
        parts = [values] if values.ndim == 1 else list(values.T)
        names = [name] if values.ndim == 1 else [f"{name}_{i}" for i in range(values.shape[1])]
        fields += [(n, dtype) for n in names]
        columns += parts
    vertex_records = np.empty(len(mesh.vertices_xyz_ang), dtype=fields)
    for (name, _), column in zip(fields, columns, strict=True):
        vertex_records[name] = column
    face_records = np.empty(len(mesh.faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face_records["n"] = 3
    face_records["i"] = mesh.faces
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment cryomem mesh: vertices in Å, xyz",
        f"element vertex {len(vertex_records)}",
    ]
    header += [f"property {_PLY_TYPES[t[1:]]} {n}" for n, t in fields]
    header += [
        f"element face {len(face_records)}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    with open(path, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("utf-8"))
        handle.write(vertex_records.tobytes())
        handle.write(face_records.tobytes())


def _read_ply(path: Path) -> Mesh:
    import trimesh  # slow to import (~0.5 s); only PLY reading needs it

    loaded = trimesh.load(path, file_type="ply", process=False)
    raw = loaded.metadata.get("_ply_raw", {}).get("vertex", {})
    data = raw.get("data")
    names = list(raw.get("properties", {}))
    if data is None or not {"x", "y", "z"} <= set(names):
        raise ValueError("no vertex element with x, y, z")
    vertices = np.column_stack([np.asarray(data[n], dtype=np.float64) for n in "xyz"])
    normals = None
    if {"nx", "ny", "nz"} <= set(names):
        normals = np.column_stack([np.asarray(data[n], dtype=np.float64) for n in ("nx", "ny", "nz")])
    extra = [n for n in names if n not in ("x", "y", "z", "nx", "ny", "nz")]
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    return Mesh(vertices, faces, normals, _group_components(extra, data))


def _group_components(names: list[str], data: object) -> dict[str, np.ndarray]:
    """Properties ``a_0 .. a_{k-1}`` (k >= 2) -> one (n, k) array ``a``; others stay scalar."""
    point_data: dict[str, np.ndarray] = {}
    taken: set[str] = set()
    for name in names:
        if name in taken:
            continue
        stem = name[:-2] if name.endswith("_0") else None
        k = 0
        while stem and stem not in names and f"{stem}_{k}" in names:
            k += 1
        if stem and k > 1:
            group = [f"{stem}_{i}" for i in range(k)]
            point_data[stem] = np.column_stack([np.asarray(data[g]) for g in group])  # type: ignore[index]
            taken.update(group)
        else:
            point_data[name] = np.asarray(data[name])  # type: ignore[index]
    return point_data


def write_surforama_obj(path: str | os.PathLike[str], surface, *, overwrite: bool = False) -> Path:
    """Write a membrane as the ``.obj`` Surforama opens next to its tomogram: vertices in voxel units
    (0-based x, y, z pixel coordinates of the source tomogram, origin removed), the same triangles.

    Surforama reads an OBJ's vertices as pixel coordinates of the image it shows (it swaps them to z, y, x
    for napari), while cryomem's own meshes are in Å; this is the one conversion.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.obj`` (atomic).
    surface : cryomem.io.MembraneSurface
        A membrane whose ``voxel_size_ang`` is known (an h5 container from ``cryomem surface``).
    overwrite : bool, default False
        Replace an existing file.
    """
    from cryomem.io._conventions import xyz_ang_to_xyz_px

    if surface.voxel_size_ang is None:
        raise ValueError(
            f"{surface.source or surface.label}: the voxel size of its tomogram is unknown; pass the membrane's "
            "h5 container from cryomem surface (or --voxel-size)"
        )
    vertices_px = xyz_ang_to_xyz_px(surface.vertices_xyz_ang, surface.voxel_size_ang, surface.origin_xyz_ang)
    return write_mesh(path, Mesh(vertices_px, surface.faces, surface.normals_xyz), overwrite=overwrite)
