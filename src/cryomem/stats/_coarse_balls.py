"""Geodesic balls at two resolutions: the fine mesh near every source, Voronoi cells of sample nodes beyond.

:func:`cryomem.stats._balls.local_balls` searches the fine mesh up to the largest radius around every
source: ~25 ms per source when the balls cover most of a 40k-vertex membrane. :func:`coarse_balls`
gives the same sums with only a *near field* searched on the fine mesh:

* **Per mesh**: coarse cells around sample nodes and a graph joining them
  (:mod:`cryomem.stats._coarse_cells`).
* **Per source** (in batches of nearby sources): the truncated fine search of
  :class:`cryomem.geometry.LocalGeodesics` up to ``near_ang``. The nodes it reaches keep their fine
  distance; the reached vertices of the outer *rim* (the last ``_RIM_SPACINGS`` node spacings)
  pass theirs on to the nodes around them along the arcs; a Dijkstra search on the coarse graph
  from one virtual node per source, joined to these seeds, gives every other node's distance.
* Beyond the near field the distance around every node comes from a virtual-source fit of the
  node distances (:class:`cryomem.stats._coarse_cells.Stencil`).
* **Areas**, split by triangles so that nothing counts twice: the triangles the fine search
  reached whole are clipped exactly (as in :mod:`cryomem.stats._areas`); the *border* triangles
  around the end of the fine search (those reached in part and all those of the cells there,
  :func:`_border_faces`) are clipped too, their unreached corners read from the virtual-source
  field; every cell spreads the rest of its area over a parabolic profile of the distance with
  the mean and variance given by its moments in that field (:func:`_outer_areas`).
* **Pair distances** are the fine ones where the fine search reached the target; elsewhere the
  virtual-source fit at the target from the nodes of its cell and the adjacent ones (with a bowl
  term where fronts converge, on the far side of closed membranes), clamped by the triangle
  inequality (:func:`_interpolated_pairs`).

Distances beyond the search limit (the largest radius plus the longest edge) read ``inf`` as in
:func:`local_balls`. Beyond the near field, distances follow the arcs between nodes, which on
smooth membranes are closer to the geodesic than the fine chord graph (by a few tenths of a per
cent on spheres and planes): ``coarse_balls`` and ``local_balls`` differ by that much there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from cryomem.geometry import LocalField
from cryomem.stats._areas import binned_areas, clipped_fraction
from cryomem.stats._balls import BallSums, gathered, local_balls, search_kind, spatial_order
from cryomem.stats._coarse_cells import (
    CoarseCells,
    Stencil,
    cell_incidence,
    coarse_cells,
    default_spacing_ang,
    stencils,
)
from cryomem.stats._particles import MembraneParticles

__all__ = ["coarse_balls"]

_NEAR_SPACINGS = 2.6  # default fine-search reach, in node spacings (plus one mean edge)
_FINE_ONLY = 2.0  # balls within this many near fields: the fine search alone (local_balls)
_MIN_CELLS = 64  # meshes with fewer cells: the fine search alone
_RIM_SPACINGS = 1.0  # reached vertices this close to the end of the fine search seed the coarse one
_CONVERGING = 2.0  # bowl coefficient below -this: converging fronts (see _interpolated_pairs)
_NEAR_SIDE = 0.75  # share of a cell's border triangles taken off its near side (measured: sphere, plane)
_COARSE_SLACK = 0.03  # coarse node distances may run this much long (lower clamp of pair distances)
_BATCH_ENTRIES = 4_000_000  # sources x mesh vertices per batch (the fine search holds such a block)
_MAX_BATCH = 32  # sources per batch
_SEED_OFFSET_ANG = 1.0  # added to every seed edge, so that none weighs zero


# --- areas -------------------------------------------------------------------------------------


def _near_areas(membrane: MembraneParticles, field: LocalField, inner: np.ndarray, radii_ang: np.ndarray) -> np.ndarray:
    """(b, r) exactly clipped areas of the inner triangles (all corners reached by the fine search), Å²."""
    row, face = np.nonzero(inner)
    flat = field.distances_ang.reshape(-1)
    offset = row * field.distances_ang.shape[1]
    d0, d1, d2 = (flat[offset + field.faces[face, i]] for i in range(3))
    low, high = np.minimum(np.minimum(d0, d1), d2), np.maximum(np.maximum(d0, d1), d2)
    middle = d0 + d1 + d2 - low - high

    def fraction(entry, radius):
        return clipped_fraction(low[entry], middle[entry], high[entry], radius)

    weights = membrane.face_areas_ang2[field.face_indices[face]]
    return binned_areas(low, high, weights, row, len(inner), radii_ang, fraction)


def _border_faces(cells: CoarseCells, near: _NearField, near_ang: float, longest_edge_ang: float):
    """Rows and faces of the border triangles (each pair once, inner ones among them), and rows and border cells.

    The border cells are those the fine search reached in part, those holding a corner of a
    triangle reached in part, and (so that no cell is left cut by the border) their adjacent cells.
    Border triangles are those whose first corner lies in a border cell not reached whole, and the
    triangles reached in part whose first corner lies in a cell reached whole.
    """
    rim_row, rim_vertex, rim_distance = near.rim
    edge = rim_distance > near_ang - longest_edge_ang
    around = cells.vertex_faces[rim_vertex[edge]]
    rim_face_row, rim_face = np.repeat(rim_row[edge], np.diff(around.indptr)), around.indices
    whole = near.reached_count == cells.cell_size
    border = (near.reached_count > 0) & ~whole
    border[np.repeat(rim_face_row, 3), cells.face_cells[rim_face].ravel()] = True
    border |= np.asarray(cells.adjacency.T @ border.T.astype(np.float32)).T > 0
    border_row, border_cell = np.nonzero(border & ~whole)
    owned = cells.cell_faces[border_cell]  # every triangle once, under the cell of its first corner
    row, face = np.repeat(border_row, np.diff(owned.indptr)), owned.indices
    in_whole = whole[rim_face_row, cells.face_cells[rim_face, 0]]
    key = np.unique(rim_face_row[in_whole] * len(cells.faces) + rim_face[in_whole])
    all_row, all_cell = np.nonzero(border)
    return np.r_[row, key // len(cells.faces)], np.r_[face, key % len(cells.faces)], all_row, all_cell


def _border_areas(membrane, cells, near, distances_ang, slopes, near_ang, radii_ang):
    """Clipped areas of the border triangles, and their thirds per cell.

    Border triangles (:func:`_border_faces`) lie around the end of the fine search and were not
    reached whole. Clipping them triangle by triangle keeps the cell profiles of
    :func:`_outer_areas` away from the end of the fine search, where cells are cut. A corner the
    search did not reach lies beyond ``near_ang``; its distance comes from its cell's
    virtual-source field (:func:`_field_estimates`).

    Returns
    -------
    areas : (b, r) float array
        Å².
    thirds : (b, k) float array
        A third of every border triangle per corner, summed per cell, Å².
    """
    count = len(near.inner)
    row, face, corner_distances = _border_distances(membrane, cells, near, distances_ang, slopes, near_ang)
    d0, d1, d2 = corner_distances
    low, high = np.minimum(np.minimum(d0, d1), d2), np.maximum(np.maximum(d0, d1), d2)
    middle = d0 + d1 + d2 - low - high
    weights = membrane.face_areas_ang2[face]
    kept = np.flatnonzero(np.isfinite(high))

    def fraction(entry, radius):
        index = kept[entry]
        return clipped_fraction(low[index], middle[index], high[index], radius)

    areas = binned_areas(low[kept], high[kept], weights[kept], row[kept], count, radii_ang, fraction)
    node = row[:, None] * cells.n_cells + cells.face_cells[face]
    thirds = np.bincount(node.ravel(), np.repeat(weights / 3.0, 3), minlength=count * cells.n_cells)
    return areas, thirds.reshape(count, cells.n_cells)


def _border_distances(membrane, cells, near, distances_ang, slopes, near_ang):
    """Rows, faces and corner distances (three arrays) of the border triangles not reached whole.

    Fine distances where the search reached a corner; field estimates elsewhere, computed once per
    vertex of a border cell (and per corner for the few corners in other cells).
    """
    field, count = near.field, len(near.inner)
    row, face, border_row, border_cell = _border_faces(cells, near, near_ang, membrane.local.longest_edge_ang)
    known = np.full((len(cells.cell_of_vertex), count), np.inf)  # vertex-major: patch rows copy in blocks
    known[field.vertices] = field.distances_ang.T
    flat = known.reshape(-1)
    corners = cells.faces[face]
    reached = np.isfinite(flat[corners[:, 0] * count + row]) & np.isfinite(flat[corners[:, 1] * count + row])
    reached &= np.isfinite(flat[corners[:, 2] * count + row])
    row, face, corners = row[~reached], face[~reached], corners[~reached]  # the rest is inner, clipped already
    members = cells.cell_vertices[border_cell]
    member_row, member = np.repeat(border_row, np.diff(members.indptr)), members.indices
    slot = member * count + member_row
    unknown = np.isinf(flat[slot])
    flat[slot[unknown]] = _field_estimates(cells, distances_ang, slopes, member_row[unknown], member[unknown], near_ang)
    found = [flat[corners[:, i] * count + row] for i in range(3)]
    for d, corner in zip(found, corners.T):
        missing = np.flatnonzero(np.isinf(d))
        d[missing] = _field_estimates(cells, distances_ang, slopes, row[missing], corner[missing], near_ang)
    return row, face, found


def _field_estimates(cells, distances_ang, slopes, rows, vertices, near_ang):
    """Distances of vertices beyond the fine search from their cells' fields ``d^2 = D^2 + b.x + |x|^2``, Å.

    At least ``near_ang`` (the search reached every vertex closer); ``inf`` where the node is.
    """
    node = rows * cells.n_cells + cells.cell_of_vertex[vertices]
    u, v = cells.vertex_uv_ang[vertices, 0], cells.vertex_uv_ang[vertices, 1]
    slope_u, slope_v = slopes[0].reshape(-1)[node], slopes[1].reshape(-1)[node]
    with np.errstate(invalid="ignore"):
        squared = distances_ang.reshape(-1)[node] ** 2 + slope_u * u + slope_v * v + (u * u + v * v)
    return np.sqrt(np.maximum(np.where(np.isnan(squared), np.inf, squared), near_ang**2))


def _profile_fraction(z: np.ndarray) -> np.ndarray:
    """CDF of the parabolic (Epanechnikov) profile on [-1, 1]: ``(2 + 3 z - z^3) / 4`` (variance 1/5)."""
    z = np.clip(z, -1.0, 1.0)
    return 0.5 + z * (0.75 - 0.25 * z * z)


def _distance_profiles(centroid_ang, spread_ang2, distances_ang, slopes):
    """(b, c) mean and half-width of the distance over cells, for their parabolic profiles.

    Around a node at distance ``D`` the field is ``d(x)^2 = D^2 + b.x + |x|^2``. At the cell's
    centroid ``c`` it reads ``d_c`` with unit gradient ``g`` along ``b / 2 + c``; over the cell
    (covariance ``S`` about ``c``) the distance has mean ``d_c + (tr S - g.S.g) / (2 d_c)`` (the
    curvature of the level sets) and variance ``g.S.g``, that of a parabolic profile of half-width
    ``sqrt(5 g.S.g)``.

    Parameters
    ----------
    centroid_ang : (c, 2) float array
        Cell centroids relative to their nodes, Å.
    spread_ang2 : (c, 3) float array
        Cell covariances ``uu, uv, vv``, Å².
    distances_ang : (b, c) float array
        Node distances, Å.
    slopes : two (b, c) float arrays
        Slopes ``b`` of the nodes' fits, along ``u`` and ``v``.

    Returns
    -------
    mean, half_width : (b, c) float arrays
        Å.
    """
    cu, cv = centroid_ang[:, 0], centroid_ang[:, 1]
    slope_u, slope_v = slopes
    squared = distances_ang**2 + slope_u * cu + slope_v * cv + (cu * cu + cv * cv)
    distance = np.sqrt(np.maximum(squared, 1e-18))
    gu, gv = 0.5 * slope_u + cu, 0.5 * slope_v + cv
    s_uu, s_uv, s_vv = spread_ang2[:, 0], spread_ang2[:, 1], spread_ang2[:, 2]
    along = (gu * gu * s_uu + 2.0 * gu * gv * s_uv + gv * gv * s_vv) / np.maximum(gu * gu + gv * gv, 1e-24)
    along = np.maximum(along, 0.0)
    mean = distance + np.maximum(s_uu + s_vv - along, 0.0) / (2.0 * distance)
    return mean, np.maximum(np.sqrt(5.0 * along), 1e-6)


def _outer_areas(cells: CoarseCells, distances_ang, slopes, outer_area_ang2, near_ang, radii_ang):
    """(b, r) areas of the cells' triangles left to the coarse model, Å².

    A cell spreads the area of its triangles left (no corner reached, none in a cell reached in
    part or touched by a border triangle) over the parabolic profile of its distance
    (:func:`_distance_profiles`). The border triangles took mostly the cell's near side: the part
    left fills the profile above the quantile ``_NEAR_SIDE`` times the share taken, and none of it
    lies below ``near_ang``.

    Parameters
    ----------
    cells : CoarseCells
    distances_ang : (b, k) float array
        Node distances, Å.
    slopes : two (b, k) float arrays
        Slopes ``b`` of the nodes' fits along ``u`` and ``v`` (0 where there is none).
    outer_area_ang2 : (b, k) float array
        Area of every cell in the triangles left, Å².
    near_ang : float
        The fine search limit, Å.
    radii_ang : (r,) float array
        Radii, Å.
    """
    columns = np.flatnonzero(np.isfinite(distances_ang).any(axis=0))
    distances, area = distances_ang[:, columns], outer_area_ang2[:, columns]
    whole = cells.area_ang2[columns]
    with np.errstate(invalid="ignore"):
        mean, half = _distance_profiles(
            cells.centroid_uv_ang[columns], cells.spread_uv_ang2[columns], distances, [s[:, columns] for s in slopes]
        )
    row, col = np.nonzero(np.isfinite(distances) & (area > 1e-9 * whole))
    mean, half, area, whole = mean[row, col], half[row, col], area[row, col], whole[col]
    taken = np.maximum(_NEAR_SIDE * (1.0 - area / whole), _profile_fraction((near_ang - mean) / half))
    taken = np.minimum(taken, 1.0 - 1e-3)
    start = mean + half * _profile_quantile(taken)

    def fraction(entry, r):
        inside = _profile_fraction((r - mean[entry]) / half[entry]) - taken[entry]
        return np.clip(inside / (1.0 - taken[entry]), 0.0, 1.0)

    return binned_areas(start, mean + half, area, row, len(distances), radii_ang, fraction)


def _profile_quantile(fraction: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_profile_fraction`: ``z`` in [-1, 1] with ``(2 + 3 z - z^3) / 4 = fraction``."""
    return 2.0 * np.sin(np.arcsin(np.clip(2.0 * fraction - 1.0, -1.0, 1.0)) / 3.0)


