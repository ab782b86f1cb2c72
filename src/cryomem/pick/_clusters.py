"""From a per-vertex distance map to a particle table: mean shift, DBSCAN merge, orientations."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN

from cryomem.io import PARTICLE_COLUMNS, MembraneSurface, normals_to_euler_zyz_deg
from cryomem.pick._mean_shift import Kernel, mean_shift_ang

__all__ = [
    "DEFAULT_BANDWIDTH_FACTOR",
    "DEFAULT_COINCIDE_FACTOR",
    "DEFAULT_MERGE_FACTOR",
    "half_thickness_ang",
    "merge_duplicates",
    "pick_surface",
]

Position = Literal["mid", "surface"]
DEFAULT_BANDWIDTH_FACTOR = 0.5
"""Default mean-shift bandwidth as a fraction of the model's maximum distance."""
DEFAULT_MERGE_FACTOR = 0.3
"""Converged seeds closer than this fraction of the maximum distance are one particle."""
DEFAULT_COINCIDE_FACTOR = 0.5
"""Mid-surface picks (found from the two faces of a membrane) closer than this fraction of the
maximum distance are one particle.

The three defaults were chosen together on the tuning tomograms of
``benchmarks/tune_pick_mean_shift.py`` by one-to-one F1 at 6.3 nm (each protein matched at most
once, so duplicate picks count against a setting). Both merge radii are protein-sized and do not
follow the bandwidth: when they did (bandwidth / 4 and / 2), a narrow bandwidth found more
proteins but picked many of them twice."""
_OPPOSITE_COSINE = -0.5  # a vertex of the opposite side faces away: normals at more than 120 degrees


def merge_duplicates(points_xyz_ang: ArrayLike, *, eps_ang: float, min_points: int = 1) -> NDArray[np.float64]:
    """Merge points closer than ``eps_ang`` (DBSCAN, single linkage) into their centroids.

    Parameters
    ----------
    points_xyz_ang : (p, 3) float array
        Points, Å, xyz (e.g. converged mean-shift seeds).
    eps_ang : float
        Points within this distance of each other, directly or through a chain, are one, Å.
    min_points : int, default 1
        A merged point needs at least this many input points; smaller groups are outliers and
        dropped (DBSCAN's ``min_samples``; 1 keeps everything).

    Returns
    -------
    (m, 3) float64 array
        Centroids of the groups, Å, xyz, ordered by their first input point.

    Notes
    -----
    Identical points are counted once with a weight before DBSCAN runs, so thousands of seeds
    converged on one mode cost one point, not a thousand squared neighbour pairs.
    """
    points = np.asarray(points_xyz_ang, dtype=np.float64)
    if points.size == 0:
        points = points.reshape(0, 3)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points_xyz_ang must have shape (p, 3), got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points_xyz_ang must be finite; found NaN or infinity")
    if not (np.isfinite(eps_ang) and eps_ang > 0):
        raise ValueError(f"eps_ang must be a positive distance in Å, got {eps_ang}")
    if int(min_points) < 1:
        raise ValueError(f"min_points must be >= 1, got {min_points}")
    if len(points) == 0:
        return np.empty((0, 3))
    unique, first, counts = np.unique(points, axis=0, return_index=True, return_counts=True)
    labels = DBSCAN(eps=eps_ang, min_samples=int(min_points)).fit_predict(unique, sample_weight=counts)
    keep = labels >= 0
    if not keep.any():
        return np.empty((0, 3))
    labels, unique, counts, first = labels[keep], unique[keep], counts[keep], first[keep]
    n = labels.max() + 1
    weight = np.bincount(labels, weights=counts, minlength=n)
    centres = np.stack([np.bincount(labels, weights=counts * unique[:, i], minlength=n) for i in range(3)], axis=1)
    centres = centres / weight[:, None]
    earliest = np.full(n, len(points))
    np.minimum.at(earliest, labels, first)
    order = np.argsort(earliest, kind="stable")
    return centres[order]


