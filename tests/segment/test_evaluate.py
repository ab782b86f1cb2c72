"""Evaluation of predicted segmentations against labelled MRC files: per-file rows, pooled row, errors."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest

from cryomem.io import write_mrc
from cryomem.segment._evaluate import EVALUATION_COLUMNS, POOLED_ROW, evaluate_segmentation, write_evaluation_csv
from cryomem.segment._metrics import dice, surface_dice


def _shell(shape: tuple[int, int, int], radius: float, half_width: float) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=float)
    centre = (np.asarray(shape) - 1) / 2 + np.array([0.3, -0.2, 0.1])
    r = np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2)
    return np.abs(r - radius) <= half_width


def _dataset(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Two pairs of different size: a good prediction (0/1) and a half-missed one (probabilities)."""
    preds, labels = tmp_path / "pred", tmp_path / "labels"
    preds.mkdir()
    labels.mkdir()
    big_label = _shell((40, 40, 40), 14.0, 2.0).astype(np.uint8)
    big_label[:, :6] = 2
    big_pred = _shell((40, 40, 40), 14.0, 1.0).astype(np.uint8)
    small_label = _shell((24, 26, 28), 8.0, 1.5).astype(np.uint8)
    small_prob = np.where(_shell((24, 26, 28), 8.0, 1.5), 0.9, 0.1).astype(np.float32)
    small_prob[:12] = 0.2  # the top half is missed
    cases = {"a.mrc": (big_pred, big_label), "b.mrc": (small_prob, small_label)}
    for name, (pred, label) in cases.items():
        write_mrc(preds / name, pred, voxel_size_ang=10.0)
        write_mrc(labels / name, label, voxel_size_ang=10.0)
    return preds, labels, cases


def test_folder_pair_gives_per_file_scores_and_a_pooled_row(tmp_path: Path) -> None:
    preds, labels, cases = _dataset(tmp_path)
    (preds / "notes.txt").write_text("not a volume")
    table = evaluate_segmentation(preds, labels)
    assert list(table.columns) == list(EVALUATION_COLUMNS)
    assert list(table["file"]) == ["a.mrc", "b.mrc", POOLED_ROW]
    for name, (pred, label) in cases.items():
        row = table.set_index("file").loc[name]
        binary = pred > 0.5
        assert row["dice"] == pytest.approx(dice(binary, label))
        assert row["surface_dice"] == pytest.approx(surface_dice(binary, label))
        assert row["voxels"] == np.count_nonzero(label != 2)
        assert row["ignored_voxels"] == np.count_nonzero(label == 2)
    a, b, pooled = (table.iloc[i] for i in range(3))
    assert a["dice"] > 0.6 and a["surface_dice"] > 0.95
    assert b["surface_recall"] < 0.7 and b["surface_precision"] == 1.0
    # pooled over counts, not the mean of the ratios
    count_columns = [c for c in EVALUATION_COLUMNS if c.endswith("_voxels") or c == "voxels"]
    for column in count_columns:
        assert pooled[column] == a[column] + b[column]
    expected_dice = 2 * pooled["intersection_voxels"] / (pooled["pred_voxels"] + pooled["label_voxels"])
    assert pooled["dice"] == pytest.approx(expected_dice)
    precision = pooled["pred_skeleton_in_label_voxels"] / pooled["pred_skeleton_voxels"]
    recall = pooled["label_skeleton_in_pred_voxels"] / pooled["label_skeleton_voxels"]
    assert pooled["surface_dice"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert pooled["dice"] != pytest.approx((a["dice"] + b["dice"]) / 2)


def test_lists_of_files_and_single_files(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    listed = evaluate_segmentation([preds / "b.mrc", preds / "a.mrc"], [labels / "a.mrc", labels / "b.mrc"])
    pd.testing.assert_frame_equal(listed, evaluate_segmentation(preds, labels))
    renamed = tmp_path / "prediction_of_a.mrc"
    renamed.write_bytes((preds / "a.mrc").read_bytes())
    single = evaluate_segmentation(renamed, labels / "a.mrc")
    assert list(single["file"]) == ["prediction_of_a.mrc", POOLED_ROW]
    assert single["dice"].iloc[0] == pytest.approx(listed["dice"].iloc[0])


def test_threshold_parameter(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    strict = evaluate_segmentation(preds / "b.mrc", labels / "b.mrc", threshold=0.95)
    assert strict["pred_voxels"].iloc[0] == 0
    assert strict["dice"].iloc[0] == 0.0
    loose = evaluate_segmentation(preds / "b.mrc", labels / "b.mrc", threshold=0.15)
    assert loose["surface_recall"].iloc[0] == 1.0


def test_csv_is_written_atomically_and_reads_back(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    table = evaluate_segmentation(preds, labels)
    out = write_evaluation_csv(table, tmp_path / "scores.csv")
    assert out == tmp_path / "scores.csv"
    back = pd.read_csv(out)
    assert list(back.columns) == list(EVALUATION_COLUMNS)
    np.testing.assert_allclose(back["dice"], table["dice"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(FileExistsError):
        write_evaluation_csv(table, out, overwrite=False)
    with pytest.raises(FileNotFoundError):
        write_evaluation_csv(table, tmp_path / "missing" / "scores.csv")


def test_shape_mismatch_names_the_file(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    write_mrc(labels / "b.mrc", np.zeros((24, 26, 27), dtype=np.uint8), voxel_size_ang=10.0)
    with pytest.raises(ValueError, match=r"b\.mrc.*shape"):
        evaluate_segmentation(preds, labels)


def test_unpaired_names_are_listed(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    (labels / "b.mrc").rename(labels / "c.mrc")
    with pytest.raises(ValueError, match=r"predictions only \['b\.mrc'\], labels only \['c\.mrc'\]"):
        evaluate_segmentation(preds, labels)


def test_missing_files_and_empty_folders(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="nothing.mrc"):
        evaluate_segmentation(preds / "nothing.mrc", labels / "a.mrc")
    with pytest.raises(FileNotFoundError, match="nothing.mrc"):
        evaluate_segmentation([preds / "a.mrc"], [labels / "nothing.mrc"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no MRC files"):
        evaluate_segmentation(tmp_path / "empty", labels)


def test_voxel_sizes_must_be_usable_and_agree(tmp_path: Path) -> None:
    preds, labels, _ = _dataset(tmp_path)
    write_mrc(labels / "a.mrc", np.zeros((40, 40, 40), dtype=np.uint8), voxel_size_ang=14.0)
    with pytest.raises(ValueError, match="voxel size"):
        evaluate_segmentation(preds, labels)
    with mrcfile.new(labels / "a.mrc", overwrite=True) as mrc:  # no voxel size in the header
        mrc.set_data(np.zeros((40, 40, 40), dtype=np.int8))
    with pytest.raises(ValueError, match="voxel"):
        evaluate_segmentation(preds, labels)
    table = evaluate_segmentation(preds, labels, voxel_size_ang=10.0)
    assert table["label_voxels"].iloc[0] == 0


def test_bad_label_values_name_the_file(tmp_path: Path) -> None:
    preds, labels, cases = _dataset(tmp_path)
    write_mrc(labels / "a.mrc", cases["a.mrc"][1] * 3, voxel_size_ang=10.0)
    with pytest.raises(ValueError, match=r"a\.mrc.*only 0, 1 and 2"):
        evaluate_segmentation(preds, labels)