# --- per batch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NearField:
    """The fine search of one batch, summarised per cell.

    Attributes
    ----------
    field : LocalField
        The truncated fine search.
    inner : (b, f) bool array
        Patch triangles whose corners were all reached (clipped exactly); every other triangle has
        a corner beyond the search limit.
    seeds_ang : (b, k) float array
        Fine distance of every node reached, ``inf`` elsewhere.
    rim : tuple of three (r,) arrays
        Rows, mesh vertices and fine distances of the reached vertices in the last
        ``_RIM_SPACINGS`` node spacings (at least one longest edge) of the search.
    outer_area_ang2 : (b, k) float array
        Area of every cell less the thirds of its inner triangles, Å² (less those of the border
        triangles too, once :func:`_border_areas` has run).
    reached_count : (b, k) int array
        Vertices of every cell the search reached.
    """

    field: LocalField
    inner: np.ndarray
    seeds_ang: np.ndarray
    rim: tuple
    outer_area_ang2: np.ndarray
    reached_count: np.ndarray


def _near_field(membrane: MembraneParticles, cells: CoarseCells, sources: np.ndarray, near_ang: float) -> _NearField:
    """Fine search from a batch of sources, summarised per cell."""
    field = membrane.local.distances(sources, near_ang, kind=search_kind(membrane))
    vertices, distances, faces = field.vertices, field.distances_ang, field.faces
    reached = np.isfinite(distances)
    inner = reached[:, faces[:, 0]] & reached[:, faces[:, 1]] & reached[:, faces[:, 2]]
    seeds = np.full((len(sources), cells.n_cells), np.inf)
    at_node = cells.node_of_vertex[vertices]
    is_node = np.flatnonzero(at_node >= 0)
    seeds[:, at_node[is_node]] = distances[:, is_node]
    rim_depth = max(_RIM_SPACINGS * cells.spacing_ang, membrane.local.longest_edge_ang)
    rim_row, rim_index = np.nonzero(reached & (distances > near_ang - rim_depth))
    rim = (rim_row, vertices[rim_index], distances[rim_row, rim_index])
    thirds = np.repeat(membrane.face_areas_ang2[field.face_indices] / 3.0, 3)
    corner_cells = cells.cell_of_vertex[vertices][faces].ravel()
    shares = sp.csr_matrix((thirds, (corner_cells, np.repeat(np.arange(len(faces)), 3))), (cells.n_cells, len(faces)))
    outer = cells.area_ang2[None, :] - np.asarray(shares @ inner.T.astype(np.float64)).T  # less the inner thirds
    members = cell_incidence(cells.cell_of_vertex[vertices], np.arange(len(vertices)), (cells.n_cells, len(vertices)))
    reached_count = np.asarray(members @ reached.T.astype(np.float64)).T
    return _NearField(field, inner, seeds, rim, outer, reached_count)


