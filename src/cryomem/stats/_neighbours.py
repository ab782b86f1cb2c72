"""Geodesic nearest neighbours between start and target particle classes.

MemBrain v2 (Methods, "Geodesic Nearest Neighbors"): particles are snapped to their nearest
vertex and the N nearest geodesic neighbours of each start particle are found among the target
particles. A particle is never its own neighbour, but when start and target classes differ
every target counts, including the nearest one (MemBrain-stats dropped the first target column
whatever the classes, losing the true nearest neighbour).

With the heat method, distances within a few edges of a source run a few per cent short (median
~2.4 %, up to ~15 % for the nearest neighbours on a sphere; ``benchmarks/bench_stats_correctness.py``).
So by default (and always with ``method="exact"``) neighbours are measured near-exactly instead,
with Steiner-point Dijkstra on thin strips of mesh between each start particle and its candidate
neighbours (see :func:`_local_nearest`). No whole-mesh distance row is computed, so the cost grows
with the particles and their neighbourhoods, not with the mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from cryomem.stats._edges import EdgeSettings, edge_distance_ang
from cryomem.stats._particles import MembraneParticles

__all__ = ["NeighbourResult", "nearest_neighbours", "start_mask"]

_START_FACTOR = 1.5  # first edge-path search limit: this x the k-th Euclidean neighbour distance ...
_PAD_EDGES = 3.0  # ... plus a few mean edge lengths; doubled until k targets lie within it


@dataclass(frozen=True)
class NeighbourResult:
    """Nearest neighbours of every start particle, and a summary per membrane.

    Attributes
    ----------
    per_particle : pandas.DataFrame
        One row per start particle: ``tomo_name, membrane_id, particle_index, class_number, x_ang,
        y_ang, z_ang, vertex, distance_to_mesh_nm, distance_to_edge_nm`` and for ``j = 1..k``
        ``nn{j}_distance_nm`` (NaN if fewer targets are reachable), ``nn{j}_particle_index`` (-1 then).
    per_membrane : pandas.DataFrame
        ``tomo_name, membrane_id, n_start, n_target, nn1_mean_nm, nn1_median_nm, nn1_std_nm``.
    k : int
        Neighbours per particle.
    """

    per_particle: pd.DataFrame
    per_membrane: pd.DataFrame
    k: int


def start_mask(
    membrane: MembraneParticles,
    classes: Sequence[int] | None,
    exclude_edges_nm: float | None,
    edge_settings: EdgeSettings,
) -> np.ndarray:
    """(p,) bool: particles of ``classes`` farther than ``exclude_edges_nm`` from the edges."""
    mask = membrane.class_mask(classes)
    if exclude_edges_nm is not None:
        if not exclude_edges_nm >= 0:
            raise ValueError(f"exclude_edges_nm must be >= 0 nm, got {exclude_edges_nm}")
        mask &= edge_distance_ang(membrane, edge_settings)[membrane.vertices] >= 10.0 * exclude_edges_nm
    return mask


def _pair_distances(membrane: MembraneParticles, starts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(s, t) geodesic distances, Å; solved from the smaller set; ``inf`` for a particle paired with itself."""
    vertices = membrane.vertices
    if len(targets) < len(starts):
        distance = membrane.distance_between_ang(vertices[targets], vertices[starts]).T
    else:
        distance = membrane.distance_between_ang(vertices[starts], vertices[targets])
    distance[starts[:, None] == targets[None, :]] = np.inf
    return distance


def _upper_bounds(
    membrane: MembraneParticles,
    start_vertex: int,
    target_vertices: np.ndarray,
    others: np.ndarray,
    limit_ang: float,
    k: int,
) -> tuple[np.ndarray, float | None]:
    """Distances along the mesh edges to every target (``others`` only; an upper bound of the geodesic),
    searched far enough that ``k`` targets are reached (or the start's whole membrane piece), and the
    ``k``-th of them (None if no target is reachable).

    An edge path no longer than the limit stays inside the Euclidean ball of that radius, so each
    search runs on the edges among the vertices in the ball only.
    """
    local = membrane.local
    component_size = local.component_size[local.component_of_vertex[start_vertex]]
    while True:
        ball = local.ball(start_vertex, limit_ang)
        graph = local.edge_graph[ball][:, ball]
        along = dijkstra(graph, directed=True, indices=int(np.searchsorted(ball, start_vertex)), limit=limit_ang)
        position = np.minimum(np.searchsorted(ball, target_vertices), len(ball) - 1)
        upper = np.where(others & (ball[position] == target_vertices), along[position], np.inf)
        finite = np.sort(upper[np.isfinite(upper)])
        if finite.size >= k:
            return upper, float(finite[k - 1])
        if np.count_nonzero(np.isfinite(along)) >= component_size:
            return upper, float(finite[-1]) if finite.size else None
        limit_ang *= 2.0


