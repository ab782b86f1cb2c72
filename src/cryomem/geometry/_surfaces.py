"""The ``cryomem surface`` stage in memory: one mesh with density profiles per segmented membrane."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from cryomem.geometry._mesh_from_mask import DEFAULT_SPACING_VOXELS, mesh_from_mask
from cryomem.geometry._sampling import (
    DEFAULT_FEATURE_OFFSETS_ANG,
    FEATURE_LOWPASS_ATTR,
    sample_along_normals,
)
from cryomem.geometry._surface_settings import DEFAULT_MIN_VOXELS, SurfaceSettings
from cryomem.io import FractionProgress, MembraneSurface, zyx_index_to_xyz_ang

__all__ = ["membrane_instances", "membrane_surfaces"]

_DEFAULT = SurfaceSettings()  # the owner of the defaults below

"""Smallest membrane (voxels) that gets a surface; the same default as ``cryomem segment --instances``."""

_REMAP_SLAB = 16  # z slices renumbered at a time


def membrane_instances(labels_zyx: np.ndarray, *, min_voxels: int = DEFAULT_MIN_VOXELS) -> tuple[np.ndarray, dict]:
    """Instance labels of a segmentation and the bounding box of every membrane large enough.

    Parameters
    ----------
    labels_zyx : (nz, ny, nx) integer or bool array
        A binary segmentation (0/1), split into 26-connected components numbered 1, 2, ... in scan
        order of the kept ones; or an instance map (labels > 1 present), whose labels are kept.
    min_voxels : int
        Membranes with fewer voxels are ignored.

    Returns
    -------
    instances : (nz, ny, nx) integer array
        Instance label of every voxel (0 background).
    boxes : dict of int to tuple of slices
        ``membrane_id -> (z, y, x) slices`` of its bounding box, for every kept membrane, ascending.
    """
    import cc3d

    labels = np.asarray(labels_zyx)
    if labels.ndim != 3:
        raise ValueError(f"the segmentation must be 3-D (z, y, x), got shape {labels.shape}")
    if labels.dtype.kind == "f":
        if not np.array_equal(labels, np.round(labels)):
            raise ValueError(
                "the segmentation holds non-integer values (membrane probabilities?); pass the binary "
                "<stem>_seg.mrc or the <stem>_instances.mrc from cryomem segment"
            )
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "biu":
        raise ValueError(f"the segmentation must hold integer labels, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"the segmentation holds negative labels ({labels.min()}); use 0 for background")
    if int(min_voxels) != min_voxels or min_voxels < 1:
        raise ValueError(f"min_voxels must be a positive integer, got {min_voxels}")
    if labels.size == 0 or labels.max() <= 1:  # binary: one membrane per 26-connected component
        instances = _components(labels)
        stats = cc3d.statistics(instances)
        sizes = np.asarray(stats["voxel_counts"])
        kept = np.flatnonzero(sizes >= min_voxels)
        kept = kept[kept > 0]
        remap = np.zeros(len(sizes), dtype=instances.dtype)
        remap[kept] = np.arange(1, len(kept) + 1)
        for start in range(0, len(instances), _REMAP_SLAB):  # renumber in place, slab by slab
            instances[start : start + _REMAP_SLAB] = remap[instances[start : start + _REMAP_SLAB]]
        return instances, {new: stats["bounding_boxes"][old] for new, old in enumerate(kept, start=1)}
    stats = cc3d.statistics(labels)
    sizes = np.asarray(stats["voxel_counts"])
    ids = np.flatnonzero(sizes >= min_voxels)
    return labels, {int(i): stats["bounding_boxes"][i] for i in ids if i > 0}


def membrane_surfaces(
    labels_zyx: np.ndarray,
    tomogram_zyx: np.ndarray,
    voxel_size_ang: float,
    *,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    min_voxels: int = DEFAULT_MIN_VOXELS,
    spacing_ang: float | None = _DEFAULT.spacing_ang,
    smoothing_sigma_vox: float = _DEFAULT.smoothing_sigma_vox,
    offsets_ang: ArrayLike = DEFAULT_FEATURE_OFFSETS_ANG,
    feature_lowpass_ang: float = _DEFAULT.feature_lowpass_ang,
    tomogram_path: str | None = None,
    progress: FractionProgress | None = None,
) -> list[MembraneSurface]:
    """Mesh every membrane of a segmentation and sample the tomogram along its normals.

    Parameters
    ----------
    labels_zyx : (nz, ny, nx) integer or bool array
        Binary segmentation or instance map (see :func:`membrane_instances`).
    tomogram_zyx : (nz, ny, nx) array
        Densities, same grid as ``labels_zyx``; sampled as they are (no normalisation).
    voxel_size_ang : float
        Voxel size, Å.
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel ``(0, 0, 0)``, Å.
    min_voxels, spacing_ang, smoothing_sigma_vox, feature_lowpass_ang
        Defaults and ranges: :class:`SurfaceSettings`.
    min_voxels : int
        Smallest membrane meshed, voxels.
    spacing_ang : float, optional
        Target vertex spacing, Å (None: 1.5 voxels, see :func:`mesh_from_mask`).
    smoothing_sigma_vox : float
        Gaussian smoothing of each membrane mask before marching cubes, voxels.
    offsets_ang : (k,) float array, default DEFAULT_FEATURE_OFFSETS_ANG
        Sample positions along the outward normal, Å.
    feature_lowpass_ang : float, default :data:`DEFAULT_FEATURE_LOWPASS_ANG`
        Gaussian low-pass (sigma, Å) of the tomogram before sampling; 0 samples the raw densities.
        Stored in each surface's attrs; a picking model only accepts surfaces built like its own.
    tomogram_path : str, optional
        Stored in each surface.
    progress : callable(stage, fraction), optional
        Progress reports.

    Returns
    -------
    list of MembraneSurface
        One per membrane with at least ``min_voxels`` voxels, by ascending ``membrane_id`` (the
        instance label); features ``(n, k)`` float32 (trilinear, 0 outside the volume) with
        ``feature_offsets_ang``. Membranes too thin to survive smoothing get no surface.

    Raises
    ------
    ValueError
        If the shapes differ or no membrane has ``min_voxels`` voxels.
    """
    labels = np.asarray(labels_zyx)
    tomogram = np.asarray(tomogram_zyx)
    if labels.shape != tomogram.shape:
        raise ValueError(
            f"segmentation shape {labels.shape} (z, y, x) differs from tomogram shape {tomogram.shape}; "
            "pass the segmentation made from this tomogram"
        )
    offsets = np.asarray(offsets_ang, dtype=np.float64).ravel()
    if not np.isfinite(feature_lowpass_ang) or feature_lowpass_ang < 0:
        raise ValueError(f"feature low-pass sigma must be >= 0 Å, got {feature_lowpass_ang}; use 0 for none")
    report = progress or (lambda stage, fraction: None)
    report("finding membranes", 0.0)
    instances, boxes = membrane_instances(labels, min_voxels=min_voxels)
    if not boxes:
        largest = _largest_component(labels)
        raise ValueError(
            f"the segmentation has no membrane of at least {min_voxels} voxels (largest: {largest}); "
            "check the segmentation or lower --min-voxels"
        )
    report("finding membranes", 1.0)
    origin = np.asarray(origin_xyz_ang, dtype=np.float64)
    surfaces: list[MembraneSurface] = []
    for done, (membrane_id, box) in enumerate(boxes.items()):
        mask = instances[box] == membrane_id
        corner = np.array([[s.start for s in box]], dtype=np.float64)
        box_origin = zyx_index_to_xyz_ang(corner, voxel_size_ang, origin)[0]
        mesh = mesh_from_mask(
            mask, voxel_size_ang, origin_xyz_ang=box_origin, spacing_ang=spacing_ang,
            smoothing_sigma_vox=smoothing_sigma_vox,
        )  # fmt: skip
        if len(mesh.faces):
            features = sample_along_normals(
                tomogram,
                voxel_size_ang,
                mesh.vertices_xyz_ang,
                mesh.normals_xyz,
                offsets,
                origin_xyz_ang=origin,
                lowpass_sigma_ang=feature_lowpass_ang,
            )
            surfaces.append(
                MembraneSurface(
                    mesh.vertices_xyz_ang,
                    mesh.faces,
                    mesh.normals_xyz,
                    membrane_id,
                    voxel_size_ang,
                    origin_xyz_ang=tuple(origin),
                    tomogram_path=tomogram_path,
                    features=features,
                    feature_offsets_ang=offsets,
                    attrs={
                        "mask_voxels": int(mask.sum()),
                        "smoothing_sigma_vox": float(smoothing_sigma_vox),
                        "spacing_ang": float(spacing_ang or DEFAULT_SPACING_VOXELS * voxel_size_ang),
                        FEATURE_LOWPASS_ATTR: float(feature_lowpass_ang),
                    },
                )  # fmt: skip
            )
        report("meshing membranes", (done + 1) / len(boxes))
    if not surfaces:
        raise ValueError(
            f"none of the {len(boxes)} membranes survived meshing (too thin for smoothing sigma "
            f"{smoothing_sigma_vox} voxels); lower --smoothing"
        )
    return surfaces


def _components(binary: np.ndarray) -> np.ndarray:
    """26-connected components of a 0/1 volume (cc3d's label dtype, usually uint32)."""
    import cc3d

    return cc3d.connected_components(binary.astype(np.uint8, copy=False), connectivity=26)


def _largest_component(labels: np.ndarray) -> int:
    """Voxel count of the largest membrane (before the size filter), for error messages."""
    import cc3d

    if labels.size == 0 or not labels.any():
        return 0
    if labels.max() <= 1:
        labels = _components(labels)
    return int(np.asarray(cc3d.statistics(labels)["voxel_counts"])[1:].max())
