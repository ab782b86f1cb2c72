"""Coarse cells of a membrane mesh, for geodesic balls at two resolutions (:mod:`cryomem.stats._coarse_balls`).

Per mesh (:func:`coarse_cells`, kept in ``membrane.cache``): sample nodes at least ``spacing_ang``
apart (every vertex within ``spacing_ang`` of one on its own connected piece), moved twice to the
vertex nearest to their cell's centroid; the geodesic Voronoi cell of every node along the mesh
edges; the area, centroid and covariance of every cell (vertex areas: a third of every adjacent
triangle); a coarse graph joining every node to those within ``_RINGS`` rings of adjacent cells,
weighted by the arc through both ends (:func:`arc_length_ang`).

**Virtual sources**: for a point source ``s`` in a tangent plane, ``d(x)^2 - |x|^2 = |s|^2 - 2 x.s``
is linear in ``x``, so a least-squares linear fit of ``D_i^2 - |x_i|^2`` over a node and the nodes
of the adjacent cells (placed in its tangent plane at their arc length) is exact for a cone and
follows the curvature of the level sets, where a linear fit of ``D`` would read several Å long one
spacing beyond the near field (:class:`Stencil`, :func:`stencils`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from cryomem.geometry import ring_pairs, vertex_areas
from cryomem.stats._particles import MembraneParticles

__all__ = [
    "CoarseCells",
    "Stencil",
    "arc_length_ang",
    "cell_incidence",
    "coarse_cells",
    "default_spacing_ang",
    "stencils",
]

_SPACING_EDGES = 4.0  # default node spacing at most this many mean edge lengths (and at least 2)
_SPACING_BINS = 2.0  # ... and at most this many radius bins
_RINGS = 3  # rings of adjacent cells joined in the coarse graph
_RELAX_STEPS = 2  # moves of every node to the vertex nearest to its cell's centroid
_CACHE_KEY = "coarse_cells"


@dataclass(frozen=True)
class Stencil:
    """Virtual-source fits at query points, linear in the squared distances of nearby nodes.

    With node distances ``D`` (one row per source), ``D**2 @ operator - offset`` gives per query
    point the fitted ``a`` (the squared distance there) and the slopes ``b`` of
    ``d(x)^2 = a + b.x + |x|^2`` in the point's tangent axes, as three blocks of columns; with
    ``bowl``, two more: ``a`` and the coefficient ``c`` of the fit ``d(x)^2 = a + b.x + (1 + c) |x|^2``.
    A node beyond the search (``inf``) makes the query's fit non-finite.

    Attributes
    ----------
    operator : (k, r q) scipy.sparse.csc_matrix
        Weights of the squared node distances (``r`` = 3, or 5 with ``bowl``).
    offset : (r q,) float array
        The weights times the squared arcs from the query points to the nodes, Å².
    own : (q,) int64 array
        Cell of every query point (the first node of its stencil).
    own_length_ang : (q,) float array
        Arc from every query point to its own node, Å.
    reach_ang : float
        Longest arc from a query point to a node of its stencil, Å.
    n_coefficients : int
        Coefficients per query point (3, or 5 with ``bowl``).
    """

    operator: sp.csc_matrix
    offset: np.ndarray
    own: np.ndarray
    own_length_ang: np.ndarray
    reach_ang: float
    n_coefficients: int

    @property
    def n_points(self) -> int:
        return len(self.own)

    def fit(self, distances_ang: np.ndarray) -> np.ndarray:
        """(b, r, q) fitted coefficients per row of node distances (b, k)."""
        squared = np.atleast_2d(distances_ang) ** 2
        found = np.asarray(self.operator.T @ squared.T).T - self.offset
        return found.reshape(len(squared), self.n_coefficients, self.n_points)


@dataclass(frozen=True)
class CoarseCells:
    """Sample nodes of a mesh, their Voronoi cells and the coarse graph among the nodes.

    Attributes
    ----------
    spacing_ang : float
        Smallest straight-line distance between sampled nodes, Å.
    nodes : (k,) int64 array
        Mesh vertex of every cell's node.
    node_xyz_ang : (k, 3) float array
        Node positions, Å.
    normals : (k, 3) float array
        Unit cell normals (area weighted); the tangent axes of a node are :func:`_tangent_frames` of it.
    cell_of_vertex : (n,) int64 array
        Cell of every vertex (nearest node along the mesh edges).
    node_of_vertex : (n,) int64 array
        Cell whose node the vertex is, -1 for the other vertices.
    area_ang2 : (k,) float array
        Cell areas (sums of vertex areas), Å².
    centroid_uv_ang : (k, 2) float array
        Cell centroids relative to the node, in its tangent axes, Å.
    spread_uv_ang2 : (k, 3) float array
        Area covariances ``uu, uv, vv`` of the cells about their centroids (every vertex area a
        disc), Å².
    graph : (k, k) scipy.sparse.csr_matrix
        Nodes within ``_RINGS`` rings of adjacent cells, weighted by arc length, Å.
    stencil_nodes : (k, m) int64 array
        Every cell followed by its adjacent cells, padded with -1.
    cell_stencil : Stencil
        Fits at every node from its stencil.
    vertex_arcs_ang : (n, m) float32 array
        Arc from every vertex to the nodes of its cell's stencil, Å (``inf`` for padding).
    vertex_normals : (n, 3) float array
        Unit vertex normals (area weighted).
    vertex_uv_ang : (n, 2) float array
        Every vertex relative to its cell's node, in the node's tangent axes (stretched to the arc), Å.
    vertex_faces : (n, m) scipy.sparse.csr_matrix
        Triangles around every vertex (column indices).
    cell_faces : (k, m) scipy.sparse.csr_matrix
        Triangles whose first corner lies in every cell (column indices): each triangle once.
    faces : (m, 3) int64 array
        The mesh triangles.
    face_cells : (m, 3) int64 array
        Cells of the triangles' corners.
    adjacency : (k, k) scipy.sparse.csr_matrix
        1 between cells that share a mesh edge.
    cell_size : (k,) int64 array
        Vertices per cell.
    cell_vertices : (k, n) scipy.sparse.csr_matrix
        Vertices of every cell (column indices).
    """

    spacing_ang: float
    nodes: np.ndarray
    node_xyz_ang: np.ndarray
    normals: np.ndarray
    cell_of_vertex: np.ndarray
    node_of_vertex: np.ndarray
    area_ang2: np.ndarray
    centroid_uv_ang: np.ndarray
    spread_uv_ang2: np.ndarray
    graph: sp.csr_matrix
    stencil_nodes: np.ndarray
    cell_stencil: Stencil
    vertex_arcs_ang: np.ndarray
    vertex_normals: np.ndarray
    vertex_uv_ang: np.ndarray
    vertex_faces: sp.csr_matrix
    cell_faces: sp.csr_matrix
    faces: np.ndarray
    face_cells: np.ndarray
    adjacency: sp.csr_matrix
    cell_size: np.ndarray
    cell_vertices: sp.csr_matrix

    @property
    def n_cells(self) -> int:
        return len(self.nodes)


# --- geometry ----------------------------------------------------------------------------------


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norm > 0, norm, 1.0)


def _tangent_frames(normals: np.ndarray) -> np.ndarray:
    """(q, 3, 3) rows ``u, v, n`` of orthonormal frames around unit normals (a function of the normal alone)."""
    normals = _unit(normals)
    helper = np.zeros_like(normals)
    helper[np.arange(len(normals)), np.argmin(np.abs(normals), axis=1)] = 1.0
    u = _unit(np.cross(normals, helper))
    return np.stack([u, np.cross(normals, u), normals], axis=1)


def _sums(labels: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """(count, c) column sums of ``values`` (n, c) per label."""
    return np.stack([np.bincount(labels, values[:, i], count) for i in range(values.shape[1])], axis=1)


def _vertex_normals(xyz_ang: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(n, 3) unit vertex normals: sums of the adjacent triangles' normals weighted by area."""
    if not len(faces):
        return np.tile([0.0, 0.0, 1.0], (len(xyz_ang), 1))
    cross = np.cross(xyz_ang[faces[:, 1]] - xyz_ang[faces[:, 0]], xyz_ang[faces[:, 2]] - xyz_ang[faces[:, 0]])
    corners = faces.ravel()
    return _unit(np.stack([np.bincount(corners, np.repeat(cross[:, i], 3), len(xyz_ang)) for i in range(3)], 1))


