"""Membrane instance editor: edits, undo, and saving (pure numpy, no viewer)."""

import numpy as np
import pytest

from cryomem.gui._instance_edit import InstanceEditor, save_instances
from cryomem.gui._lasso import lasso_mask
from cryomem.io import read_mrc


def _three_blobs():
    seg = np.zeros((6, 12, 12), dtype=bool)
    seg[1:3, 1:3, 1:3] = True  # 8 voxels
    seg[1:5, 6:10, 6:10] = True  # 64 voxels
    seg[4, 1, 9] = True  # 1 voxel
    seg[0:2, 8:11, 0:3] = True  # 18 voxels
    return seg


def _labels():
    labels = np.zeros((5, 10, 10), dtype=np.uint16)
    labels[1:4, 1:4, 1:4] = 1
    labels[1:4, 6:9, 1:4] = 2
    labels[0:5, 0:10, 7:9] = 3
    return labels


def test_from_segmentation_orders_by_size_and_drops_small_pieces():
    editor = InstanceEditor.from_segmentation(_three_blobs(), min_voxels=5)
    assert editor.instance_sizes() == {1: 64, 2: 18, 3: 8}
    assert editor.labels[2, 7, 7] == 1
    assert editor.labels[1, 9, 1] == 2
    assert editor.labels[4, 1, 9] == 0
    assert not editor.can_undo


def test_from_segmentation_uses_26_connectivity():
    seg = np.zeros((3, 3, 3), dtype=bool)
    seg[0, 0, 0] = seg[1, 1, 1] = seg[2, 2, 2] = True  # corner neighbours only
    assert InstanceEditor.from_segmentation(seg, min_voxels=1).instance_sizes() == {1: 3}


def test_input_array_is_never_modified():
    labels = _labels()
    before = labels.copy()
    editor = InstanceEditor(labels)
    editor.paint((2, 2, 2), 1.0, 0)
    editor.merge([1, 2])
    editor.relabel_by_size()
    assert editor.split(2) == [3]
    editor.apply_mask(labels > 0, "remove")
    np.testing.assert_array_equal(labels, before)
    assert not np.shares_memory(editor.labels, labels)


def test_merge_makes_all_ids_the_smallest():
    editor = InstanceEditor(_labels())
    sizes = editor.instance_sizes()
    assert editor.merge([3, 2]) == 2
    assert editor.instance_sizes() == {1: sizes[1], 2: sizes[2] + sizes[3]}


def test_merge_rejects_background_and_unknown_ids():
    editor = InstanceEditor(_labels())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        editor.merge([0, 1])
    with pytest.raises(ValueError, match=r"\[7\]"):
        editor.merge([1, 7])
    assert not editor.can_undo


def test_split_touching_blobs_after_they_are_separated():
    labels = np.zeros((4, 8, 16), dtype=np.uint16)
    labels[1:3, 1:7, 1:6] = 5  # 60 voxels
    labels[1:3, 2:5, 6:14] = 5  # 48 voxels, touching the first along x = 5|6
    labels[0, 0, 15] = 2
    editor = InstanceEditor(labels)
    assert editor.split(5) == []
    assert editor.labels.max() == 5

    cut = np.zeros(labels.shape, dtype=bool)
    cut[:, :, 6] = True
    editor.apply_mask(cut, "remove")
    new_ids = editor.split(5)

    assert new_ids == [6]
    assert editor.instance_sizes() == {2: 1, 5: 60, 6: 48 - 6}
    assert np.all(editor.labels[1:3, 1:7, 1:6] == 5)
    assert np.all(editor.labels[1:3, 2:5, 7:14] == 6)


def test_split_widens_the_dtype_when_new_ids_do_not_fit():
    labels = np.zeros((3, 3, 5), dtype=np.uint8)
    labels[1, 1, 0] = labels[1, 1, 2] = labels[1, 1, 4] = 255
    editor = InstanceEditor(labels)
    assert editor.split(255) == [256, 257]
    assert editor.labels.dtype == np.uint16
    assert editor.undo()
    assert editor.labels.dtype == np.uint8
    np.testing.assert_array_equal(editor.labels, labels)


def test_paint_ball_and_erase():
    editor = InstanceEditor(np.zeros((9, 9, 9), dtype=np.uint16))
    changed = editor.paint((4, 4, 4), 2.0, 7)
    index = np.indices((9, 9, 9))
    ball = ((index - 4) ** 2).sum(axis=0) <= 4
    assert changed == ball.sum() == 33
    np.testing.assert_array_equal(editor.labels == 7, ball)

    assert editor.paint((4, 4, 4), 1.0, 0) == 7
    np.testing.assert_array_equal(editor.labels == 7, ball & (((index - 4) ** 2).sum(axis=0) > 1))


def test_paint_is_clipped_to_the_volume():
    editor = InstanceEditor(np.zeros((4, 5, 6), dtype=np.int32))
    editor.paint((0, 0, 0), 1.5, 3)
    index = np.indices((4, 5, 6))
    np.testing.assert_array_equal(editor.labels == 3, (index**2).sum(axis=0) <= 2.25)
    assert editor.paint((20, 20, 20), 2.0, 3) == 0
    assert editor.can_undo


