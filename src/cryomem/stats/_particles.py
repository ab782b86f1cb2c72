"""Particles on membranes: each particle snapped to its membrane's nearest vertex, plus shared caches.

MemBrain v2 (Methods, "Geodesic Nearest Neighbors"): every protein centre is projected onto its
nearest mesh vertex before geodesic distances are measured. :class:`MembraneParticles` keeps one
:class:`cryomem.geometry.GeodesicSolver` and the distance rows it produced, so concentration,
nearest neighbours, Ripley's functions, orientations and edges reuse one precomputation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from cryomem.geometry import GeodesicSolver, LocalGeodesics, checked_membrane, face_areas
from cryomem.io import PARTICLE_COLUMNS, MembraneSurface

__all__ = ["MembraneParticles", "ParticleAssignment", "assign_particles"]

ANG2_PER_UM2 = 1e8
_CACHE_BYTES = 256 * 2**20
_TIE_ANG = 1e-6


class MembraneParticles:
    """A membrane mesh, the particles on it, and cached geodesic distances.

    Parameters
    ----------
    mesh : MembraneSurface
        The membrane.
    particles : pandas.DataFrame
        Standard particle table rows on this membrane plus ``particle_index`` (row in the input
        table), ``vertex`` (nearest vertex) and ``distance_to_mesh_ang``.
    method : {"heat", "exact"}, default "heat"
        Geodesic method. ``"heat"``: the heat method (:class:`cryomem.geometry.GeodesicSolver`) for
        whole-membrane fields (edge distances), truncated local chord-graph searches near each
        particle and coarse cells beyond for Ripley's balls (:mod:`cryomem.stats._coarse_balls`),
        near-exact local Steiner searches for nearest neighbours. ``"exact"``: Steiner-point
        searches everywhere (slower).
    """

    def __init__(
        self, mesh: MembraneSurface, particles: pd.DataFrame, *, method: Literal["heat", "exact"] = "heat"
    ) -> None:
        if method not in ("heat", "exact"):
            raise ValueError(f"geodesic method must be 'heat' or 'exact', got {method!r}")
        self.mesh = mesh
        self.particles = particles.reset_index(drop=True)
        self.method = method
        self.face_areas_ang2 = face_areas(mesh.vertices_xyz_ang, mesh.faces)
        self.area_ang2 = float(self.face_areas_ang2.sum())
        edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
        n = len(mesh.vertices_xyz_ang)
        graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
        _, self.component_of_vertex = connected_components(graph, directed=False)
        face_component = self.component_of_vertex[mesh.faces[:, 0]]
        self.component_area_ang2 = np.bincount(
            face_component, weights=self.face_areas_ang2, minlength=int(self.component_of_vertex.max()) + 1
        )
        self._solver: GeodesicSolver | None = None
        self._local: LocalGeodesics | None = None
        self._rows: dict[int, np.ndarray] = {}
        self.cache: dict[object, object] = {}

    @property
    def vertices(self) -> np.ndarray:
        """(p,) int64 nearest-vertex index of every particle."""
        return self.particles["vertex"].to_numpy(dtype=np.int64)

    @property
    def n_vertices(self) -> int:
        return len(self.mesh.vertices_xyz_ang)

    @property
    def solver(self) -> GeodesicSolver:
        """The membrane's geodesic solver, built on first use."""
        if self._solver is None:
            self._solver = GeodesicSolver(self.mesh.vertices_xyz_ang, self.mesh.faces, method=self.method)
        return self._solver

    @property
    def local(self) -> LocalGeodesics:
        """Truncated local geodesic searches on the membrane (KD-tree, chord graph), built on first use."""
        if self._local is None:
            self._local = LocalGeodesics(self.mesh.vertices_xyz_ang, self.mesh.faces)
        return self._local

    def class_mask(self, classes: Sequence[int] | None) -> np.ndarray:
        """(p,) bool: particles whose ``class_number`` is in ``classes`` (all if None)."""
        if classes is None:
            return np.ones(len(self.particles), dtype=bool)
        return self.particles["class_number"].isin(list(classes)).to_numpy()

    def distance_rows(self, vertices: np.ndarray) -> np.ndarray:
        """Geodesic distance from each given vertex to every vertex, Å.

        Parameters
        ----------
        vertices : (s,) int array
            Source vertices (repeats are computed once).

        Returns
        -------
        (s, n) float64 array
            ``inf`` across connected components. Rows are cached while they fit in 256 MiB.
        """
        vertices = np.asarray(vertices, dtype=np.int64).reshape(-1)
        missing = [int(v) for v in np.unique(vertices) if int(v) not in self._rows]
        room = _CACHE_BYTES // max(1, 4 * self.n_vertices) - len(self._rows)
        fresh = {v: self.solver.distances_ang(v) for v in missing}
        for v, row in list(fresh.items())[: max(0, room)]:
            self._rows[v] = row.astype(np.float32)
        out = np.empty((len(vertices), self.n_vertices))
        for i, v in enumerate(vertices.tolist()):
            out[i] = fresh[v] if v in fresh else self._rows[v]
        return out

    def distance_between_ang(self, sources: np.ndarray, targets: np.ndarray, *, chunk: int = 64) -> np.ndarray:
        """(s, t) geodesic distances between two vertex sets, Å (``inf`` across components)."""
        sources = np.asarray(sources, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.int64)
        out = np.empty((len(sources), len(targets)))
        for start in range(0, len(sources), chunk):
            out[start : start + chunk] = self.distance_rows(sources[start : start + chunk])[:, targets]
        return out


