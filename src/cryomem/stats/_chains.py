"""Chains of particles (polysome-like rows) from geodesic neighbours and in-plane angles.

MemBrain v2 (Methods, "Ribosome Chains"): chains grow unit by unit under three limits — a
centre-to-centre distance below 40 nm, an in-plane angle below 60°, and an angle below 80°
between the chain's last connection and the next one — using the three nearest neighbours.
Here chains are seeded at the particles with the closest neighbours first, grown greedily at both
ends with the nearest admissible neighbour, and kept when at least ``min_length`` long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryomem.stats._neighbours import NeighbourResult
from cryomem.stats._orientation import inplane_angle_deg, particle_frames
from cryomem.stats._particles import MembraneParticles

__all__ = ["ChainResult", "extract_chains"]


@dataclass(frozen=True)
class ChainResult:
    """Chains found on the membranes.

    Attributes
    ----------
    per_particle : pandas.DataFrame
        ``tomo_name, membrane_id, particle_index, chain_id`` (-1 outside chains), ``position`` (0-based
        place along the chain, -1 outside).
    chains : pandas.DataFrame
        ``chain_id, tomo_name, membrane_id, length, mean_spacing_nm, path_length_nm``.
    """

    per_particle: pd.DataFrame
    chains: pd.DataFrame


def _links(table: pd.DataFrame, frames: pd.DataFrame, k: int, max_distance_nm: float, max_inplane_deg: float):
    """Admissible neighbour links ``particle -> [(neighbour, distance_nm)]`` (symmetric)."""
    links: dict[int, dict[int, float]] = {}
    own = table["particle_index"].to_numpy()
    vec, nrm = [f"inplane_{a}" for a in "xyz"], [f"normal_{a}" for a in "xyz"]
    for j in range(1, k + 1):
        other = table[f"nn{j}_particle_index"].to_numpy()
        distance = table[f"nn{j}_distance_nm"].to_numpy()
        ok = (other >= 0) & (distance < max_distance_nm)
        if not ok.any():
            continue
        a, b = frames.loc[own[ok]], frames.loc[other[ok]]
        angle = inplane_angle_deg(a[vec].to_numpy(), a[nrm].to_numpy(), b[vec].to_numpy(), b[nrm].to_numpy())
        for p, q, d, t in zip(own[ok], other[ok], distance[ok], angle):
            if t < max_inplane_deg:
                links.setdefault(int(p), {})[int(q)] = float(d)
                links.setdefault(int(q), {})[int(p)] = float(d)
    return links


def _turn_deg(frames: pd.DataFrame, prev: int, end: int, new: int) -> float:
    """Angle between connections prev->end and end->new, in the tangent plane at ``end``, degrees."""
    xyz = ["x_ang", "y_ang", "z_ang"]
    p, e, n = (frames.loc[i, xyz].to_numpy(dtype=float) for i in (prev, end, new))
    normal = frames.loc[end, ["normal_x", "normal_y", "normal_z"]].to_numpy(dtype=float)
    u, v = e - p, n - e
    u, v = u - (u @ normal) * normal, v - (v @ normal) * normal
    norm = np.linalg.norm(u) * np.linalg.norm(v)
    return float(np.degrees(np.arccos(np.clip(u @ v / norm, -1.0, 1.0)))) if norm > 0 else 0.0


def _grow(chain: list[int], links, taken: set[int], frames: pd.DataFrame, max_turn_deg: float) -> None:
    for _ in range(2):  # grow the tail, then reverse and grow the other end
        while True:
            end = chain[-1]
            options = sorted((d, q) for q, d in links.get(end, {}).items() if q not in taken)
            if len(chain) > 1:
                options = [(d, q) for d, q in options if _turn_deg(frames, chain[-2], end, q) < max_turn_deg]
            if not options:
                break
            chain.append(options[0][1])
            taken.add(options[0][1])
        chain.reverse()


def extract_chains(
    membranes: Sequence[MembraneParticles],
    neighbours: NeighbourResult,
    *,
    max_distance_nm: float = 40.0,
    max_inplane_deg: float = 60.0,
    max_turn_deg: float = 80.0,
    min_length: int = 3,
) -> ChainResult:
    """Chains of neighbouring particles with similar in-plane orientation that continue straight enough.

    Parameters
    ----------
    membranes : sequence of MembraneParticles
        Membranes with their particles (orientations from their ZYZ angles).
    neighbours : NeighbourResult
        Geodesic neighbours (the paper uses k = 3).
    max_distance_nm : float, default 40
        Largest centre-to-centre geodesic distance of consecutive units, nm.
    max_inplane_deg : float, default 60
        Largest in-plane angle between consecutive units, degrees.
    max_turn_deg : float, default 80
        Largest angle between consecutive connections, degrees.
    min_length : int, default 3
        Shortest chain kept, particles.

    Returns
    -------
    ChainResult
    """
    if min_length < 2:
        raise ValueError(f"min_length must be >= 2 particles, got {min_length}")
    for name, value in (("max_inplane_deg", max_inplane_deg), ("max_turn_deg", max_turn_deg)):
        if not 0 < value <= 180:
            raise ValueError(f"{name} must be in (0, 180] degrees, got {value}")
    frames = particle_frames(membranes)
    table = neighbours.per_particle
    per_particle = table[["tomo_name", "membrane_id", "particle_index"]].copy()
    chain_of = {int(p): (-1, -1) for p in per_particle["particle_index"]}
    rows = []
    if len(table):
        links = _links(table, frames, neighbours.k, max_distance_nm, max_inplane_deg)
        order = table.sort_values("nn1_distance_nm", na_position="last")["particle_index"].to_numpy()
        taken: set[int] = set()
        for seed in order.tolist():
            if seed in taken or seed not in links:
                continue
            chain, trial = [seed], {seed} | taken
            _grow(chain, links, trial, frames, max_turn_deg)
            if len(chain) < min_length:
                continue
            taken.update(chain)
            chain_id = len(rows)
            for position, p in enumerate(chain):
                chain_of[p] = (chain_id, position)
            steps = [links[a][b] for a, b in zip(chain[:-1], chain[1:])]
            row = table.loc[table["particle_index"] == seed].iloc[0]
            rows.append(
                {
                    "chain_id": chain_id,
                    "tomo_name": row["tomo_name"],
                    "membrane_id": int(row["membrane_id"]),
                    "length": len(chain),
                    "mean_spacing_nm": float(np.mean(steps)),
                    "path_length_nm": float(np.sum(steps)),
                }
            )
    per_particle["chain_id"] = [chain_of[int(p)][0] for p in per_particle["particle_index"]]
    per_particle["position"] = [chain_of[int(p)][1] for p in per_particle["particle_index"]]
    columns = ["chain_id", "tomo_name", "membrane_id", "length", "mean_spacing_nm", "path_length_nm"]
    return ChainResult(per_particle, pd.DataFrame(rows, columns=columns))
