"""Membrane instances from a segmentation."""

import numpy as np
import pytest

from cryomem.segment._instances import connected_instances


def test_components_sorted_by_size_small_removed_and_corners_connect():
    seg = np.zeros((20, 20, 20), dtype=bool)
    seg[1:3, 1:3, 1:3] = True  # 8 voxels
    seg[3, 3, 3] = True  # touches the cube only at a corner: 26-connected -> 9 voxels
    seg[10:15, 10:15, 10:15] = True  # 125 voxels
    seg[18, 18, 18] = True  # 1 voxel, removed
    seg[0, 10:14, 0] = True  # 4 voxels, removed with min size 5
    labels = connected_instances(seg, min_size_voxels=5)
    assert labels.dtype == np.uint16
    assert labels.max() == 2
    assert (labels == 1).sum() == 125 and labels[12, 12, 12] == 1
    assert (labels == 2).sum() == 9 and labels[3, 3, 3] == 2
    assert labels[18, 18, 18] == 0 and not labels[0, 10:14, 0].any()


def test_six_connectivity_separates_corner_touching():
    seg = np.zeros((5, 5, 5), dtype=np.uint8)
    seg[1, 1, 1] = seg[2, 2, 2] = 1
    assert connected_instances(seg, 1, connectivity=6).max() == 2
    assert connected_instances(seg, 1).max() == 1


def test_empty_segmentation_and_bad_input():
    assert not connected_instances(np.zeros((4, 4, 4), dtype=bool), 10).any()
    with pytest.raises(ValueError, match="3D"):
        connected_instances(np.zeros((4, 4), dtype=bool), 1)
