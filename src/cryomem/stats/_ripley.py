"""Ripley's K, L and O on membrane surfaces: geodesic balls and rings, pooled over membranes.

MemBrain v2 (Methods, "Ripley's statistics", after PyOrg) defines, for start particles ``p`` and
mesh triangles ``T``::

    K(r) = π r² Σ_p |S ∩ B_r(p)| / Σ_p A(T ∩ B_r(p))
    L(r) = sqrt(K(r) / π) - r
    O(r) = Σ_p |S ∩ B_{r,Δr}(p)| / Σ_p A(T ∩ B_{r,Δr}(p))

As printed, K carries the particle density (it is π r² λ, not π r², under complete spatial
randomness), which makes L dimensionally inconsistent; PyOrg and MemBrain-stats divide by the
density. We do the same, exactly: each start particle's area is weighted by the density of the
other target particles on its own connected membrane piece, λ_p, so that

    K(r) = π r² Σ_p |targets in B_r(p)| / Σ_p λ_p A(T ∩ B_r(p))

equals π r² in expectation under complete spatial randomness, on any mix of membranes. ``O`` is
reported as printed (a density, particles/µm², whose peaks give the spacing) and normalised
(``g``, the pair correlation, 1 under randomness). Areas are the mesh triangles clipped by the
interpolated geodesic distance (:mod:`cryomem.stats._areas`); counts and areas use the same bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryomem.io import FractionProgress
from cryomem.stats._coarse_balls import coarse_balls
from cryomem.stats._edges import EdgeSettings, edge_distance_ang
from cryomem.stats._envelopes import csr_sums
from cryomem.stats._neighbours import start_mask
from cryomem.stats._particles import ANG2_PER_UM2, MembraneParticles

__all__ = ["RipleyResult", "radius_edges_ang", "ripley", "ripley_statistics"]


@dataclass(frozen=True)
class RipleyResult:
    """Pooled Ripley's functions and their complete-spatial-randomness envelopes.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per radius bin: ``r_lo_nm, r_nm`` (ring from ``r_lo`` to ``r``; balls of radius ``r``),
        ``n_pairs`` (start-target pairs within ``r``), ``mean_ball_area_nm2``, ``K_nm2``, ``K_ratio``
        (K / π r², 1 under randomness), ``L_nm``, ``O_per_um2``, ``g``; with simulations also
        ``{K_ratio,L_nm,O_per_um2,g}_csr_{low,mean,high}`` (pointwise minimum, mean, maximum).
    n_start, n_target : int
        Start and target particles used.
    n_simulations : int
        Complete-spatial-randomness simulations behind the envelopes.
    max_distance_nm : float
        Largest geodesic distance from a start particle to any vertex. Searches stop just beyond the
        largest radius, so where a membrane piece extends farther this is that search limit (a
        lower bound).
    """

    table: pd.DataFrame
    n_start: int
    n_target: int
    n_simulations: int
    max_distance_nm: float


def radius_edges_ang(bin_size_nm: float, max_radius_nm: float) -> np.ndarray:
    """Upper bin edges ``Δ, 2Δ, ..., <= max`` in Å (``Δ = bin_size_nm``)."""
    if not bin_size_nm > 0 or not max_radius_nm > 0:
        raise ValueError(f"bin size and max radius must be > 0 nm, got {bin_size_nm} and {max_radius_nm}")
    count = int(np.floor(max_radius_nm / bin_size_nm + 1e-9))
    if count < 1:
        raise ValueError(f"max radius {max_radius_nm} nm is below one bin of {bin_size_nm} nm; raise --max-radius-nm")
    return 10.0 * bin_size_nm * np.arange(1, count + 1)


def ripley_statistics(radii_ang: np.ndarray, counts: np.ndarray, areas: np.ndarray, expected: np.ndarray) -> dict:
    """K, L, O and g from cumulative pair counts, ball areas (Å²) and expected counts per radius."""
    r_nm = radii_ang / 10.0

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.full(len(a), np.nan), where=b > 0)

    k_ratio = ratio(counts, expected)
    rings = [np.diff(np.concatenate([[0.0], v])) for v in (counts, areas, expected)]
    return {
        "K_nm2": np.pi * r_nm**2 * k_ratio,
        "K_ratio": k_ratio,
        "L_nm": r_nm * (np.sqrt(k_ratio) - 1.0),
        "O_per_um2": ratio(rings[0], rings[1]) * ANG2_PER_UM2,
        "g": ratio(rings[0], rings[2]),
    }


def _observed(membrane: MembraneParticles, starts: np.ndarray, targets: np.ndarray, radii: np.ndarray, workers: int):
    """Cumulative counts, summed ball areas, expected counts and the largest distance on one membrane.

    Distances come from searches truncated just beyond the largest radius, on the fine mesh near each
    start particle and on coarse cells beyond (:mod:`cryomem.stats._coarse_balls`).
    """
    k = len(radii)
    ids = membrane.particles["particle_index"].to_numpy()
    vertices, comp = membrane.vertices, membrane.component_of_vertex
    balls = coarse_balls(membrane, vertices[starts], vertices[targets], radii, workers=workers)
    pairs = balls.pairs_ang
    pairs[ids[starts][:, None] == ids[targets][None, :]] = np.inf
    first = np.searchsorted(radii, pairs.ravel(), side="left")
    counts = np.cumsum(np.bincount(first, minlength=k + 1))[:k].astype(np.float64)
    start_comp = comp[vertices[starts]]
    others = (comp[vertices[targets]][None, :] == start_comp[:, None]).sum(axis=1) - np.isin(ids[starts], ids[targets])
    density = others / membrane.component_area_ang2[start_comp]
    ball = balls.areas_ang2
    return counts, ball.sum(axis=0), (density[:, None] * ball).sum(axis=0), balls.largest_ang


def _pointwise(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum, mean and maximum over simulations (rows), ignoring NaN; NaN where none is finite."""
    finite = np.isfinite(stack)
    n = finite.sum(axis=0)
    low = np.where(finite, stack, np.inf).min(axis=0)
    high = np.where(finite, stack, -np.inf).max(axis=0)
    mean = np.divide(np.where(finite, stack, 0.0).sum(axis=0), n, out=np.full(stack.shape[1], np.nan), where=n > 0)
    return np.where(n > 0, low, np.nan), mean, np.where(n > 0, high, np.nan)


