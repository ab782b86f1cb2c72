"""Connected components of a triangle mesh (vertices sharing an edge)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def edge_keys(faces: np.ndarray) -> tuple[np.ndarray, int]:
    """``(keys, n)``: every triangle side as one int64 ``i * n + j`` with ``i < j``, sides 01, 12, 20 stacked.

    ``keys[k * m + f]`` is side ``k`` of face ``f``; ``n`` is one more than the largest vertex index.
    """
    n = int(faces.max()) + 1 if faces.size else 1
    faces = np.asarray(faces, dtype=np.int64)
    first, second = faces.T.ravel(), faces[:, [1, 2, 0]].T.ravel()  # side k of face f at k * m + f
    return np.minimum(first, second) * n + np.maximum(first, second), n


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """(e, 2) int64 array of undirected edges ``(i < j)``, each once, sorted lexicographically."""
    keys, n = edge_keys(faces)
    keys = np.unique(keys)
    return np.column_stack([keys // n, keys % n])


def vertex_components(n_vertices: int, faces: np.ndarray, edges: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """``(count, labels)``: connected-component label ``0..count-1`` of every vertex (isolated vertices alone).

    ``edges``: the mesh's :func:`unique_edges`, where the caller has them already.
    """
    edges = unique_edges(faces) if edges is None else edges
    graph = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_vertices, n_vertices))
    count, labels = connected_components(graph, directed=False)
    return int(count), labels.astype(np.int64)
