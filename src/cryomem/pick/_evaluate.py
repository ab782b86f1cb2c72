"""Precision, recall and F1 of picked particles against ground truth (MemBrain v2, Methods).

For a radius ``r``: a predicted particle is a true positive (``TP_P``) if a ground-truth particle
lies within ``r`` of it, else a false positive; a ground-truth particle is a true positive
(``TP_R``) if a predicted one lies within ``r`` of it, else a false negative. Then
``P = TP_P / (TP_P + FP)``, ``R = TP_R / (TP_R + FN)``, ``F1 = 2 P R / (P + R)``. With
``matching="one_to_one"`` each prediction may account for at most one ground-truth particle and
vice versa (a maximum bipartite matching of the pairs closer than ``r``), so ``TP_P = TP_R``.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree

from cryomem.io import read_particles_star

__all__ = ["EVALUATION_COLUMNS", "evaluate_files", "evaluate_picks"]

Matching = Literal["nearest", "one_to_one"]
EVALUATION_COLUMNS = (
    "level",
    "tomo_name",
    "membrane_id",
    "n_predicted",
    "n_ground_truth",
    "tp_predicted",
    "false_positives",
    "tp_ground_truth",
    "false_negatives",
    "precision",
    "recall",
    "f1",
)
_XYZ = ["x_ang", "y_ang", "z_ang"]


def _true_positives(pred: np.ndarray, truth: np.ndarray, radius_ang: float, matching: Matching) -> tuple[int, int]:
    """``(TP_P, TP_R)`` for two point sets (Å, xyz)."""
    if len(pred) == 0 or len(truth) == 0:
        return 0, 0
    pairs = cKDTree(pred).sparse_distance_matrix(cKDTree(truth), radius_ang, output_type="ndarray")
    if matching == "nearest":
        return int(np.unique(pairs["i"]).size), int(np.unique(pairs["j"]).size)
    graph = coo_matrix((np.ones(len(pairs)), (pairs["i"], pairs["j"])), shape=(len(pred), len(truth))).tocsr()
    matched = int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())
    return matched, matched


def _row(level: str, tomo: str, membrane: int, n_pred: int, n_true: int, tp_p: int, tp_r: int) -> dict:
    precision = tp_p / n_pred if n_pred else 0.0
    recall = tp_r / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    if n_pred == 0 and n_true == 0:
        precision = recall = f1 = float("nan")
    return {
        "level": level,
        "tomo_name": tomo,
        "membrane_id": membrane,
        "n_predicted": n_pred,
        "n_ground_truth": n_true,
        "tp_predicted": tp_p,
        "false_positives": n_pred - tp_p,
        "tp_ground_truth": tp_r,
        "false_negatives": n_true - tp_r,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def _checked(table: pd.DataFrame, name: str) -> pd.DataFrame:
    missing = [c for c in ("tomo_name", *_XYZ) if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; pass a particle table from cryomem.io.read_particles_star")
    table = table.copy()
    if "membrane_id" not in table.columns:
        table["membrane_id"] = -1
    table["tomo_name"] = table["tomo_name"].astype(str)
    if not np.isfinite(table[_XYZ].to_numpy(dtype=np.float64)).all():
        raise ValueError(f"{name} has NaN or infinite coordinates")
    return table


def evaluate_picks(
    predicted: pd.DataFrame,
    ground_truth: pd.DataFrame,
    *,
    radius_nm: float = 6.3,
    per_membrane: bool = False,
    matching: Matching = "nearest",
) -> pd.DataFrame:
    """Precision, recall and F1 per tomogram (and per membrane) and pooled over all of them.

    Parameters
    ----------
    predicted, ground_truth : pandas.DataFrame
        Particle tables (columns ``tomo_name, x_ang, y_ang, z_ang`` and optionally
        ``membrane_id``), as from :func:`cryomem.io.read_particles_star`. Particles are compared
        only within the same tomogram.
    radius_nm : float, default 6.3
        Match radius, nm (MemBrain v2 uses 4.5 voxels of 14.08 Å = 6.336 nm).
    per_membrane : bool, default False
        Also report each ``(tomo_name, membrane_id)`` with matching restricted to that membrane;
        only meaningful when both tables number membranes alike (e.g. picks and annotations on the
        same surfaces).
    matching : {"nearest", "one_to_one"}, default "nearest"
        The paper's definition (any particle within ``r`` counts), or a one-to-one matching.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVALUATION_COLUMNS`; ``level`` is ``"membrane"``, ``"tomogram"`` or
        ``"pooled"`` (counts summed over tomograms, then the ratios). ``membrane_id`` is -1 on
        tomogram and pooled rows, ``tomo_name`` is ``"all"`` on the pooled row. Where one side is
        empty the undefined ratio is 0; where both are, all three are NaN.

    Raises
    ------
    ValueError
        Missing columns, non-finite coordinates, a non-positive radius, or two non-empty tables
        that share no tomogram name.
    """
    if not (np.isfinite(radius_nm) and radius_nm > 0):
        raise ValueError(f"radius_nm must be a positive distance in nm, got {radius_nm}")
    if matching not in ("nearest", "one_to_one"):
        raise ValueError(f"matching must be 'nearest' or 'one_to_one', got {matching!r}")
    pred = _checked(predicted, "predicted")
    truth = _checked(ground_truth, "ground_truth")
    names_pred, names_true = set(pred["tomo_name"]), set(truth["tomo_name"])
    if names_pred and names_true and not names_pred & names_true:
        raise ValueError(
            f"predicted and ground-truth particles share no tomogram: predicted {sorted(names_pred)[:3]}, "
            f"ground truth {sorted(names_true)[:3]}; check rlnTomoName in both files"
        )
    radius_ang = 10.0 * float(radius_nm)
    rows = []
    for tomo in sorted(names_pred | names_true):
        p_tomo = pred[pred["tomo_name"] == tomo]
        t_tomo = truth[truth["tomo_name"] == tomo]
        if per_membrane:
            for membrane in sorted(set(p_tomo["membrane_id"]) | set(t_tomo["membrane_id"])):
                p = p_tomo.loc[p_tomo["membrane_id"] == membrane, _XYZ].to_numpy(np.float64)
                t = t_tomo.loc[t_tomo["membrane_id"] == membrane, _XYZ].to_numpy(np.float64)
                rows.append(
                    _row("membrane", tomo, int(membrane), len(p), len(t), *_true_positives(p, t, radius_ang, matching))
                )
        p = p_tomo[_XYZ].to_numpy(np.float64)
        t = t_tomo[_XYZ].to_numpy(np.float64)
        rows.append(_row("tomogram", tomo, -1, len(p), len(t), *_true_positives(p, t, radius_ang, matching)))
    tomograms = [r for r in rows if r["level"] == "tomogram"]
    totals = [
        sum(r[k] for r in tomograms) for k in ("n_predicted", "n_ground_truth", "tp_predicted", "tp_ground_truth")
    ]
    rows.append(_row("pooled", "all", -1, *totals))
    return pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))


def _read(path: str | os.PathLike[str], voxel_size_ang: float | None) -> pd.DataFrame:
    """A particle STAR in Å; ``voxel_size_ang`` is used only if the file states no pixel size."""
    try:
        return read_particles_star(path)
    except ValueError as err:
        if voxel_size_ang is None or "has no pixel size" not in str(err):
            raise
    return read_particles_star(path, voxel_size_ang=voxel_size_ang)


def evaluate_files(
    predicted_star: str | os.PathLike[str],
    ground_truth_star: str | os.PathLike[str],
    *,
    radius_nm: float = 6.3,
    per_membrane: bool = False,
    matching: Matching = "nearest",
    voxel_size_ang: float | None = None,
) -> pd.DataFrame:
    """:func:`evaluate_picks` on two STAR files.

    Parameters
    ----------
    predicted_star, ground_truth_star : str or os.PathLike
        Particle STAR files (cryomem, RELION or Surforama flavour).
    radius_nm, per_membrane, matching
        As in :func:`evaluate_picks`.
    voxel_size_ang : float, optional
        Pixel size of a file that does not state its own (Surforama), Å; a file that states one
        keeps it. When both files state one, a ``voxel_size_ang`` that differs from either is
        refused rather than ignored.

    Returns
    -------
    pandas.DataFrame
        As :func:`evaluate_picks`.
    """
    if not (np.isfinite(radius_nm) and radius_nm > 0):
        raise ValueError(f"radius_nm must be a positive distance in nm, got {radius_nm}")
    if matching not in ("nearest", "one_to_one"):
        raise ValueError(f"matching must be 'nearest' or 'one_to_one', got {matching!r}")
    pred = _read(predicted_star, voxel_size_ang)
    truth = _read(ground_truth_star, voxel_size_ang)
    if voxel_size_ang is not None and pred.attrs["stated_pixel_sizes_ang"] and truth.attrs["stated_pixel_sizes_ang"]:
        for table in (pred, truth):
            other = [s for s in table.attrs["stated_pixel_sizes_ang"] if abs(s - voxel_size_ang) > 1e-3 * s]
            if other:
                raise ValueError(
                    f"--voxel-size {voxel_size_ang:g} Å disagrees with the pixel size {other[0]:g} Å that "
                    f"{table.attrs['source']} states, and both files state their own; drop --voxel-size "
                    "(it is for files without a pixel size)"
                )
    return evaluate_picks(pred, truth, radius_nm=radius_nm, per_membrane=per_membrane, matching=matching)