def _rim_seeds(cells: CoarseCells, near: _NearField) -> np.ndarray:
    """(b, k) coarse seeds: fine node distances, lowered to ``d(v) + arc(v, node)`` over the rim vertices.

    Every rim vertex passes its fine distance on to the nodes of its stencil along the arcs to them,
    so the nodes just beyond the fine search start from nearly straight continuations.
    """
    seeds = near.seeds_ang.copy()
    rim_row, rim_vertex, rim_distance = near.rim
    if len(rim_row):
        nodes = cells.stencil_nodes[cells.cell_of_vertex[rim_vertex]]
        valid = nodes >= 0
        slot = (rim_row[:, None] * cells.n_cells + nodes)[valid]
        np.minimum.at(seeds.reshape(-1), slot, (rim_distance[:, None] + cells.vertex_arcs_ang[rim_vertex])[valid])
    return seeds


def _far_distances(graph: sp.csr_matrix, seeds_ang: np.ndarray, limit_ang: float) -> np.ndarray:
    """(b, k) node distances: Dijkstra on the coarse graph from one virtual node per row, joined to its seeds."""
    count, batch = graph.shape[0], len(seeds_ang)
    row, column = np.nonzero(np.isfinite(seeds_ang))
    weight = seeds_ang[row, column] + _SEED_OFFSET_ANG
    indptr = np.r_[graph.indptr, graph.nnz + np.cumsum(np.bincount(row, minlength=batch))]
    size = count + batch
    joined = sp.csr_matrix((np.r_[graph.data, weight], np.r_[graph.indices, column], indptr), shape=(size, size))
    found = dijkstra(joined, directed=True, indices=count + np.arange(batch), limit=limit_ang + _SEED_OFFSET_ANG)
    return np.atleast_2d(found)[:, :count] - _SEED_OFFSET_ANG


