"""Truncated geodesic balls around particles: pair distances and ball areas from local searches.

Ripley's functions and their envelopes only look within the largest radius ``r_max``. Each source
is searched up to ``r_max`` plus the mesh's longest edge (so every triangle that meets the largest
ball has all its corners measured) on the patch of mesh around it
(:class:`cryomem.geometry.LocalGeodesics`); nothing is computed for the rest of the mesh. Nearby
sources are searched in batches that share one patch.
"""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

import numpy as np

from cryomem.stats._areas import sublevel_areas_ang2
from cryomem.stats._particles import MembraneParticles

__all__ = ["BallSums", "BatchJob", "gathered", "local_balls", "search_kind", "spatial_order"]

_BATCH_ENTRIES = 2_000_000  # distances held per batch (sources x patch vertices)
_MAX_BATCH = 32


def search_kind(membrane: MembraneParticles) -> str:
    """Graph of the local searches: near-exact Steiner graph for ``method="exact"``, chords otherwise."""
    return "steiner" if membrane.method == "exact" else "chord"


def spatial_order(points_xyz_ang: np.ndarray, cell_ang: float) -> np.ndarray:
    """Indices that sort points cell by cell on a grid of ``cell_ang`` (neighbours end up close in the order)."""
    cells = np.floor(np.asarray(points_xyz_ang) / max(float(cell_ang), 1e-9)).astype(np.int64)
    return np.lexsort(cells.T[::-1]) if len(cells) else np.zeros(0, dtype=np.int64)


class BallSums:
    """Per-source ball areas and pair distances within the largest radius.

    Attributes
    ----------
    areas_ang2 : (s, k) float64 array
        Area of the geodesic ball of each radius around each source, Å².
    pairs_ang : (s, t) float64 array
        Distance from each source to each target vertex, Å; ``inf`` beyond ``r_max`` plus one edge.
    largest_ang : float
        Largest distance from a source to any vertex where a source's whole membrane piece lies
        within the search limit; otherwise the limit (a lower bound of it).
    """

    def __init__(self, areas_ang2: np.ndarray, pairs_ang: np.ndarray, largest_ang: float) -> None:
        self.areas_ang2, self.pairs_ang, self.largest_ang = areas_ang2, pairs_ang, largest_ang


def local_balls(
    membrane: MembraneParticles,
    source_vertices: np.ndarray,
    target_vertices: np.ndarray,
    radii_ang: np.ndarray,
    *,
    workers: int = 1,
) -> BallSums:
    """Ball areas around ``source_vertices`` and their distances to ``target_vertices``, up to ``radii_ang[-1]``.

    Parameters
    ----------
    membrane : MembraneParticles
        The membrane (its :attr:`MembraneParticles.local` searches are reused).
    source_vertices, target_vertices : (s,), (t,) int arrays
        Mesh vertices.
    radii_ang : (k,) float array
        Increasing radii, Å.
    workers : int, default 1
        Processes searching batches of sources in parallel (forked after the first batch, so they
        share the membrane's search graph). The result does not depend on it.

    Returns
    -------
    BallSums
    """
    local = membrane.local
    job = _Job(
        membrane,
        np.asarray(source_vertices, dtype=np.int64),
        np.asarray(target_vertices, dtype=np.int64),
        np.asarray(radii_ang, dtype=np.float64),
    )
    s = len(job.sources)
    areas = np.zeros((s, len(job.radii)))
    pairs = np.full((s, len(job.targets)), np.inf)
    if not s:
        return BallSums(areas, pairs, 0.0)
    xyz = local.vertices_xyz_ang[job.sources]
    estimate = len(local.tree.query_ball_point(xyz[0], job.limit + local.longest_edge_ang))
    size = int(np.clip(_BATCH_ENTRIES // max(estimate, 1), 1, _MAX_BATCH))
    order = spatial_order(xyz, job.limit)
    batches = [order[begin : begin + size] for begin in range(0, s, size)]
    return gathered(job, batches, workers, areas, pairs)


class BatchJob(Protocol):
    """Work on batches of sources: ``run(rows)`` gives their areas, pair distances and largest distance."""

    def run(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]: ...


def gathered(job: BatchJob, batches: list[np.ndarray], workers: int, areas: np.ndarray, pairs: np.ndarray) -> BallSums:
    """Run every batch (the first in this process, building the membrane's caches; the rest in
    ``workers`` forked processes when > 1) and gather the rows into ``areas`` and ``pairs``."""
    done = [job.run(batches[0])]
    done += _in_processes(job, batches[1:], workers) if workers > 1 else [job.run(rows) for rows in batches[1:]]
    largest = 0.0
    for rows, (row_areas, row_pairs, row_largest) in zip(batches, done):
        areas[rows], pairs[rows], largest = row_areas, row_pairs, max(largest, row_largest)
    return BallSums(areas, pairs, largest)


class _Job:
    """One :func:`local_balls` call: what every batch of sources needs."""

    def __init__(self, membrane: MembraneParticles, sources: np.ndarray, targets: np.ndarray, radii: np.ndarray):
        self.membrane, self.sources, self.targets, self.radii = membrane, sources, targets, radii
        self.limit = float(radii[-1]) + membrane.local.longest_edge_ang

    def run(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Ball areas, pair distances and the largest distance of the sources ``rows``."""
        membrane = self.membrane
        field = membrane.local.distances(self.sources[rows], self.limit, kind=search_kind(membrane))
        face_areas = membrane.face_areas_ang2[field.face_indices]
        areas = sublevel_areas_ang2(field.distances_ang, field.faces, face_areas, self.radii)
        largest = 0.0
        for row, complete in zip(field.distances_ang, field.complete):
            finite = row[np.isfinite(row)]
            largest = max(largest, float(finite.max()) if complete and finite.size else self.limit)
        return areas, field.at(self.targets), largest


_FORKED_JOB: BatchJob | None = None  # the job a forked worker inherits


def _run_forked(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    assert _FORKED_JOB is not None
    return _FORKED_JOB.run(rows)


def _in_processes(job: BatchJob, batches: list[np.ndarray], workers: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Run batches in forked processes (they inherit the job, graph included); serially where fork is missing."""
    global _FORKED_JOB
    if not batches:
        return []
    if "fork" not in multiprocessing.get_all_start_methods():
        return [job.run(rows) for rows in batches]
    _FORKED_JOB = job
    gc.freeze()  # the collector of a forked worker then leaves the parent's objects (and their pages) alone
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=context) as pool:
            return list(pool.map(_run_forked, batches))
    finally:
        gc.unfreeze()
        _FORKED_JOB = None
