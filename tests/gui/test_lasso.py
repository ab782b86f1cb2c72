"""3D lasso: polygon prisms along the view direction and the four cut modes (pure numpy, no viewer)."""

import numpy as np
import pytest

from cryomem.gui._lasso import apply_lasso, lasso_mask


def _voxel_world_zyx(shape_zyx, scale_zyx, translate_zyx):
    index = np.indices(shape_zyx).reshape(3, -1).T.astype(float)
    return np.asarray(translate_zyx, float) + index * np.asarray(scale_zyx, float)


def _reference_convex(shape_zyx, polygon_zyx, direction_zyx, scale_zyx, translate_zyx):
    """Brute force: a point is inside iff it is on the same side of every edge plane (contains the view axis).

    Returns the inside mask and a mask of voxels clearly away (> 1e-6 Å) from every edge plane.
    """
    points = _voxel_world_zyx(shape_zyx, scale_zyx, translate_zyx)
    direction = np.asarray(direction_zyx, float) / np.linalg.norm(direction_zyx)
    polygon = np.asarray(polygon_zyx, float)
    signed = []
    for a, b in zip(polygon, np.roll(polygon, -1, axis=0)):
        normal = np.cross(b - a, direction)
        normal /= np.linalg.norm(normal)
        signed.append((points - a) @ normal)
    signed = np.stack(signed)
    centroid_side = np.sign(
        [(polygon.mean(axis=0) - a) @ np.cross(b - a, direction) for a, b in zip(polygon, np.roll(polygon, -1, axis=0))]
    )
    inside = np.all(signed * centroid_side[:, None] > 0, axis=0)
    clear = np.all(np.abs(signed) > 1e-6, axis=0)
    return inside.reshape(shape_zyx), clear.reshape(shape_zyx)


def test_view_along_z_selects_square_columns_at_every_z():
    shape = (4, 10, 12)
    square = np.array([[1.3, 2.5, 3.5], [1.3, 2.5, 7.5], [1.3, 6.5, 7.5], [1.3, 6.5, 3.5]])
    mask = lasso_mask(shape, square, (1.0, 0.0, 0.0))
    expected = np.zeros(shape, dtype=bool)
    expected[:, 3:7, 4:8] = True
    np.testing.assert_array_equal(mask, expected)


def test_view_along_z_with_scale_and_translate():
    shape = (3, 8, 8)
    scale, translate = (2.0, 2.0, 2.0), (100.0, -10.0, 50.0)
    # y in [-10 + 2*1.5, -10 + 2*4.5] -> iy 2..4; x in [50 + 2*0.5, 50 + 2*2.5] -> ix 1..2
    square = np.array([[0.0, -7.0, 51.0], [0.0, -7.0, 55.0], [0.0, -1.0, 55.0], [0.0, -1.0, 51.0]])
    mask = lasso_mask(shape, square, (-3.0, 0.0, 0.0), scale_zyx=scale, translate_zyx=translate)
    expected = np.zeros(shape, dtype=bool)
    expected[:, 2:5, 1:3] = True
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(
    "direction",
    [np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0), np.array([0.3, -0.5, 0.8]), np.array([0.0, 1.0, 0.0])],
)
def test_oblique_view_matches_brute_force_half_planes(direction):
    shape = (9, 11, 13)
    scale, translate = (1.5, 1.2, 0.9), (-4.0, 7.0, 2.5)
    centre = np.asarray(translate) + np.asarray(scale) * (np.array(shape) - 1) / 2
    # a convex pentagon on a tilted plane through the volume centre
    angles = np.deg2rad([10.0, 80.0, 160.0, 230.0, 300.0])
    e1 = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    e2 = np.cross(e1, [0.5, 0.3, 0.8])
    e2 /= np.linalg.norm(e2)
    polygon = centre + 5.3 * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)

    mask = lasso_mask(shape, polygon, direction, scale_zyx=scale, translate_zyx=translate)
    expected, clear = _reference_convex(shape, polygon, direction, scale, translate)

    assert expected.sum() > 20 and (~expected).sum() > 20
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(mask[clear], expected[clear])