def arc_length_ang(p_ang: np.ndarray, q_ang: np.ndarray, normal_p: np.ndarray, normal_q: np.ndarray) -> np.ndarray:
    """Length of the circular arc from ``p`` to ``q`` bent by the surface's normal curvature along the chord.

    The normal curvature along the chord is ``|(n_q - n_p) . (q - p)| / |q - p|^2``; the arc of a
    circle of that curvature through both points is ``chord * t / sin(t)`` with
    ``sin(t) = curvature * chord / 2`` (at most half a circle). Exact on spheres, on cylinders along
    and across the axis, and around a semicircular fold.

    Parameters
    ----------
    p_ang, q_ang : (..., 3) float arrays
        End points, Å.
    normal_p, normal_q : (..., 3) float arrays
        Unit surface normals there.

    Returns
    -------
    (...) float array
        Arc lengths, Å.
    """
    step = q_ang - p_ang
    chord = np.linalg.norm(step, axis=-1)
    bend = np.abs(np.sum((normal_q - normal_p) * step, axis=-1)) / np.maximum(chord**2, 1e-24)
    half = np.arcsin(np.clip(bend * chord / 2.0, 0.0, 1.0))
    return chord * np.where(half > 1e-6, half / np.maximum(np.sin(half), 1e-12), 1.0)


