"""Precision, recall and F1 exactly as defined in MemBrain v2 (Methods), on hand-made point sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryomem.io import write_particles_star
from cryomem.pick import EVALUATION_COLUMNS, evaluate_files, evaluate_picks


def _table(tomo: str, xs: list[float], membrane: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {"tomo_name": [tomo] * len(xs), "x_ang": xs, "y_ang": 0.0, "z_ang": 0.0, "membrane_id": membrane}
    )


# Ground truth at x = 0, 100, 200 Å; predictions at 5, 30 (both near 0 only), 300 (near nothing).
TRUTH = _table("t1", [0.0, 100.0, 200.0])
PRED = _table("t1", [5.0, 30.0, 300.0])


def _pooled(table: pd.DataFrame) -> pd.Series:
    return table[table["level"] == "pooled"].iloc[0]


def test_paper_definition_counts_each_side_separately():
    row = _pooled(evaluate_picks(PRED, TRUTH, radius_nm=6.3))
    assert (row.tp_predicted, row.false_positives, row.tp_ground_truth, row.false_negatives) == (2, 1, 1, 2)
    assert row.precision == pytest.approx(2 / 3) and row.recall == pytest.approx(1 / 3)
    assert row.f1 == pytest.approx(2 * (2 / 3) * (1 / 3) / (2 / 3 + 1 / 3))


def test_one_to_one_matching_uses_each_particle_once():
    row = _pooled(evaluate_picks(PRED, TRUTH, radius_nm=6.3, matching="one_to_one"))
    assert (row.tp_predicted, row.tp_ground_truth) == (1, 1)
    assert (
        row.precision == pytest.approx(1 / 3) and row.recall == pytest.approx(1 / 3) and row.f1 == pytest.approx(1 / 3)
    )


def test_one_to_one_finds_the_maximum_matching():
    truth = _table("t", [0.0, 60.0])
    pred = _table("t", [30.0, -30.0])  # greedy nearest would pair 30 with 0 and leave -30 unmatched
    row = _pooled(evaluate_picks(pred, truth, radius_nm=3.5, matching="one_to_one"))
    assert row.tp_predicted == 2 and row.f1 == pytest.approx(1.0)


def test_radius_is_in_nanometres():
    assert _pooled(evaluate_picks(PRED, TRUTH, radius_nm=2.9)).tp_predicted == 1  # 30 Å > 2.9 nm
    assert _pooled(evaluate_picks(PRED, TRUTH, radius_nm=9.0)).tp_ground_truth == 2  # 70 Å < 9 nm < 100 Å


def test_tomograms_and_membranes_are_scored_separately_and_pooled():
    truth = pd.concat([TRUTH, _table("t2", [0.0], membrane=1), _table("t2", [500.0], membrane=2)])
    pred = pd.concat([PRED, _table("t2", [10.0], membrane=1), _table("t2", [510.0], membrane=1)])
    table = evaluate_picks(pred, truth, per_membrane=True)
    assert list(table.columns) == list(EVALUATION_COLUMNS)
    t2 = table[(table["level"] == "tomogram") & (table["tomo_name"] == "t2")].iloc[0]
    assert (t2.precision, t2.recall) == (1.0, 1.0)  # within a tomogram, membranes do not matter
    membranes = table[(table["level"] == "membrane") & (table["tomo_name"] == "t2")].set_index("membrane_id")
    assert membranes.loc[1, "precision"] == 0.5 and membranes.loc[1, "recall"] == 1.0
    assert membranes.loc[2, "recall"] == 0.0 and membranes.loc[2, "n_predicted"] == 0
    pooled = _pooled(table)
    assert (pooled.n_predicted, pooled.n_ground_truth) == (5, 5)
    assert pooled.precision == pytest.approx(4 / 5) and pooled.recall == pytest.approx(3 / 5)
    assert (table["level"] == "pooled").sum() == 1


def test_empty_sides():
    row = _pooled(evaluate_picks(_table("t1", []), TRUTH))
    assert (row.precision, row.recall, row.f1) == (0.0, 0.0, 0.0)
    both = _pooled(evaluate_picks(_table("t1", []), _table("t1", [])))
    assert np.isnan(both.f1)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="share no tomogram"):
        evaluate_picks(_table("a", [0.0]), _table("b", [0.0]))
    with pytest.raises(ValueError, match="radius_nm"):
        evaluate_picks(PRED, TRUTH, radius_nm=0.0)
    with pytest.raises(ValueError, match="lacks column"):
        evaluate_picks(PRED.drop(columns="z_ang"), TRUTH)


def test_files_are_read_in_angstrom_whatever_their_pixel_size(tmp_path):
    pred = write_particles_star(tmp_path / "pred.star", PRED, voxel_size_ang=7.0, shape_zyx=(10, 10, 50))
    truth = write_particles_star(tmp_path / "gt.star", TRUTH, voxel_size_ang=14.0, shape_zyx=(10, 10, 25))
    row = _pooled(evaluate_files(pred, truth, radius_nm=6.3))
    assert row.precision == pytest.approx(2 / 3) and row.recall == pytest.approx(1 / 3)
    with pytest.raises(FileNotFoundError):
        evaluate_files(tmp_path / "missing.star", truth)


def test_voxel_size_applies_only_to_files_without_one(tmp_path):
    truth = write_particles_star(tmp_path / "gt.star", TRUTH, voxel_size_ang=14.0, shape_zyx=(10, 10, 25))
    text = (tmp_path / "gt.star").read_text().replace("_rlnTomoTiltSeriesPixelSize", "_rlnSomethingElse")
    bare = tmp_path / "bare.star"
    bare.write_text(text)
    with pytest.raises(ValueError, match="no pixel size"):
        evaluate_files(bare, truth)
    row = _pooled(evaluate_files(bare, truth, voxel_size_ang=14.0))
    assert (row.precision, row.recall) == (1.0, 1.0)
