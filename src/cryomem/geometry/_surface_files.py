"""The ``cryomem surface`` stage over files: segmentation + tomogram MRC in, ``<stem>_mb<N>.h5/.obj`` out."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from cryomem.geometry._sampling import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.geometry._surface_settings import SurfaceSettings
from cryomem.geometry._surfaces import membrane_surfaces
from cryomem.io import (
    FractionProgress,
    Mesh,
    atomic_file_set,
    check_tomogram_values,
    created_folders,
    is_zarr_path,
    membrane_files_in,
    membrane_stem,
    read_mrc,
    read_mrc_header,
    read_volume,
    read_volume_header,
    validate_voxel_size_ang,
    volume_stem,
    write_membrane_h5,
    write_mesh,
)

__all__ = ["surface_output_paths", "surfaces_from_files"]

_VOXEL_RTOL = 1e-3
_DEFAULT = SurfaceSettings()  # the owner of the defaults of surfaces_from_files


def surface_output_paths(out_dir: str | os.PathLike[str], stem: str, membrane_id: int) -> tuple[Path, Path]:
    """``(<out_dir>/<stem>_mb<N>.h5, <out_dir>/<stem>_mb<N>.obj)`` for one membrane."""
    base = Path(out_dir) / membrane_stem(stem, membrane_id)
    return base.with_suffix(".h5"), base.with_suffix(".obj")


def _existing_outputs(out_dir: Path, stem: str) -> list[Path]:
    return sorted(membrane_files_in(out_dir, stem, ".h5") + membrane_files_in(out_dir, stem, ".obj"))


def _voxel_size(
    segmentation_path: Path, tomogram_path: Path, override: float | None
) -> tuple[float, tuple[int, int, int]]:
    """Check both headers (shape, voxel size, origin) before any data is read; return the voxel size and shape."""
    seg_shape, seg_raw, seg_origin = read_mrc_header(segmentation_path)
    tomo_shape, tomo_raw, tomo_origin = read_volume_header(tomogram_path)  # MRC or OME-Zarr level 0
    if tuple(seg_shape) != tuple(tomo_shape):
        raise ValueError(
            f"segmentation {segmentation_path.name} has shape {tuple(seg_shape)} (z, y, x) but tomogram "
            f"{tomogram_path.name} has {tuple(tomo_shape)}; pass the segmentation made from this tomogram"
        )
    if override is not None:
        size = validate_voxel_size_ang(override, "--voxel-size", explicit=True)
    else:
        size = validate_voxel_size_ang(tomo_raw, f"the header of {tomogram_path.name}")
        seg_size = validate_voxel_size_ang(seg_raw, f"the header of {segmentation_path.name}")
        if not math.isclose(seg_size, size, rel_tol=_VOXEL_RTOL):
            raise ValueError(
                f"segmentation {segmentation_path.name} has voxel size {seg_size:g} Å but tomogram "
                f"{tomogram_path.name} has {size:g} Å; pass the matching files, or --voxel-size if both "
                "headers are wrong"
            )
    if not np.allclose(seg_origin, tomo_origin, rtol=0.0, atol=_VOXEL_RTOL * size):
        raise ValueError(
            f"segmentation {segmentation_path.name} has origin (x, y, z) {_xyz(seg_origin)} Å but tomogram "
            f"{tomogram_path.name} has {_xyz(tomo_origin)} Å, so their voxels are not the same places; pass the "
            "segmentation made from this tomogram (cryomem segment keeps its origin)"
        )
    return size, tuple(tomo_shape)


def _xyz(values) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ")"


def _binary_if_one_value(labels: np.ndarray, name: str, notes: Callable[[str], None] | None) -> np.ndarray:
    """A mask stored with one non-zero value (0/255, or 0/-1 read as signed bytes) as 0/1.

    A single-value map whose voxels form one connected piece is kept as it is (an instance map
    holding one membrane keeps its id); one whose voxels form several pieces is a binary mask
    and is split into membranes like any 0/1 segmentation, with a note.
    """
    import cc3d

    if labels.dtype.kind not in "biuf" or labels.size == 0:
        return labels
    nonzero = labels[labels != 0]
    if nonzero.size == 0:
        return labels
    value = nonzero.min()
    if value != nonzero.max() or value == 1 or value != np.round(value):  # instance map, 0/1, NaN, fractions
        return labels  # as they are: membrane_instances takes or refuses them
    binary = (labels != 0).astype(np.uint8)
    pieces = int(cc3d.connected_components(binary, connectivity=26, return_N=True)[1])
    if pieces == 1 and value > 0:
        return labels
    if notes is not None:
        notes(
            f"note: {name} holds a single non-zero value ({value:g}): read as a binary mask and split into "
            f"{pieces} connected membranes"
        )
    return binary


def surfaces_from_files(
    segmentation_path: str | os.PathLike[str],
    tomogram_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    voxel_size_ang: float | None = None,
    min_voxels: int = _DEFAULT.min_voxels,
    spacing_ang: float | None = _DEFAULT.spacing_ang,
    smoothing_sigma_vox: float = _DEFAULT.smoothing_sigma_vox,
    offsets_ang: ArrayLike = DEFAULT_FEATURE_OFFSETS_ANG,
    feature_lowpass_ang: float = _DEFAULT.feature_lowpass_ang,
    overwrite: bool = False,
    progress: FractionProgress | None = None,
    notes: Callable[[str], None] | None = None,
    stem: str | None = None,
) -> list[Path]:
    """Run the surface stage on files: one ``<stem>_mb<N>.h5`` and ``<stem>_mb<N>.obj`` per membrane.

    Headers are checked first (same shape, voxel size and origin, no 0/1 Å voxel size without
    ``voxel_size_ang``), then the tomogram's values (no NaN/inf inside, not constant; a NaN border is
    set to the mean density, with a note), then everything is computed, and only then written: the
    set of files appears together or not at all (an interruption leaves the earlier set, or none).
    A segmentation holding a single non-zero value (a 0/255 mask) is taken as binary, with a note.

    Parameters
    ----------
    segmentation_path : str or os.PathLike
        Binary segmentation (``<stem>_seg.mrc``) or instance map (``<stem>_instances.mrc``).
    tomogram_path : str or os.PathLike
        The tomogram the segmentation was made from; ``<stem>`` is its file stem.
    out_dir : str or os.PathLike
        Output folder (created if missing).
    voxel_size_ang : float, optional
        Voxel size, Å, for both files, overriding their headers.
    min_voxels, spacing_ang, smoothing_sigma_vox, feature_lowpass_ang
        The settings of :class:`SurfaceSettings` (their defaults); see :func:`membrane_surfaces`.
    offsets_ang
        See :func:`membrane_surfaces`.
    overwrite : bool, default False
        Replace earlier outputs for this tomogram (stale ``<stem>_mb<N>`` files of membranes that no
        longer exist are removed). If False, existing outputs are an error.
    progress : callable(stage, fraction), optional
        Progress reports.
    notes : callable(str), optional
        Receives one-line notes (a masked NaN border, a 0/255 mask read as binary).
    stem : str, optional
        The tomogram's name in the outputs (default: its file stem); when given it is also stored
        in each membrane file as its ``tomo_name`` (e.g. a copick run's name for its ``wbp.zarr``).

    Returns
    -------
    list of pathlib.Path
        Written files, ``h5`` then ``obj`` for each membrane in ascending id order.
    """
    segmentation_path, tomogram_path, out_dir = Path(segmentation_path), Path(tomogram_path), Path(out_dir)
    for role, path in (("segmentation", segmentation_path), ("tomogram", tomogram_path)):
        if not (path.is_file() or (role == "tomogram" and path.is_dir() and is_zarr_path(path))):
            raise FileNotFoundError(f"{role} {path} does not exist")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output folder {out_dir} is a file; pass a folder with --out")
    voxel_size, _ = _voxel_size(segmentation_path, tomogram_path, voxel_size_ang)
    named = stem
    stem = stem or volume_stem(tomogram_path)
    existing = _existing_outputs(out_dir, stem)
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds surfaces of {stem} ({existing[0].name}); pass --overwrite to replace them"
        )
    tomogram = read_volume(tomogram_path, voxel_size_ang=voxel_size)
    border = check_tomogram_values(tomogram.data_zyx, tomogram_path.name)
    density = tomogram.data_zyx if border is None else border.filled(tomogram.data_zyx)
    if border is not None and notes is not None:
        notes(border.note(tomogram_path.name, "density profiles read that value there"))
    labels = read_mrc(segmentation_path, voxel_size_ang=voxel_size)
    surfaces = membrane_surfaces(
        _binary_if_one_value(labels.data_zyx, segmentation_path.name, notes),
        density,
        voxel_size,
        origin_xyz_ang=tomogram.origin_xyz_ang,
        min_voxels=min_voxels,
        spacing_ang=spacing_ang,
        smoothing_sigma_vox=smoothing_sigma_vox,
        offsets_ang=offsets_ang,
        feature_lowpass_ang=feature_lowpass_ang,
        tomogram_path=str(tomogram_path.resolve()),
        progress=progress,
    )
    written = [path for surface in surfaces for path in surface_output_paths(out_dir, stem, surface.membrane_id)]
    with created_folders(out_dir), atomic_file_set(written, overwrite=overwrite, stale=existing) as tmp_paths:
        for done, surface in enumerate(surfaces):
            surface = dataclasses.replace(
                surface, attrs={**surface.attrs, "segmentation_path": str(segmentation_path.resolve())}, tomo_name=named
            )
            write_membrane_h5(tmp_paths[2 * done], surface)
            write_mesh(tmp_paths[2 * done + 1], Mesh(surface.vertices_xyz_ang, surface.faces, surface.normals_xyz))
            if progress is not None:
                progress("writing surfaces", (done + 1) / len(surfaces))
    return written
