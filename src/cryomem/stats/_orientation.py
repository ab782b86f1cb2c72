"""In-plane orientation of neighbouring particles (MemBrain v2, Methods, "In-plane Orientation Comparison").

A particle's orientation (RELION ZYZ, particle z along the membrane normal) maps the particle's
y axis ``(0, 1, 0)`` into the membrane plane; the in-plane angle of two particles is the angle
between their y axes, both projected onto the plane normal to their mean membrane normal
(0 for identical orientations, 90 for a quarter turn about the normal, at most 180).
For each particle the smallest angle to its k nearest neighbours is compared with the
distribution for uniformly random angles, whose density (the minimum of k uniform angles on
[0°, 180°]) is ``k/180 (1 - θ/180)^(k-1)`` per degree — exact, where the paper sampled it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cryomem.io import euler_zyz_deg_to_matrix
from cryomem.stats._neighbours import NeighbourResult
from cryomem.stats._particles import MembraneParticles

__all__ = [
    "inplane_angle_deg",
    "inplane_vectors",
    "min_angle_histogram",
    "neighbour_orientations",
    "particle_frames",
    "uniform_min_angle_cdf",
]


def _unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, length, out=np.full_like(vectors, np.nan), where=length > 1e-12)


def inplane_vectors(angles_deg: np.ndarray, normals_xyz: np.ndarray) -> np.ndarray:
    """(p, 3) unit in-plane direction of each particle: its y axis projected onto the membrane plane.

    Parameters
    ----------
    angles_deg : (p, 3) float array
        RELION ZYZ ``(rot, tilt, psi)`` in degrees.
    normals_xyz : (p, 3) float array
        Membrane normal at each particle.
    """
    y_axis = euler_zyz_deg_to_matrix(np.asarray(angles_deg, dtype=np.float64).reshape(-1, 3))[:, :, 1]
    normals = _unit(np.asarray(normals_xyz, dtype=np.float64).reshape(-1, 3))
    return _unit(y_axis - np.einsum("ij,ij->i", y_axis, normals)[:, None] * normals)


def inplane_angle_deg(
    vectors_a: np.ndarray, normals_a: np.ndarray, vectors_b: np.ndarray, normals_b: np.ndarray
) -> np.ndarray:
    """(q,) angle between in-plane directions of particle pairs, degrees in [0, 180].

    Both directions are projected onto the plane normal to the pair's mean normal (the normals'
    signs are aligned first, so inner and outer normals of a two-sided mesh give the same plane).
    """
    na, nb = _unit(np.asarray(normals_a, float)), _unit(np.asarray(normals_b, float))
    nb = nb * np.where(np.einsum("ij,ij->i", na, nb) < 0, -1.0, 1.0)[:, None]
    mean = _unit(na + nb)
    va = _unit(vectors_a - np.einsum("ij,ij->i", vectors_a, mean)[:, None] * mean)
    vb = _unit(vectors_b - np.einsum("ij,ij->i", vectors_b, mean)[:, None] * mean)
    return np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", va, vb), -1.0, 1.0)))


def particle_frames(membranes: Sequence[MembraneParticles]) -> pd.DataFrame:
    """Per particle (indexed by ``particle_index``): position, membrane normal and in-plane direction."""
    frames = []
    for m in membranes:
        p = m.particles
        normals = m.mesh.normals_xyz[m.vertices]
        vectors = inplane_vectors(p[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy(), normals)
        frame = pd.DataFrame(
            {
                "membrane": m.mesh.label,
                "x_ang": p["x_ang"].to_numpy(),
                "y_ang": p["y_ang"].to_numpy(),
                "z_ang": p["z_ang"].to_numpy(),
            },
            index=p["particle_index"].to_numpy(),
        )
        for i, axis in enumerate("xyz"):
            frame[f"normal_{axis}"] = normals[:, i]
            frame[f"inplane_{axis}"] = vectors[:, i]
        frames.append(frame)
    filled = [f for f in frames if len(f)]
    return pd.concat(filled) if filled else pd.DataFrame()


def neighbour_orientations(membranes: Sequence[MembraneParticles], neighbours: NeighbourResult) -> pd.DataFrame:
    """In-plane angle between every start particle and each of its k nearest neighbours.

    Returns
    -------
    pandas.DataFrame
        ``tomo_name, membrane_id, particle_index``, ``nn{j}_distance_nm``, ``nn{j}_particle_index``,
        ``nn{j}_angle_deg`` (NaN without a neighbour) and ``min_angle_deg`` (over the found neighbours).
    """
    frames = particle_frames(membranes)
    table = neighbours.per_particle
    keep = ["tomo_name", "membrane_id", "particle_index"]
    out = table[keep + [c for c in table.columns if c.startswith("nn")]].copy()
    if not len(out):
        out["min_angle_deg"] = []
        return out
    own = frames.loc[out["particle_index"].to_numpy()]
    vec_cols, nrm_cols = [f"inplane_{a}" for a in "xyz"], [f"normal_{a}" for a in "xyz"]
    angles = np.full((len(out), neighbours.k), np.nan)
    for j in range(neighbours.k):
        partner = out[f"nn{j + 1}_particle_index"].to_numpy()
        found = partner >= 0
        if found.any():
            other = frames.loc[partner[found]]
            angles[found, j] = inplane_angle_deg(
                own[vec_cols].to_numpy()[found],
                own[nrm_cols].to_numpy()[found],
                other[vec_cols].to_numpy(),
                other[nrm_cols].to_numpy(),
            )
        out[f"nn{j + 1}_angle_deg"] = angles[:, j]
    finite = np.isfinite(angles)
    out["min_angle_deg"] = np.where(finite.any(axis=1), np.where(finite, angles, np.inf).min(axis=1), np.nan)
    return out


def uniform_min_angle_cdf(theta_deg: np.ndarray, k: int) -> np.ndarray:
    """P(min of k uniform angles on [0°, 180°] <= θ) = 1 - (1 - θ/180)^k."""
    t = np.clip(np.asarray(theta_deg, dtype=np.float64) / 180.0, 0.0, 1.0)
    return 1.0 - (1.0 - t) ** k


def min_angle_histogram(orientations: pd.DataFrame, k: int, *, bin_deg: float = 10.0) -> pd.DataFrame:
    """Histogram of the minimum neighbour angle against its density for uniformly random angles.

    Only particles with all ``k`` neighbours found are counted (the reference assumes k angles).

    Returns
    -------
    pandas.DataFrame
        ``angle_lo_deg, angle_hi_deg, n_particles, density_per_deg, uniform_density_per_deg``.
    """
    if not 0 < bin_deg <= 180:
        raise ValueError(f"bin_deg must be in (0, 180], got {bin_deg}")
    edges = np.arange(0.0, 180.0 + 1e-9, bin_deg)
    edges = edges if edges[-1] >= 180.0 - 1e-9 else np.append(edges, 180.0)
    columns = [f"nn{j + 1}_angle_deg" for j in range(k)]
    complete = orientations[columns].notna().all(axis=1) if len(orientations) else pd.Series([], dtype=bool)
    values = orientations.loc[complete, "min_angle_deg"].to_numpy(dtype=np.float64) if len(orientations) else []
    counts, _ = np.histogram(values, bins=edges)
    widths = np.diff(edges)
    total = max(int(counts.sum()), 1)
    return pd.DataFrame(
        {
            "angle_lo_deg": edges[:-1],
            "angle_hi_deg": edges[1:],
            "n_particles": counts,
            "density_per_deg": counts / total / widths,
            "uniform_density_per_deg": np.diff(uniform_min_angle_cdf(edges, k)) / widths,
        }
    )
