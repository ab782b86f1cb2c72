"""Score-guided mean shift on a predicted per-vertex distance map (MemBrain v2, Methods).

Each seed ``p`` moves to the weighted mean of the vertices ``q`` within the bandwidth ``b``::

    m(p) = sum_q k(|q - p|) (1 - s_q) q / sum_q k(|q - p|) (1 - s_q),   |q - p| <= b

where ``s_q = clip(d_q / max_distance, 0, 1)`` is the normalised predicted distance of vertex ``q``
to its nearest particle, so vertices predicted close to a particle pull hardest. Seeds are the
vertices predicted closer than a threshold; each converges to a mode near a particle centre.

Memory grows with ``seeds x neighbours`` (neighbours from a k-d tree within ``b``), never with the
square of the vertex count, and seeds are shifted in batches of at most ``max_pairs`` pairs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

__all__ = ["mean_shift_ang"]

Kernel = Literal["flat", "gaussian"]


def _checked_inputs(
    vertices_xyz_ang: ArrayLike, distances_ang: ArrayLike, bandwidth_ang: float, max_distance_ang: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices_xyz_ang must have shape (n, 3), got {vertices.shape}")
    distances = np.asarray(distances_ang, dtype=np.float64)
    if distances.shape != (len(vertices),):
        raise ValueError(
            f"distances_ang must hold one distance per vertex, shape ({len(vertices)},), got {distances.shape}"
        )
    if not (np.isfinite(vertices).all() and np.isfinite(distances).all()):
        raise ValueError("vertices_xyz_ang and distances_ang must be finite; found NaN or infinity")
    for name, value in (("bandwidth_ang", bandwidth_ang), ("max_distance_ang", max_distance_ang)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive distance in Å, got {value}")
    return vertices, distances


def _kernel_weights(dist_ang: NDArray[np.float64], bandwidth_ang: float, kernel: Kernel) -> NDArray[np.float64]:
    """Kernel value per neighbour distance, 0 beyond the bandwidth; the Gaussian has sigma = bandwidth / 3."""
    inside = dist_ang <= bandwidth_ang
    if kernel == "flat":
        return inside.astype(np.float64)
    sigma = bandwidth_ang / 3.0
    return np.where(inside, np.exp(-0.5 * (dist_ang / sigma) ** 2), 0.0)


def _binned(
    points: NDArray[np.float64], weights: NDArray[np.float64], cell_ang: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted centroid and summed weight of the points in each occupied cubic cell of side ``cell_ang``."""
    cells = np.floor(points / cell_ang).astype(np.int64)
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
    _, inverse = np.unique(keys, return_inverse=True)
    total = np.bincount(inverse, weights=weights)
    centroids = np.stack([np.bincount(inverse, weights=weights * points[:, i]) for i in range(3)], axis=1)
    return centroids / total[:, None], total


