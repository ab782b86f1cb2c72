"""Complete spatial randomness (CSR) on the same membranes, for Ripley envelopes.

Each simulation puts as many particles on every membrane as it really holds (start and target
roles kept), at positions uniform by area and snapped to their nearest vertex as real particles
are. Geodesic distances are the expensive part, so the positions come from a pool of
``pool_factor`` x the particle count per membrane, whose distances and ball areas are computed
once. With ``n_simulations <= pool_factor`` the pool is split into disjoint groups and the
simulations are independent; with more, each simulation draws a random subset of the pool (each
is still an exact CSR pattern, but patterns share points, which narrows the envelope by about
``sqrt(1 - 1/pool_factor)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cryomem.io import FractionProgress
from cryomem.stats._coarse_balls import coarse_balls
from cryomem.stats._particles import MembraneParticles

__all__ = ["csr_sums", "uniform_vertices"]

_MAX_POOL = 12_000


def uniform_vertices(membrane: MembraneParticles, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` positions uniform by area on the mesh, each snapped to its nearest triangle corner."""
    areas = membrane.face_areas_ang2
    faces = membrane.mesh.faces[rng.choice(len(areas), size=count, p=areas / areas.sum())]
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    corners = membrane.mesh.vertices_xyz_ang[faces]
    points = corners[:, 0] + u[:, None] * (corners[:, 1] - corners[:, 0]) + v[:, None] * (corners[:, 2] - corners[:, 0])
    nearest = np.argmin(np.linalg.norm(corners - points[:, None, :], axis=2), axis=1)
    return faces[np.arange(count), nearest]


def _pool(membrane: MembraneParticles, size: int, radii: np.ndarray, rng: np.random.Generator, workers: int):
    """Pool vertices, their unique-vertex index, ball areas and pair distances (float32) of the unique ones.

    Measured like the observed sums (:func:`cryomem.stats._coarse_balls.coarse_balls`).
    """
    vertices = uniform_vertices(membrane, size, rng)
    unique, inverse = np.unique(vertices, return_inverse=True)
    balls = coarse_balls(membrane, unique, unique, radii, workers=workers)
    return unique, inverse, balls.areas_ang2, balls.pairs_ang.astype(np.float32)


def csr_sums(
    membranes: Sequence[MembraneParticles],
    radii: np.ndarray,
    *,
    start_classes: Sequence[int] | None,
    target_classes: Sequence[int] | None,
    edge_distance: Callable[[MembraneParticles], np.ndarray] | None,
    exclude_edges_ang: float | None,
    n_simulations: int,
    pool_factor: int,
    rng: np.random.Generator,
    workers: int = 1,
    progress: FractionProgress | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pooled ``(counts, ball areas, expected counts)`` per radius for each CSR simulation.

    The sums mean the same as in :func:`cryomem.stats.ripley`; feed them to
    :func:`cryomem.stats.ripley_statistics`.
    """
    if pool_factor < 2:
        raise ValueError(f"pool_factor must be >= 2, got {pool_factor}")
    k = len(radii)
    sums = [(np.zeros(k), np.zeros(k), np.zeros(k)) for _ in range(n_simulations)]
    for index, m in enumerate(membranes):
        is_start, is_target = m.class_mask(start_classes), m.class_mask(target_classes)
        union = is_start | is_target
        n = int(union.sum())
        if n == 0:
            continue
        is_start, is_target = is_start[union], is_target[union]
        groups = min(n_simulations, pool_factor)
        if n * max(groups, 2) > _MAX_POOL:
            raise ValueError(
                f"membrane {m.mesh.label} holds {n} particles, too many for CSR envelopes "
                f"(pool of {n * max(groups, 2)} > {_MAX_POOL} positions); run without simulations"
            )
        size = n * max(groups, 2)
        unique, inverse, areas, pairs = _pool(m, size, radii, rng, workers)
        comp = m.component_of_vertex[unique]
        keep = np.ones(len(unique), dtype=bool)
        if edge_distance is not None and exclude_edges_ang is not None:
            keep = edge_distance(m)[unique] >= exclude_edges_ang
        order = rng.permutation(size)
        for j in range(n_simulations):
            chosen = order[j * n : (j + 1) * n] if n_simulations <= groups else rng.choice(size, n, replace=False)
            points = inverse[chosen]
            start_ids = np.flatnonzero(is_start & keep[points])
            target_ids = np.flatnonzero(is_target)
            if not len(start_ids):
                continue
            s_pts, t_pts = points[start_ids], points[target_ids]
            d = pairs[np.ix_(s_pts, t_pts)].astype(np.float64)
            d[start_ids[:, None] == target_ids[None, :]] = np.inf
            counts = np.cumsum(np.bincount(np.searchsorted(radii, d.ravel()), minlength=k + 1))[:k]
            ball = areas[s_pts]
            others = (comp[t_pts][None, :] == comp[s_pts][:, None]).sum(axis=1) - is_target[start_ids]
            density = others / m.component_area_ang2[comp[s_pts]]
            c, a, e = sums[j]
            c += counts
            a += ball.sum(axis=0)
            e += (density[:, None] * ball).sum(axis=0)
        if progress:
            progress("Ripley: CSR envelopes", (index + 1) / len(membranes))
    return sums
