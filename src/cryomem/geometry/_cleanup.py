"""Clean-up of remeshed triangle soups into meshes the Laplacian and geodesic solvers accept."""

from __future__ import annotations

import numpy as np

from cryomem.geometry._components import edge_keys, vertex_components
from cryomem.geometry._laplacian import face_areas

MIN_COMPONENT_FACES = 20
"""Connected pieces with fewer triangles than this are dropped (remeshing crumbs)."""

_MAX_KEYED_VERTICES = 2_000_000  # n³ must fit in int64 for one-number face keys


def clean_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop degenerate, duplicate and non-manifold triangles, tiny components and unused vertices.

    Parameters
    ----------
    vertices : (n, 3) float array
        Vertex positions, Å.
    faces : (m, 3) int array
        Triangles.

    Returns
    -------
    vertices : (n', 3) float64 array
    faces : (m', 3) int64 array
        Every edge is used by at most two triangles; every vertex by at least one; every connected
        piece has at least ``MIN_COMPONENT_FACES`` triangles.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[distinct]
    areas = face_areas(vertices, faces)
    solid = areas > 1e-12 * max(float(areas.max(initial=0.0)), 1e-30)
    faces, areas = faces[solid], areas[solid]
    keep = np.sort(_first_of_each_triangle(faces))
    faces, areas = faces[keep], areas[keep]
    faces = _drop_nonmanifold(faces, areas)
    if len(faces):
        count, labels = vertex_components(len(vertices), faces)
        face_counts = np.bincount(labels[faces[:, 0]], minlength=count)
        faces = faces[face_counts[labels[faces[:, 0]]] >= MIN_COMPONENT_FACES]
    used = np.unique(faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return vertices[used], remap[faces]


def _first_of_each_triangle(faces: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of every distinct triangle (same three vertices in any order)."""
    ordered = np.sort(faces, axis=1)
    n = int(faces.max()) + 1 if faces.size else 1
    if n > _MAX_KEYED_VERTICES:
        return np.unique(ordered, axis=0, return_index=True)[1]
    keys = (ordered[:, 0] * n + ordered[:, 1]) * n + ordered[:, 2]
    return np.unique(keys, return_index=True)[1]


def _drop_nonmanifold(faces: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Keep, for every edge, only its two largest triangles."""
    for _ in range(5):
        m = len(faces)
        if m == 0:
            return faces
        keys, _ = edge_keys(faces)
        owner = np.tile(np.arange(m), 3)
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        crowded = counts[inverse] > 2
        if not crowded.any():
            return faces
        # rank the triangles on each crowded edge by area, largest first; drop rank >= 2
        order = np.lexsort((-areas[owner], inverse))
        ranked_edge = inverse[order]
        rank = np.arange(len(order)) - np.searchsorted(ranked_edge, ranked_edge)
        drop = np.zeros(m, dtype=bool)
        drop[owner[order][(rank >= 2) & crowded[order]]] = True
        faces, areas = faces[~drop], areas[~drop]
    return faces
