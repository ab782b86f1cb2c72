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

copick is an optional extra, imported inside the functions only. This module opens projects and
finds tomograms; :mod:`cryomem.io._copick_writers` writes segmentations and meshes and
:mod:`cryomem.io._copick_picks` reads and writes picks.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryomem.io._conventions import validate_voxel_size_ang
from cryomem.io._mrc import Volume

__all__ = ["CopickTomogram", "check_copick_writes", "copick_tomogram_kinds", "copick_tomograms", "open_copick"]

_INSTALL = 'pip install "cryomem[copick]"'
_SPACING_DECIMALS = 3  # copick names voxel spacings with 3 decimals
_LISTED = 10


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


def check_copick_writes(
    config_path: str | os.PathLike[str],
    runs: Sequence[str],
    *,
    voxel_spacing_ang: float,
    user_id: str,
    session_id: str,
    membrane_object: str,
    protein_object: str | None = None,
    overwrite: bool = False,
) -> None:
    """Check, before any work, that membrane (and protein) results can be written into a copick project.

    The results are those of ``cryomem run --copick``: a binary and an instance segmentation and a
    mesh of ``membrane_object``, and picks of ``protein_object`` (when given), in each run.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON config.
    runs : sequence of str
        The runs that will be written.
    voxel_spacing_ang : float
        Voxel spacing of the segmentations, Å.
    user_id, session_id : str
        copick names of the writer (no ``_`` or spaces).
    membrane_object : str
        A declared object with ``is_particle: false``.
    protein_object : str, optional
        A declared object with ``is_particle: true``; None when nothing will be picked.
    overwrite : bool, default False
        Existing results of this user and session will be replaced; without it they are an error.

    Raises
    ------
    ValueError
        A bad name, an undeclared object, a run that does not exist, or results of this user and
        session already in a run (without ``overwrite``); the message says what to pass instead.
    """
    root, where = _open(config_path)
    spacing = _spacing(voxel_spacing_ang)
    user_id = _check_name(user_id, "--user-id")
    session_id = _check_name(session_id, "--session-id")
    _declared(root, _check_name(membrane_object, "--membrane-object"), where, particle=False)
    if protein_object is not None:
        _declared(root, _check_name(protein_object, "--protein-object"), where, particle=True)
    if overwrite:
        return
    for name in runs:
        run = _run(root, name, where)
        mine = {"user_id": user_id, "session_id": session_id}
        found = [
            *run.get_segmentations(name=membrane_object, voxel_size=spacing, is_instance=False, **mine),
            *run.get_segmentations(name=membrane_object, voxel_size=spacing, is_instance=True, **mine),
            *run.get_meshes(object_name=membrane_object, **mine),
        ]
        if protein_object is not None:
            found += run.get_picks(object_name=protein_object, **mine)
        if found:
            raise ValueError(
                f"run {run.name!r} already holds results of user {user_id!r}, session {session_id!r}; pass another "
                "--session-id, or --overwrite to replace them"
            )


def copick_tomogram_kinds(config_path: str | os.PathLike[str]) -> list[tuple[str, float]]:
    """Every (tomogram type, voxel spacing in Å) that some run of a copick project holds, sorted."""
    root, _ = _open(config_path)
    return sorted(
        {(t.tomo_type, float(vs.voxel_size)) for run in root.runs for vs in run.voxel_spacings for t in vs.tomograms}
    )