def _onto_surface(
    points: NDArray[np.float64], vertices: NDArray[np.float64], normals: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Project points onto the tangent plane of their nearest vertex; return positions and vertex ids."""
    _, nearest = cKDTree(vertices).query(points)
    unit = normals[nearest] / np.linalg.norm(normals[nearest], axis=1, keepdims=True)
    offset = np.einsum("ij,ij->i", points - vertices[nearest], unit)
    return points - offset[:, None] * unit, nearest


def half_thickness_ang(
    vertices_xyz_ang: NDArray[np.float64],
    normals_xyz: NDArray[np.float64],
    vertex_ids: ArrayLike,
    *,
    max_thickness_ang: float = 150.0,
) -> NDArray[np.float64]:
    """Half the membrane's thickness under each given vertex, measured to the opposite side.

    A segmented membrane's surface wraps the thick sheet, so below every vertex (against its
    outward normal) lies the surface's other side. From the vertex, the nearest vertex of that
    side (normal turned away by more than 120 degrees) within one mesh spacing of the line along
    the normal gives the thickness; the mid-surface is half of it below the vertex.

    Parameters
    ----------
    vertices_xyz_ang, normals_xyz : (n, 3) float arrays
        The surface, Å, and its outward unit normals.
    vertex_ids : (k,) int array
        Vertices to measure under.
    max_thickness_ang : float, default 150
        Thicker than this is not a membrane: such vertices (and those with no opposite side, at
        an open edge) get NaN.

    Returns
    -------
    (k,) float64 array
        Half-thicknesses, Å; NaN where no opposite side was found.
    """
    ids = np.asarray(vertex_ids, dtype=np.int64).reshape(-1)
    result = np.full(len(ids), np.nan)
    if len(ids) == 0 or len(vertices_xyz_ang) < 2:
        return result
    tree = cKDTree(vertices_xyz_ang)
    spacing = float(np.median(tree.query(vertices_xyz_ang[ids], k=2)[0][:, 1]))
    normals = normals_xyz / np.maximum(np.linalg.norm(normals_xyz, axis=1, keepdims=True), 1e-12)
    for row, (vertex, near) in enumerate(zip(ids, tree.query_ball_point(vertices_xyz_ang[ids], max_thickness_ang))):
        near = np.asarray(near, dtype=np.int64)
        normal = normals[vertex]
        near = near[normals[near] @ normal < _OPPOSITE_COSINE]
        offsets = vertices_xyz_ang[vertex] - vertices_xyz_ang[near]
        depth = offsets @ normal  # > 0: below the vertex
        lateral = np.linalg.norm(offsets - depth[:, None] * normal, axis=1)
        below = (depth > 0) & (lateral <= max(spacing, 1e-9))
        if below.any():
            result[row] = 0.5 * depth[below].min()
    return result


def _onto_mid_surface(
    surface: MembraneSurface,
    positions: NDArray[np.float64],
    nearest: NDArray[np.int64],
    distances: NDArray[np.float64],
    eps_ang: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Move picks half the local thickness against their normal; keep the best of coinciding picks."""
    normals = surface.normals_xyz[nearest] / np.linalg.norm(surface.normals_xyz[nearest], axis=1, keepdims=True)
    half = half_thickness_ang(surface.vertices_xyz_ang, surface.normals_xyz, nearest)
    found = np.isfinite(half)
    half[~found] = float(np.median(half[found])) if found.any() else 0.0
    moved = positions - half[:, None] * normals
    order = np.argsort(distances[nearest], kind="stable")  # best score first
    groups = DBSCAN(eps=eps_ang, min_samples=1).fit_predict(moved[order])
    _, first = np.unique(groups, return_index=True)
    keep = np.sort(order[first])
    return moved[keep], nearest[keep]