def ripley(
    membranes: Sequence[MembraneParticles],
    *,
    bin_size_nm: float = 2.0,
    max_radius_nm: float = 50.0,
    start_classes: Sequence[int] | None = None,
    target_classes: Sequence[int] | None = None,
    exclude_edges_nm: float | None = None,
    edge_settings: EdgeSettings = EdgeSettings(),
    n_simulations: int = 0,
    seed: int = 0,
    pool_factor: int = 4,
    workers: int = 1,
    progress: FractionProgress | None = None,
) -> RipleyResult:
    """Ripley's K, L, O (and g) pooled over all membranes, with optional CSR envelopes.

    Parameters
    ----------
    membranes : sequence of MembraneParticles
        Membranes with their particles, from one or more tomograms.
    bin_size_nm : float, default 2
        Width of the radius bins (ring width Δr), nm.
    max_radius_nm : float, default 50
        Largest radius, nm; must not exceed the largest geodesic distance on the membranes.
    start_classes, target_classes : sequence of int, optional
        Classes of the particles at ball centres and of those counted (default: all).
    exclude_edges_nm : float, optional
        Start particles within this distance of an edge are left out (areas still clip at the
        mesh border, which corrects for the cut), nm.
    edge_settings : EdgeSettings
        How edges are found.
    n_simulations : int, default 0
        Simulations of complete spatial randomness on the same meshes (same numbers of particles per
        membrane, positions uniform by area, snapped to vertices) for pointwise envelopes.
    seed : int, default 0
        Seed of the simulations.
    pool_factor : int, default 4
        Simulated positions are drawn from a pool of ``pool_factor`` x the particle count per
        membrane, whose geodesic distances are computed once (see :func:`cryomem.stats._envelopes.csr_sums`).
    workers : int, default 1
        Processes for the geodesic searches (the result does not depend on it).
    progress : callable, optional
        ``progress(stage, fraction)``.

    Returns
    -------
    RipleyResult
    """
    radii = radius_edges_ang(bin_size_nm, max_radius_nm)
    if n_simulations < 0:
        raise ValueError(f"n_simulations must be >= 0, got {n_simulations}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    k = len(radii)
    counts, areas, expected = np.zeros(k), np.zeros(k), np.zeros(k)
    n_start = n_target = 0
    largest = 0.0
    for index, m in enumerate(membranes):
        starts = np.flatnonzero(start_mask(m, start_classes, exclude_edges_nm, edge_settings))
        targets = np.flatnonzero(m.class_mask(target_classes))
        n_start, n_target = n_start + len(starts), n_target + len(targets)
        if len(starts):
            c, a, e, far = _observed(m, starts, targets, radii, workers)
            counts, areas, expected, largest = counts + c, areas + a, expected + e, max(largest, far)
        if progress:
            progress("Ripley: observed", (index + 1) / len(membranes))
    if n_start == 0:
        raise ValueError("no start particles for Ripley's functions: check --start-classes and --exclude-edges-nm")
    if radii[-1] > largest:
        raise ValueError(
            f"the radius range (up to {radii[-1] / 10:g} nm) is larger than the membranes: the largest geodesic "
            f"distance from a particle is {largest / 10:.1f} nm; lower --max-radius-nm"
        )
    table = pd.DataFrame({"r_lo_nm": (radii - radii[0]) / 10.0, "r_nm": radii / 10.0, "n_pairs": counts})
    table["mean_ball_area_nm2"] = areas / n_start / 100.0
    for name, values in ripley_statistics(radii, counts, areas, expected).items():
        table[name] = values
    if n_simulations:
        rng = np.random.default_rng(seed)
        simulated = [
            ripley_statistics(radii, *sums)
            for sums in csr_sums(
                membranes,
                radii,
                start_classes=start_classes,
                target_classes=target_classes,
                edge_distance=None if exclude_edges_nm is None else lambda m: edge_distance_ang(m, edge_settings),
                exclude_edges_ang=None if exclude_edges_nm is None else 10.0 * exclude_edges_nm,
                n_simulations=n_simulations,
                pool_factor=pool_factor,
                workers=workers,
                rng=rng,
                progress=progress,
            )
        ]
        for name in ("K_ratio", "L_nm", "O_per_um2", "g"):
            low, mean, high = _pointwise(np.array([s[name] for s in simulated]))
            table[f"{name}_csr_low"], table[f"{name}_csr_mean"], table[f"{name}_csr_high"] = low, mean, high
    return RipleyResult(table, n_start, n_target, n_simulations, largest / 10.0)