def _tangent_coordinates(offset_ang: np.ndarray, frames: np.ndarray, length_ang: np.ndarray) -> np.ndarray:
    """(..., 2) offsets projected on the tangent axes ``frames[..., :2, :]`` and stretched to ``length_ang``."""
    planar = np.einsum("...c,...ac->...a", offset_ang, frames[..., :2, :])
    norm = np.linalg.norm(planar, axis=-1)
    return planar * (length_ang / np.where(norm > 0, norm, 1.0))[..., None]


# --- cells (per mesh) --------------------------------------------------------------------------


def _sample_nodes(membrane: MembraneParticles, spacing_ang: float) -> np.ndarray:
    """Vertices at least ``spacing_ang`` apart, every vertex within it of one on its own piece (seeded greedy order)."""
    local = membrane.local
    xyz, component = local.vertices_xyz_ang, membrane.component_of_vertex
    covered = np.zeros(len(xyz), dtype=bool)
    nodes = []
    for vertex in np.random.default_rng(0).permutation(len(xyz)).tolist():
        if covered[vertex]:
            continue
        nodes.append(vertex)
        near = np.asarray(local.tree.query_ball_point(xyz[vertex], spacing_ang), dtype=np.int64)
        covered[near[component[near] == component[vertex]]] = True
    return np.sort(np.asarray(nodes, dtype=np.int64))