def _shift_once(
    current: NDArray[np.float64],
    tree: cKDTree,
    points: NDArray[np.float64],
    weights: NDArray[np.float64],
    bandwidth_ang: float,
    kernel: Kernel,
    max_pairs: int,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """One mean-shift step for ``current`` seeds, in batches of at most ``max_pairs`` seed-neighbour pairs."""
    target = current.copy()
    moved = np.zeros(len(current), dtype=bool)
    counts = np.asarray(tree.query_ball_point(current, bandwidth_ang, return_length=True))
    ends = np.cumsum(np.maximum(counts, 1))
    start = 0
    while start < len(current):
        stop = max(int(np.searchsorted(ends, ends[start] - max(counts[start], 1) + max_pairs, side="right")), start + 1)
        batch = np.arange(start, stop)
        start = stop
        pairs = cKDTree(current[batch]).sparse_distance_matrix(tree, bandwidth_ang, output_type="ndarray")
        if len(pairs) == 0:
            continue
        seed, neighbour = pairs["i"], pairs["j"]
        w = _kernel_weights(pairs["v"], bandwidth_ang, kernel) * weights[neighbour]
        total = np.bincount(seed, weights=w, minlength=len(batch))
        ok = total > 0
        sums = np.stack(
            [np.bincount(seed, weights=w * points[neighbour, axis], minlength=len(batch)) for axis in range(3)],
            axis=1,
        )
        target[batch[ok]] = sums[ok] / total[ok, None]
        moved[batch] = ok
    return target, moved


def mean_shift_ang(
    vertices_xyz_ang: ArrayLike,
    distances_ang: ArrayLike,
    *,
    bandwidth_ang: float,
    max_distance_ang: float,
    seed_threshold_ang: float | None = None,
    kernel: Kernel = "gaussian",
    max_iterations: int = 50,
    tolerance_ang: float = 0.1,
    cell_ang: float | None = None,
    max_pairs: int = 1_000_000,
) -> NDArray[np.float64]:
    """Move seeds uphill on the score ``1 - d / max_distance`` until they settle on particle centres.

    Parameters
    ----------
    vertices_xyz_ang : (n, 3) float array
        Mesh vertices, Å, xyz.
    distances_ang : (n,) float array
        Predicted distance of each vertex to its nearest particle, Å.
    bandwidth_ang : float
        Neighbourhood radius ``b`` of the mean shift, Å. MemBrain v2 uses the maximum distance of
        the training targets (10 nm); a smaller bandwidth separates close particles better.
    max_distance_ang : float
        Distance at which the score reaches 0 (the clip distance of the training targets), Å.
        Vertices at or beyond it carry no weight.
    seed_threshold_ang : float, optional
        Vertices predicted closer than this to a particle are the seeds, Å. Default
        ``0.5 * max_distance_ang``.
    kernel : {"gaussian", "flat"}, default "gaussian"
        Weight of a neighbour by its Euclidean distance ``r <= b`` to the seed: ``exp(-r² / (2 (b/3)²))``
        or 1.
    max_iterations : int, default 50
        Iteration cap per seed.
    tolerance_ang : float, default 0.1
        A seed that moves less than this in one step has converged, Å.
    cell_ang : float, optional
        Side of the cubic cells in which vertices are pooled before shifting, Å: each occupied cell
        becomes one point at the weighted centroid of its vertices carrying their summed weight, and
        each occupied cell of twice that side one seed at the centroid of its seeds. Makes the cost
        independent of the mesh resolution; the centroids keep the first moments exactly, so the
        modes move by far less than a cell.
        Default ``bandwidth_ang / 8``; 0 shifts every vertex (the plain formula).
    max_pairs : int, default 1_000_000
        Seed-neighbour pairs handled at once; bounds the working memory (about 40 bytes a pair)
        whatever the vertex count.

    Returns
    -------
    (p, 3) float64 array
        Converged seed positions, Å, xyz, one per seed (``p`` = number of seeds, or of occupied seed
        cells when ``cell_ang > 0``; may be 0). Seeds
        of one particle end within a few ``tolerance_ang`` of each other; merge them with
        :func:`cryomem.pick.merge_duplicates`. Positions are means of vertices, so on a curved
        membrane they lie slightly off the surface.

    Raises
    ------
    ValueError
        On shapes that disagree, non-finite input or non-positive distances.
    """
    vertices, distances = _checked_inputs(vertices_xyz_ang, distances_ang, bandwidth_ang, max_distance_ang)
    if kernel not in ("flat", "gaussian"):
        raise ValueError(f"kernel must be 'flat' or 'gaussian', got {kernel!r}")
    if max_iterations < 1 or max_pairs < 1 or not tolerance_ang > 0:
        raise ValueError("max_iterations and max_pairs must be >= 1 and tolerance_ang > 0")
    threshold = 0.5 * max_distance_ang if seed_threshold_ang is None else float(seed_threshold_ang)
    if not threshold > 0:
        raise ValueError(f"seed_threshold_ang must be a positive distance in Å, got {seed_threshold_ang}")
    score_weight = 1.0 - np.clip(distances / max_distance_ang, 0.0, 1.0)
    support = score_weight > 0
    seeds = vertices[(distances < threshold) & support]
    if len(seeds) == 0:
        return np.empty((0, 3))
    points = vertices[support]
    weights = score_weight[support]
    if cell_ang is None:
        cell_ang = bandwidth_ang / 8.0
    if cell_ang > 0:
        points, weights = _binned(points, weights, cell_ang)
        seeds, _ = _binned(seeds, np.ones(len(seeds)), 2.0 * cell_ang)
    tree = cKDTree(points)
    positions = seeds.copy()
    active = np.arange(len(positions))
    for _ in range(max_iterations):
        if active.size == 0:
            break
        target, moved = _shift_once(positions[active], tree, points, weights, bandwidth_ang, kernel, max_pairs)
        step = np.linalg.norm(target - positions[active], axis=1)
        positions[active] = target
        active = active[moved & (step > tolerance_ang)]
    return positions
