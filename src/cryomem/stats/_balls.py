"""Truncated geodesic balls around particles: pair distances and ball areas from local searches.

Ripley's functions and their envelopes only look within the largest radius ``r_max``. Each source
is searched up to ``r_max`` plus the mesh's longest edge (so every triangle that meets the largest
ball has all its corners measured) on the patch of mesh around it
(:class:`cryomem.geometry.LocalGeodesics`); nothing is computed for the rest of the mesh. Nearby
sources are searched in batches that share one patch.
"""

from __future__ import annotations

import numpy as np

from cryomem.stats._areas import sublevel_areas_ang2
from cryomem.stats._particles import MembraneParticles

__all__ = ["BallSums", "local_balls", "search_kind", "spatial_order"]

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
    membrane: MembraneParticles, source_vertices: np.ndarray, target_vertices: np.ndarray, radii_ang: np.ndarray
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

    Returns
    -------
    BallSums
    """
    local = membrane.local
    sources = np.asarray(source_vertices, dtype=np.int64)
    targets = np.asarray(target_vertices, dtype=np.int64)
    radii = np.asarray(radii_ang, dtype=np.float64)
    limit = float(radii[-1]) + local.longest_edge_ang
    areas = np.zeros((len(sources), len(radii)))
    pairs = np.full((len(sources), len(targets)), np.inf)
    largest = 0.0
    if not len(sources):
        return BallSums(areas, pairs, largest)
    xyz = local.vertices_xyz_ang[sources]
    estimate = len(local.tree.query_ball_point(xyz[0], limit + local.longest_edge_ang))
    batch = int(np.clip(_BATCH_ENTRIES // max(estimate, 1), 1, _MAX_BATCH))
    order = spatial_order(xyz, limit)
    kind = search_kind(membrane)
    for begin in range(0, len(order), batch):
        rows = order[begin : begin + batch]
        field = local.distances(sources[rows], limit, kind=kind)
        face_areas = membrane.face_areas_ang2[field.face_indices]
        areas[rows] = sublevel_areas_ang2(field.distances_ang, field.faces, face_areas, radii)
        pairs[rows] = field.at(targets)
        for row, complete in zip(field.distances_ang, field.complete):
            finite = row[np.isfinite(row)]
            largest = max(largest, float(finite.max()) if complete and finite.size else limit)
    return BallSums(areas, pairs, largest)