def pick_surface(
    surface: MembraneSurface,
    distances_ang: ArrayLike,
    *,
    max_distance_ang: float = 100.0,
    bandwidth_ang: float | None = None,
    seed_threshold_ang: float | None = None,
    merge_eps_ang: float | None = None,
    min_seeds: int = 1,
    position: Position = "mid",
    coincide_ang: float | None = None,
    kernel: Kernel = "gaussian",
    inplane_deg: float | None = None,
    seed: int | np.random.Generator = 0,
    tomo_name: str = "",
) -> pd.DataFrame:
    """Particle positions and orientations on one membrane from its predicted distance map.

    Score-guided mean shift (:func:`cryomem.pick.mean_shift_ang`) moves seeds onto particle
    centres, DBSCAN (:func:`merge_duplicates`) merges the seeds of one particle, each centre is
    projected onto the tangent plane of its nearest vertex, and its orientation puts the particle
    z axis along that vertex's normal. By default the position then moves along the normal to the
    membrane's mid-surface, half the local thickness below (:func:`half_thickness_ang`), where a
    membrane protein's centre is; particles found from both sides of the membrane then coincide
    and only the better-scored one is kept.

    Parameters
    ----------
    surface : MembraneSurface
        The membrane (vertices Å, normals pointing out of the membrane).
    distances_ang : (n,) float array
        Predicted distance of each vertex to its nearest particle, Å.
    max_distance_ang : float, default 100.0
        Clip distance of the training targets, Å (the model card's ``max_distance_ang``).
    bandwidth_ang : float, optional
        Mean-shift radius, Å. Default ``DEFAULT_BANDWIDTH_FACTOR * max_distance_ang`` (0.5;
        Gaussian kernel, sigma = bandwidth / 3). MemBrain v2 sets it to the maximum distance; with
        our kernel that merges neighbours on densely packed simulated membranes
        (``benchmarks/tune_pick_mean_shift.py`` prints F1 over bandwidths, thresholds and merge radii).
    seed_threshold_ang : float, optional
        Vertices predicted closer than this are mean-shift seeds, and a merged centre whose
        nearest vertex is predicted farther than this is dropped, Å. Default
        ``0.5 * max_distance_ang``.
    merge_eps_ang : float, optional
        Converged seeds closer than this are one particle, Å. Default
        ``DEFAULT_MERGE_FACTOR * max_distance_ang`` (0.3; independent of the bandwidth).
    min_seeds : int, default 1
        Fewest converged seeds that make a particle (more drops isolated outliers).
    position : {"mid", "surface"}, default "mid"
        Where a particle is placed: on the membrane's mid-surface, or on the segmentation's
        surface (as the mean shift finds it). Where the opposite side is not found (an open edge),
        "mid" moves by the membrane's median half-thickness, or not at all without one.
    coincide_ang : float, optional
        With ``position="mid"``, particles closer than this (found from the two sides of the
        membrane) are one; the better-scored one is kept, Å. Default
        ``DEFAULT_COINCIDE_FACTOR * max_distance_ang`` (0.5; independent of the bandwidth).
    kernel : {"gaussian", "flat"}, default "gaussian"
        Mean-shift kernel (see :func:`cryomem.pick.mean_shift_ang`).
    inplane_deg : float, optional
        In-plane angle about the normal (``rlnAngleRot``), degrees. Default: uniform random in
        [-180, 180) per particle from ``seed``.
    seed : int or numpy.random.Generator, default 0
        Source of the random in-plane angles.
    tomo_name : str, default ""
        Value of the ``tomo_name`` column.

    Returns
    -------
    pandas.DataFrame
        One row per particle, columns :data:`cryomem.io.PARTICLE_COLUMNS`: ``x_ang, y_ang, z_ang``
        (Å, on the mid-surface or the surface, see ``position``), ``rot_deg, tilt_deg, psi_deg``
        (RELION ZYZ, particle z = outward normal), ``class_number`` 1, ``membrane_id`` of the surface, ``score`` =
        ``1 - d / max_distance_ang`` at the nearest vertex (1 = predicted exactly on a particle).
    """
    if position not in ("mid", "surface"):
        raise ValueError(f"position must be 'mid' or 'surface', got {position!r}")
    vertices = surface.vertices_xyz_ang
    distances = np.asarray(distances_ang, dtype=np.float64)
    if distances.shape != (len(vertices),):
        raise ValueError(
            f"distances_ang must hold one distance per vertex of membrane {surface.membrane_id}, "
            f"shape ({len(vertices)},), got {distances.shape}"
        )
    bandwidth = float(DEFAULT_BANDWIDTH_FACTOR * max_distance_ang if bandwidth_ang is None else bandwidth_ang)
    threshold = float(0.5 * max_distance_ang if seed_threshold_ang is None else seed_threshold_ang)
    eps = float(DEFAULT_MERGE_FACTOR * max_distance_ang if merge_eps_ang is None else merge_eps_ang)
    converged = mean_shift_ang(
        vertices,
        distances,
        bandwidth_ang=bandwidth,
        max_distance_ang=max_distance_ang,
        seed_threshold_ang=threshold,
        kernel=kernel,
    )
    centres = merge_duplicates(converged, eps_ang=eps, min_points=min_seeds)
    positions, nearest = _onto_surface(centres, vertices, surface.normals_xyz) if len(centres) else (centres, [])
    nearest = np.asarray(nearest, dtype=np.int64)
    keep = distances[nearest] < threshold
    positions, nearest = positions[keep], nearest[keep]
    if position == "mid" and len(nearest):
        coincide = float(DEFAULT_COINCIDE_FACTOR * max_distance_ang if coincide_ang is None else coincide_ang)
        positions, nearest = _onto_mid_surface(surface, positions, nearest, distances, coincide)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    spin = rng.uniform(-180.0, 180.0, len(nearest)) if inplane_deg is None else np.full(len(nearest), inplane_deg)
    normals = surface.normals_xyz[nearest].reshape(-1, 3)
    angles = normals_to_euler_zyz_deg(normals, spin) if len(nearest) else np.empty((0, 3))
    table = pd.DataFrame(
        {
            "tomo_name": pd.Series([tomo_name] * len(nearest), dtype=str),
            "x_ang": positions[:, 0],
            "y_ang": positions[:, 1],
            "z_ang": positions[:, 2],
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": np.ones(len(nearest), dtype=np.int64),
            "membrane_id": np.full(len(nearest), surface.membrane_id, dtype=np.int64),
            "score": 1.0 - np.clip(distances[nearest] / max_distance_ang, 0.0, 1.0),
        }
    )
    return table.loc[:, list(PARTICLE_COLUMNS)]
