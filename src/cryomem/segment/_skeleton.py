"""One-voxel-thick membrane mid-surfaces from binary segmentations (MemBrain v2, "Skeletonization").

Steps, after TomoSegMemTV as described in the paper:

1. Euclidean distance transform (DT) of the segmentation, capped at ``max_thickness_px / 2``.
2. Gaussian smoothing of the DT (``sigma_px``); its gradient and Hessian at each segmented voxel
   by central differences.
3. The eigenvector of the Hessian eigenvalue of largest magnitude is the local membrane normal
   ``n``. A voxel is a candidate only if it looks like a sheet ridge there: that eigenvalue is
   negative and at least twice the next one in magnitude, and the DT gradient across ``n`` is
   below 0.5 (these two tests reject the creases that a digitised surface leaves in the DT and
   the tangential "maxima" on the flanks of curved membranes).
4. Non-maximum suppression of the smoothed DT along ``n``: a candidate is kept when it is a
   maximum of the DT sampled (trilinear) at ``p - n`` and ``p + n``.

The volume is processed in z slabs with a halo, so memory stays bounded and the result is
identical (bit for bit) to processing the whole volume at once.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from cryomem.io import validate_voxel_size_ang

__all__ = ["skeletonize_membranes"]

_GAUSS_TRUNCATE = 4.0
_TIE_TOLERANCE = 1e-4
_EIGEN_BATCH = 1 << 20
_SHEET_RATIO = 2.0
_MAX_GRADIENT_ACROSS = 0.5


_NOT_A_SEGMENTATION = "pass a membrane segmentation (0 background, > 0 membrane) such as <stem>_seg.mrc"


def _as_mask(segmentation_zyx: ArrayLike) -> NDArray[np.bool_]:
    """Membrane voxels of a segmentation; a tomogram, probabilities or NaN are refused.

    A mask stored as one negative value (0/255 bytes read as signed -1) is a mask like any other.
    """
    array = np.asarray(segmentation_zyx)
    if array.ndim != 3:
        raise ValueError(f"segmentation_zyx must be a 3D (z, y, x) array, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "biuf":
        raise ValueError(f"segmentation_zyx must be bool or numeric, got dtype {array.dtype}")
    if array.dtype.kind == "f":
        bad = np.count_nonzero(~np.isfinite(array))
        if bad:
            raise ValueError(f"the segmentation holds {bad} NaN or infinite voxels; {_NOT_A_SEGMENTATION}")
        if not np.array_equal(array, np.round(array)):
            raise ValueError(
                "the segmentation holds non-integer values (a tomogram or membrane probabilities?); "
                f"{_NOT_A_SEGMENTATION}"
            )
    mask = array != 0
    if array.size and array.min() < 0:
        labels = array[mask]
        if labels.min() != labels.max():
            raise ValueError(
                f"the segmentation holds negative values (from {labels.min():g} to {labels.max():g}), like a "
                f"tomogram; {_NOT_A_SEGMENTATION}"
            )
    return mask


def _halo(cap: float, sigma_px: float) -> int:
    """Slab overlap that makes each slab's core exactly equal to the whole-volume computation.

    The capped DT of a voxel at least ``ceil(cap)`` from the slab's cut is exact; the Gaussian
    filters then need ``int(4 sigma + 0.5)`` more voxels and the NMS samples up to 2 voxels away.
    """
    return int(math.ceil(cap)) + int(_GAUSS_TRUNCATE * sigma_px + 0.5) + 2


def _distance(mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Euclidean distance of each foreground voxel to the nearest background voxel (float32).

    Uses the ``edt`` package when installed (about 8x faster, half the memory), else scipy.
    The array border does not count as background in either.
    """
    try:
        import edt
    except ImportError:
        return ndimage.distance_transform_edt(mask).astype(np.float32)
    return np.asarray(edt.edt(mask, black_border=False, parallel=1), dtype=np.float32)


def _gather(volume: NDArray[np.float32], points: tuple[NDArray[np.intp], ...], step: tuple[int, int, int]):
    """``volume`` at integer ``points + step``, indices clamped to the array."""
    index = tuple(np.clip(points[axis] + step[axis], 0, volume.shape[axis] - 1) for axis in range(3))
    return volume[index].astype(np.float64)