def _interpolated_pairs(distances_ang: np.ndarray, stencil: Stencil) -> np.ndarray:
    """(b, t) distances at query points from node distances, by the virtual-source fit.

    Where fronts converge strongly (bowl coefficient below ``-_CONVERGING``, as near the far side
    of a closed membrane) the bowl fit's value replaces the linear fit's. Clamped to the
    triangle-inequality bounds of the point's own node, ``D_own + l_own`` above and
    ``(1 - _COARSE_SLACK) D_own - l_own`` below (coarse node distances can run a few per cent long);
    the upper bound where the fit reaches a node beyond the search.
    """
    own = distances_ang[:, stencil.own]
    upper = own + stencil.own_length_ang
    lower = (1.0 - _COARSE_SLACK) * own - stencil.own_length_ang
    fit = stencil.fit(distances_ang)
    squared = np.where(fit[:, 4] < -_CONVERGING, fit[:, 3], fit[:, 0]) if fit.shape[1] > 3 else fit[:, 0]
    finite = np.isfinite(squared)
    fitted = np.sqrt(np.maximum(np.where(finite, squared, 0.0), 0.0))
    return np.where(finite, np.clip(fitted, lower, upper), upper)


def _largest(membrane, cells, sources, field, distances_ang, limit_ang) -> float:
    """Largest distance to a node where a source's whole piece lies within the limit, else the limit."""
    component = membrane.component_of_vertex
    own = component[cells.nodes][None, :] == component[sources][:, None]
    node_far = np.where(own, distances_ang, -np.inf).max(axis=1)
    fine_far = np.where(np.isfinite(field.distances_ang), field.distances_ang, -np.inf).max(axis=1)
    inside = field.complete | (node_far + cells.cell_stencil.reach_ang <= limit_ang)
    return float(np.where(inside, np.maximum(node_far, fine_far), limit_ang).max())


