"""Touching membranes become separate instances; a single membrane stays whole."""

from __future__ import annotations

import numpy as np
import pytest

from cryomem.segment import connected_instances, split_instances

SHAPE = (60, 60, 110)


def shell(centre_x: float, radius: float = 20.0, thickness: float = 4.0) -> np.ndarray:
    z, y, x = np.indices(SHAPE)
    distance = np.sqrt((z - 30.0) ** 2 + (y - 30.0) ** 2 + (x - centre_x) ** 2)
    return np.abs(distance - radius) <= thickness / 2


@pytest.mark.parametrize("centre_distance", [42.0, 43.5, 44.0])  # outer faces touching or pressed together
def test_two_touching_vesicles_become_two_instances(centre_distance):
    seg = shell(30.0) | shell(30.0 + centre_distance)
    assert connected_instances(seg, 10).max() == 1  # connected components see one piece
    labels = split_instances(seg, 100)
    assert labels.max() == 2
    a, b = shell(30.0), shell(30.0 + centre_distance)
    first = np.bincount(labels[a & ~b]).argmax()  # each vesicle's own voxels are (almost all) one instance
    second = np.bincount(labels[b & ~a]).argmax()
    assert first != second and first > 0 and second > 0
    assert (labels[a & ~b] == first).mean() > 0.95 and (labels[b & ~a] == second).mean() > 0.95


def test_one_vesicle_stays_whole_even_with_holes_and_a_thick_spot():
    vesicle = shell(30.0)
    assert split_instances(vesicle, 100).max() == 1
    holes = vesicle & (np.random.default_rng(0).random(SHAPE) > 0.03)
    assert split_instances(holes, 100).max() == 1
    spot = vesicle.copy()
    spot[28:33, 28:33, 8:14] = True  # a protein density stuck to the membrane
    assert split_instances(spot, 100).max() == 1


def test_separate_membranes_keep_their_size_order_and_small_pieces_go():
    seg = shell(30.0) | shell(80.0, radius=12.0)
    seg[5:7, 5:7, 100:102] = True  # a speck
    labels = split_instances(seg, 100)
    assert labels.max() == 2 and (labels == 1).sum() > (labels == 2).sum() and labels[5, 5, 100] == 0
    with pytest.raises(ValueError, match="junction_factor must be > 1"):
        split_instances(seg, 100, junction_factor=1.0)