@dataclass(frozen=True)
class ParticleAssignment:
    """Particles matched to membranes.

    Attributes
    ----------
    membranes : list of MembraneParticles
        One per input mesh, in input order (some may hold no particles).
    off_mesh : pandas.DataFrame
        Particles farther than the tolerance from every membrane of their tomogram
        (``particle_index``, ``tomo_name``, ``distance_to_mesh_ang``).
    n_particles : int
        Particles in the input table.
    tolerance_ang : float
        Largest accepted particle-to-vertex distance, Å.
    n_membrane_id_mismatch : int
        Particles whose ``membrane_id`` names one of their tomogram's membranes while another one
        is nearer (and within the tolerance): they went to the nearest one (the ids likely number
        membranes of another segmentation).
    """

    membranes: list[MembraneParticles]
    off_mesh: pd.DataFrame
    n_particles: int
    tolerance_ang: float
    n_membrane_id_mismatch: int = 0

    @property
    def n_assigned(self) -> int:
        return sum(len(m.particles) for m in self.membranes)


def _tomogram_groups(meshes: Sequence[MembraneSurface], names: np.ndarray) -> dict[str, list[int]]:
    """Particle tomogram name -> indices of its meshes; one clear error when names cannot be matched."""
    mesh_tomos = sorted({m.tomogram_name for m in meshes})
    particle_tomos = sorted(set(names.tolist()))
    groups = {t: [i for i, m in enumerate(meshes) if m.tomogram_name == t] for t in particle_tomos if t in mesh_tomos}
    unmatched = [t for t in particle_tomos if t not in groups]
    if unmatched and len(mesh_tomos) == 1 and not groups:
        return {t: list(range(len(meshes))) for t in particle_tomos}
    if unmatched:
        raise ValueError(
            f"particles name tomograms {unmatched[:5]} but the membranes are from {mesh_tomos[:5]}; "
            "name mesh files <tomo>_mb<N>.<suffix> after the particles' rlnTomoName, or run one tomogram at a time"
        )
    return groups


