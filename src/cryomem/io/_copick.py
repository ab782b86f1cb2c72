"""copick projects in and out: tomograms, segmentations, meshes and picks, through copick's own API.

A copick project is a JSON config (``pickable_objects``, ``overlay_root``, optional
``static_root``) over a folder tree that copick owns; we never walk that tree ourselves. What we
rely on (copick 1.31):

- Tomograms are OME-Zarr images at ``<root>/ExperimentRuns/<run>/VoxelSpacing<s:.3f>/<type>.zarr``
  (read-only in ``static_root`` when the project has one, else in ``overlay_root``); we read them
  with :func:`cryomem.io.read_ome_zarr`, so voxel size and origin come from the image's metadata.
- Everything we write lands in the overlay root, under ``ExperimentRuns/<run>/``:
  ``Picks/<user>_<session>_<object>.json``, ``Meshes/<user>_<session>_<object>.glb`` and
  ``Segmentations/<s:.3f>_<user>_<session>_<name>[-multilabel].zarr`` (instance segmentations in
  ``InstanceSegmentations/``).
- Pick locations are Å, xyz, in the tomogram frame (our ``x_ang, y_ang, z_ang``); a point's
  4x4 ``transformation`` maps object (particle) coordinates to tomogram coordinates. Its rotation
  is therefore exactly our :func:`euler_zyz_deg_to_matrix` (particle -> tomogram, third column
  the particle's z axis = outward membrane normal), as copick's own RELION conversion
  (``Rotation.from_euler("ZYZ", angles).inv()``) confirms; its translation is a shift added to
  the location.
- Picks, meshes and binary/instance segmentations must name an object declared in the config's
  ``pickable_objects``; user, session and object names may not hold ``_``, spaces or ``<>:"/\\|?*``.

copick is an optional extra, imported inside the functions only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from cryomem.io._conventions import euler_zyz_deg_to_matrix, matrix_to_euler_zyz_deg, validate_voxel_size_ang
from cryomem.io._mrc import Volume
from cryomem.io._star import PARTICLE_COLUMNS

__all__ = [
    "CopickTomogram",
    "copick_tomograms",
    "open_copick",
    "read_copick_picks",
    "write_copick_mesh",
    "write_copick_picks",
    "write_copick_segmentation",
]

_INSTALL = 'pip install "cryomem[copick]"'
_SPACING_DECIMALS = 3  # copick names voxel spacings with 3 decimals
_LISTED = 10
_ROTATION_ATOL = 1e-4


def _copick() -> Any:
    try:
        import copick
    except ImportError:
        raise ImportError(f"copick is not installed; install the optional extra: {_INSTALL}") from None
    return copick


def _listing(names: Sequence[object]) -> str:
    names = [str(n) for n in names]
    if not names:
        return "none"
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


def _spacing(voxel_spacing_ang: float) -> float:
    size = validate_voxel_size_ang(voxel_spacing_ang, "voxel_spacing_ang", explicit=True)
    return round(size, _SPACING_DECIMALS)


def _config_text(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(f"copick config not found: {path}; pass the project's JSON config file")
    if not path.is_file():
        raise ValueError(f"{path} is a folder, not a copick config; pass the project's JSON config file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a copick config (not readable JSON: {exc}); pass a copick JSON config"
        ) from None
    if not isinstance(data, dict) or "pickable_objects" not in data:
        raise ValueError(
            f"{path} is not a copick config (no 'pickable_objects'); pass a copick JSON config, e.g. one made by "
            "`copick config filesystem`"
        )
    # copick assumes a filesystem project (with a DeprecationWarning) when config_type is missing
    data.setdefault("config_type", "filesystem")
    return json.dumps(data)


def open_copick(config_path: str | os.PathLike[str]) -> Any:
    """Open a copick project from its JSON config.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's config (``pickable_objects``, ``overlay_root``, optional ``static_root``).

    Returns
    -------
    copick.models.CopickRoot
        The project root (``CopickRootFSSpec`` for a filesystem project).

    Raises
    ------
    FileNotFoundError
        If the config does not exist.
    ValueError
        If it is not a copick config (not JSON, no ``pickable_objects``, or copick rejects it).
    ImportError
        If copick is not installed.
    """
    path = Path(config_path)
    text = _config_text(path)
    copick = _copick()
    try:
        return copick.from_string(text)
    except Exception as exc:  # pydantic's ValidationError, fsspec errors, unknown config_type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} is not a usable copick config ({first}); fix the config file") from None


def _open(config: str | os.PathLike[str] | Any) -> tuple[Any, str]:
    if isinstance(config, (str, os.PathLike)):
        return open_copick(config), str(config)
    return config, "the copick config"


def _run(root: Any, name: str, where: str) -> Any:
    run = root.get_run(str(name))
    if run is None:
        names = sorted(r.name for r in root.runs)
        raise ValueError(f"run {name!r} is not in {where}; its runs are: {_listing(names)}")
    return run


def _voxel_spacing(run: Any, spacing: float) -> Any | None:
    for vs in run.voxel_spacings:
        if math.isclose(float(vs.voxel_size), spacing, abs_tol=0.5 * 10**-_SPACING_DECIMALS):
            return vs
    return None


def _describe_run(run: Any) -> str:
    parts = []
    for vs in sorted(run.voxel_spacings, key=lambda v: float(v.voxel_size)):
        types = sorted({t.tomo_type for t in vs.tomograms})
        parts.append(f"{float(vs.voxel_size):g} Å ({', '.join(types) or 'no tomograms'})")
    return "; ".join(parts) or "no voxel spacings"


def _check_name(value: str, what: str) -> str:
    from copick.util.escape import sanitize_name

    text = str(value)
    try:
        clean = sanitize_name(text, suppress_warnings=True)
    except ValueError:
        clean = ""
    if clean != text:
        raise ValueError(
            f"{what} {text!r} is not a valid copick name (no '_', spaces or <>:\"/\\|?*); "
            f"use e.g. {clean or 'cryomem'!r}"
        )
    return text


def _declared(root: Any, object_name: str, where: str, *, particle: bool | None = None) -> Any:
    obj = root.get_object(object_name)
    if obj is None:
        kind = "true" if particle is not False else "false"
        names = [o.name for o in root.pickable_objects]
        raise ValueError(
            f"object {object_name!r} is not declared in {where} (its pickable_objects: {_listing(names)}); add "
            f'{{"name": "{object_name}", "is_particle": {kind}, "label": <unused int>}} to pickable_objects'
        )
    if particle is not None and bool(obj.is_particle) != particle:
        kind = "a particle" if obj.is_particle else "not a particle"
        raise ValueError(
            f"object {object_name!r} is {kind} (is_particle={obj.is_particle}) in {where}; write "
            f"{'picks' if particle else 'this'} under an object declared with is_particle={str(particle).lower()}"
        )
    return obj


def _is_local(fs: Any) -> bool:
    protocol = getattr(fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return bool({"file", "local"} & set(protocols))


@dataclass(frozen=True)
class CopickTomogram:
    """One tomogram of a copick project, resolved (no voxel data read).

    Attributes
    ----------
    run : str
        The copick run name (our ``tomo_name``).
    voxel_spacing_ang : float
        The copick voxel spacing it is filed under, Å.
    tomo_type : str
        The copick tomogram type (e.g. ``"wbp"``, ``"denoised"``).
    zarr_path : pathlib.Path or None
        The tomogram's local OME-Zarr folder; None for a project not on the local filesystem.
    """

    run: str
    voxel_spacing_ang: float
    tomo_type: str
    zarr_path: Path | None

    def volume(self, target_voxel_size_ang: float | None = None) -> Volume:
        """Read the tomogram lazily with :func:`cryomem.io.read_ome_zarr`.

        Parameters
        ----------
        target_voxel_size_ang : float, optional
            Read the pyramid level closest to this voxel size (default: level 0).

        Returns
        -------
        Volume
            ``data_zyx`` a dask array; voxel size and origin from the image's OME metadata.
        """
        from cryomem.io._ome_zarr import read_ome_zarr

        if self.zarr_path is None:
            raise ValueError(
                f"tomogram {self.tomo_type!r} of run {self.run!r} is not on the local filesystem; copy the project "
                "locally (or use copick's API: tomogram.numpy())"
            )
        return read_ome_zarr(self.zarr_path, target_voxel_size_ang=target_voxel_size_ang)


def _resolve(run: Any, vs: Any, tomo: Any) -> CopickTomogram:
    read_only = bool(getattr(tomo, "read_only", False))
    fs = getattr(tomo, "fs_static" if read_only else "fs_overlay", None)
    path = getattr(tomo, "static_path" if read_only else "overlay_path", None)
    local = Path(path) if path is not None and fs is not None and _is_local(fs) else None
    return CopickTomogram(
        run=run.name, voxel_spacing_ang=float(vs.voxel_size), tomo_type=tomo.tomo_type, zarr_path=local
    )


def copick_tomograms(
    config_path: str | os.PathLike[str],
    *,
    tomo_type: str,
    voxel_spacing_ang: float,
    runs: Sequence[str] | None = None,
) -> list[CopickTomogram]:
    """The tomograms of one type and voxel spacing in a copick project.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    tomo_type : str
        Tomogram type (e.g. ``"wbp"``, ``"denoised"``).
    voxel_spacing_ang : float
        Voxel spacing, Å (matched to copick's 3 decimals).
    runs : sequence of str, optional
        Run names; each must exist and hold the tomogram. Default: every run that holds it.

    Returns
    -------
    list of CopickTomogram
        In the order of ``runs``, else sorted by run name.

    Raises
    ------
    ValueError
        If a run does not exist, a named run lacks the tomogram type at that spacing, or no run
        holds it (each message lists what the project has).
    """
    spacing = _spacing(voxel_spacing_ang)
    root, where = _open(config_path)
    if runs is None:
        all_runs = sorted(root.runs, key=lambda r: r.name)
        if not all_runs:
            raise ValueError(f"{where} has no runs; add runs (ExperimentRuns) to the project first")
        found = []
        for run in all_runs:
            vs = _voxel_spacing(run, spacing)
            tomos = [] if vs is None else vs.get_tomograms(tomo_type)
            if tomos:
                found.append(_resolve(run, vs, tomos[0]))
        if found:
            return found
        spacings = sorted({float(vs.voxel_size) for run in all_runs for vs in run.voxel_spacings})
        if not any(math.isclose(s, spacing, abs_tol=5e-4) for s in spacings):
            raise ValueError(
                f"voxel spacing {spacing:g} Å does not exist in {where}; its spacings are "
                f"{_listing([f'{s:g} Å' for s in spacings])}: pass one of them"
            )
        types = sorted({t.tomo_type for run in all_runs if (vs := _voxel_spacing(run, spacing)) for t in vs.tomograms})
        raise ValueError(
            f"no run of {where} has a {tomo_type!r} tomogram at {spacing:g} Å; types there: {_listing(types)}: "
            "pass one of them"
        )
    if isinstance(runs, str):
        runs = [runs]
    out = []
    for name in runs:
        run = _run(root, name, where)
        vs = _voxel_spacing(run, spacing)
        tomos = [] if vs is None else vs.get_tomograms(tomo_type)
        if not tomos:
            raise ValueError(
                f"run {run.name!r} has no {tomo_type!r} tomogram at {spacing:g} Å; it has {_describe_run(run)}: "
                "pass one of those (tomo_type, voxel spacing)"
            )
        out.append(_resolve(run, vs, tomos[0]))
    return out


def _guard(entry: Any, write: Any) -> None:
    """Run ``write()``; on any failure delete the half-written copick entry, then re-raise."""
    try:
        write()
    except BaseException:
        try:
            entry.delete()
        except Exception:  # nothing written yet, or already gone
            pass
        raise


def _existing(found: list, what: str, overwrite: bool) -> None:
    if found and not overwrite:
        raise ValueError(f"{what} already exists; pass overwrite=True or choose another session_id")
    for entry in found:
        entry.delete()


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


def _standard_rows(particles: pd.DataFrame, run: str) -> pd.DataFrame:
    if not isinstance(particles, pd.DataFrame):
        raise ValueError(f"particles must be a standard particle table (pandas DataFrame), got {type(particles)}")
    missing = [c for c in ("x_ang", "y_ang", "z_ang") if c not in particles.columns]
    if missing:
        raise ValueError(f"particles lacks required column(s) {missing}; it has {list(particles.columns)}")
    table = particles.copy()
    if "tomo_name" in table.columns:
        others = sorted(set(table["tomo_name"].astype(str)) - {str(run)})
        if others:
            raise ValueError(
                f"particles holds rows of tomograms {_listing(others)}, not only run {run!r}; pass "
                f"particles[particles.tomo_name == {run!r}]"
            )
    for column, default in (("rot_deg", 0.0), ("tilt_deg", 0.0), ("psi_deg", 0.0), ("class_number", 1)):
        if column not in table.columns:
            table[column] = default
    if "membrane_id" not in table.columns:
        table["membrane_id"] = -1
    if "score" not in table.columns:
        table["score"] = np.nan
    return table


def write_copick_picks(
    config_path: str | os.PathLike[str],
    run: str,
    *,
    object_name: str,
    particles: pd.DataFrame,
    user_id: str,
    session_id: str,
    overwrite: bool = False,
) -> str:
    """Write one run's particles (our standard table) as copick picks with 4x4 transforms.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    run : str
        Run name (must exist); ``particles['tomo_name']``, when present, must all be this run.
    object_name : str
        A pickable object declared with ``is_particle: true`` (e.g. ``"protein"``).
    particles : pandas.DataFrame
        Standard particle table (:data:`PARTICLE_COLUMNS`) of one class. Locations are
        ``x_ang, y_ang, z_ang``; each transform's rotation is
        ``euler_zyz_deg_to_matrix((rot, tilt, psi))`` (particle -> tomogram) with zero
        translation; ``score`` goes to the point's score (NaN: copick's default 1.0);
        ``membrane_id`` >= 1 to its ``instance_id`` (else 0).
    user_id, session_id : str
        copick names (no ``_`` or spaces).
    overwrite : bool, default False
        Replace existing picks of that object, user and session.

    Returns
    -------
    str
        Where copick stored the picks.
    """
    table = _standard_rows(particles, run)
    xyz = table[["x_ang", "y_ang", "z_ang"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    angles = table[["rot_deg", "tilt_deg", "psi_deg"]].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if not (np.all(np.isfinite(xyz)) and np.all(np.isfinite(angles))):
        raise ValueError("particles has NaN, infinite or non-numeric coordinates or angles")
    classes = sorted(set(pd.to_numeric(table["class_number"]).astype(int)))
    if len(classes) > 1:
        raise ValueError(
            f"particles holds classes {classes}; copick picks hold one object: write each class under its own "
            "object_name (particles[particles.class_number == k])"
        )
    scores = pd.to_numeric(table["score"], errors="coerce").to_numpy(np.float64)
    scores = np.where(np.isfinite(scores), scores, 1.0)
    membrane = pd.to_numeric(table["membrane_id"], errors="coerce").fillna(-1).to_numpy()
    instance_ids = np.where(membrane >= 1, membrane, 0).astype(np.int64)
    transforms = np.tile(np.eye(4), (len(table), 1, 1))
    if len(table):
        transforms[:, :3, :3] = euler_zyz_deg_to_matrix(angles)
    root, where = _open(config_path)
    _copick()
    object_name = _check_name(object_name, "object_name")
    user_id = _check_name(user_id, "user_id")
    session_id = _check_name(session_id, "session_id")
    _declared(root, object_name, where, particle=True)
    copick_run = _run(root, run, where)
    found = copick_run.get_picks(object_name=object_name, user_id=user_id, session_id=session_id)
    _existing(found, f"picks of {object_name!r} by {user_id}/{session_id} in run {run!r}", overwrite)
    picks = copick_run.new_picks(object_name, session_id, user_id=user_id)
    _guard(picks, lambda: picks.from_numpy(xyz, transforms, instance_ids=instance_ids, scores=scores))
    return str(getattr(picks, "path", picks))


def read_copick_picks(
    config_path: str | os.PathLike[str],
    run: str,
    *,
    object_name: str,
    user_id: str | None = None,
    session_id: str | None = None,
    class_number: int = 1,
) -> pd.DataFrame:
    """Read one set of copick picks as our standard particle table.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    run : str
        Run name (our ``tomo_name``).
    object_name : str
        Pickable object name.
    user_id, session_id : str, optional
        Which picks, when the run holds several sets of ``object_name``.
    class_number : int, default 1
        ``class_number`` given to every row (copick keeps classes as object names).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PARTICLE_COLUMNS`: positions are copick's full positions (location +
        transform translation), Å; angles from the transform's rotation (particle -> tomogram;
        0 when the picks do not trust orientations); ``membrane_id`` = ``instance_id`` (0 -> -1);
        ``score`` = the point's score.
    """
    root, where = _open(config_path)
    copick_run = _run(root, run, where)
    found = copick_run.get_picks(object_name=object_name, user_id=user_id, session_id=session_id)
    if len(found) != 1:
        sets = sorted(f"{p.pickable_object_name}/{p.user_id}/{p.session_id}" for p in copick_run.picks)
        if not found:
            raise ValueError(
                f"run {run!r} has no picks of {object_name!r} (user_id={user_id}, session_id={session_id}); its "
                f"picks (object/user/session): {_listing(sets)}"
            )
        sets = sorted(f"{p.user_id}/{p.session_id}" for p in found)
        raise ValueError(
            f"run {run!r} has {len(found)} sets of {object_name!r} picks (user/session: {_listing(sets)}); pass "
            "user_id and session_id to choose one"
        )
    picks = found[0]
    _, transforms = picks.numpy()
    xyz = picks.full_positions()
    n = len(xyz)
    angles = np.zeros((n, 3))
    if n and picks.trust_orientation is not False:
        rotations = transforms[:, :3, :3]
        bad = ~np.isclose(np.linalg.det(rotations), 1.0, atol=_ROTATION_ATOL)
        bad |= ~np.all(
            np.isclose(rotations @ np.swapaxes(rotations, -1, -2), np.eye(3), atol=_ROTATION_ATOL), axis=(1, 2)
        )
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {n} transforms in {object_name!r} picks of run {run!r} are not rotations "
                f"(first: point {int(np.argmax(bad))}); fix the picks file"
            )
        angles = matrix_to_euler_zyz_deg(rotations)
    instance = picks.instance_ids() if n else np.zeros(0, dtype=np.int64)
    table = pd.DataFrame(
        {
            "tomo_name": pd.Series([copick_run.name] * n, dtype=object),
            "x_ang": xyz[:, 0] if n else np.zeros(0),
            "y_ang": xyz[:, 1] if n else np.zeros(0),
            "z_ang": xyz[:, 2] if n else np.zeros(0),
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": np.full(n, int(class_number), dtype=np.int64),
            "membrane_id": np.where(instance >= 1, instance, -1).astype(np.int64),
            "score": picks.scores() if n else np.zeros(0),
        }
    )
    return table[list(PARTICLE_COLUMNS)]
