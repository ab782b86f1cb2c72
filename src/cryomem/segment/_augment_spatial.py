"""Spatial training augmentations: arbitrary rotations, zoom, axis flips and axis permutations.

Every augmentation takes and returns an ``(image, label)`` pair of the same ``(z, y, x)`` shape:
``image`` float32, ``label`` uint8 with 0 background, 1 membrane, 2 ignore. The image is resampled
trilinearly, the label by nearest neighbour, so a label value is never invented. Voxels whose
content comes from outside the input patch (corners of a rotation, the border of a zoom-out)
become ``IGNORE`` in the label; the image there is filled by mirroring the patch, so the network
sees no artificial edge where the loss is not evaluated anyway.

Rotations and zooms act about the patch centre ``(shape - 1) / 2`` on voxel-index coordinates
``(z, y, x)``. MemBrain-seg (Lamm et al. 2025, Methods) uses "rotation at arbitrary angles,
zooming within a range of 0.7 to 1.4, and both shuffling and flipping of axes".
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

IGNORE = 2
"""Label value of voxels excluded from the loss (MemBrain-seg's convention)."""


def check_patch(image: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate an ``(image, label)`` pair and return it as float32 / uint8 arrays (no copy if possible).

    Raises
    ------
    ValueError
        If either array is not 3D or their shapes differ.
    """
    image = np.asarray(image, dtype=np.float32)
    label = np.asarray(label)
    if image.ndim != 3:
        raise ValueError(f"image must be a 3D (z, y, x) array, got shape {image.shape}")
    if label.shape != image.shape:
        raise ValueError(f"label shape {label.shape} must equal image shape {image.shape}")
    if label.dtype != np.uint8:
        label = label.astype(np.uint8)
    return image, label


def rotation_matrix_zyx(axis_zyx: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotation by ``angle_deg`` about the unit vector ``axis_zyx``, as a (3, 3) matrix acting on (z, y, x)."""
    axis = np.asarray(axis_zyx, dtype=np.float64)
    norm = np.linalg.norm(axis)
    if axis.shape != (3,) or norm == 0:
        raise ValueError(f"axis_zyx must be a non-zero 3-vector, got {axis_zyx!r}")
    axis = axis / norm
    angle = np.deg2rad(angle_deg)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * (cross @ cross)


def random_rotation_matrix(rng: np.random.Generator, max_angle_deg: float = 180.0) -> np.ndarray:
    """Random rotation: axis uniform on the sphere, angle uniform in ``[-max_angle_deg, max_angle_deg]``."""
    axis = rng.normal(size=3)
    while np.linalg.norm(axis) < 1e-8:  # pragma: no cover - probability zero
        axis = rng.normal(size=3)
    return rotation_matrix_zyx(axis, rng.uniform(-max_angle_deg, max_angle_deg))


def uniform_rotation_matrix(rng: np.random.Generator) -> np.ndarray:
    """Rotation drawn uniformly from SO(3) (normalised Gaussian quaternion), as a (3, 3) matrix on (z, y, x)."""
    q = rng.normal(size=4)
    w, a, b, c = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (b * b + c * c), 2 * (a * b - c * w), 2 * (a * c + b * w)],
            [2 * (a * b + c * w), 1 - 2 * (a * a + c * c), 2 * (b * c - a * w)],
            [2 * (a * c - b * w), 2 * (b * c + a * w), 1 - 2 * (a * a + b * b)],
        ]
    )


def _snap(values: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Snap entries within ``tol`` of an integer, so 90° rotations sample the grid exactly."""
    rounded = np.round(values)
    return np.where(np.abs(values - rounded) < tol, rounded, values)


def rotate_and_zoom(
    image: np.ndarray,
    label: np.ndarray,
    *,
    rotation_zyx: np.ndarray | None = None,
    zoom: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate then isotropically zoom a patch about its centre, in one resampling.

    Parameters
    ----------
    image, label : (z, y, x) arrays
        Patch; ``label`` holds 0/1/2.
    rotation_zyx : (3, 3) float array, optional
        Rotation applied to the content, acting on ``(z, y, x)`` voxel coordinates. Identity if None.
    zoom : float
        Magnification of the content: > 1 zooms in (the border is cropped away), < 1 zooms out
        (the border comes from outside the patch and is labelled ``IGNORE``).

    Returns
    -------
    image : float32 array, same shape, trilinear.
    label : uint8 array, same shape, nearest neighbour, ``IGNORE`` outside the input patch.
    """
    image, label = check_patch(image, label)
    if not zoom > 0:
        raise ValueError(f"zoom must be > 0, got {zoom}")
    rotation = np.eye(3) if rotation_zyx is None else np.asarray(rotation_zyx, dtype=np.float64)
    if rotation.shape != (3, 3):
        raise ValueError(f"rotation_zyx must be a (3, 3) matrix, got shape {rotation.shape}")
    # output[o] = input[inverse @ (o - c) + c]; the inverse of (zoom * R) is R.T / zoom
    centre = (np.asarray(image.shape, dtype=np.float64) - 1.0) / 2.0
    inverse = _snap(rotation.T / zoom)
    offset = _snap(centre - inverse @ centre)
    image_out = ndi.affine_transform(image, inverse, offset=offset, order=1, mode="reflect", output=np.float32)
    label_out = ndi.affine_transform(label, inverse, offset=offset, order=0, mode="constant", cval=IGNORE)
    return image_out, label_out


def random_rotation(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, max_angle_deg: float = 180.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate about a random axis by a random angle in ``[-max_angle_deg, max_angle_deg]`` (see `rotate_and_zoom`)."""
    return rotate_and_zoom(image, label, rotation_zyx=random_rotation_matrix(rng, max_angle_deg))


def random_zoom(
    image: np.ndarray,
    label: np.ndarray,
    rng: np.random.Generator,
    *,
    zoom_range: tuple[float, float] = (0.7, 1.4),
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic zoom by a factor uniform in ``zoom_range`` (paper: 0.7-1.4); same output shape."""
    low, high = zoom_range
    if not 0 < low <= high:
        raise ValueError(f"zoom_range must satisfy 0 < low <= high, got {zoom_range}")
    return rotate_and_zoom(image, label, zoom=rng.uniform(low, high))


def random_flip(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, *, p_per_axis: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Flip each axis independently with probability ``p_per_axis`` (exact, no interpolation)."""
    image, label = check_patch(image, label)
    axes = tuple(axis for axis in range(3) if rng.random() < p_per_axis)
    if not axes:
        return image.copy(), label.copy()
    return np.ascontiguousarray(np.flip(image, axes)), np.ascontiguousarray(np.flip(label, axes))


def random_axis_permutation(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the axes uniformly at random among axes of equal length (exact, shape preserved).

    A cubic patch gets one of the 6 permutations; a ``(z, n, n)`` patch may swap y and x only; a patch
    with three different lengths is returned unchanged. The shape therefore never changes.
    """
    image, label = check_patch(image, label)
    order = np.arange(3)
    for length in sorted(set(image.shape)):
        same = np.flatnonzero(np.asarray(image.shape) == length)
        if same.size > 1:
            order[same] = rng.permutation(same)
    if np.array_equal(order, np.arange(3)):
        return image.copy(), label.copy()
    axes = tuple(int(axis) for axis in order)
    return np.ascontiguousarray(image.transpose(axes)), np.ascontiguousarray(label.transpose(axes))