def test_paint_rejects_bad_brush():
    editor = InstanceEditor(np.zeros((4, 4, 4), dtype=np.uint16))
    with pytest.raises(ValueError, match="-1"):
        editor.paint((1, 1, 1), -1, 2)
    with pytest.raises(ValueError, match="-3"):
        editor.paint((1, 1, 1), 1, -3)
    with pytest.raises(ValueError, match=r"\(1, 1\)"):
        editor.paint((1, 1), 1, 2)


def test_relabel_by_size_is_consecutive_largest_first():
    labels = np.zeros((2, 10, 10), dtype=np.uint16)
    labels[0, 0, 0:2] = 9
    labels[1, :, :5] = 4
    labels[0, 5:, 5:] = 30
    editor = InstanceEditor(labels)
    assert editor.relabel_by_size() == {4: 1, 30: 2, 9: 3}
    assert editor.instance_sizes() == {1: 50, 2: 25, 3: 2}


def test_lasso_removal_then_undo_restores_the_exact_array():
    labels = _labels()
    editor = InstanceEditor(labels)
    square = np.array([[0.0, 0.5, 0.5], [0.0, 0.5, 4.5], [0.0, 9.5, 4.5], [0.0, 9.5, 0.5]])
    mask = lasso_mask(labels.shape, square, (1.0, 0.0, 0.0))
    for mode, gone in [("remove", {1, 2}), ("remove_instances", {1, 2}), ("keep_instances", {3}), ("keep", {3})]:
        changed = editor.apply_mask(mask, mode)
        assert changed > 0
        assert gone.isdisjoint(editor.instance_sizes())
        assert editor.undo()
        np.testing.assert_array_equal(editor.labels, labels)
        assert editor.labels.dtype == labels.dtype
    assert not editor.can_undo
    assert editor.undo() is False


def test_undo_reverts_steps_in_order():
    editor = InstanceEditor(_labels())
    states = [editor.labels.copy()]
    editor.paint((2, 5, 5), 1.5, 4)
    states.append(editor.labels.copy())
    editor.merge([1, 2, 4])
    states.append(editor.labels.copy())
    editor.relabel_by_size()
    states.append(editor.labels.copy())
    editor.paint((0, 0, 0), 30.0, 0)  # erases everything: a dense undo step
    assert editor.instance_sizes() == {}
    for state in reversed(states):
        assert editor.undo()
        np.testing.assert_array_equal(editor.labels, state)
    assert not editor.can_undo


def test_undo_keeps_at_most_max_undo_steps():
    editor = InstanceEditor(np.zeros((3, 3, 3), dtype=np.uint16), max_undo=3)
    for value in range(1, 6):
        editor.paint((1, 1, 1), 0.0, value)
    assert [editor.undo() for _ in range(4)] == [True, True, True, False]
    assert editor.labels[1, 1, 1] == 2

    no_undo = InstanceEditor(np.zeros((3, 3, 3), dtype=np.uint16), max_undo=0)
    no_undo.paint((1, 1, 1), 1.0, 1)
    assert not no_undo.can_undo and no_undo.labels[1, 1, 1] == 1


def test_undo_history_stores_only_the_changed_region():
    editor = InstanceEditor(np.zeros((64, 64, 64), dtype=np.uint16))
    editor.paint((10, 10, 10), 2.0, 1)
    editor.paint((40, 40, 40), 0.0, 2)
    assert editor.undo_nbytes < 5 * 5 * 5 * 2 + 6


def test_constructor_rejects_bad_labels():
    with pytest.raises(ValueError, match="float32"):
        InstanceEditor(np.zeros((2, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        InstanceEditor(np.zeros((2, 2), dtype=np.uint16))
    with pytest.raises(ValueError, match="-1"):
        InstanceEditor(np.full((2, 2, 2), -1, dtype=np.int32))
    with pytest.raises(ValueError, match="-2"):
        InstanceEditor(np.zeros((2, 2, 2), dtype=np.uint16), max_undo=-2)


@pytest.mark.parametrize(("max_id", "stored"), [(3, np.uint16), (70000, np.float32)])
def test_save_round_trip_keeps_ids_voxel_size_and_origin(tmp_path, max_id, stored):
    labels = np.zeros((4, 5, 6), dtype=np.int32)
    labels[1, 2, 3] = max_id
    labels[2:4, 0:2, 0:2] = 1
    path = save_instances(tmp_path / "instances.mrc", labels, voxel_size_ang=13.7, origin_xyz_ang=(10.0, -20.5, 30.25))
    volume = read_mrc(path)
    assert volume.data_zyx.dtype == stored
    np.testing.assert_array_equal(volume.data_zyx, labels)
    assert volume.voxel_size_ang == pytest.approx(13.7, rel=1e-6)
    np.testing.assert_allclose(volume.origin_xyz_ang, (10.0, -20.5, 30.25), rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["instances.mrc"]


def test_save_rejects_ids_beyond_float32_precision(tmp_path):
    labels = np.zeros((2, 2, 2), dtype=np.int64)
    labels[0, 0, 0] = 2**24 + 1
    with pytest.raises(ValueError, match=str(2**24 + 1)):
        save_instances(tmp_path / "x.mrc", labels, voxel_size_ang=10.0, origin_xyz_ang=(0, 0, 0))
    assert not any(tmp_path.iterdir())
