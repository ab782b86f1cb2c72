"""Training targets: per-vertex distance to the nearest particle on the vertex's side of the membrane.

A membrane surface is the boundary of the thick segmented sheet, so it has two sides whose normals
point away from each other. A particle (RELION convention: its z axis is the outward membrane
normal) counts for a vertex only when the vertex normal and the particle's normal agree
(``n_vertex · n_particle > 0``); distances are Euclidean, in Å, and clipped at
``max_distance_ang`` (MemBrain v2, Methods "Training objective from GT").
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from cryomem.io import MembraneSurface

__all__ = ["assign_particles_to_surfaces", "distance_targets_ang"]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def distance_targets_ang(
    surface: MembraneSurface,
    particles_xyz_ang: np.ndarray,
    *,
    particle_normals_xyz: np.ndarray | None = None,
    max_distance_ang: float = 100.0,
) -> np.ndarray:
    """Distance from every vertex to the nearest particle on its side of the membrane.

    Parameters
    ----------
    surface : MembraneSurface
        The membrane (vertices in Å, outward normals).
    particles_xyz_ang : (p, 3) float array
        Particle centres, Å, xyz (the particles of this membrane; see
        :func:`assign_particles_to_surfaces`).
    particle_normals_xyz : (p, 3) float array, optional
        Each particle's outward normal (its z axis, e.g. from the STAR angles). When omitted, each
        particle takes the normal of its nearest vertex.
    max_distance_ang : float, default 100
        Clip value, Å (also the value of vertices with no particle on their side).

    Returns
    -------
    (n,) float32 array
        Distances in Å, in ``[0, max_distance_ang]``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite coordinates or a non-positive ``max_distance_ang``.
    """
    if not np.isfinite(max_distance_ang) or max_distance_ang <= 0:
        raise ValueError(f"max_distance_ang must be a positive number of Å, got {max_distance_ang}")
    particles = np.asarray(particles_xyz_ang, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(particles).all():
        raise ValueError("particles_xyz_ang contains NaN or infinite coordinates")
    vertices, normals = surface.vertices_xyz_ang, _unit(surface.normals_xyz)
    targets = np.full(len(vertices), max_distance_ang, dtype=np.float64)
    if len(particles) == 0 or len(vertices) == 0:
        return targets.astype(np.float32)
    if particle_normals_xyz is None:
        _, nearest = cKDTree(vertices).query(particles)
        particle_normals = normals[nearest]
    else:
        particle_normals = np.asarray(particle_normals_xyz, dtype=np.float64)
        if particle_normals.shape != particles.shape:
            raise ValueError(
                f"particle_normals_xyz must have shape {particles.shape} like the particles, "
                f"got {particle_normals.shape}"
            )
        particle_normals = _unit(particle_normals)
    tree = cKDTree(vertices)
    for index in range(len(particles)):
        near = tree.query_ball_point(particles[index], max_distance_ang)
        if not near:
            continue
        near = np.asarray(near)
        same_side = normals[near] @ particle_normals[index] > 0.0
        near = near[same_side]
        distances = np.linalg.norm(vertices[near] - particles[index], axis=1)
        targets[near] = np.minimum(targets[near], distances)
    return np.minimum(targets, max_distance_ang).astype(np.float32)


def assign_particles_to_surfaces(
    particles_xyz_ang: np.ndarray, surfaces: list[MembraneSurface], *, max_distance_ang: float
) -> np.ndarray:
    """Index of the surface each particle belongs to: the one with the nearest vertex.

    Parameters
    ----------
    particles_xyz_ang : (p, 3) float array
        Particle centres of one tomogram, Å, xyz.
    surfaces : list of MembraneSurface
        The membranes of that tomogram.
    max_distance_ang : float
        A particle farther than this from every vertex belongs to no surface.

    Returns
    -------
    (p,) int64 array
        Index into ``surfaces``, or -1.
    """
    particles = np.asarray(particles_xyz_ang, dtype=np.float64).reshape(-1, 3)
    best = np.full(len(particles), np.inf)
    owner = np.full(len(particles), -1, dtype=np.int64)
    if len(particles) == 0:
        return owner
    for index, surface in enumerate(surfaces):
        if len(surface.vertices_xyz_ang) == 0:
            continue
        distance, _ = cKDTree(surface.vertices_xyz_ang).query(particles, distance_upper_bound=max_distance_ang)
        closer = distance < best
        best[closer] = distance[closer]
        owner[closer] = index
    return owner