def _local_nearest(
    membrane: MembraneParticles, starts: np.ndarray, targets: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Near-exact ``k`` nearest targets of every start, from searches on thin strips of mesh.

    1. Distances along the mesh edges (a surface path, so never shorter than the geodesic) give
       an upper bound ``u`` of the ``k``-th nearest geodesic distance.
    2. A geodesic is never shorter than the straight line, so only targets within Euclidean
       distance ``u`` can be among the ``k`` nearest.
    3. Each of those is measured with a Steiner search on the triangles inside the ellipsoid with
       foci at the start and the target (:meth:`cryomem.geometry.LocalGeodesics.pair_distances`):
       the same distance as on the whole mesh (``GeodesicSolver(method="exact")``), at the cost
       of a strip a few triangles wide.

    Returns
    -------
    distance : (s, k) float64 array
        Å, ``inf`` where fewer than ``k`` targets are reachable.
    partner : (s, k) int64 array
        Positions in ``targets`` (-1 where none).
    """
    local = membrane.local
    xyz = local.vertices_xyz_ang
    ids = membrane.particles["particle_index"].to_numpy()
    start_v, target_v = membrane.vertices[starts], membrane.vertices[targets]
    tree = cKDTree(xyz[target_v])
    nearest = min(len(targets), k + 1)  # one more: the start itself may be a target
    euclid = tree.query(xyz[start_v], nearest)[0].reshape(len(starts), nearest)
    limits = _START_FACTOR * euclid[:, min(k, nearest - 1)] + _PAD_EDGES * local.mean_edge_ang
    distance = np.full((len(starts), k), np.inf)
    partner = np.full((len(starts), k), -1, dtype=np.int64)
    for i, start in enumerate(starts):
        others = ids[targets] != ids[start]
        upper, kth = _upper_bounds(membrane, int(start_v[i]), target_v, others, float(limits[i]), k)
        if kth is None:
            continue
        candidates = np.asarray(tree.query_ball_point(xyz[start_v[i]], kth * (1 + 1e-9)), dtype=np.int64)
        candidates = candidates[others[candidates]]
        found = local.pair_distances(int(start_v[i]), target_v[candidates], np.minimum(upper[candidates], kth))
        within = found <= kth * (1 + 1e-9)
        order = np.lexsort((candidates[within], found[within]))[:k]
        distance[i, : len(order)] = found[within][order]
        partner[i, : len(order)] = candidates[within][order]
    return distance, partner


def nearest_neighbours(
    membranes: Sequence[MembraneParticles],
    *,
    k: int = 1,
    start_classes: Sequence[int] | None = None,
    target_classes: Sequence[int] | None = None,
    exclude_edges_nm: float | None = None,
    edge_settings: EdgeSettings = EdgeSettings(),
    refine: bool = True,
) -> NeighbourResult:
    """The ``k`` geodesic nearest target particles of every start particle.

    Parameters
    ----------
    membranes : sequence of MembraneParticles
        Membranes with their particles (geodesic method chosen there).
    k : int, default 1
        Neighbours per start particle.
    start_classes, target_classes : sequence of int, optional
        Classes of start and target particles (default: all).
    exclude_edges_nm : float, optional
        Start particles within this geodesic distance of an edge are left out (their neighbours
        may lie anywhere), nm.
    edge_settings : EdgeSettings
        How edges are found.
    refine : bool, default True
        Measure each start particle's ``k`` nearest near-exactly with truncated local searches (see
        the module notes; always so with ``method="exact"``). False, with the heat method: plain
        heat-method distances from whole-mesh rows (a few per cent short near the sources).

    Returns
    -------
    NeighbourResult
    """
    if k < 1:
        raise ValueError(f"k (number of neighbours) must be >= 1, got {k}")
    tables, summaries = [], []
    for m in membranes:
        starts = np.flatnonzero(start_mask(m, start_classes, exclude_edges_nm, edge_settings))
        targets = np.flatnonzero(m.class_mask(target_classes))
        table = m.particles.iloc[starts][["tomo_name", "membrane_id", "particle_index", "class_number"]].copy()
        table["tomo_name"] = m.mesh.tomogram_name
        table["membrane_id"] = m.mesh.membrane_id
        for axis in "xyz":
            table[f"{axis}_ang"] = m.particles[f"{axis}_ang"].to_numpy()[starts]
        table["vertex"] = m.vertices[starts]
        table["distance_to_mesh_nm"] = m.particles["distance_to_mesh_ang"].to_numpy()[starts] / 10.0
        if exclude_edges_nm is not None:
            table["distance_to_edge_nm"] = edge_distance_ang(m, edge_settings)[m.vertices[starts]] / 10.0
        distance = np.full((len(starts), k), np.inf)
        partner = np.full((len(starts), k), -1)
        if len(starts) and len(targets):
            if refine or m.method == "exact":
                found, order = _local_nearest(m, starts, targets, k)
            else:
                pairs = _pair_distances(m, starts, targets)
                order = np.argsort(pairs, axis=1, kind="stable")[:, :k]
                found = np.take_along_axis(pairs, order, axis=1)
            distance[:, : found.shape[1]] = found
            partner[:, : found.shape[1]] = np.where(
                order >= 0, m.particles["particle_index"].to_numpy()[targets][order], -1
            )
        partner[~np.isfinite(distance)] = -1
        distance[~np.isfinite(distance)] = np.nan
        for j in range(k):
            table[f"nn{j + 1}_distance_nm"] = distance[:, j] / 10.0
            table[f"nn{j + 1}_particle_index"] = partner[:, j]
        tables.append(table)
        first = distance[:, 0] / 10.0
        first = first[np.isfinite(first)]
        summaries.append(
            {
                "tomo_name": m.mesh.tomogram_name,
                "membrane_id": m.mesh.membrane_id,
                "n_start": len(starts),
                "n_target": len(targets),
                "nn1_mean_nm": float(first.mean()) if first.size else np.nan,
                "nn1_median_nm": float(np.median(first)) if first.size else np.nan,
                "nn1_std_nm": float(first.std()) if first.size else np.nan,
            }
        )
    filled = [t for t in tables if len(t)]
    per_particle = pd.concat(filled, ignore_index=True) if filled else (tables[0] if tables else pd.DataFrame())
    return NeighbourResult(per_particle, pd.DataFrame(summaries), k)
