"""Geodesic nearest neighbours between start and target particle classes.

MemBrain v2 (Methods, "Geodesic Nearest Neighbors"): particles are snapped to their nearest
vertex and the N nearest geodesic neighbours of each start particle are found among the target
particles. A particle is never its own neighbour, but when start and target classes differ
every target counts, including the nearest one (MemBrain-stats dropped the first target column
whatever the classes, losing the true nearest neighbour).

With the heat method, distances within a few edges of a source run a few per cent short (median
~2.4 %, up to ~15 % for the nearest neighbours on a sphere; ``benchmarks/bench_stats_correctness.py``).
So by default the heat method only finds the candidates: each start particle's ``k`` nearest are then
measured near-exactly (Steiner-point Dijkstra, :class:`cryomem.geometry.LocalExactDistances`), a
search that stops just beyond them, so it only covers the piece of mesh around the particle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryomem.geometry import LocalExactDistances
from cryomem.stats._edges import EdgeSettings, edge_distance_ang
from cryomem.stats._particles import MembraneParticles

__all__ = ["NeighbourResult", "nearest_neighbours", "start_mask"]

_HEAT_SHORTFALL = 1.25  # heat-method distances near a source are at most ~20 % short (measured <= 16 %)
_PAD_EDGES = 3.0  # plus a few mean edge lengths of slack


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


def _refined_nearest(
    membrane: MembraneParticles, starts: np.ndarray, targets: np.ndarray, pairs: np.ndarray, k: int
) -> np.ndarray:
    """``pairs`` with near-exact distances for every target within reach of each start's ``k`` nearest.

    The reach is the k-th heat-method distance, enlarged by the heat method's largest shortfall
    plus a few edges; the exact search stops there. On meshes too large for one search graph it runs
    on the triangles whose heat-method distance is within that reach (enlarged once more), so every
    path up to the reach lies inside. Targets beyond the reach keep their heat-method distance,
    raised to at least the reach.
    """
    vertices, faces = membrane.mesh.vertices_xyz_ang, membrane.mesh.faces
    if not len(faces):
        return pairs
    pad = _PAD_EDGES * float(np.linalg.norm(vertices[faces[:, 0]] - vertices[faces[:, 1]], axis=1).mean())
    target_vertices = membrane.vertices[targets]
    exact = LocalExactDistances(vertices, faces)
    refined = pairs.copy()
    for i, start in enumerate(starts):
        finite = np.sort(pairs[i][np.isfinite(pairs[i])])
        if not finite.size:
            continue
        reach = _HEAT_SHORTFALL * finite[min(k, finite.size) - 1] + pad
        source = int(membrane.vertices[start])
        region = None
        if exact.needs_region:  # a large mesh: the search gets its own graph on the piece it can reach
            region = membrane.distance_rows(np.array([source]))[0] <= _HEAT_SHORTFALL * reach + pad
        found = exact(source, reach, region)[target_vertices]
        row = refined[i]
        inside = np.isfinite(found) & np.isfinite(row)
        row[inside] = found[inside]
        beyond = ~inside & np.isfinite(row)
        row[beyond] = np.maximum(row[beyond], reach)
    return refined


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
        With the heat method, measure each start particle's ``k`` nearest candidates near-exactly
        on the mesh around it (see the module notes); False keeps the plain heat-method distances.

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
            pairs = _pair_distances(m, starts, targets)
            if refine and m.method == "heat":
                pairs = _refined_nearest(m, starts, targets, pairs, k)
            order = np.argsort(pairs, axis=1, kind="stable")[:, :k]
            found = np.take_along_axis(pairs, order, axis=1)
            distance[:, : found.shape[1]] = found
            partner[:, : found.shape[1]] = m.particles["particle_index"].to_numpy()[targets][order]
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
