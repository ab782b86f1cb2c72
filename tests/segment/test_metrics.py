"""Dice and Surface-Dice metrics: thickness-invariance, ignore masking, empty inputs, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.morphology import skeletonize

from cryomem.segment._metrics import (
    DiceCounts,
    SurfaceDiceCounts,
    dice,
    dice_counts,
    surface_dice,
    surface_dice_counts,
)


def _shell(shape: tuple[int, int, int], radius: float, half_width: float) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=float)
    centre = (np.asarray(shape) - 1) / 2 + np.array([0.3, -0.2, 0.1])
    r = np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2)
    return np.abs(r - radius) <= half_width


SHAPE = (44, 44, 44)


def test_perfect_prediction_scores_one() -> None:
    label = _shell(SHAPE, 15.0, 2.0).astype(np.uint8)
    label[:5] = 2
    pred = label == 1
    assert dice(pred, label) == 1.0
    assert surface_dice(pred, label) == 1.0


@pytest.mark.parametrize("half_width", [2.5, 3.5, 4.5])
def test_surface_dice_ignores_label_thickness_while_dice_drops(half_width: float) -> None:
    pred = _shell(SHAPE, 15.0, 1.5)
    label = _shell(SHAPE, 15.0, half_width).astype(np.uint8)
    assert surface_dice(pred, label) >= 0.95
    assert dice(pred, label) <= 0.8
    # and the other way round: a thick prediction against a thin label
    assert surface_dice(label == 1, pred.astype(np.uint8)) >= 0.95


def test_dice_matches_hand_count_and_skips_ignore() -> None:
    label = np.zeros((4, 4, 4), dtype=np.uint8)
    label[0] = 1  # 16 membrane voxels
    label[3] = 2  # ignored
    pred = np.zeros((4, 4, 4), dtype=bool)
    pred[0, :2] = True  # 8 hits
    pred[1, 0] = True  # 4 false positives
    pred[3] = True  # inside ignore: not counted
    assert dice_counts(pred, label) == DiceCounts(intersection=8, pred=12, label=16)
    assert dice(pred, label) == pytest.approx(16 / 28)
    assert dice(pred.astype(np.uint8), label) == dice(pred, label)


def test_prediction_inside_ignore_does_not_change_dice() -> None:
    label = _shell(SHAPE, 15.0, 2.0).astype(np.uint8)
    label[:, :10] = 2
    pred = _shell(SHAPE, 15.5, 2.0)
    other = pred.copy()
    other[:, :10] = np.random.default_rng(0).random(other[:, :10].shape) < 0.5
    assert dice(other, label) == dice(pred, label)


def test_skeleton_voxels_in_ignore_regions_are_not_counted() -> None:
    label = _shell(SHAPE, 15.0, 2.0).astype(np.uint8)
    all_counts = surface_dice_counts(label == 1, label)
    label[label == 0] = 2  # ignoring background changes nothing for a prediction inside the membrane
    assert surface_dice_counts(label == 1, label) == all_counts
    label[:22] = 2
    half = surface_dice_counts(label == 1, label)
    assert 0.3 * all_counts.pred_skeleton < half.pred_skeleton < 0.7 * all_counts.pred_skeleton


def test_missed_membrane_lowers_recall_not_precision() -> None:
    label = (_shell(SHAPE, 15.0, 2.0) | _shell(SHAPE, 8.0, 1.5)).astype(np.uint8)
    pred = _shell(SHAPE, 15.0, 2.0)
    counts = surface_dice_counts(pred, label)
    assert counts.precision == 1.0
    assert 0.6 < counts.recall < 0.85
    assert counts.value == pytest.approx(2 * counts.recall / (1 + counts.recall))


def test_empty_inputs() -> None:
    empty_label = np.zeros((8, 8, 8), dtype=np.uint8)
    empty_pred = np.zeros((8, 8, 8), dtype=bool)
    label = empty_label.copy()
    label[3:5] = 1
    assert dice(empty_pred, empty_label) == 1.0
    assert surface_dice(empty_pred, empty_label) == 1.0
    assert dice(empty_pred, label) == 0.0
    assert surface_dice(empty_pred, label) == 0.0
    assert dice(label == 1, empty_label) == 0.0
    assert surface_dice(label == 1, empty_label) == 0.0
    assert np.isnan(SurfaceDiceCounts(0, 0, 0, 5).precision)


def test_counts_pool_by_summing() -> None:
    a, b = DiceCounts(1, 2, 3), DiceCounts(10, 20, 30)
    assert a + b == DiceCounts(11, 22, 33)
    assert (a + b).value == pytest.approx(22 / 55)
    assert SurfaceDiceCounts(1, 2, 3, 4) + SurfaceDiceCounts(1, 1, 1, 1) == SurfaceDiceCounts(2, 3, 4, 5)


def test_skimage_3d_skeletonize_is_not_a_surface() -> None:
    """Why the metric uses skeletonize_membranes: scikit-image thins a slab to lines, not a sheet."""
    slab = np.zeros((24, 24, 24), dtype=bool)
    slab[4:20, 4:20, 9:16] = True
    assert skeletonize(slab).sum() < 16  # a 16 x 16 mid-sheet would have 256 voxels


def test_bad_inputs_give_clear_errors() -> None:
    label = np.zeros((4, 4, 4), dtype=np.uint8)
    pred = np.zeros((4, 4, 4), dtype=bool)
    with pytest.raises(ValueError, match="shape"):
        dice(pred[:2], label)
    with pytest.raises(ValueError, match=r"only 0, 1 and 2"):
        dice(pred, label + 3)
    with pytest.raises(ValueError, match="threshold probabilities"):
        surface_dice(np.full((4, 4, 4), 0.7), label)
    with pytest.raises(ValueError, match="3D"):
        dice(pred[0], label[0])
    with pytest.raises(ValueError, match="ignore_label"):
        dice(pred, label, ignore_label=1)
