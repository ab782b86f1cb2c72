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

__all__ = ["binned_areas", "clipped_fraction", "sublevel_areas_ang2", "sublevel_fraction"]

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
    cut = (r > a) & (r < c)  # the radius crosses the triangle
    out[cut] = clipped_fraction(a[cut], b[cut], c[cut], r[cut])
    return out


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


def clipped_fraction(low: np.ndarray, middle: np.ndarray, high: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of triangles with sorted corner distances ``low <= middle <= high`` within ``radius``.

    For ``low < radius < high`` (the caller's part): below the middle corner the part within the
    radius is a triangle similar to the one cut off at ``middle``; above it, the triangle less one.
    """
    below = radius <= middle
    apex = np.where(below, low, high)  # the corner at which the similar triangle sits
    den = (high - low) * np.where(below, middle - low, high - middle)
    part = np.zeros(np.broadcast(den, radius).shape, dtype=np.result_type(den, radius))
    np.divide(np.square(radius - apex), den, out=part, where=den > 0)
    part = np.clip(part, 0.0, 1.0)
    return np.where(below, part, 1.0 - part)


def binned_areas(lo_ang, hi_ang, weights_ang2, rows, n_rows: int, radii_ang: np.ndarray, fraction) -> np.ndarray:
    """(n_rows, k) sums of ``weights * fraction(entry, r)`` per row and radius.

    Each entry (a triangle, or any piece of area, of row ``rows[entry]``) counts 0 for radii
    ``r <= lo`` and whole for ``r >= hi``; ``fraction(entries, radii)`` is only called for the radii
    strictly between. Even radii ``step, 2 step, ...`` are binned by arithmetic, others by search.
    """
    k = len(radii_ang)
    step = float(radii_ang[0])
    if step > 0 and np.allclose(radii_ang, step * np.arange(1, k + 1), rtol=1e-12, atol=0.0):
        full_from = np.clip(np.ceil(hi_ang / step) - 1.0, 0, k).astype(np.int64)  # first radius >= hi
        partial_from = np.clip(np.floor(lo_ang / step), 0, k).astype(np.int64)  # first radius > lo
    else:
        full_from = np.searchsorted(radii_ang, hi_ang, side="left")
        partial_from = np.searchsorted(radii_ang, lo_ang, side="right")
    full = np.bincount(rows * (k + 1) + full_from, weights=weights_ang2, minlength=n_rows * (k + 1))
    out = np.cumsum(full.reshape(n_rows, k + 1), axis=1)[:, :k]
    counts = full_from - partial_from
    entry = np.flatnonzero(counts > 0)  # clipped by at least one radius
    if not entry.size:
        return out
    counts, radius_index = counts[entry], partial_from[entry]
    if (counts > 1).any():  # an entry wider than a bin is clipped by several radii
        repeat = np.repeat(np.arange(len(entry)), counts)
        offset = np.arange(len(repeat)) - np.repeat(np.cumsum(counts) - counts, counts)
        entry, radius_index = entry[repeat], radius_index[repeat] + offset
    part = fraction(entry, radii_ang[radius_index]) * weights_ang2[entry]
    out += np.bincount(rows[entry] * k + radius_index, weights=part, minlength=n_rows * k).reshape(n_rows, k)
    return out


def _areas_chunk(distances: np.ndarray, faces: np.ndarray, areas: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Areas for a few distance fields (rows), every triangle clipped by :func:`binned_areas`.

    Corner distances are held in float32 (1e-7 relative; the areas differ from float64 by < 1e-6).
    """
    s, m = len(distances), len(faces)
    # An unreachable corner (inf) is held as 1e15 Å: its triangle adds nothing, the limit of the clipped fraction.
    d = np.minimum(distances, _FAR_ANG).astype(np.float32)
    x, y, z = (d[:, faces[:, i]].ravel() for i in range(3))
    low = np.minimum(np.minimum(x, y), z)
    high = np.maximum(np.maximum(x, y), z)
    middle = x + y + z - low - high
    del x, y, z

    def fraction(entry: np.ndarray, radius: np.ndarray) -> np.ndarray:
        return clipped_fraction(low[entry], middle[entry], high[entry], radius)

    rows = np.repeat(np.arange(s), m)
    return binned_areas(low, high, np.tile(areas, s), rows, s, radii, fraction)
