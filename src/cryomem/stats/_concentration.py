"""Particle concentration: particles per µm² of membrane, per membrane, per tomogram and pooled.

MemBrain v2 (Methods, "Particle Concentration"): the number of particles divided by the mesh
area. For particles on one side of a double-sided (segmentation hull) mesh, either halve the area
(``side="half"``) or isolate one side (``side="single"``): remove a band of ``exclude_edges_nm``
around the edges, split the rest into connected pieces, and keep the piece holding most particles.
Pooled rows divide summed counts by summed areas (they are not means of concentrations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cryomem.stats._edges import EdgeSettings, beyond_edge_area_ang2, edge_distance_ang
from cryomem.stats._particles import ANG2_PER_UM2, MembraneParticles

__all__ = ["concentration", "measured_region"]

Side = Literal["both", "half", "single"]


def measured_region(
    membrane: MembraneParticles,
    *,
    side: Side = "both",
    exclude_edges_nm: float | None = None,
    edge_settings: EdgeSettings = EdgeSettings(),
) -> tuple[float, np.ndarray]:
    """Area measured on a membrane and which of its particles lie on it.

    Parameters
    ----------
    membrane : MembraneParticles
        The membrane with its particles.
    side : {"both", "half", "single"}, default "both"
        Whole mesh, half its area, or one isolated side (needs ``exclude_edges_nm``).
    exclude_edges_nm : float, optional
        Leave out everything within this geodesic distance of the edges, nm.
    edge_settings : EdgeSettings
        How edges are found.

    Returns
    -------
    area_ang2 : float
        Measured area, Å².
    on_region : (p,) bool array
        Particles counted.
    """
    if side not in ("both", "half", "single"):
        raise ValueError(f"side must be 'both', 'half' or 'single', got {side!r}")
    if exclude_edges_nm is not None and not exclude_edges_nm >= 0:
        raise ValueError(f"exclude_edges_nm must be >= 0 nm, got {exclude_edges_nm}")
    on = np.ones(len(membrane.particles), dtype=bool)
    if exclude_edges_nm is None:
        if side == "single":
            raise ValueError(
                "side='single' isolates one side by removing a band around the edges: also give "
                "exclude_edges_nm (--exclude-edges-nm), e.g. 5"
            )
        return membrane.area_ang2 * (0.5 if side == "half" else 1.0), on
    d_ang = 10.0 * exclude_edges_nm
    distance = edge_distance_ang(membrane, edge_settings)
    face_area = beyond_edge_area_ang2(membrane, d_ang, edge_settings)
    on = distance[membrane.vertices] >= d_ang
    if side != "single":
        return float(face_area.sum()) * (0.5 if side == "half" else 1.0), on
    kept = distance >= d_ang
    faces = membrane.mesh.faces
    both = kept[faces[:, [0, 1, 2]]] & kept[faces[:, [1, 2, 0]]]
    a, b = faces[:, [0, 1, 2]][both], faces[:, [1, 2, 0]][both]
    n = membrane.n_vertices
    _, piece = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    piece = np.where(kept, piece, -1)
    if not on.any():
        return 0.0, on
    chosen = np.bincount(piece[membrane.vertices[on]]).argmax()
    farthest = faces[np.arange(len(faces)), np.argmax(distance[faces], axis=1)]
    area = float(face_area[piece[farthest] == chosen].sum())
    return area, on & (piece[membrane.vertices] == chosen)


def _row(scope: str, tomo: str, membrane_id: int, label: str, count: int, area_ang2: float) -> dict:
    area_um2 = area_ang2 / ANG2_PER_UM2
    return {
        "scope": scope,
        "tomo_name": tomo,
        "membrane_id": membrane_id,
        "class": label,
        "n_particles": int(count),
        "area_um2": area_um2,
        "concentration_per_um2": count / area_um2 if area_um2 > 0 else np.nan,
    }


def concentration(
    membranes: Sequence[MembraneParticles],
    *,
    classes: Sequence[int] | None = None,
    side: Side = "both",
    exclude_edges_nm: float | None = None,
    edge_settings: EdgeSettings = EdgeSettings(),
) -> pd.DataFrame:
    """Particles per µm² for every membrane, every tomogram and all pooled, for all and each class.

    Parameters
    ----------
    membranes : sequence of MembraneParticles
        Membranes with their particles.
    classes : sequence of int, optional
        Classes to count (default: every class present); the row ``class == "all"`` counts them together.
    side : {"both", "half", "single"}, default "both"
        See :func:`measured_region`.
    exclude_edges_nm : float, optional
        Band around the edges left out of area and counts, nm.
    edge_settings : EdgeSettings
        How edges are found.

    Returns
    -------
    pandas.DataFrame
        Columns ``scope`` (membrane / tomogram / all), ``tomo_name``, ``membrane_id`` (-1 when pooled),
        ``class``, ``n_particles``, ``area_um2``, ``concentration_per_um2``.
    """
    if not membranes:
        raise ValueError("no membranes given")
    present = sorted({int(c) for m in membranes for c in m.particles["class_number"]})
    wanted = present if classes is None else sorted({int(c) for c in classes})
    labels = [("all", wanted), *[(str(c), [c]) for c in wanted]] if len(wanted) > 1 else [("all", wanted)]
    rows, pooled = [], {}
    for m in membranes:
        area, on = measured_region(m, side=side, exclude_edges_nm=exclude_edges_nm, edge_settings=edge_settings)
        for label, group in labels:
            count = int((on & m.class_mask(group)).sum())
            rows.append(_row("membrane", m.mesh.tomogram_name, m.mesh.membrane_id, label, count, area))
            for key in ((m.mesh.tomogram_name, label), ("", label)):
                total = pooled.setdefault(key, [0, 0.0])
                total[0] += count
                total[1] += area
    for (tomo, label), (count, area) in pooled.items():
        rows.append(_row("tomogram" if tomo else "all", tomo, -1, label, count, area))
    return pd.DataFrame(rows)
