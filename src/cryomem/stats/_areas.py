"""Exact areas of geodesic balls on a triangle mesh: triangles clipped by the interpolated distance.

The distance field is linear inside each triangle (interpolated from its corners, values
``a <= b <= c``), so the part of the triangle where ``d <= r`` is a similar triangle or a triangle
minus one, with area fraction

* 0 for ``r <= a``,
* ``(r - a)^2 / ((b - a)(c - a))`` for ``a < r <= b``,
* ``1 - (c - r)^2 / ((c - a)(c - b))`` for ``b < r < c``,
* 1 for ``r >= c``.

Counting vertices (MemBrain-stats' barycentric vertex areas) instead makes the area jump by whole
vertex areas and, at bin edges, puts area into the wrong bin.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sublevel_areas_ang2", "sublevel_fraction"]

_FAR_ANG = 1e15


def sublevel_fraction(corner_distances: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of each triangle where the linearly interpolated distance is ``<= radius``.

    Parameters
    ----------
    corner_distances : (..., 3) float array
        Distances at the three corners (any order).
    radius : (...) float array
        Threshold per triangle (broadcast against ``corner_distances[..., 0]``).

    Returns
    -------
    (...) float64 array
        Area fractions in [0, 1].
    """
    d = np.sort(np.asarray(corner_distances, dtype=np.float64), axis=-1)
    a, b, c = d[..., 0], d[..., 1], d[..., 2]
    r = np.broadcast_to(np.asarray(radius, dtype=np.float64), a.shape)
    out = np.where(r >= c, 1.0, 0.0)
    low = (r > a) & (r <= b) & (r < c)
    high = (r > b) & (r < c)
    den_low = np.where(low, (b - a) * (c - a), 1.0)
    den_high = np.where(high, (c - a) * (c - b), 1.0)
    out = np.where(low, (r - a) ** 2 / den_low, out)
    return np.where(high, 1.0 - (c - r) ** 2 / den_high, out)


def sublevel_areas_ang2(
    distances_ang: np.ndarray, faces: np.ndarray, face_areas_ang2: np.ndarray, radii_ang: np.ndarray
) -> np.ndarray:
    """Area of ``{d <= r}`` for every distance field and radius, with triangles clipped exactly.

    Parameters
    ----------
    distances_ang : (s, n) float array
        Distance fields on the vertices, Å (``inf`` where unreachable).
    faces : (m, 3) int array
        Triangles.
    face_areas_ang2 : (m,) float array
        Triangle areas, Å².
    radii_ang : (k,) float array
        Increasing radii, Å.

    Returns
    -------
    (s, k) float64 array
        Areas, Å².
    """
    distances = np.atleast_2d(np.asarray(distances_ang, dtype=np.float64))
    radii = np.asarray(radii_ang, dtype=np.float64)
    if radii.ndim != 1 or np.any(np.diff(radii) <= 0):
        raise ValueError("radii_ang must be a 1-D increasing array")
    s, k = len(distances), len(radii)
    out = np.empty((s, k))
    chunk = max(1, 4_000_000 // max(1, 3 * len(faces)))
    for start in range(0, s, chunk):
        out[start : start + chunk] = _areas_chunk(distances[start : start + chunk], faces, face_areas_ang2, radii)
    return out


def _first_radius_at_least(radii: np.ndarray, values: np.ndarray, step: float) -> np.ndarray:
    """Index of the first radius ``>= value`` (``len(radii)`` if none); arithmetic for radii ``step, 2 step, ...``."""
    if step:
        return np.clip(np.ceil(values / step) - 1.0, 0, len(radii)).astype(np.int64)
    return np.searchsorted(radii, values, side="left")


def _first_radius_above(radii: np.ndarray, values: np.ndarray, step: float) -> np.ndarray:
    """Index of the first radius ``> value`` (``len(radii)`` if none)."""
    if step:
        return np.clip(np.floor(values / step), 0, len(radii)).astype(np.int64)
    return np.searchsorted(radii, values, side="right")


def _areas_chunk(distances: np.ndarray, faces: np.ndarray, areas: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Areas for a few distance fields (rows): whole triangles by bincount, clipped ones by the fraction.

    Corner distances are held in float32 (1e-7 relative; the areas differ from float64 by < 1e-6).
    """
    s, k, m = len(distances), len(radii), len(faces)
    step = float(radii[0])
    step = step if np.allclose(radii, step * np.arange(1, k + 1), rtol=0.0, atol=1e-9 * step) else 0.0
    # An unreachable corner (inf) is held as 1e15 Å: its triangle adds nothing, the limit of the clipped fraction.
    d = np.minimum(distances, _FAR_ANG).astype(np.float32)
    x, y, z = (d[:, faces[:, i]].ravel() for i in range(3))
    a = np.minimum(np.minimum(x, y), z)  # sorted corner distances a <= b <= c of every (row, triangle)
    c = np.maximum(np.maximum(x, y), z)
    b = x + y + z - a - c
    del x, y, z
    full_from = _first_radius_at_least(radii, c, step).reshape(s, m)  # the triangle lies inside from here on
    partial_from = _first_radius_above(radii, a, step)  # the triangle is touched from here on
    out = np.empty((s, k))
    for row in range(s):
        out[row] = np.cumsum(np.bincount(full_from[row], weights=areas, minlength=k + 1))[:k]
    span = full_from.ravel() - partial_from
    touched = np.flatnonzero(span > 0)
    if not touched.size:
        return out
    counts = span[touched]
    radius_index = partial_from[touched]
    if (counts > 1).any():  # a triangle wider than a bin is clipped by several radii
        repeat = np.repeat(np.arange(len(touched)), counts)
        offset = np.arange(len(repeat)) - np.repeat(np.cumsum(counts) - counts, counts)
        touched, radius_index = touched[repeat], radius_index[repeat] + offset
    ta, tb, tc = a[touched], b[touched], c[touched]
    r = radii[radius_index].astype(np.float32)
    low = r <= tb
    apex = np.where(low, ta, tc)  # the corner at which the clipped part (or its complement) is a similar triangle
    den = (tc - ta) * np.where(low, tb - ta, tc - tb)
    fraction = np.clip(np.divide(np.square(r - apex), den, out=np.zeros_like(den), where=den > 0), 0.0, 1.0)
    fraction = np.where(low, fraction, 1.0 - fraction).astype(np.float64)
    slot = (touched // m) * k + radius_index
    out += np.bincount(slot, weights=fraction * areas[touched % m], minlength=s * k).reshape(s, k)
    return out