def assign_particles(
    meshes: Sequence[MembraneSurface],
    particles: pd.DataFrame,
    *,
    tolerance_nm: float = 10.0,
    method: Literal["heat", "exact"] = "heat",
) -> ParticleAssignment:
    """Snap every particle to the nearest vertex of its membrane.

    Every particle goes to the membrane of its tomogram with the nearest vertex. A particle's
    ``membrane_id`` is only a hint: it decides ties, and where it names another membrane than the
    nearest one (membranes numbered by another program or segmentation) the nearest one wins and
    the particle is counted in ``n_membrane_id_mismatch``. Particles farther than ``tolerance_nm``
    from every membrane are left out and reported.

    Parameters
    ----------
    meshes : sequence of MembraneSurface
        Membranes of one or more tomograms.
    particles : pandas.DataFrame
        Standard particle table (:data:`cryomem.io.PARTICLE_COLUMNS`), positions in Å.
    tolerance_nm : float, default 10
        Largest particle-to-vertex distance accepted, nm.
    method : {"heat", "exact"}, default "heat"
        Geodesic method for later distance queries.

    Returns
    -------
    ParticleAssignment

    Raises
    ------
    ValueError
        No meshes or particles, an empty mesh, unmatched tomogram names, or every particle off every
        mesh (with a hint when the meshes look like they are in voxels).
    """
    if not meshes:
        raise ValueError("no membranes given; pass at least one mesh or h5 file")
    meshes = [checked_membrane(m) for m in meshes]
    missing = [c for c in PARTICLE_COLUMNS if c not in particles.columns]
    if missing:
        raise ValueError(f"particle table lacks columns {missing}; read it with cryomem.io.read_particles_star")
    if len(particles) == 0:
        raise ValueError("the particle table is empty; nothing to measure")
    if not tolerance_nm > 0:
        raise ValueError(f"tolerance_nm must be > 0, got {tolerance_nm}")
    table = particles.reset_index(drop=True).copy()
    table["particle_index"] = np.arange(len(table))
    xyz = table[["x_ang", "y_ang", "z_ang"]].to_numpy(dtype=np.float64)
    names = table["tomo_name"].astype(str).to_numpy()
    trees = [cKDTree(m.vertices_xyz_ang) for m in meshes]
    tolerance_ang = 10.0 * tolerance_nm
    best_mesh = np.full(len(table), -1)
    best_vertex = np.zeros(len(table), dtype=np.int64)
    best_distance = np.full(len(table), np.inf)
    mismatch = np.zeros(len(table), dtype=bool)
    wanted_ids = table["membrane_id"].to_numpy()
    for tomo, indices in _tomogram_groups(meshes, names).items():
        rows = np.flatnonzero(names == tomo)
        found = [trees[i].query(xyz[rows]) for i in indices]
        distance = np.array([d for d, _ in found]).reshape(len(indices), len(rows))
        vertex = np.array([v for _, v in found], dtype=np.int64).reshape(len(indices), len(rows))
        columns = np.arange(len(rows))
        nearest = np.argmin(distance, axis=0)
        choice, other = _named_or_nearest(wanted_ids[rows], [meshes[i].membrane_id for i in indices], distance, nearest)
        mismatch[rows] = other & (distance[nearest, columns] <= tolerance_ang)
        best_mesh[rows] = np.asarray(indices)[choice]
        best_vertex[rows] = vertex[choice, columns]
        best_distance[rows] = distance[choice, columns]
    on = best_distance <= tolerance_ang
    table["vertex"] = best_vertex
    table["distance_to_mesh_ang"] = best_distance
    if not on.any():
        raise ValueError(_all_off_message(meshes, xyz, best_distance, tolerance_nm))
    membranes = [
        MembraneParticles(mesh, table.loc[on & (best_mesh == i)], method=method) for i, mesh in enumerate(meshes)
    ]
    off = table.loc[~on, ["particle_index", "tomo_name", "distance_to_mesh_ang"]].reset_index(drop=True)
    return ParticleAssignment(membranes, off, len(table), tolerance_ang, int(mismatch.sum()))


def _named_or_nearest(
    wanted: np.ndarray, ids: list[int], distance: np.ndarray, nearest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per particle, the mesh (index into ``ids``) its membrane id names when that mesh is as near as
    the nearest one (a tie), else the nearest mesh; and whether the id named another, farther mesh."""
    columns = np.arange(distance.shape[1])
    named = np.array([ids.index(w) if w in ids else -1 for w in wanted.tolist()], dtype=np.int64)
    has = named >= 0
    tie = has & (distance[np.where(has, named, 0), columns] <= distance[nearest, columns] + _TIE_ANG)
    return np.where(tie, named, nearest), has & ~tie


def _all_off_message(
    meshes: Sequence[MembraneSurface], xyz: np.ndarray, distance: np.ndarray, tolerance_nm: float
) -> str:
    finite = distance[np.isfinite(distance)]
    median = f"{np.median(finite) / 10:.1f} nm" if finite.size else "unknown"
    text = (
        f"all {len(xyz)} particles are off every membrane (median distance to the nearest vertex {median}, "
        f"tolerance {tolerance_nm:g} nm)"
    )
    sizes = {m.voxel_size_ang for m in meshes if m.voxel_size_ang}
    for size in sizes:
        scaled = np.concatenate([m.vertices_xyz_ang * size for m in meshes])
        if np.median(cKDTree(scaled).query(xyz)[0]) <= 10.0 * tolerance_nm:
            return (
                f"{text}; the meshes look like they are in voxels, not Å (scaled by the voxel size {size:g} Å "
                "they fit the particles): pass --mesh-unit voxel (mesh_unit='voxel')"
            )
    return (
        f"{text}; check that meshes and particles are in Å in the same frame (meshes in voxels: pass --mesh-unit "
        "voxel with --voxel-size), or raise --mesh-tolerance-nm"
    )
