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


def _areas_chunk(distances: np.ndarray, faces: np.ndarray, areas: np.ndarray, radii: np.ndarray) -> np.ndarray:
    s, k, m = len(distances), len(radii), len(faces)
    d0, d1, d2 = distances[:, faces[:, 0]], distances[:, faces[:, 1]], distances[:, faces[:, 2]]  # (s, m) each
    a = np.minimum(np.minimum(d0, d1), d2)
    c = np.maximum(np.maximum(d0, d1), d2)
    full_from = np.searchsorted(radii, c.ravel(), side="left")  # first radius >= c: the triangle lies inside
    partial_from = np.searchsorted(radii, a.ravel(), side="right")  # first radius > a: the triangle is touched
    row = np.repeat(np.arange(s), m)
    weights = np.broadcast_to(areas, (s, m)).ravel()
    full = np.bincount(row * (k + 1) + full_from, weights=weights, minlength=s * (k + 1))
    result = np.cumsum(full.reshape(s, k + 1), axis=1)[:, :k]
    counts = np.maximum(full_from - partial_from, 0)
    touched = np.flatnonzero(counts)
    if touched.size:
        counts = counts[touched]
        pair = np.repeat(touched, counts)
        offset = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
        radius_index = partial_from[pair] + offset
        corners = np.stack([d0.ravel()[pair], d1.ravel()[pair], d2.ravel()[pair]], axis=1)
        fraction = sublevel_fraction(corners, radii[radius_index])
        slot = (pair // m) * k + radius_index
        result += np.bincount(slot, weights=fraction * weights[pair], minlength=s * k).reshape(s, k)
    return result