def _voronoi(edge_graph: sp.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell (index into ``nodes``) of every vertex and its distance to the node along the mesh edges, Å."""
    distance, _, owner = dijkstra(edge_graph, indices=nodes, min_only=True, return_predecessors=True)
    lookup = np.full(edge_graph.shape[0], -1, dtype=np.int64)
    lookup[nodes] = np.arange(len(nodes))
    return lookup[owner], distance


def _relaxed_nodes(xyz_ang: np.ndarray, areas_ang2: np.ndarray, cell: np.ndarray, count: int) -> np.ndarray:
    """The vertex of every cell nearest to the cell's area centroid."""
    weight = np.bincount(cell, weights=areas_ang2, minlength=count)
    centroid = _sums(cell, areas_ang2[:, None] * xyz_ang, count) / np.where(weight > 0, weight, 1.0)[:, None]
    offset = np.linalg.norm(xyz_ang - centroid[cell], axis=1)
    order = np.lexsort((offset, cell))
    first = np.r_[True, cell[order][1:] != cell[order][:-1]]
    return np.sort(order[first])


def _cells(membrane: MembraneParticles, spacing_ang: float, areas_ang2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relaxed nodes and the cell of every vertex; vertices left far from every node along the surface get nodes."""
    local = membrane.local
    nodes = _sample_nodes(membrane, spacing_ang)
    cell, distance = _voronoi(local.edge_graph, nodes)
    for _ in range(_RELAX_STEPS):
        nodes = _relaxed_nodes(local.vertices_xyz_ang, areas_ang2, cell, len(nodes))
        cell, distance = _voronoi(local.edge_graph, nodes)
    for _ in range(3):  # across a fold a vertex can be near a node in space and far from it on the surface
        far = np.flatnonzero(distance > 2.0 * spacing_ang)
        if not far.size:
            break
        nodes = np.union1d(nodes, far[np.unique(cell[far], return_index=True)[1]])
        cell, distance = _voronoi(local.edge_graph, nodes)
    return nodes, cell


def _cell_adjacency(edges: np.ndarray, cell: np.ndarray, count: int) -> sp.csr_matrix:
    """(k, k) 0/1 graph of the cells that share a mesh edge."""
    pairs = cell[edges]
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    rows, columns = np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]
    adjacency = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(count, count))
    adjacency.data[:] = 1.0
    return adjacency


def _stencil_table(adjacency: sp.csr_matrix) -> np.ndarray:
    """(k, m) every cell followed by its adjacent cells, padded with -1."""
    count = adjacency.shape[0]
    degree = np.diff(adjacency.indptr)
    table = np.full((count, 1 + int(degree.max(initial=0))), -1, dtype=np.int64)
    table[:, 0] = np.arange(count)
    row = np.repeat(np.arange(count), degree)
    table[row, 1 + np.arange(len(row)) - np.repeat(adjacency.indptr[:-1], degree)] = adjacency.indices
    return table


def _cell_moments(cell: np.ndarray, areas_ang2: np.ndarray, uv_ang: np.ndarray, count: int):
    """Cell areas, centroids and covariances ``uu, uv, vv`` (vertex areas as discs, variance ``A / 4 pi`` per axis)."""
    u, v = uv_ang[:, 0], uv_ang[:, 1]
    disc = areas_ang2 / (4.0 * np.pi)
    sums = _sums(cell, areas_ang2[:, None] * np.stack([u, v, u * u + disc, u * v, v * v + disc], axis=1), count)
    area = np.bincount(cell, weights=areas_ang2, minlength=count)
    mean = sums / np.where(area > 0, area, 1.0)[:, None]
    centroid = mean[:, :2]
    square = np.stack([centroid[:, 0] ** 2, centroid[:, 0] * centroid[:, 1], centroid[:, 1] ** 2], axis=1)
    return area, centroid, mean[:, 2:] - square


def _vertex_arcs(xyz_ang, normals, stencil_nodes, node_xyz_ang, node_normals) -> np.ndarray:
    """(n, m) float32 arcs from every vertex to the nodes of its stencil, Å (``inf`` for padding)."""
    nodes = np.maximum(stencil_nodes, 0)
    arcs = arc_length_ang(xyz_ang[:, None, :], node_xyz_ang[nodes], normals[:, None, :], node_normals[nodes])
    return np.where(stencil_nodes >= 0, np.maximum(arcs, 1e-6), np.inf).astype(np.float32)


def coarse_cells(membrane: MembraneParticles, spacing_ang: float | None = None) -> CoarseCells:
    """The membrane's sample nodes, cells and coarse graph (built once per spacing, kept in ``membrane.cache``).

    Parameters
    ----------
    membrane : MembraneParticles
        The membrane.
    spacing_ang : float, optional
        Smallest distance between nodes, Å (default ``_SPACING_EDGES`` mean edge lengths).

    Returns
    -------
    CoarseCells
    """
    local = membrane.local
    spacing = float(spacing_ang) if spacing_ang is not None else _SPACING_EDGES * local.mean_edge_ang
    if not spacing > 0:
        raise ValueError(f"spacing_ang must be > 0, got {spacing_ang}")
    key = (_CACHE_KEY, round(spacing, 6))
    if key not in membrane.cache:
        membrane.cache[key] = _build_cells(membrane, spacing)
    return membrane.cache[key]


def _build_cells(membrane: MembraneParticles, spacing_ang: float) -> CoarseCells:
    local = membrane.local
    xyz, faces = local.vertices_xyz_ang, local.faces
    areas = vertex_areas(xyz, faces)
    nodes, cell = _cells(membrane, spacing_ang, areas)
    count = len(nodes)
    vertex_normals = _vertex_normals(xyz, faces)
    normals = _unit(_sums(cell, areas[:, None] * vertex_normals, count))
    flat = np.linalg.norm(normals, axis=1) == 0
    normals[flat] = vertex_normals[nodes[flat]]
    frames = _tangent_frames(normals)
    node_xyz = xyz[nodes]
    to_node = arc_length_ang(xyz, node_xyz[cell], vertex_normals, normals[cell])
    uv = _tangent_coordinates(xyz - node_xyz[cell], frames[cell], to_node)
    area, centroid, spread = _cell_moments(cell, areas, uv, count)
    adjacency = _cell_adjacency(local.edges, cell, count)
    row, column = ring_pairs(adjacency, _RINGS)
    weight = np.maximum(arc_length_ang(node_xyz[row], node_xyz[column], normals[row], normals[column]), 1e-9)
    stencil_nodes = _stencil_table(adjacency)
    node_of_vertex = np.full(len(xyz), -1, dtype=np.int64)
    node_of_vertex[nodes] = np.arange(count)
    return CoarseCells(
        spacing_ang=spacing_ang,
        nodes=nodes,
        node_xyz_ang=node_xyz,
        normals=normals,
        cell_of_vertex=cell,
        node_of_vertex=node_of_vertex,
        area_ang2=area,
        centroid_uv_ang=centroid,
        spread_uv_ang2=spread,
        graph=sp.csr_matrix((weight, (row, column)), shape=(count, count)),
        stencil_nodes=stencil_nodes,
        cell_stencil=stencils(node_xyz, normals, stencil_nodes, node_xyz, normals, spacing_ang),
        vertex_arcs_ang=_vertex_arcs(xyz, vertex_normals, stencil_nodes[cell], node_xyz, normals),
        vertex_normals=vertex_normals,
        vertex_uv_ang=uv,
        vertex_faces=cell_incidence(faces.ravel(), np.repeat(np.arange(len(faces)), 3), (len(xyz), len(faces))),
        cell_faces=cell_incidence(cell[faces[:, 0]], np.arange(len(faces)), (count, len(faces))),
        faces=faces,
        face_cells=cell[faces],
        adjacency=adjacency.astype(np.float32),
        cell_size=np.bincount(cell, minlength=count),
        cell_vertices=cell_incidence(cell, np.arange(len(xyz)), (count, len(xyz))),
    )


def cell_incidence(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """0/1 CSR matrix with ones at (rows, columns) (repeats once)."""
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


# --- virtual-source fits -----------------------------------------------------------------------


def stencils(points_ang, normals, stencil_nodes, node_xyz_ang, node_normals, spacing_ang, *, bowl=False) -> Stencil:
    """Least-squares fits of ``D_i^2 - |x_i|^2`` on the stencils around query points.

    Stencil nodes sit in the point's tangent plane (axes :func:`_tangent_frames` of its normal)
    along their projected direction, at their arc length from the point. The fit is linear; with
    ``bowl`` a second fit adds a term in ``|x|^2``: a cone makes ``D^2 - |x|^2`` linear, but where
    fronts converge (the far side of a closed membrane) the level sets bend the other way and the
    linear fit's value falls short by that curvature times the stencil's spread. A stencil that
    does not span the plane (fewer than three nodes, or narrower than a tenth of the node spacing)
    takes its own node's values (``a`` its squared distance less the squared arc to it, slopes 0);
    a bowl fit that is ill-posed (fewer than five nodes, large weights) takes the linear fit's.

    Parameters
    ----------
    points_ang, normals : (q, 3) float arrays
        Query points, Å, and unit normals there.
    stencil_nodes : (q, m) int array
        Cells of each stencil, -1 for padding; the first is the point's own cell.
    node_xyz_ang, node_normals : (k, 3) float arrays
        Node positions, Å, and cell normals.
    spacing_ang : float
        Node spacing, Å.
    bowl : bool, default False
        Add the bowl fit's value and coefficient.

    Returns
    -------
    Stencil
    """
    valid = stencil_nodes >= 0
    nodes = np.where(valid, stencil_nodes, 0)
    frames = _tangent_frames(normals)
    length = arc_length_ang(points_ang[:, None, :], node_xyz_ang[nodes], normals[:, None, :], node_normals[nodes])
    length = np.where(valid, length, 0.0)
    scaled = _tangent_coordinates(node_xyz_ang[nodes] - points_ang[:, None, :], frames[:, None], length) / spacing_ang
    columns = [np.ones(nodes.shape), scaled[..., 0], scaled[..., 1]]
    weights = _least_squares(np.stack(columns, axis=2) * valid[..., None])
    fitted = (valid.sum(axis=1) >= 3) & (_narrowest_spread(scaled, valid) > 0.01)
    fitted &= np.all(np.isfinite(weights), axis=(1, 2))
    weights[~fitted] = 0.0
    weights[~fitted, 0, 0] = 1.0
    weights[:, 1:] /= spacing_ang
    if bowl:
        curved = _least_squares(np.stack(columns + [(length / spacing_ang) ** 2], axis=2) * valid[..., None])
        usable = fitted & (valid.sum(axis=1) >= 5) & np.all(np.isfinite(curved), axis=(1, 2))
        usable &= np.abs(curved[:, 0]).sum(axis=1) < 4.0
        curved[~usable] = 0.0
        curved[~usable, 0] = weights[~usable, 0]
        curved[:, 3] /= spacing_ang**2
        weights = np.concatenate([weights, curved[:, [0, 3]]], axis=1)
    weights *= valid[:, None, :]
    q, rows = len(nodes), weights.shape[1]
    offset = np.einsum("qam,qm->aq", weights, length**2).ravel()
    column = np.broadcast_to(np.arange(rows)[None, :, None] * q + np.arange(q)[:, None, None], weights.shape)
    row = np.broadcast_to(nodes[:, None, :], weights.shape)
    keep = np.broadcast_to(valid[:, None, :], weights.shape)
    operator = sp.csc_matrix((weights[keep], (row[keep], column[keep])), shape=(len(node_xyz_ang), rows * q))
    reach = float(length.max(initial=0.0))
    return Stencil(operator, offset, stencil_nodes[:, 0].copy(), length[:, 0].copy(), reach, rows)


def _least_squares(design: np.ndarray) -> np.ndarray:
    """(q, c, m) rows mapping stencil values to least-squares coefficients (design (q, m, c)); NaN if singular."""
    gram = np.einsum("qma,qmb->qab", design, design)
    scale = np.prod(np.diagonal(gram, axis1=1, axis2=2), axis=1)
    singular = ~(np.abs(np.linalg.det(gram)) > 1e-9 * scale)
    gram[singular] = np.eye(design.shape[2])
    out = np.linalg.solve(gram, design.transpose(0, 2, 1))
    out[singular] = np.nan
    return out


def _narrowest_spread(planar: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(q,) variance of the stencil positions along their narrowest direction."""
    count = np.maximum(valid.sum(axis=1), 1)
    points = planar * valid[..., None]
    mean = points.sum(axis=1) / count[:, None]
    second = np.einsum("qma,qmb->qab", points, points) / count[:, None, None] - mean[:, :, None] * mean[:, None, :]
    half_trace = 0.5 * (second[:, 0, 0] + second[:, 1, 1])
    det = second[:, 0, 0] * second[:, 1, 1] - second[:, 0, 1] ** 2
    return half_trace - np.sqrt(np.maximum(half_trace**2 - det, 0.0))


def default_spacing_ang(mean_edge_ang: float, radii_ang: np.ndarray) -> float:
    """Node spacing for balls of these radii: ``_SPACING_BINS`` radius bins, within 2-``_SPACING_EDGES`` mean edges.

    Cells much wider than a bin blur the areas just beyond the near field; much narrower than two
    edges they hold too few vertices for their moments.
    """
    bin_ang = float(np.min(np.diff(np.asarray(radii_ang, dtype=np.float64), prepend=0.0)))
    return float(np.clip(_SPACING_BINS * bin_ang, 2.0 * mean_edge_ang, _SPACING_EDGES * mean_edge_ang))
