"""Membranes from files: mesh/h5 files read as :class:`cryomem.io.MembraneSurface`, named by tomogram and
membrane id (what statistics and morphometrics read)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from cryomem.geometry._curvature import vertex_normals
from cryomem.geometry._laplacian import face_areas
from cryomem.io import (
    MEMBRANE_SUFFIXES,
    MembraneSurface,
    membrane_stem,
    parse_membrane_stem,
    read_membrane_h5,
    read_mesh,
    validate_voxel_size_ang,
)

__all__ = ["checked_membrane", "membrane_files", "membrane_surface", "read_membrane_meshes"]


def membrane_surface(
    tomo_name: str,
    membrane_id: int,
    vertices_xyz_ang: np.ndarray,
    faces: np.ndarray,
    normals_xyz: np.ndarray | None = None,
    *,
    voxel_size_ang: float | None = None,
    source: str = "",
) -> MembraneSurface:
    """A membrane surface named by its tomogram and membrane id.

    Parameters
    ----------
    tomo_name : str
        Tomogram the membrane belongs to (matched against the particles' ``tomo_name``).
    membrane_id : int
        Membrane id within that tomogram.
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz.
    faces : (m, 3) int array
        Triangles, 0-based vertex indices.
    normals_xyz : (n, 3) float array, optional
        Unit vertex normals, xyz; computed with :func:`cryomem.geometry.vertex_normals` if None.
    voxel_size_ang : float, optional
        Voxel size of the source tomogram, Å, if known.
    source : str, default ""
        File the mesh came from (for messages).

    Returns
    -------
    cryomem.io.MembraneSurface
    """
    label = source or membrane_stem(tomo_name, membrane_id)
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    _check_shapes(vertices, faces, label)
    if normals_xyz is None:
        normals_xyz = vertex_normals(vertices, faces)
    try:
        return MembraneSurface(
            vertices,
            faces,
            normals_xyz,
            membrane_id=membrane_id,
            voxel_size_ang=voxel_size_ang,
            tomo_name=str(tomo_name),
            source=str(source),
        )
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None


def _check_shapes(vertices: np.ndarray, faces: np.ndarray, label: str) -> None:
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.isfinite(vertices).all():
        raise ValueError(f"{label}: vertices must be finite with shape (n, 3), got {vertices.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"{label}: faces index vertices outside 0..{len(vertices) - 1}")


def checked_membrane(surface: MembraneSurface) -> MembraneSurface:
    """``surface`` itself, once it has finite vertices and triangles with area.

    Raises
    ------
    ValueError
        The vertices are not finite, or the mesh has no triangles with area (named by its source
        file, else its label).
    """
    label = surface.source or surface.label
    _check_shapes(surface.vertices_xyz_ang, surface.faces, label)
    if len(surface.faces) == 0 or float(face_areas(surface.vertices_xyz_ang, surface.faces).sum()) <= 0.0:
        raise ValueError(f"{label}: the membrane mesh is empty (no triangles with area); remove it from the input")
    return surface


def membrane_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders expanded to their ``.h5/.obj/.ply/.vtp`` files (sorted).

    In a folder, a membrane saved in several formats (``cryomem surface`` writes ``<stem>.h5`` and
    ``<stem>.obj``) is read once, from the first of ``MEMBRANE_SUFFIXES`` present (h5 first).

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    ValueError
        No paths, an unsupported suffix, or a folder without membrane files.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in MEMBRANE_SUFFIXES and p.is_file())
            rank = {suffix: i for i, suffix in enumerate(MEMBRANE_SUFFIXES)}
            preferred: dict[str, Path] = {}
            for p in sorted(inside, key=lambda p: rank[p.suffix.lower()]):
                preferred.setdefault(p.stem, p)
            inside = sorted(preferred.values())
            if not inside:
                raise ValueError(f"folder {path} holds no membrane files ({', '.join(MEMBRANE_SUFFIXES)})")
            found.extend(inside)
        elif not path.exists():
            raise FileNotFoundError(f"membrane file {path} does not exist")
        elif path.suffix.lower() not in MEMBRANE_SUFFIXES:
            raise ValueError(f"{path}: unsupported membrane file; use {', '.join(MEMBRANE_SUFFIXES)}")
        else:
            found.append(path)
    if not found:
        raise ValueError("no membrane files given; pass .h5/.obj/.ply/.vtp files or folders of them")
    return found


def _name_from_stem(stem: str, fallback_id: int) -> tuple[str, int]:
    return parse_membrane_stem(stem, allow_tail=True) or (stem, fallback_id)


def read_membrane_meshes(
    paths: Sequence[str | os.PathLike[str]],
    *,
    mesh_unit: Literal["ang", "voxel"] = "ang",
    voxel_size_ang: float | None = None,
) -> list[MembraneSurface]:
    """Read membrane meshes (``cryomem surface`` h5 containers or ``.obj/.ply/.vtp`` in Å).

    A file named ``<tomo>_mb<N>[_anything].<suffix>`` belongs to tomogram ``<tomo>`` with membrane id
    ``N`` (an h5 container's stored ``membrane_id`` wins); other files are named by their stem.

    Parameters
    ----------
    paths : sequence of path-like
        Files or folders of them.
    mesh_unit : {"ang", "voxel"}, default "ang"
        Unit of the vertex coordinates of ``.obj/.ply/.vtp`` files. ``"voxel"`` multiplies them by
        ``voxel_size_ang`` (h5 containers are always in Å).
    voxel_size_ang : float, optional
        Voxel size of the tomograms, Å; required with ``mesh_unit="voxel"``, and used to diagnose
        meshes in voxels. h5 containers carry their own.

    Returns
    -------
    list of cryomem.io.MembraneSurface
        One per file, in the order given, each with ``tomo_name`` and ``source`` set (and normals
        computed where a mesh file has none).

    Raises
    ------
    ValueError
        A bad unit or voxel size, an empty mesh, or two files naming the same membrane.
    """
    if mesh_unit not in ("ang", "voxel"):
        raise ValueError(f"mesh_unit must be 'ang' or 'voxel', got {mesh_unit!r}")
    size = None if voxel_size_ang is None else validate_voxel_size_ang(voxel_size_ang, "--voxel-size", explicit=True)
    if mesh_unit == "voxel" and size is None:
        raise ValueError("meshes in voxels need the voxel size: pass --voxel-size (voxel_size_ang=...) in Å")
    meshes = []
    for index, path in enumerate(membrane_files(paths), start=1):
        if path.suffix.lower() == ".h5":
            surface = read_membrane_h5(path)
            tomo, _ = _name_from_stem(path.stem, surface.membrane_id)
            if parse_membrane_stem(path.stem, allow_tail=True) is None and surface.tomogram_name:
                tomo = surface.tomogram_name
            meshes.append(checked_membrane(dataclasses.replace(surface, tomo_name=tomo, source=str(path))))
            continue
        mesh = read_mesh(path)
        tomo, membrane_id = _name_from_stem(path.stem, index)
        vertices = mesh.vertices_xyz_ang * (size if mesh_unit == "voxel" else 1.0)
        surface = membrane_surface(
            tomo, membrane_id, vertices, mesh.faces, mesh.normals_xyz, voxel_size_ang=size, source=str(path)
        )
        meshes.append(checked_membrane(surface))
    labels = [m.label for m in meshes]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(
            f"several membrane files have the same tomogram and membrane id ({', '.join(repeated)}); "
            "name mesh files <tomo>_mb<N>.<suffix> with distinct N"
        )
    return meshes