def _batch(membrane, cells, sources, stencil, targets, radii, near_ang, far_limit_ang, limit_ang):
    """Areas (b, r), pair distances (b, t) and the largest distance for one batch of nearby sources."""
    near = _near_field(membrane, cells, sources, near_ang)
    distances = _far_distances(cells.graph, _rim_seeds(cells, near), far_limit_ang)
    fit = cells.cell_stencil.fit(distances)
    slopes = [np.where(np.isfinite(fit[:, i]), fit[:, i], 0.0) for i in (1, 2)]
    areas = _near_areas(membrane, near.field, near.inner, radii)
    border, thirds = _border_areas(membrane, cells, near, distances, slopes, near_ang, radii)
    outer = near.outer_area_ang2 - thirds
    areas += border + _outer_areas(cells, distances, slopes, outer, near_ang, radii)
    fine = near.field.at(targets)
    pairs = np.where(np.isfinite(fine), fine, _interpolated_pairs(distances, stencil))
    pairs[pairs > limit_ang] = np.inf
    return areas, pairs, _largest(membrane, cells, sources, near.field, distances, limit_ang)


def coarse_balls(
    membrane: MembraneParticles,
    source_vertices: np.ndarray,
    target_vertices: np.ndarray,
    radii_ang: np.ndarray,
    *,
    spacing_ang: float | None = None,
    near_ang: float | None = None,
    workers: int = 1,
) -> BallSums:
    """Ball areas around ``source_vertices`` and their distances to ``target_vertices``, at two resolutions.

    Same meaning as :func:`cryomem.stats._balls.local_balls`; the fine searches only reach
    ``near_ang`` and the rest comes from coarse cells (module notes). Meshes with fewer than
    ``_MIN_CELLS`` cells, balls within ``_FINE_ONLY`` near fields, and membranes measured with
    ``method="exact"`` (near-exact Steiner searches, which the coarse cells would blur) are left to
    :func:`local_balls`.

    Parameters
    ----------
    membrane : MembraneParticles
        The membrane.
    source_vertices, target_vertices : (s,), (t,) int arrays
        Mesh vertices.
    radii_ang : (k,) float array
        Increasing radii, Å.
    spacing_ang : float, optional
        Smallest distance between sample nodes, Å (default :func:`default_spacing_ang`).
    near_ang : float, optional
        Reach of the fine searches, Å (default ``_NEAR_SPACINGS`` node spacings plus one mean edge).
    workers : int, default 1
        Processes searching batches of sources in parallel (the result does not depend on it).

    Returns
    -------
    BallSums
        ``largest_ang`` is the largest distance to a *node* where a source's whole piece lies
        within the limit (it can fall short of the farthest vertex by up to a cell's reach).
    """
    sources = np.asarray(source_vertices, dtype=np.int64)
    targets = np.asarray(target_vertices, dtype=np.int64)
    radii = np.asarray(radii_ang, dtype=np.float64)
    if radii.ndim != 1 or not len(radii) or np.any(np.diff(radii) <= 0):
        raise ValueError("radii_ang must be a non-empty 1-D increasing array")
    local = membrane.local
    limit = float(radii[-1]) + local.longest_edge_ang
    spacing = default_spacing_ang(local.mean_edge_ang, radii) if spacing_ang is None else float(spacing_ang)
    if not spacing > 0:
        raise ValueError(f"spacing_ang must be > 0, got {spacing_ang}")
    near = float(near_ang) if near_ang is not None else _NEAR_SPACINGS * spacing + local.mean_edge_ang
    if not near > 0:
        raise ValueError(f"near_ang must be > 0, got {near_ang}")
    if limit <= _FINE_ONLY * near or not len(sources) or search_kind(membrane) == "steiner":
        return local_balls(membrane, sources, targets, radii, workers=workers)
    with ThreadPoolExecutor(1) as background:  # the fine searches' graph is built while the cells are
        chords = background.submit(local.build_chords)
        cells = coarse_cells(membrane, spacing)
        chords.result()
    if cells.n_cells < _MIN_CELLS:
        return local_balls(membrane, sources, targets, radii, workers=workers)
    xyz = local.vertices_xyz_ang
    target_cells = cells.cell_of_vertex[targets]
    stencil = stencils(
        xyz[targets],
        cells.vertex_normals[targets],
        cells.stencil_nodes[target_cells],
        cells.node_xyz_ang,
        cells.normals,
        cells.spacing_ang,
        bowl=True,
    )
    far_limit = limit * (1.0 + _COARSE_SLACK) + max(stencil.reach_ang, cells.cell_stencil.reach_ang)
    areas = np.zeros((len(sources), len(radii)))
    pairs = np.full((len(sources), len(targets)), np.inf)
    order = spatial_order(xyz[sources], near)
    size = int(np.clip(_BATCH_ENTRIES // max(len(xyz), 1), 4, _MAX_BATCH))
    batches = [order[begin : begin + size] for begin in range(0, len(order), size)]
    job = _CoarseJob(membrane, cells, sources, stencil, targets, radii, near, far_limit, limit)
    return gathered(job, batches, workers, areas, pairs)


@dataclass(frozen=True)
class _CoarseJob:
    """One :func:`coarse_balls` call: what every batch of sources needs."""

    membrane: MembraneParticles
    cells: CoarseCells
    sources: np.ndarray
    stencil: Stencil
    targets: np.ndarray
    radii: np.ndarray
    near_ang: float
    far_limit_ang: float
    limit_ang: float

    def run(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Areas, pair distances and the largest distance of the sources ``rows``."""
        return _batch(
            self.membrane, self.cells, self.sources[rows], self.stencil, self.targets, self.radii,
            self.near_ang, self.far_limit_ang, self.limit_ang,
        )  # fmt: skip