def test_concave_l_shape():
    shape = (2, 8, 8)
    l_shape = np.array([[0, 0.5, 0.5], [0, 0.5, 2.5], [0, 4.5, 2.5], [0, 4.5, 6.5], [0, 6.5, 6.5], [0, 6.5, 0.5]])
    mask = lasso_mask(shape, l_shape, (1, 0, 0))
    expected = np.zeros(shape, dtype=bool)
    expected[:, 1:5, 1:3] = True  # the vertical bar
    expected[:, 5:7, 1:7] = True  # the foot
    np.testing.assert_array_equal(mask, expected)


def test_concave_l_shape_oblique_view_is_the_union_of_two_convex_prisms():
    shape = (7, 9, 10)
    direction = (0.3, -0.5, 0.8)
    bar = np.array([[3.1, 0.4, 0.7], [3.1, 0.4, 3.3], [3.1, 5.6, 3.3], [3.1, 5.6, 0.7]])
    foot = np.array([[3.1, 5.6, 0.7], [3.1, 5.6, 8.2], [3.1, 7.9, 8.2], [3.1, 7.9, 0.7]])
    l_shape = np.array([bar[0], bar[1], bar[2], foot[1], foot[2], foot[3]])
    mask = lasso_mask(shape, l_shape, direction)
    in_bar, clear_bar = _reference_convex(shape, bar, direction, (1, 1, 1), (0, 0, 0))
    in_foot, clear_foot = _reference_convex(shape, foot, direction, (1, 1, 1), (0, 0, 0))
    clear = clear_bar & clear_foot
    np.testing.assert_array_equal(mask[clear], (in_bar | in_foot)[clear])
    assert 0 < mask.sum() < mask.size


@pytest.mark.parametrize("chunk_voxels", [1, 7, 110, 10**6])
def test_chunking_gives_the_same_mask(chunk_voxels):
    shape = (6, 10, 11)
    polygon = np.array([[0.0, 1.2, 0.3], [2.0, 8.7, 1.1], [5.0, 7.4, 9.6], [1.0, 2.2, 8.1]])
    kwargs = dict(scale_zyx=(1.1, 0.9, 1.3), translate_zyx=(0.5, -0.2, 0.1))
    whole = lasso_mask(shape, polygon, (0.3, -0.5, 0.8), chunk_voxels=10**9, **kwargs)
    chunked = lasso_mask(shape, polygon, (0.3, -0.5, 0.8), chunk_voxels=chunk_voxels, **kwargs)
    assert whole.any()
    np.testing.assert_array_equal(chunked, whole)


def test_axis_aligned_shortcut_matches_general_path():
    shape = (5, 6, 7)
    polygon = np.array([[1.0, 0.3, 0.2], [1.0, 4.6, 1.1], [2.0, 3.3, 6.4]])
    for axis in range(3):
        direction = np.zeros(3)
        direction[axis] = 1.0
        tilted = direction + np.full(3, 1e-12) * (np.arange(3) != axis)  # forces the chunked general path
        np.testing.assert_array_equal(
            lasso_mask(shape, polygon + axis * 0.01, direction), lasso_mask(shape, polygon + axis * 0.01, tilted)
        )


def _three_instances():
    labels = np.zeros((4, 6, 6), dtype=np.uint16)
    labels[:, 0:2, 0:2] = 1
    labels[:, 0:2, 4:6] = 2
    labels[:, 4:6, 0:6] = 3
    mask = np.zeros(labels.shape, dtype=bool)
    mask[:, 0:6, 0:3] = True  # touches 1 (whole) and 3 (half); misses 2
    return labels, mask


