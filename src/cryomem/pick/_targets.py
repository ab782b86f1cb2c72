"""Training targets: per-vertex distance to the nearest particle (MemBrain v2, Methods "Training objective from GT").

A membrane surface is the boundary of the thick segmented sheet, so it has two sides whose normals
point away from each other, each about half the membrane's thickness above the mid-surface where
a membrane protein's centre lies. Two choices follow from that geometry:

- which side sees a particle: ``sides="particle"`` counts a particle only for vertices whose normal
  agrees with the particle's own (RELION convention: its z axis is the outward membrane normal,
  ``n_vertex · n_particle > 0``) -- right for peripheral proteins on one face; ``sides="both"``
  counts it on both faces -- right for transmembrane proteins, whose density shows on both
  sides (on simulated membranes, ``benchmarks/bench_pick.py`` measures F1 0.51 -> 0.76 from it).
- how far: ``measure="in_plane"`` is the distance from the vertex to the particle's axis (the line
  through it along its normal), so the vertex right above a particle has target 0 although it
  lies half a membrane away; ``measure="euclidean"`` is the straight distance (never below the
  half-thickness).

Distances are in Å and clipped at ``max_distance_ang``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial import cKDTree

from cryomem.io import MembraneSurface

__all__ = ["TargetMeasure", "TargetSides", "assign_particles_to_surfaces", "distance_targets_ang"]

TargetSides = Literal["both", "particle"]
TargetMeasure = Literal["in_plane", "euclidean"]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def distance_targets_ang(
    surface: MembraneSurface,
    particles_xyz_ang: np.ndarray,
    *,
    particle_normals_xyz: np.ndarray | None = None,
    max_distance_ang: float = 100.0,
    sides: TargetSides = "both",
    measure: TargetMeasure = "in_plane",
) -> np.ndarray:
    """Distance from every vertex to the nearest particle (see the module notes for the choices).

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
        Clip value, Å (also the value of vertices with no particle near).
    sides : {"both", "particle"}, default "both"
        A particle counts on both faces of the membrane, or only where the vertex normal agrees
        with the particle's normal.
    measure : {"in_plane", "euclidean"}, default "in_plane"
        Distance to the particle's axis (for vertices within ``max_distance_ang`` of the particle
        along its normal), or the straight distance.

    Returns
    -------
    (n,) float32 array
        Distances in Å, in ``[0, max_distance_ang]``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite coordinates, a non-positive ``max_distance_ang`` or an unknown choice.
    """
    if sides not in ("both", "particle"):
        raise ValueError(f"sides must be 'both' or 'particle', got {sides!r}")
    if measure not in ("in_plane", "euclidean"):
        raise ValueError(f"measure must be 'in_plane' or 'euclidean', got {measure!r}")
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
    reach = max_distance_ang * (np.sqrt(2.0) if measure == "in_plane" else 1.0)
    for index in range(len(particles)):
        near = np.asarray(tree.query_ball_point(particles[index], reach), dtype=np.int64)
        axis = particle_normals[index]
        if sides == "particle":
            near = near[normals[near] @ axis > 0.0]
        offsets = vertices[near] - particles[index]
        if measure == "in_plane":
            along = offsets @ axis
            distances = np.linalg.norm(offsets - along[:, None] * axis, axis=1)
            distances[np.abs(along) > max_distance_ang] = max_distance_ang
        else:
            distances = np.linalg.norm(offsets, axis=1)
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
