"""3D lasso: select the voxels inside a polygon extruded along the viewing direction.

MemBrain v2 ("Napari tools") cuts membranes out of a segmentation with a lasso drawn in the 3D view.
The polygon is projected onto the plane perpendicular to the view direction and extruded through the
whole volume (a prism of infinite depth); a voxel is selected iff its projected world position lies
inside the projected polygon.

World coordinates follow napari's layer transform: voxel index ``i = (iz, iy, ix)`` sits at
``translate_zyx + i * scale_zyx`` (Å, zyx order, no half-voxel shift).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from matplotlib.path import Path

__all__ = ["LASSO_MODES", "apply_lasso", "lasso_mask"]

LASSO_MODES = ("keep", "remove", "keep_instances", "remove_instances")

_CHUNK_VOXELS = 4 * 1024**2  # voxels projected at once: ~160 MB of temporaries
_AREA_RTOL = 1e-12


def lasso_mask(
    shape_zyx: Sequence[int],
    polygon_world_zyx: np.ndarray,
    view_direction_zyx: Sequence[float],
    *,
    scale_zyx: Sequence[float] | float = (1.0, 1.0, 1.0),
    translate_zyx: Sequence[float] = (0.0, 0.0, 0.0),
    chunk_voxels: int = _CHUNK_VOXELS,
) -> np.ndarray:
    """Voxels inside a polygon extruded along the viewing direction.

    Parameters
    ----------
    shape_zyx : (3,) ints
        Volume shape (nz, ny, nx).
    polygon_world_zyx : (n, 3) array, n >= 3
        Polygon vertices in world coordinates, Å, zyx; they may lie on any plane.
    view_direction_zyx : (3,) floats
        Viewing direction in world coordinates, zyx; need not be unit length.
    scale_zyx : (3,) floats or float, default (1, 1, 1)
        Voxel size per axis, Å (napari layer ``scale``).
    translate_zyx : (3,) floats, default (0, 0, 0)
        World position of voxel (0, 0, 0), Å (napari layer ``translate``).
    chunk_voxels : int, default 4 Mi
        Voxels projected per chunk (z-slabs, or row blocks of one slice when a slice is larger);
        bounds the temporary memory to about 40 bytes per chunk voxel.

    Returns
    -------
    (nz, ny, nx) bool array
        True for the selected voxels. Points exactly on an edge may go either way.

    Raises
    ------
    ValueError
        If an argument is malformed, or the polygon has no area seen along the view direction.
    """
    shape = _check_shape(shape_zyx)
    scale = _check_vector(scale_zyx, "scale_zyx", positive=True)
    translate = _check_vector(translate_zyx, "translate_zyx")
    direction = _check_direction(view_direction_zyx)
    if int(chunk_voxels) < 1:
        raise ValueError(f"chunk_voxels must be >= 1, got {chunk_voxels}; pass a positive voxel count")
    u_zyx, v_zyx = _plane_basis(direction)
    polygon_uv = _project_polygon(polygon_world_zyx, u_zyx, v_zyx)

    axis = _aligned_axis(direction)
    if axis is not None:  # the selection is the same in every slice along the view axis
        flat_shape = tuple(1 if a == axis else n for a, n in enumerate(shape))
        flat = _prism_mask(flat_shape, polygon_uv, u_zyx, v_zyx, scale, translate, int(chunk_voxels))
        return np.repeat(flat, shape[axis], axis=axis)
    return _prism_mask(shape, polygon_uv, u_zyx, v_zyx, scale, translate, int(chunk_voxels))


def apply_lasso(labels_zyx: np.ndarray, mask_zyx: np.ndarray, *, mode: str) -> np.ndarray:
    """Cut a label volume with a lasso mask; returns a new array, the input is not modified.

    Parameters
    ----------
    labels_zyx : (nz, ny, nx) integer or bool array
        Labels (membrane instance ids or a binary segmentation), 0 = background.
    mask_zyx : (nz, ny, nx) array
        Lasso selection (non-zero = selected), e.g. from :func:`lasso_mask`.
    mode : {"keep", "remove", "keep_instances", "remove_instances"}
        ``keep``: only the labelled voxels inside the mask stay; ``remove``: the voxels inside the
        mask become 0; ``keep_instances``: every whole instance with at least one voxel inside the
        mask stays, all others become 0; ``remove_instances``: every instance touching the mask
        is removed entirely.

    Returns
    -------
    (nz, ny, nx) array
        New labels, same dtype as ``labels_zyx``.
    """
    labels = np.asarray(labels_zyx)
    mask = np.asarray(mask_zyx)
    if mode not in LASSO_MODES:
        raise ValueError(f"mode must be one of {', '.join(LASSO_MODES)}, got {mode!r}; pick one of those")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"labels_zyx must be an integer or bool array, got dtype {labels.dtype}; cast the ids")
    if mask.shape != labels.shape:
        raise ValueError(
            f"mask_zyx shape {mask.shape} differs from labels_zyx shape {labels.shape}; "
            "build the mask for the labels' shape"
        )
    if mask.dtype != bool:
        mask = mask != 0
    out = labels.copy()
    if mode == "keep":
        out[~mask] = 0
    elif mode == "remove":
        out[mask] = 0
    else:
        touched = _ids_in_mask(labels, mask)
        in_touched = np.isin(labels, touched)
        out[~in_touched if mode == "keep_instances" else in_touched] = 0
    return out


def _ids_in_mask(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ids = np.unique(labels[mask])
    return ids[ids != 0]


def _prism_mask(
    shape: tuple[int, int, int],
    polygon_uv: np.ndarray,
    u_zyx: np.ndarray,
    v_zyx: np.ndarray,
    scale: np.ndarray,
    translate: np.ndarray,
    chunk_voxels: int,
) -> np.ndarray:
    path = Path(np.vstack([polygon_uv, polygon_uv[:1]]), closed=True)
    lo_uv = polygon_uv.min(axis=0)
    hi_uv = polygon_uv.max(axis=0)
    step_u = scale * u_zyx
    step_v = scale * v_zyx
    out = np.zeros(shape, dtype=bool)
    for z_slice, y_slice in _chunks(shape, chunk_voxels):
        pu = _axis_sum(translate @ u_zyx, step_u, z_slice, y_slice, shape[2])
        pv = _axis_sum(translate @ v_zyx, step_v, z_slice, y_slice, shape[2])
        candidate = (pu >= lo_uv[0]) & (pu <= hi_uv[0]) & (pv >= lo_uv[1]) & (pv <= hi_uv[1])
        if not candidate.any():
            continue
        points_uv = np.column_stack([pu[candidate], pv[candidate]])
        block = np.zeros(candidate.shape, dtype=bool)
        block[candidate] = path.contains_points(points_uv, radius=0.0)
        out[z_slice, y_slice] = block
    return out


def _axis_sum(offset: float, step_zyx: np.ndarray, z_slice: slice, y_slice: slice, nx: int) -> np.ndarray:
    iz = np.arange(z_slice.start, z_slice.stop, dtype=np.float64)[:, None, None]
    iy = np.arange(y_slice.start, y_slice.stop, dtype=np.float64)[None, :, None]
    ix = np.arange(nx, dtype=np.float64)[None, None, :]
    return (offset + iz * step_zyx[0]) + iy * step_zyx[1] + ix * step_zyx[2]


def _chunks(shape: tuple[int, int, int], chunk_voxels: int) -> Iterator[tuple[slice, slice]]:
    nz, ny, nx = shape
    plane = ny * nx
    if plane <= chunk_voxels:
        dz = chunk_voxels // plane
        for z0 in range(0, nz, dz):
            yield slice(z0, min(z0 + dz, nz)), slice(0, ny)
        return
    dy = max(1, chunk_voxels // nx)
    for z0 in range(nz):
        for y0 in range(0, ny, dy):
            yield slice(z0, z0 + 1), slice(y0, min(y0 + dy, ny))


def _plane_basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.zeros(3)
    helper[np.argmin(np.abs(direction))] = 1.0
    u = np.cross(direction, helper)
    u /= np.linalg.norm(u)
    v = np.cross(direction, u)
    return u, v / np.linalg.norm(v)


def _aligned_axis(direction: np.ndarray) -> int | None:
    nonzero = np.flatnonzero(direction != 0)
    return int(nonzero[0]) if nonzero.size == 1 else None


def _project_polygon(polygon_world_zyx: np.ndarray, u_zyx: np.ndarray, v_zyx: np.ndarray) -> np.ndarray:
    polygon = np.asarray(polygon_world_zyx, dtype=np.float64)
    if polygon.ndim != 2 or polygon.shape[1] != 3 or polygon.shape[0] < 3:
        raise ValueError(
            f"polygon_world_zyx must be an (n, 3) array with n >= 3, got shape {polygon.shape}; "
            "pass at least 3 vertices as (z, y, x) rows"
        )
    if not np.all(np.isfinite(polygon)):
        raise ValueError(f"polygon_world_zyx must be finite, got {polygon.tolist()}; drop NaN or infinite vertices")
    uv = np.column_stack([polygon @ u_zyx, polygon @ v_zyx])
    area = _shoelace_area(uv)
    extent = float(np.ptp(uv, axis=0).max())
    if not abs(area) > _AREA_RTOL * extent**2:
        raise ValueError(
            f"polygon_world_zyx has zero area seen along the view direction (area {area:g} Å², "
            f"vertices {polygon.tolist()}); draw a polygon that is not edge-on to the view"
        )
    return uv


def _shoelace_area(uv: np.ndarray) -> float:
    centred = uv - uv.mean(axis=0)
    u, v = centred[:, 0], centred[:, 1]
    return 0.5 * float(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1)))


def _check_shape(shape_zyx: Sequence[int]) -> tuple[int, int, int]:
    values = tuple(np.ravel(np.asarray(shape_zyx, dtype=object)))
    if len(values) != 3 or not all(_is_positive_int(n) for n in values):
        raise ValueError(
            f"shape_zyx must be 3 positive integers (nz, ny, nx), got {shape_zyx!r}; pass the volume's .shape"
        )
    return tuple(int(n) for n in values)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) > 0


def _check_vector(values: Sequence[float] | float, name: str, *, positive: bool = False) -> np.ndarray:
    try:
        vector = np.broadcast_to(np.asarray(values, dtype=np.float64), (3,)).copy()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers (z, y, x), got {values!r}; pass one value per axis") from None
    if not np.all(np.isfinite(vector)) or (positive and not np.all(vector > 0)):
        kind = "positive finite" if positive else "finite"
        raise ValueError(f"{name} must be {kind} numbers (z, y, x), got {values!r}; pass the layer's {name[:-4]}")
    return vector


def _check_direction(view_direction_zyx: Sequence[float]) -> np.ndarray:
    try:
        direction = np.asarray(view_direction_zyx, dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise ValueError(
            f"view_direction_zyx must be 3 numbers (z, y, x), got {view_direction_zyx!r}; "
            "pass the camera's view direction"
        ) from None
    norm = float(np.linalg.norm(direction)) if np.all(np.isfinite(direction)) else np.nan
    if not norm > 0:
        raise ValueError(
            f"view_direction_zyx must be finite and nonzero, got {view_direction_zyx!r}; "
            "pass the camera's view direction"
        )
    return direction / norm
