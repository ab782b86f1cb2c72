"""Near-exact polyhedral geodesics: Dijkstra on a graph refined with Steiner points.

Every mesh edge receives ``k`` equally spaced Steiner points; inside every triangle each node on one
side is joined by a straight segment to every node on the other two sides, and consecutive nodes along
an edge are chained. Shortest paths in this graph are polylines that stay on the surface, so they
are never shorter than the true polyhedral geodesic, and they converge to it as ``k`` grows
(Lanthier, Maheshwari & Sack 2001; Aleksandrov et al.); with ``k = 5`` the excess on regular meshes
is well below 1 %.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from cryomem.geometry._components import unique_edges


class SteinerGraph:
    """Shortest-path graph of a triangle mesh refined with ``points_per_edge`` Steiner points per edge."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, points_per_edge: int = 5) -> None:
        n, k = len(vertices), int(points_per_edge)
        if len(faces):  # a repeated triangle adds no path (and would double its graph edges below)
            faces = np.unique(np.sort(np.asarray(faces), axis=1), axis=0)
        edges = unique_edges(faces)
        t = np.arange(1, k + 1) / (k + 1)
        steiner = (
            vertices[edges[:, 0], None, :] * (1 - t)[None, :, None] + vertices[edges[:, 1], None, :] * t[None, :, None]
        )
        positions = np.concatenate([vertices, steiner.reshape(-1, 3)])
        self.n_vertices = n
        rows, cols = [], []
        # chains along every edge: v0, s1..sk, v1
        chain = np.concatenate(
            [edges[:, :1], n + np.arange(len(edges) * k).reshape(len(edges), k), edges[:, 1:]], axis=1
        )
        rows.append(chain[:, :-1].ravel())
        cols.append(chain[:, 1:].ravel())
        if len(faces):
            key = np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]], axis=2)  # (m, 3, 2)
            edge_id = _edge_lookup(edges, key.reshape(-1, 2), n).reshape(-1, 3)
            side_nodes = n + edge_id[:, :, None] * k + np.arange(k)[None, None, :]  # (m, 3, k)
            for side in range(3):
                mine = side_nodes[:, side, :]  # (m, k)
                opposite = faces[:, (side + 2) % 3]  # the corner not on this side
                rows.append(mine.ravel())
                cols.append(np.repeat(opposite, k))
                # every node of this side with every node of the next side: each pair of sides once
                following = side_nodes[:, (side + 1) % 3, :]
                rows.append(np.repeat(mine, k, axis=1).ravel())
                cols.append(np.tile(following, (1, k)).ravel())
        # every graph edge arises once: chains per mesh edge, node pairs per triangle (two triangles
        # share one side, never a pair of sides), so no duplicates to remove
        row = np.concatenate(rows)
        col = np.concatenate(cols)
        lengths = np.maximum(np.linalg.norm(positions[row] - positions[col], axis=1), 1e-12)  # 0 would vanish
        size = len(positions)
        # both directions stored: scipy's undirected Dijkstra would transpose the graph on every call
        both = (np.concatenate([row, col]), np.concatenate([col, row]))
        self.graph = sp.csr_matrix((np.concatenate([lengths, lengths]), both), shape=(size, size))

    def distances(self, sources: np.ndarray, *, nearest: bool) -> np.ndarray:
        """Distances from ``sources`` to the original vertices: ``(n,)`` if ``nearest`` else ``(s, n)``."""
        result = dijkstra(self.graph, directed=True, indices=sources, min_only=nearest)
        return result[: self.n_vertices] if nearest else result[:, : self.n_vertices]


def _edge_lookup(edges: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Row of each ``(i, j)`` key in the sorted unique ``edges``."""
    codes = edges[:, 0] * n + edges[:, 1]
    return np.searchsorted(codes, keys[:, 0] * n + keys[:, 1])