@pytest.mark.parametrize(
    ("mode", "expected_fn"),
    [
        ("keep", lambda labels, mask: np.where(mask, labels, 0)),
        ("remove", lambda labels, mask: np.where(mask, 0, labels)),
        ("keep_instances", lambda labels, mask: np.where(np.isin(labels, [1, 3]), labels, 0)),
        ("remove_instances", lambda labels, mask: np.where(np.isin(labels, [1, 3]), 0, labels)),
    ],
)
def test_apply_lasso_modes_return_new_array(mode, expected_fn):
    labels, mask = _three_instances()
    before = labels.copy()
    out = apply_lasso(labels, mask, mode=mode)
    np.testing.assert_array_equal(out, expected_fn(before, mask))
    assert out.dtype == labels.dtype
    assert not np.shares_memory(out, labels)
    np.testing.assert_array_equal(labels, before)


def test_apply_lasso_instance_modes_keep_or_drop_whole_instances():
    labels, mask = _three_instances()
    kept = apply_lasso(labels, mask, mode="keep_instances")
    assert set(np.unique(kept)) == {0, 1, 3}
    assert (kept == 3).sum() == (labels == 3).sum()
    removed = apply_lasso(labels, mask, mode="remove_instances")
    assert set(np.unique(removed)) == {0, 2}


def test_apply_lasso_rejects_bad_mode_and_shape():
    labels, mask = _three_instances()
    with pytest.raises(ValueError, match="'cut'"):
        apply_lasso(labels, mask, mode="cut")
    with pytest.raises(ValueError, match=r"\(4, 6, 5\)"):
        apply_lasso(labels, mask[..., :5], mode="keep")
    with pytest.raises(ValueError, match="float64"):
        apply_lasso(labels.astype(float), mask, mode="keep")


_SQUARE = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 3.0], [0.0, 3.0, 3.0], [0.0, 3.0, 1.0]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(shape_zyx=(4, 0, 4)), r"shape_zyx.*\(4, 0, 4\)"),
        (dict(shape_zyx=(4, 4)), r"shape_zyx.*\(4, 4\)"),
        (dict(shape_zyx=(4, 4.5, 4)), r"shape_zyx.*4\.5"),
        (dict(polygon_world_zyx=_SQUARE[:2]), r"polygon_world_zyx.*\(2, 3\)"),
        (dict(polygon_world_zyx=_SQUARE[:, :2]), r"polygon_world_zyx.*\(4, 2\)"),
        (dict(polygon_world_zyx=np.where(_SQUARE == 3.0, np.nan, _SQUARE)), r"polygon_world_zyx.*nan"),
        (dict(view_direction_zyx=(0, 0, 0)), r"view_direction_zyx.*\(0, 0, 0\)"),
        (dict(view_direction_zyx=(np.inf, 0, 0)), r"view_direction_zyx.*inf"),
        (dict(view_direction_zyx=(0, 1, 0)), r"zero area"),  # the square is edge-on
        (dict(scale_zyx=(1.0, -2.0, 1.0)), r"scale_zyx.*-2\.0"),
        (dict(scale_zyx=(1.0, 1.0)), r"scale_zyx.*\(1\.0, 1\.0\)"),
        (dict(translate_zyx=(0.0, np.nan, 0.0)), r"translate_zyx.*nan"),
    ],
)
def test_lasso_mask_rejects_bad_inputs_naming_the_value(kwargs, match):
    args = dict(shape_zyx=(4, 4, 4), polygon_world_zyx=_SQUARE, view_direction_zyx=(1.0, 0.0, 0.0)) | kwargs
    shape, polygon, direction = args.pop("shape_zyx"), args.pop("polygon_world_zyx"), args.pop("view_direction_zyx")
    with pytest.raises(ValueError, match=match) as info:
        lasso_mask(shape, polygon, direction, **args)
    assert "\n" not in str(info.value)


def test_collinear_polygon_is_rejected():
    line = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 2.0, 2.0]])
    with pytest.raises(ValueError, match="zero area"):
        lasso_mask((3, 3, 3), line, (1.0, 0.0, 0.0))
