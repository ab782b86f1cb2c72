"""copick segmentations and meshes written through copick's own API (see :mod:`cryomem.io._copick`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from cryomem.io._copick import (
    _check_name,
    _copick,
    _declared,
    _describe_run,
    _existing,
    _guard,
    _listing,
    _open,
    _run,
    _spacing,
    _voxel_spacing,
)

__all__ = ["write_copick_mesh", "write_copick_segmentation"]


def write_copick_segmentation(
    config_path: str | os.PathLike[str],
    run: str,
    *,
    voxel_spacing_ang: float,
    name: str,
    labels_zyx: ArrayLike,
    user_id: str,
    session_id: str,
    is_multilabel: bool = False,
    is_instance: bool = False,
    overwrite: bool = False,
) -> str:
    """Write a label volume into a copick run as a segmentation.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    run : str
        Run name (must exist, with a voxel spacing of ``voxel_spacing_ang``).
    voxel_spacing_ang : float
        Voxel spacing of the labels, Å.
    name : str
        Binary or instance: a declared pickable object (e.g. ``"membrane"``). Multilabel: any
        name; its values are object labels.
    labels_zyx : (nz, ny, nx) integer array
        Binary: 0/1 (e.g. our membrane segmentation). Instance: 0 background, else instance id
        (our ``_instances`` volume). Multilabel: 0 or a declared object's ``label``. Must match
        the shape of the run's tomograms at that spacing.
    user_id, session_id : str
        copick names (no ``_`` or spaces).
    is_multilabel, is_instance : bool, default False
        The segmentation type (at most one); neither means binary.
    overwrite : bool, default False
        Replace an existing segmentation of the same name, user, session, spacing and type.

    Returns
    -------
    str
        Where copick stored it (its zarr path).
    """
    if is_multilabel and is_instance:
        raise ValueError("is_multilabel and is_instance are both set; a copick segmentation has one type")
    spacing = _spacing(voxel_spacing_ang)
    labels = np.asarray(labels_zyx)
    if labels.ndim != 3 or min(labels.shape) < 1:
        raise ValueError(f"labels_zyx must be a 3D (z, y, x) array, got shape {labels.shape}")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(f"labels_zyx must hold integer labels, got dtype {labels.dtype} with fractions")
        labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels_zyx holds negative labels (min {labels.min()}); copick labels are >= 0")
    root, where = _open(config_path)
    _copick()
    name = _check_name(name, "name")
    user_id = _check_name(user_id, "user_id")
    session_id = _check_name(session_id, "session_id")
    values = np.unique(labels)
    if is_multilabel:
        declared = {int(o.label): o.name for o in root.pickable_objects if o.label is not None}
        unknown = [int(v) for v in values if v != 0 and int(v) not in declared]
        if unknown:
            raise ValueError(
                f"multilabel labels {_listing(unknown)} are no object's label in {where} (labels: "
                f"{_listing([f'{k}={v}' for k, v in sorted(declared.items())])}); declare them in pickable_objects"
            )
    else:
        _declared(root, name, where)
        if not is_instance and values.size and values.max() > 1:
            raise ValueError(
                f"a binary segmentation holds 0/1, but labels_zyx goes up to {values.max()}; pass is_instance=True "
                "for membrane instances or is_multilabel=True for object labels"
            )
    copick_run = _run(root, run, where)
    vs = _voxel_spacing(copick_run, spacing)
    if vs is None:
        raise ValueError(
            f"run {copick_run.name!r} has no voxel spacing {spacing:g} Å; it has {_describe_run(copick_run)}: "
            "write the labels at one of those spacings"
        )
    shapes = {tuple(_zarr_shape(t)) for t in vs.tomograms}
    shapes.discard(())
    if shapes and tuple(labels.shape) not in shapes:
        raise ValueError(
            f"labels_zyx has shape {labels.shape} but run {copick_run.name!r}'s tomograms at {spacing:g} Å have "
            f"{_listing(sorted(shapes))}; segment the tomogram at that spacing"
        )
    found = copick_run.get_segmentations(
        name=name,
        user_id=user_id,
        session_id=session_id,
        voxel_size=spacing,
        is_multilabel=is_multilabel,
        is_instance=is_instance,
    )
    _existing(found, f"segmentation {name!r} by {user_id}/{session_id} at {spacing:g} Å in run {run!r}", overwrite)
    seg = copick_run.new_segmentation(
        voxel_size=spacing,
        name=name,
        session_id=session_id,
        is_multilabel=is_multilabel,
        user_id=user_id,
        is_instance=is_instance,
    )
    _guard(seg, lambda: seg.from_numpy(labels))
    return str(getattr(seg, "path", seg))


def _zarr_shape(tomogram: Any) -> tuple[int, ...]:
    import zarr

    try:
        return tuple(zarr.open(tomogram.zarr(), mode="r")["0"].shape)
    except Exception:  # an empty or foreign store: no shape to check against
        return ()


def write_copick_mesh(
    config_path: str | os.PathLike[str],
    run: str,
    *,
    object_name: str,
    vertices_xyz_ang: ArrayLike,
    faces: ArrayLike,
    user_id: str,
    session_id: str,
    overwrite: bool = False,
) -> str:
    """Write a triangle mesh (Å, xyz, tomogram frame) into a copick run (a ``.glb`` via trimesh).

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    run : str
        Run name (must exist).
    object_name : str
        A declared pickable object (e.g. ``"membrane"``).
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz (stored as float32 by glTF).
    faces : (m, 3) int array
        Vertex indices of each triangle.
    user_id, session_id : str
        copick names (no ``_`` or spaces).
    overwrite : bool, default False
        Replace an existing mesh of that object, user and session.

    Returns
    -------
    str
        Where copick stored it.
    """
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    tri = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) < 3:
        raise ValueError(f"vertices_xyz_ang must have shape (n >= 3, 3), got {vertices.shape}")
    if not np.all(np.isfinite(vertices)):
        raise ValueError("vertices_xyz_ang holds NaN or infinite values")
    if tri.ndim != 2 or tri.shape[1] != 3 or len(tri) < 1 or not np.issubdtype(tri.dtype, np.integer):
        raise ValueError(f"faces must be an (m >= 1, 3) integer array, got shape {tri.shape} dtype {tri.dtype}")
    if tri.min() < 0 or tri.max() >= len(vertices):
        raise ValueError(f"faces index vertices {tri.min()}..{tri.max()}, but there are {len(vertices)} vertices")
    root, where = _open(config_path)
    _copick()
    object_name = _check_name(object_name, "object_name")
    user_id = _check_name(user_id, "user_id")
    session_id = _check_name(session_id, "session_id")
    _declared(root, object_name, where)
    copick_run = _run(root, run, where)
    found = copick_run.get_meshes(object_name=object_name, user_id=user_id, session_id=session_id)
    _existing(found, f"mesh of {object_name!r} by {user_id}/{session_id} in run {run!r}", overwrite)
    import trimesh

    mesh = copick_run.new_mesh(object_name, session_id, user_id=user_id)

    def write() -> None:
        mesh.mesh = trimesh.Trimesh(vertices=vertices, faces=tri.astype(np.int64), process=False)
        mesh.store()

    _guard(mesh, write)
    return str(getattr(mesh, "path", mesh))
