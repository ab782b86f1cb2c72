"""Particles against their membrane: distance to it, axis against its normal, and the membrane's
geometry in patches around them against patches around random positions (a seeded null model).

The review's patch analysis (e.g. a shorter outer-to-inner membrane distance under import-oriented
ribosomes) in one table: for each per-vertex quantity, the mean over the membrane patch of radius
``r`` around every particle, against the same for random vertices of the same membranes drawn
with probability proportional to their area (uniform on the surface), compared by the two-sided
Mann-Whitney U test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import mannwhitneyu

from cryomem.geometry import vertex_areas, vertex_components
from cryomem.io import MembraneSurface, euler_zyz_deg_to_matrix
from cryomem.morph._neighbourhoods import sheet_ball

__all__ = ["ParticlesOnMembranes", "compare_patches", "particles_on_membranes", "patch_means"]


@dataclass(frozen=True)
class ParticlesOnMembranes:
    """Particles snapped to their nearest membrane vertex.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per particle within the tolerance: ``particle_index``, ``tomo_name``, ``membrane``
        (index into the membrane list), ``membrane_id``, ``vertex``, ``x_ang``..``z_ang``,
        ``distance_to_membrane_nm`` (along the normal, positive on the side it points to),
        ``distance_to_vertex_nm`` and ``axis_to_normal_deg`` (particle z axis against the normal).
    n_off : int
        Particles farther than the tolerance from every membrane of their tomogram.
    """

    table: pd.DataFrame
    n_off: int


def particles_on_membranes(
    surfaces: Sequence[MembraneSurface], particles: pd.DataFrame, *, tolerance_nm: float
) -> ParticlesOnMembranes:
    """Snap every particle to the nearest vertex of the membranes of its tomogram (see the class).

    A single-tomogram membrane set takes particles of any tomogram name (a STAR file of another
    naming); otherwise names must match.
    """
    rows = []
    names = particles["tomo_name"].astype(str).to_numpy()
    xyz = particles[["x_ang", "y_ang", "z_ang"]].to_numpy(dtype=np.float64)
    mesh_tomos = sorted({s.tomogram_name for s in surfaces})
    trees = [cKDTree(s.vertices_xyz_ang) for s in surfaces]
    nearest_any = np.full(len(particles), np.inf)
    for tomo in sorted(set(names.tolist())):
        members = [i for i, s in enumerate(surfaces) if s.tomogram_name == tomo]
        if not members and len(mesh_tomos) == 1:
            members = list(range(len(surfaces)))
        if not members:
            continue
        take = np.flatnonzero(names == tomo)
        found = [trees[i].query(xyz[take]) for i in members]
        distance = np.array([d for d, _ in found]).reshape(len(members), len(take))
        vertex = np.array([v for _, v in found], dtype=np.int64).reshape(len(members), len(take))
        best = np.argmin(distance, axis=0)
        columns = np.arange(len(take))
        nearest_any[take] = distance[best, columns]
        for j, row in enumerate(take):
            rows.append((row, members[best[j]], int(vertex[best[j], j]), float(distance[best[j], j])))
    keep = [r for r in rows if r[3] <= 10.0 * tolerance_nm]
    table = pd.DataFrame(
        {
            "particle_index": [r[0] for r in keep],
            "membrane": [r[1] for r in keep],
            "vertex": [r[2] for r in keep],
            "distance_to_vertex_nm": [r[3] / 10.0 for r in keep],
        },
        dtype=object,
    ).astype({"particle_index": np.int64, "membrane": np.int64, "vertex": np.int64, "distance_to_vertex_nm": float})
    picked = particles.iloc[table["particle_index"].to_numpy()].reset_index(drop=True)
    table.insert(1, "tomo_name", picked["tomo_name"].astype(str).to_numpy())
    table.insert(3, "membrane_id", [surfaces[m].membrane_id for m in table["membrane"]])
    for axis in ("x_ang", "y_ang", "z_ang"):
        table[axis] = picked[axis].to_numpy(dtype=np.float64)
    signed, angle = [], []
    for particle, (membrane, vertex) in zip(picked.itertuples(), zip(table["membrane"], table["vertex"])):
        surface = surfaces[membrane]
        normal = surface.normals_xyz[vertex]
        offset = np.array([particle.x_ang, particle.y_ang, particle.z_ang]) - surface.vertices_xyz_ang[vertex]
        signed.append(float(offset @ normal) / 10.0)
        axis = euler_zyz_deg_to_matrix([[particle.rot_deg, particle.tilt_deg, particle.psi_deg]])[0][:, 2]
        angle.append(float(np.degrees(np.arccos(np.clip(axis @ normal, -1.0, 1.0)))))
    table["distance_to_membrane_nm"] = signed
    table["axis_to_normal_deg"] = angle
    return ParticlesOnMembranes(table, int(len(particles) - len(table)))


def patch_means(
    surfaces: Sequence[MembraneSurface],
    values: Sequence[Mapping[str, np.ndarray]],
    centres: pd.DataFrame,
    radius_nm: float,
) -> pd.DataFrame:
    """Per centre (rows with ``membrane`` and ``vertex``), the NaN-ignoring mean of every per-vertex
    quantity over the patch of radius ``radius_nm`` around it; plus ``patch_vertices``."""
    radius_ang = 10.0 * radius_nm
    cache: dict[int, tuple[cKDTree, np.ndarray]] = {}
    rows = []
    for membrane, vertex in zip(centres["membrane"].tolist(), centres["vertex"].tolist()):
        surface = surfaces[membrane]
        if membrane not in cache:
            cache[membrane] = (
                cKDTree(surface.vertices_xyz_ang),
                vertex_components(len(surface.vertices_xyz_ang), surface.faces)[1],
            )
        tree, component = cache[membrane]
        patch = sheet_ball(tree, surface.vertices_xyz_ang, surface.normals_xyz, component, vertex, radius_ang)
        row = {"patch_vertices": len(patch)}
        for name, array in values[membrane].items():
            chosen = np.asarray(array, dtype=np.float64)[patch]
            chosen = chosen[np.isfinite(chosen)]
            row[name] = float(chosen.mean()) if len(chosen) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def null_centres(surfaces: Sequence[MembraneSurface], counts: Mapping[int, int], seed: int) -> pd.DataFrame:
    """``counts[m]`` random vertices of membrane ``m`` each, area-weighted (``membrane``, ``vertex``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for membrane in sorted(counts):
        surface = surfaces[membrane]
        weights = vertex_areas(surface.vertices_xyz_ang, surface.faces)
        chosen = rng.choice(len(weights), size=counts[membrane], replace=True, p=weights / weights.sum())
        rows.extend((membrane, int(v)) for v in chosen)
    return pd.DataFrame(rows, columns=["membrane", "vertex"])


def compare_patches(
    particle_patches: pd.DataFrame, null_patches: pd.DataFrame, quantities: Sequence[str]
) -> pd.DataFrame:
    """One row per quantity: particle and null patch means and medians, their difference and the
    two-sided Mann-Whitney U p-value (NaN with fewer than 3 finite values on either side)."""
    rows = []
    for name in quantities:
        a = particle_patches[name].to_numpy(dtype=np.float64)
        b = null_patches[name].to_numpy(dtype=np.float64)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue) if min(len(a), len(b)) >= 3 else np.nan
        rows.append(
            {
                "quantity": name,
                "n_particle_patches": len(a),
                "n_null_patches": len(b),
                "particle_mean": float(a.mean()) if len(a) else np.nan,
                "null_mean": float(b.mean()) if len(b) else np.nan,
                "particle_median": float(np.median(a)) if len(a) else np.nan,
                "null_median": float(np.median(b)) if len(b) else np.nan,
                "difference_of_means": float(a.mean() - b.mean()) if len(a) and len(b) else np.nan,
                "mann_whitney_p": p,
            }
        )
    return pd.DataFrame(rows)