def _derivatives(
    smoothed: NDArray[np.float32], points: tuple[NDArray[np.intp], ...]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gradient (n, 3) and Hessian (n, 3, 3) of ``smoothed`` at ``points`` by central differences."""
    n = len(points[0])
    centre = _gather(smoothed, points, (0, 0, 0))
    gradient = np.empty((n, 3), dtype=np.float64)
    hessian = np.empty((n, 3, 3), dtype=np.float64)
    unit = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    for a in range(3):
        forward = _gather(smoothed, points, unit[a])
        backward = _gather(smoothed, points, tuple(-v for v in unit[a]))
        gradient[:, a] = 0.5 * (forward - backward)
        hessian[:, a, a] = forward - 2.0 * centre + backward
        for b in range(a + 1, 3):

            def corner(sa: int, sb: int, a: int = a, b: int = b) -> NDArray[np.float64]:
                step = [0, 0, 0]
                step[a], step[b] = sa, sb
                return _gather(smoothed, points, tuple(step))

            mixed = 0.25 * (corner(1, 1) - corner(1, -1) - corner(-1, 1) + corner(-1, -1))
            hessian[:, a, b] = mixed
            hessian[:, b, a] = mixed
    return gradient, hessian


def _slab_maxima(mask: NDArray[np.bool_], core: slice, cap: float, sigma_px: float) -> NDArray[np.bool_]:
    """Mid-surface voxels of ``mask`` (a slab with halo) in its z range ``core``."""
    distance = _distance(mask)
    np.minimum(distance, np.float32(cap), out=distance)
    smoothed = ndimage.gaussian_filter(distance, sigma_px, output=np.float32, truncate=_GAUSS_TRUNCATE)
    del distance

    inside = np.zeros_like(mask)
    inside[core] = mask[core]
    points = np.nonzero(inside)
    del inside
    gradient, hessian = _derivatives(smoothed, points)
    normals, sheet = _normals(hessian)
    del hessian
    along = np.einsum("ij,ij->i", gradient, normals)
    across = np.sqrt(np.maximum(np.einsum("ij,ij->i", gradient, gradient) - along**2, 0.0))
    sheet &= across <= _MAX_GRADIENT_ACROSS
    centre = _gather(smoothed, points, (0, 0, 0))
    plus = _sample_trilinear(smoothed, points, normals)
    minus = _sample_trilinear(smoothed, points, -normals)
    # keep a ridge voxel; on a two-voxel plateau keep only the one on the -n side (n has a fixed sign)
    keep = sheet & (centre - plus >= -_TIE_TOLERANCE) & (centre - minus > _TIE_TOLERANCE)
    result = np.zeros(mask[core].shape, dtype=np.bool_)
    result[points[0][keep] - core.start, points[1][keep], points[2][keep]] = True
    return result


def _normals(hessian: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Normals and sheet test from the Hessians (n, 3, 3).

    Returns the unit eigenvector of the largest-|eigenvalue| (sign fixed so its largest component
    is positive) and whether the voxel looks like a sheet ridge: that eigenvalue is negative and at
    least ``_SHEET_RATIO`` times the next largest in magnitude.

    Eigenvalues in closed form (the trigonometric solution of the characteristic cubic of a
    symmetric 3x3 matrix) and the eigenvector as the longest cross product of two rows of
    ``H - lambda I``: ten times faster than a LAPACK call per matrix, and as exact where the
    eigenvalue is well separated -- which the sheet test demands wherever the normal is used.
    """
    normals = np.empty((len(hessian), 3), dtype=np.float64)
    sheet = np.empty(len(hessian), dtype=np.bool_)
    for start in range(0, len(hessian), _EIGEN_BATCH):
        block = hessian[start : start + _EIGEN_BATCH]
        stop = start + len(block)
        values = _symmetric_eigenvalues(block)  # ascending
        low, middle, high = values[:, 0], values[:, 1], values[:, 2]
        negative_wins = np.abs(low) >= np.abs(high)
        largest = np.where(negative_wins, low, high)
        second = np.where(
            negative_wins, np.maximum(np.abs(middle), np.abs(high)), np.maximum(np.abs(middle), np.abs(low))
        )
        sheet[start:stop] = (largest < 0) & (np.abs(largest) >= _SHEET_RATIO * second)
        normals[start:stop] = _eigenvector(block, largest)
    dominant = np.argmax(np.abs(normals), axis=1)
    sign = np.where(np.take_along_axis(normals, dominant[:, None], axis=1)[:, 0] < 0, -1.0, 1.0)
    return normals * sign[:, None], sheet


def _symmetric_eigenvalues(matrices: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ascending eigenvalues (n, 3) of symmetric 3x3 matrices, in closed form."""
    a = matrices
    off = a[:, 0, 1] ** 2 + a[:, 0, 2] ** 2 + a[:, 1, 2] ** 2
    q = np.trace(a, axis1=1, axis2=2) / 3.0
    d = [a[:, i, i] - q for i in range(3)]
    p = np.sqrt((d[0] ** 2 + d[1] ** 2 + d[2] ** 2 + 2.0 * off) / 6.0)
    safe = np.where(p > 0, p, 1.0)
    b00, b11, b22 = (x / safe for x in d)
    b01, b02, b12 = a[:, 0, 1] / safe, a[:, 0, 2] / safe, a[:, 1, 2] / safe
    half_det = 0.5 * (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02))
    phi = np.arccos(np.clip(half_det, -1.0, 1.0)) / 3.0
    high = q + 2.0 * p * np.cos(phi)
    low = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    middle = 3.0 * q - high - low
    return np.stack([low, middle, high], axis=1)


def _eigenvector(matrices: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit eigenvectors (n, 3) of symmetric 3x3 matrices for the given (simple) eigenvalues."""
    a = matrices
    x00, x11, x22 = a[:, 0, 0] - values, a[:, 1, 1] - values, a[:, 2, 2] - values
    x01, x02, x12 = a[:, 0, 1], a[:, 0, 2], a[:, 1, 2]
    # rows r0 = (x00, x01, x02), r1 = (x01, x11, x12), r2 = (x02, x12, x22); candidates r0xr1, r0xr2, r1xr2
    crosses = np.stack(
        [
            np.stack([x01 * x12 - x02 * x11, x02 * x01 - x00 * x12, x00 * x11 - x01 * x01], axis=1),
            np.stack([x01 * x22 - x02 * x12, x02 * x02 - x00 * x22, x00 * x12 - x01 * x02], axis=1),
            np.stack([x11 * x22 - x12 * x12, x12 * x02 - x01 * x22, x01 * x12 - x11 * x02], axis=1),
        ],
        axis=1,
    )
    lengths = np.einsum("nkj,nkj->nk", crosses, crosses)
    best = np.argmax(lengths, axis=1)
    rows = np.arange(len(best))
    vector, norm = crosses[rows, best], np.sqrt(lengths[rows, best])
    unit = np.zeros_like(vector)
    unit[:, 0] = 1.0  # a multiple of the identity: every direction is an eigenvector
    good = norm > 0
    unit[good] = vector[good] / norm[good, None]
    return unit


def _sample_trilinear(
    volume: NDArray[np.float32], points: tuple[NDArray[np.intp], ...], offsets: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``volume`` at integer ``points`` + real ``offsets`` (n, 3), trilinear, edges clamped.

    The weights depend on the offsets only (not on the absolute position), so slab-local and
    whole-volume coordinates give identical values.
    """
    floor = np.floor(offsets)
    frac = offsets - floor
    base = [points[axis] + floor[:, axis].astype(np.intp) for axis in range(3)]
    result = np.zeros(len(offsets), dtype=np.float64)
    for corner in range(8):
        bits = [(corner >> (2 - axis)) & 1 for axis in range(3)]
        weight = np.ones(len(offsets), dtype=np.float64)
        index = []
        for axis, bit in enumerate(bits):
            weight *= frac[:, axis] if bit else 1.0 - frac[:, axis]
            index.append(np.clip(base[axis] + bit, 0, volume.shape[axis] - 1))
        result += weight * volume[tuple(index)]
    return result


def skeletonize_membranes(
    segmentation_zyx: ArrayLike,
    *,
    voxel_size_ang: float | None = None,
    sigma_px: float = 1.0,
    sigma_ang: float | None = None,
    max_thickness_px: float = 20.0,
    chunk_z: int | None = 32,
) -> NDArray[np.uint8]:
    """Reduce a membrane segmentation to its one-voxel-thick mid-surface.

    Parameters
    ----------
    segmentation_zyx : (nz, ny, nx) bool or integer array
        Membrane mask; any non-zero value is membrane (pass ``labels == 1`` for 0/1/2 labels).
        Floats must hold whole numbers; NaN, fractions (a tomogram, probabilities) and negative
        values other than one single mask value are refused with ``ValueError``.
    voxel_size_ang : float, optional
        Voxel size, Å; only needed to convert ``sigma_ang``.
    sigma_px : float, default 1.0
        Gaussian smoothing of the distance map before the Hessian, voxels.
    sigma_ang : float, optional
        The same in Å (overrides ``sigma_px``; needs ``voxel_size_ang``).
    max_thickness_px : float, default 20
        Thickest membrane thinned exactly: the distance map is capped at half of it, which also
        sets the slab overlap. Parts thicker than this keep a sheet at the cap depth instead of a
        mid-surface.
    chunk_z : int or None, default 32
        z slices per slab; None processes the volume in one piece. The result does not depend on it.

    Returns
    -------
    (nz, ny, nx) uint8 array
        1 on the mid-surface, 0 elsewhere; always a subset of the segmentation.

    Notes
    -----
    Non-maximum suppression compares the smoothed DT at ``p`` with trilinear samples at
    ``p +- n`` (the paper's ``DT(p) >= DT(p + d n)`` for ``d`` in [-1, 1], checked at the ends).
    Ties within 1e-4 are broken on one side (the sign of ``n`` is fixed so its largest component
    is positive), so an even-thickness membrane, whose centre is a two-voxel plateau, still gives
    one voxel.

    Near open membrane edges the sheet stops about half a membrane thickness short of the rim
    (the DT falls along the sheet there, which the ridge test rejects); on the outermost voxel
    layer of the volume a membrane cut obliquely by the border can leave a few extra voxels.

    Memory: each slab is cropped to its membrane bounding box plus a halo of
    ``ceil(max_thickness_px / 2) + int(4 sigma_px + 0.5) + 2`` voxels (16 with the defaults) on
    every side, so a slab holds at most ``(chunk_z + 32) * ny * nx`` voxels. Per slab voxel: the
    distance map costs 4 bytes with the ``edt`` package, ~20 bytes with scipy's fallback (int32
    feature transform + float64 distances), then 4 bytes for the smoothed map; per segmented
    voxel of the slab ~250 bytes (indices, gradient, Hessian, normals). Measured on 200 x 512 x 512
    with 5 % membrane and the defaults: peak ~0.33 GB with ``edt`` and ~0.75 GB with scipy
    (about 1.5 and 3.5 float32 copies of the volume), input and output (1 byte per voxel each)
    included; 10 s and 20 s on 2 CPU cores.
    """
    mask = _as_mask(segmentation_zyx)
    if not (isinstance(sigma_px, int | float) and math.isfinite(sigma_px) and sigma_px > 0):
        raise ValueError(f"sigma_px must be a positive number of voxels, got {sigma_px!r}")
    if sigma_ang is not None:
        if voxel_size_ang is None:
            raise ValueError("sigma_ang needs voxel_size_ang to convert Å to voxels; pass it, or give sigma_px")
        size = validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
        if not (math.isfinite(sigma_ang) and sigma_ang > 0):
            raise ValueError(f"sigma_ang must be a positive number of Å, got {sigma_ang!r}")
        sigma_px = sigma_ang / size
    elif voxel_size_ang is not None:
        validate_voxel_size_ang(voxel_size_ang, "voxel_size_ang", explicit=True)
    if not (math.isfinite(max_thickness_px) and max_thickness_px >= 1):
        raise ValueError(f"max_thickness_px must be >= 1 voxel, got {max_thickness_px!r}")
    if chunk_z is not None and (isinstance(chunk_z, bool) or not isinstance(chunk_z, int) or chunk_z < 1):
        raise ValueError(f"chunk_z must be a positive int or None, got {chunk_z!r}")

    nz, ny, nx = mask.shape
    cap = max_thickness_px / 2.0
    halo = _halo(cap, sigma_px)
    step = nz if chunk_z is None else chunk_z
    skeleton = np.zeros(mask.shape, dtype=np.uint8)
    for z0 in range(0, nz, step):
        z1 = min(z0 + step, nz)
        rows = np.flatnonzero(mask[z0:z1].any(axis=(0, 2)))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mask[z0:z1].any(axis=(0, 1)))
        # crop to the slab's membrane bounding box plus the halo on every side (exact: see _halo)
        lo_z, hi_z = max(z0 - halo, 0), min(z1 + halo, nz)
        lo_y, hi_y = max(int(rows[0]) - halo, 0), min(int(rows[-1]) + 1 + halo, ny)
        lo_x, hi_x = max(int(cols[0]) - halo, 0), min(int(cols[-1]) + 1 + halo, nx)
        slab = np.ascontiguousarray(mask[lo_z:hi_z, lo_y:hi_y, lo_x:hi_x])
        core = slice(z0 - lo_z, z1 - lo_z)
        skeleton[z0:z1, lo_y:hi_y, lo_x:hi_x] = _slab_maxima(slab, core, cap, sigma_px)
    return skeleton
