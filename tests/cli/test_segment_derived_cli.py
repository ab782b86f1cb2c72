"""`cryomem segment threshold` and `segment instances`: new outputs from saved ones, and their bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from bad_input import assert_refuses, run_cli

from cryomem.io import read_mrc, write_mrc
from cryomem.segment import segmentation_from_probabilities

ORIGIN = (10.0, 20.0, -30.0)


@pytest.fixture
def scores(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.random((24, 40, 40)).astype(np.float32) * 0.3
    p[10:13, 5:35, 5:35] = 0.9  # a slab membrane
    p[18:20, 10:20, 10:20] = 0.6  # a fainter one
    path = tmp_path / "tomo_scores.mrc"
    write_mrc(path, p.astype(np.float16), voxel_size_ang=10.0, origin_xyz_ang=ORIGIN)
    return path


def test_threshold_writes_what_a_fresh_segmentation_would(scores, tmp_path):
    result = run_cli(["segment", "threshold", scores, "--threshold", "0.7", "--no-sheet-filter"])
    assert result.exit_code == 0, result.output
    seg = read_mrc(tmp_path / "tomo_seg.mrc")
    expected, _ = segmentation_from_probabilities(read_mrc(scores).data_zyx, 10.0, 0.7, sheet_filter=False)
    np.testing.assert_array_equal(seg.data_zyx, expected)
    assert seg.voxel_size_ang == pytest.approx(10.0) and seg.origin_xyz_ang == pytest.approx(ORIGIN)
    assert seg.data_zyx[11, 20, 20] == 1 and seg.data_zyx[19, 15, 15] == 0


def test_instances_number_the_membranes(scores, tmp_path):
    assert run_cli(["segment", "threshold", scores, "--threshold", "0.5", "--no-sheet-filter"]).exit_code == 0
    result = run_cli(["segment", "instances", tmp_path / "tomo_seg.mrc", "--min-voxels", "50", "--split"])
    assert result.exit_code == 0, result.output
    labels = read_mrc(tmp_path / "tomo_instances.mrc")
    assert labels.data_zyx.max() == 2 and labels.data_zyx[11, 20, 20] == 1 and labels.data_zyx[19, 15, 15] == 2
    assert labels.origin_xyz_ang == pytest.approx(ORIGIN)


def test_bad_inputs_are_one_line_and_write_nothing(scores, tmp_path):
    assert_refuses(["segment", "threshold", tmp_path / "missing_scores.mrc"], "not found", [tmp_path])
    assert_refuses(["segment", "threshold", scores, "--threshold", "1.5"], "less than or equal to 1", [tmp_path])
    assert run_cli(["segment", "threshold", scores, "--no-sheet-filter"]).exit_code == 0
    assert_refuses(["segment", "threshold", scores, "--no-sheet-filter"], "already exists; pass --overwrite",
                   [tmp_path])  # fmt: skip
    assert_refuses(["segment", "instances", scores], "holds float16 values; give a segmentation", [tmp_path])
    seg = tmp_path / "tomo_seg.mrc"
    assert_refuses(["segment", "instances", seg, "--min-voxels", "-1"], "--min-voxels must be >= 0", [tmp_path])
