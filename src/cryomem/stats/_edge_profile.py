"""Concentration and nearest-neighbour distance as functions of the distance to the membrane edge.

MemBrain v2, Supp. Fig. S14B/D/H: distances to the segmentation edge are cut into equal bins;
each bin's concentration is its particles divided by the area of the band of membrane at those
distances (bands clipped exactly inside triangles), pooled over all membranes of a tomogram and
over everything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cryomem.stats._areas import sublevel_areas_ang2
from cryomem.stats._edges import EdgeSettings, edge_distance_ang
from cryomem.stats._particles import ANG2_PER_UM2, MembraneParticles

__all__ = ["edge_profile"]


def edge_profile(
    membranes: Sequence[MembraneParticles],
    *,
    bin_size_nm: float = 5.0,
    max_distance_nm: float = 50.0,
    classes: Sequence[int] | None = None,
    nearest_distance_nm: pd.Series | None = None,
    edge_settings: EdgeSettings = EdgeSettings(),
) -> pd.DataFrame:
    """Particles per µm² (and mean nearest-neighbour distance) in bands of distance to the edge.

    Parameters
    ----------
    membranes : sequence of MembraneParticles
        Membranes with their particles.
    bin_size_nm : float, default 5
        Band width, nm.
    max_distance_nm : float, default 50
        Bands cover ``[0, max_distance_nm)``, nm.
    classes : sequence of int, optional
        Classes counted (default: all).
    nearest_distance_nm : pandas.Series, optional
        First-neighbour distance per ``particle_index`` (from :func:`nearest_neighbours`); adds the
        column ``nn1_mean_nm`` per band.
    edge_settings : EdgeSettings
        How edges are found.

    Returns
    -------
    pandas.DataFrame
        ``scope`` (tomogram / all), ``tomo_name``, ``edge_lo_nm``, ``edge_hi_nm``, ``area_um2``,
        ``n_particles``, ``concentration_per_um2`` (NaN for a band without area), ``nn1_mean_nm``.
    """
    if not bin_size_nm > 0 or not max_distance_nm >= bin_size_nm:
        raise ValueError(
            f"edge bins need bin_size_nm > 0 and max_distance_nm >= bin_size_nm, got {bin_size_nm}, {max_distance_nm}"
        )
    edges_nm = np.arange(0.0, max_distance_nm + 1e-9, bin_size_nm)
    k = len(edges_nm) - 1
    totals: dict[str, list[np.ndarray]] = {}
    for m in membranes:
        distance = edge_distance_ang(m, edge_settings)
        cumulative = sublevel_areas_ang2(distance[None], m.mesh.faces, m.face_areas_ang2, 10.0 * edges_nm[1:])[0]
        band_area = np.diff(np.concatenate([[0.0], cumulative]))
        chosen = m.class_mask(classes)
        particle_distance_nm = distance[m.vertices[chosen]] / 10.0
        band = np.floor(particle_distance_nm / bin_size_nm)
        inside = band < k
        band = band[inside].astype(np.int64)
        counts = np.bincount(band, minlength=k)
        nn_sum, nn_count = np.zeros(k), np.zeros(k)
        if nearest_distance_nm is not None:
            ids = m.particles["particle_index"].to_numpy()[chosen][inside]
            values = nearest_distance_nm.reindex(ids).to_numpy(dtype=np.float64)
            ok = np.isfinite(values)
            nn_sum = np.bincount(band[ok], weights=values[ok], minlength=k)
            nn_count = np.bincount(band[ok], minlength=k).astype(np.float64)
        for key in (m.mesh.tomogram_name, ""):
            total = totals.setdefault(key, [np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)])
            for slot, values in enumerate((band_area, counts, nn_sum, nn_count)):
                total[slot] += values
    rows = []
    for key, (area, counts, nn_sum, nn_count) in totals.items():
        area_um2 = area / ANG2_PER_UM2
        frame = pd.DataFrame(
            {
                "scope": "tomogram" if key else "all",
                "tomo_name": key,
                "edge_lo_nm": edges_nm[:-1],
                "edge_hi_nm": edges_nm[1:],
                "area_um2": area_um2,
                "n_particles": counts.astype(np.int64),
                "concentration_per_um2": np.divide(counts, area_um2, out=np.full(k, np.nan), where=area_um2 > 0),
                "nn1_mean_nm": np.divide(nn_sum, nn_count, out=np.full(k, np.nan), where=nn_count > 0),
            }
        )
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)
