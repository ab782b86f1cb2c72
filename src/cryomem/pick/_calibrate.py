"""Mean-shift settings calibrated on held-out membranes whose particles are known.

The network predicts distances; turning them into picks needs a mean-shift bandwidth and a seed
threshold, and the best values depend on how sharp a model's predictions are. Training therefore
sweeps both on its validation membranes (never trained on) and stores the best pair in the model
card, where :func:`cryomem.pick.predict_membranes` finds it.

Rule: the best one-to-one F1 at ``radius_nm`` (each true particle matches at most one pick, so
duplicate picks count against precision: the particle counts, and so concentrations, stay right)
among the settings that pick at most ``max_pick_ratio`` x the true number of particles; ties go to
the threshold nearer 0.6 x the maximum distance. The paper's F1 (any pick near a particle is a hit)
is reported too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cryomem.io import MembraneSurface
from cryomem.pick._clusters import pick_surface
from cryomem.pick._evaluate import evaluate_picks

__all__ = ["BANDWIDTH_FACTORS", "THRESHOLD_FACTORS", "calibrate_mean_shift", "score_pick_settings"]

BANDWIDTH_FACTORS = (0.4, 0.5, 0.75)
"""Mean-shift bandwidths tried, as fractions of the model's maximum distance."""
THRESHOLD_FACTORS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)
"""Seed thresholds tried, as fractions of the model's maximum distance."""


def score_pick_settings(
    surfaces: Sequence[MembraneSurface],
    predicted_distances_ang: Sequence[np.ndarray],
    tomo_names: Sequence[str],
    truth: pd.DataFrame,
    *,
    radius_nm: float = 6.3,
    **settings,
) -> tuple[pd.Series, pd.Series]:
    """Pick every membrane with one set of mean-shift settings and score the picks, pooled.

    Parameters
    ----------
    surfaces, predicted_distances_ang, tomo_names
        The membranes, their predicted distances (Å) and tomogram names.
    truth : pandas.DataFrame
        True particles: ``tomo_name, x_ang, y_ang, z_ang`` (Å).
    radius_nm : float, default 6.3
        Match radius, nm.
    **settings
        Keyword arguments of :func:`cryomem.pick.pick_surface` (``max_distance_ang``,
        ``bandwidth_ang``, ...).

    Returns
    -------
    (pandas.Series, pandas.Series)
        The pooled rows of :func:`cryomem.pick.evaluate_picks`: the paper's matching, then one-to-one.
    """
    picks = [
        pick_surface(surface, distances, tomo_name=name, **settings)
        for surface, distances, name in zip(surfaces, predicted_distances_ang, tomo_names, strict=True)
    ]
    picked = pd.concat(picks, ignore_index=True)
    row = evaluate_picks(picked, truth, radius_nm=radius_nm).iloc[-1]
    one = evaluate_picks(picked, truth, radius_nm=radius_nm, matching="one_to_one").iloc[-1]
    return row, one


def calibrate_mean_shift(
    surfaces: Sequence[MembraneSurface],
    predicted_distances_ang: Sequence[np.ndarray],
    tomo_names: Sequence[str],
    particles_xyz_ang: Sequence[np.ndarray],
    *,
    max_distance_ang: float,
    radius_nm: float = 6.3,
    max_pick_ratio: float = 1.5,
) -> dict | None:
    """Best mean-shift bandwidth and seed threshold on membranes with known particles.

    Parameters
    ----------
    surfaces : sequence of MembraneSurface
        Held-out membranes.
    predicted_distances_ang : sequence of (n,) arrays
        A model's predicted distances on each membrane, Å.
    tomo_names : sequence of str
        Tomogram name of each membrane (as in the particles' ``tomo_name``).
    particles_xyz_ang : sequence of (p, 3) arrays
        The true particles of each membrane, Å.
    max_distance_ang : float
        The model's maximum distance, Å (the settings tried are fractions of it).
    radius_nm : float, default 6.3
        Match radius of the F1 score, nm.
    max_pick_ratio : float, default 1.5
        Settings that pick more than this many times the true count are not chosen.

    Returns
    -------
    dict or None
        ``bandwidth_ang``, ``seed_threshold_ang``, ``f1_one_to_one``, ``f1``, ``precision``,
        ``recall``, ``radius_nm``, ``n_true``, ``rule`` and ``sweep`` (one row per setting); None
        without any true particle.
    """
    truth = pd.concat(
        [
            pd.DataFrame({"tomo_name": name, "x_ang": xyz[:, 0], "y_ang": xyz[:, 1], "z_ang": xyz[:, 2]})
            for name, xyz in zip(tomo_names, particles_xyz_ang)
            if len(xyz)
        ]
        or [pd.DataFrame(columns=["tomo_name", "x_ang", "y_ang", "z_ang"])],
        ignore_index=True,
    )
    if truth.empty:
        return None
    max_distance = float(max_distance_ang)
    sweep = []
    for bandwidth in (f * max_distance for f in BANDWIDTH_FACTORS):
        for threshold in (f * max_distance for f in THRESHOLD_FACTORS):
            row, one = score_pick_settings(
                surfaces,
                predicted_distances_ang,
                tomo_names,
                truth,
                radius_nm=radius_nm,
                max_distance_ang=max_distance,
                bandwidth_ang=bandwidth,
                seed_threshold_ang=threshold,
            )
            sweep.append(
                {
                    "bandwidth_ang": bandwidth,
                    "seed_threshold_ang": threshold,
                    "n_picked": int(row["n_predicted"]),
                    **{key: float(row[key]) for key in ("precision", "recall", "f1")},
                    "f1_one_to_one": float(one["f1"]),
                }
            )
    sane = [row for row in sweep if row["n_picked"] <= max_pick_ratio * len(truth)] or sweep
    best = max(sane, key=lambda row: (row["f1_one_to_one"], -abs(row["seed_threshold_ang"] - 0.6 * max_distance)))
    keys = ("bandwidth_ang", "seed_threshold_ang", "f1_one_to_one", "f1", "precision", "recall")
    return {
        **{key: best[key] for key in keys},
        "radius_nm": radius_nm,
        "n_true": len(truth),
        "rule": f"best one-to-one F1 at {radius_nm:g} nm among settings picking at most {max_pick_ratio:g}x "
        "the true count",
        "sweep": sweep,
    }
