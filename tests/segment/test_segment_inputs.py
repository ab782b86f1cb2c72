"""Library-level refusals behind the segment commands (issue 17): what is not a segmentation, all-ignore labels."""

import numpy as np
import pytest

from cryomem.io import write_mrc
from cryomem.segment import evaluate_segmentation, is_derived_volume, segment_output_paths, skeletonize_membranes


def _slab(value=1, dtype=np.uint8):
    seg = np.zeros((20, 20, 20), dtype)
    seg[7:14] = value
    return seg


@pytest.mark.parametrize(
    "data, message",
    [
        (np.random.default_rng(0).normal(size=(20, 20, 20)), "non-integer values"),
        (np.where(_slab() > 0, np.nan, 0.0), "2800 NaN or infinite voxels"),
        (np.random.default_rng(0).integers(-5, 5, size=(20, 20, 20)), "negative values"),
    ],
)
def test_skeletonize_refuses_what_is_not_a_segmentation(data, message):
    with pytest.raises(ValueError, match=message):
        skeletonize_membranes(data)


@pytest.mark.parametrize("seg", [_slab(), _slab(255), _slab(-1, np.int8), _slab(1.0, np.float32), _slab(True, bool)])
def test_skeletonize_takes_any_single_value_mask(seg):
    skeleton = skeletonize_membranes(seg)
    assert skeleton[10].all() and skeleton.sum() == 400


def test_evaluate_refuses_all_ignore_labels_instead_of_dice_1(tmp_path):
    write_mrc(tmp_path / "p.mrc", _slab(), voxel_size_ang=10.0)
    write_mrc(tmp_path / "l.mrc", np.full((20, 20, 20), 2, np.uint8), voxel_size_ang=10.0)
    with pytest.raises(ValueError, match=r"every voxel of label .*l.mrc is 2 \(ignore\)"):
        evaluate_segmentation(tmp_path / "p.mrc", tmp_path / "l.mrc")


@pytest.mark.parametrize(
    "pred, message",
    [
        (np.random.default_rng(0).normal(size=(20, 20, 20)).astype(np.float32), "neither a 0/1 segmentation"),
        (np.where(_slab() > 0, np.nan, 0.0).astype(np.float32), "2800 NaN or infinite voxels"),
    ],
)
def test_evaluate_refuses_a_tomogram_or_nan_as_prediction(tmp_path, pred, message):
    write_mrc(tmp_path / "l.mrc", _slab(), voxel_size_ang=10.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mrcfile's header statistics of NaN
        write_mrc(tmp_path / "p.mrc", pred, voxel_size_ang=10.0)
    with pytest.raises(ValueError, match=message):
        evaluate_segmentation(tmp_path / "p.mrc", tmp_path / "l.mrc")


def test_evaluate_takes_0_255_masks_and_logits_with_their_threshold(tmp_path):
    write_mrc(tmp_path / "l.mrc", _slab(), voxel_size_ang=10.0)
    write_mrc(tmp_path / "p.mrc", _slab(255), voxel_size_ang=10.0)
    assert evaluate_segmentation(tmp_path / "p.mrc", tmp_path / "l.mrc")["dice"].iloc[0] == 1.0
    write_mrc(tmp_path / "p.mrc", np.where(_slab() > 0, 4.0, -4.0).astype(np.float32), voxel_size_ang=10.0)
    assert evaluate_segmentation(tmp_path / "p.mrc", tmp_path / "l.mrc", threshold=0.0)["dice"].iloc[0] == 1.0


@pytest.mark.parametrize(
    "name, derived",
    [("tomo.mrc", False), ("tomo_seg.mrc", True), ("TS_01_scores.mrc", True), ("a_instances.rec", True),
     ("a_uncertainty.mrc", True), ("a_seg_skel.mrc", True), ("tomo_labels.mrc", True), ("segment.mrc", False),
     ("tomo_density.mrc", False)],
)  # fmt: skip
def test_derived_volumes_are_recognised(name, derived):
    assert is_derived_volume(name) is derived


def test_every_output_is_named_from_the_stem(tmp_path):
    paths = segment_output_paths("/data/TS_01.rec", tmp_path)
    assert {p.name for p in paths.values()} == {
        "TS_01_seg.mrc", "TS_01_scores.mrc", "TS_01_instances.mrc", "TS_01_uncertainty.mrc", "TS_01_sheet_filter.csv"
    }  # fmt: skip
    assert all(is_derived_volume(p) for kind, p in paths.items() if kind != "sheet_filter")
