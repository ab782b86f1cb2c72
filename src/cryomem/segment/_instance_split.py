"""Membrane instances that separate touching membranes: cut at thick junctions, then watershed.

Connected components join membranes that touch (kissing vesicles, a vesicle pressed against the plasma
membrane). Where two membranes are pressed together, the segmentation is thicker than one: the distance
to the background there exceeds ``junction_factor`` x the typical half-thickness (the median distance
on the segmentation's medial voxels). Removing those junctions (dilated by the junction's own
half-thickness) and, for membranes at least 3 voxels thick, eroding one voxel (which breaks the thin
necks where membranes just touch) leaves one connected marker per membrane; a watershed on the
distance to the background then gives every membrane voxel, junctions included, to the nearest
marker. A single membrane has no thick junction, so it stays whole; a thick spot inside it (a protein
density) leaves a hole in its marker, not a cut. Membranes that overlap by more than half their
thickness in the segmentation are not told apart.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cryomem.segment._instances import connected_instances

__all__ = ["split_instances"]

_ERODE_ABOVE_HALF_THICKNESS = 1.5  # voxels


def split_instances(seg_zyx: np.ndarray, min_voxels: int, *, junction_factor: float = 1.5) -> np.ndarray:
    """Instance map of a segmentation with touching membranes split apart.

    Parameters
    ----------
    seg_zyx : (nz, ny, nx) array
        Segmentation; non-zero voxels are membrane.
    min_voxels : int
        Smallest instance kept, voxels (as :func:`connected_instances`).
    junction_factor : float, default 1.5
        A voxel farther than ``junction_factor`` x the typical half-thickness from the background lies
        in a junction of two membranes.

    Returns
    -------
    (nz, ny, nx) uint16 or uint32 array
        0 background, 1 = largest instance.
    """
    mask = np.asarray(seg_zyx) != 0
    if mask.ndim != 3:
        raise ValueError(f"seg_zyx must be a 3D (z, y, x) array, got shape {mask.shape}")
    if not junction_factor > 1.0:
        raise ValueError(
            f"junction_factor must be > 1 (a junction is thicker than one membrane), got {junction_factor}"
        )
    if not mask.any():
        return connected_instances(mask, min_voxels)
    distance = ndimage.distance_transform_edt(mask)
    half_thickness = _typical_half_thickness(distance)
    junction = distance > junction_factor * half_thickness
    if junction.any():
        reach = int(np.ceil(junction_factor * half_thickness))
        junction = ndimage.binary_dilation(junction, structure=_ball(reach))
    core = mask & ~junction
    if half_thickness >= _ERODE_ABOVE_HALF_THICKNESS:  # membranes >= 3 voxels thick survive; 1-2 voxel necks do not
        core = ndimage.binary_erosion(core, structure=ndimage.generate_binary_structure(3, 1))
    markers = connected_instances(core, max(1, min_voxels // 8)).astype(np.int64)
    from skimage.segmentation import watershed

    regions = watershed(-distance, markers, mask=mask, connectivity=3) if markers.max() else np.zeros_like(markers)
    unreached = mask & (regions == 0)  # pieces without a marker (all junction) keep their own component
    if unreached.any():
        extra = connected_instances(unreached, 1).astype(np.int64)
        regions[extra > 0] = extra[extra > 0] + regions.max()
    return _numbered_by_size(regions, min_voxels)


def _typical_half_thickness(distance: np.ndarray) -> float:
    """Median distance to the background on the medial voxels (local maxima of the distance)."""
    medial = (distance > 0) & (distance >= ndimage.maximum_filter(distance, size=3))
    return float(np.median(distance[medial]))


def _ball(radius: int) -> np.ndarray:
    z, y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1, -radius : radius + 1]
    return z * z + y * y + x * x <= radius * radius


def _numbered_by_size(regions: np.ndarray, min_voxels: int) -> np.ndarray:
    sizes = np.bincount(regions.reshape(-1))
    sizes[0] = 0
    order = [int(i) for i in np.argsort(-sizes, kind="stable") if sizes[i] >= max(1, min_voxels)]
    lut = np.zeros(len(sizes), dtype=np.uint32)
    lut[order] = np.arange(1, len(order) + 1)
    labels = lut[regions]
    return labels.astype(np.uint16) if len(order) <= np.iinfo(np.uint16).max else labels
