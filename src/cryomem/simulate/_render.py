"""Place a rotated, sub-voxel-shifted template into a volume (the phantom builder's kernel).

The rotation is given in physical ``(x, y, z)`` axes and maps the particle frame to the
tomogram frame (its columns are the particle's x, y, z axes in the tomogram). Positions are
voxel indices in ``(z, y, x)`` order; the template and the volume share the voxel size.
"""

from __future__ import annotations

import weakref

import numpy as np
from scipy import ndimage

from cryomem.simulate._templates import Template

__all__ = ["core_offsets_xyz", "render_units", "rotated_template_box"]

_REVERSE = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # xyz <-> zyx
_support_cache: weakref.WeakKeyDictionary[Template, tuple] = weakref.WeakKeyDictionary()
_core_cache: weakref.WeakKeyDictionary[Template, np.ndarray] = weakref.WeakKeyDictionary()
_MAX_CORE_POINTS = 64


def core_offsets_xyz(template: Template) -> np.ndarray:
    """Up to 64 voxel offsets (xyz, from the anchor) deep inside the template's mask, (k, 3).

    Every voxel of their 3x3x3 neighbourhood is above the threshold, so wherever a rotated copy
    of the template lands, the volume voxel nearest to a rotated core offset is inside the copy's
    mask (a trilinear sample within one voxel per axis of it). A cheap, exact pre-check for
    overlaps: if that voxel is taken, so is part of the mask.
    """
    cached = _core_cache.get(template)
    if cached is None:
        core = ndimage.binary_erosion(template.mask_zyx, np.ones((3, 3, 3), bool))
        idx = np.argwhere(core)
        if len(idx) > _MAX_CORE_POINTS:
            idx = idx[np.linspace(0, len(idx) - 1, _MAX_CORE_POINTS).astype(int)]
        cached = (idx - template.density_zyx.shape[0] // 2)[:, ::-1].astype(np.float64)
        _core_cache[template] = cached
    return cached


def _support(template: Template) -> tuple[np.ndarray, np.ndarray, float]:
    """Template-frame box (xyz voxels, centre and half size) and radius of the non-zero voxels.

    Both are grown by one voxel: a trilinear sample is non-zero only within one voxel (per axis)
    of a non-empty voxel.
    """
    cached = _support_cache.get(template)
    if cached is None:
        density = template.density_zyx
        c = density.shape[0] // 2
        idx = np.argwhere(density != 0)
        if idx.size == 0:
            idx = np.array([[c, c, c]])
        off_xyz = (idx - c)[:, ::-1].astype(np.float64)
        lo, hi = off_xyz.min(axis=0) - 1.0, off_xyz.max(axis=0) + 1.0
        radius = float(np.sqrt((off_xyz**2).sum(axis=1)).max()) + np.sqrt(3.0)
        cached = (0.5 * (lo + hi), 0.5 * (hi - lo), radius)
        _support_cache[template] = cached
    return cached


def rotated_template_box(
    template: Template,
    rotation_xyz: np.ndarray,
    center_zyx_vox: np.ndarray,
    volume_shape_zyx: tuple[int, int, int],
) -> tuple[tuple[slice, slice, slice], np.ndarray, np.ndarray] | None:
    """Rotate ``template``, centre its anchor at ``center_zyx_vox`` and cut it to the volume.

    Each voxel of the output box is mapped back into the template frame
    (``R.T @ (voxel - centre)``, in xyz) and sampled trilinearly, so sub-voxel centres are exact.

    Parameters
    ----------
    template : Template
        Template whose voxel size equals the volume's.
    rotation_xyz : (3, 3) float array
        Proper rotation, particle frame -> tomogram frame, in xyz axes (columns = particle axes).
    center_zyx_vox : (3,) float array
        Position of the template anchor, voxel indices (z, y, x); need not be integer.
    volume_shape_zyx : (3,) int tuple
        Shape of the target volume.

    Returns
    -------
    (slices, density, mask) or None
        ``slices`` index the volume (clipped to it); ``density`` (float32) and ``mask`` (bool,
        ``density > template.threshold``) have exactly that box's shape. ``None`` when the
        template lies entirely outside the volume.
    """
    rotation = np.asarray(rotation_xyz, dtype=np.float64)
    centre = np.asarray(center_zyx_vox, dtype=np.float64)
    if rotation.shape != (3, 3) or centre.shape != (3,):
        raise ValueError(
            f"rotation_xyz must be (3, 3) and center_zyx_vox (3,), got {rotation.shape} and {centre.shape}"
        )
    box_centre_xyz, box_half_xyz, radius = _support(template)
    # Axis-aligned bounds of the rotated support, intersected with its bounding sphere.
    rc = rotation @ box_centre_xyz
    rh = np.abs(rotation) @ box_half_xyz
    lower_xyz = np.maximum(rc - rh, -radius)
    upper_xyz = np.minimum(rc + rh, radius)
    lo = np.ceil(centre + lower_xyz[::-1] - 1e-9).astype(np.int64)
    hi = np.floor(centre + upper_xyz[::-1] + 1e-9).astype(np.int64)
    shape = np.asarray(volume_shape_zyx, dtype=np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, shape - 1)
    if np.any(hi < lo):
        return None
    out_shape = tuple(int(v) for v in (hi - lo + 1))
    # template index (zyx) = anchor + P R^T P (voxel - centre), P reversing xyz <-> zyx
    matrix = _REVERSE @ rotation.T @ _REVERSE
    anchor = template.density_zyx.shape[0] // 2
    offset = anchor + matrix @ (lo - centre)
    density = ndimage.affine_transform(
        template.density_zyx,
        matrix,
        offset=offset,
        output_shape=out_shape,
        output=np.float32,
        order=1,
        mode="constant",
        cval=0.0,
        prefilter=False,
    )
    slices = (
        slice(int(lo[0]), int(hi[0]) + 1),
        slice(int(lo[1]), int(hi[1]) + 1),
        slice(int(lo[2]), int(hi[2]) + 1),
    )
    return slices, density, density > template.threshold


def render_units(
    volume_zyx: np.ndarray,
    template: Template,
    rotations_xyz: np.ndarray,
    centers_zyx_vox: np.ndarray,
    *,
    labels_zyx: np.ndarray | None = None,
    label: int = 1,
) -> int:
    """Draw many poses of one template into ``volume_zyx`` in place (maximum, not sum).

    Overlapping copies (e.g. consecutive filament units) merge smoothly because the volume
    keeps the larger density at each voxel.

    Parameters
    ----------
    volume_zyx : (nz, ny, nx) float array
        Density volume, modified in place.
    template : Template
        Template at the volume's voxel size.
    rotations_xyz : (n, 3, 3) float array
        Particle -> tomogram rotations in xyz axes.
    centers_zyx_vox : (n, 3) float array
        Anchor positions, voxel indices (z, y, x).
    labels_zyx : (nz, ny, nx) integer or bool array, optional
        If given, voxels inside each copy's mask are set to ``label`` (in place).
    label : int
        Value written into ``labels_zyx``.

    Returns
    -------
    int
        Number of poses that touched the volume.
    """
    rotations = np.asarray(rotations_xyz, dtype=np.float64).reshape(-1, 3, 3)
    centres = np.asarray(centers_zyx_vox, dtype=np.float64).reshape(-1, 3)
    if len(rotations) != len(centres):
        raise ValueError(
            f"rotations_xyz and centers_zyx_vox must have the same length, got {len(rotations)} and {len(centres)}"
        )
    if labels_zyx is not None and labels_zyx.shape != volume_zyx.shape:
        raise ValueError(f"labels_zyx shape {labels_zyx.shape} differs from volume shape {volume_zyx.shape}")
    drawn = 0
    for rotation, centre in zip(rotations, centres):
        box = rotated_template_box(template, rotation, centre, volume_zyx.shape)
        if box is None:
            continue
        slices, density, mask = box
        region = volume_zyx[slices]
        np.maximum(region, density, out=region)
        if labels_zyx is not None:
            labels_zyx[slices][mask] = label
        drawn += 1
    return drawn
