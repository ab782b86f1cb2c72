"""Window planning and blending: coverage, Gaussian importance, separable weights, the ring."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryomem.segment._windows import (
    Blender,
    gaussian_importance,
    gaussian_importance_1d,
    plan_windows,
    window_starts,
)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 400), window=st.integers(1, 200), overlap=st.floats(0.0, 0.9))
def test_window_starts_cover_every_voxel_and_end_flush(size, window, overlap):
    starts = window_starts(size, window, overlap)
    covered = np.zeros(size, dtype=int)
    for s in starts:
        covered[s : s + window] += 1
    assert covered.min() >= 1
    assert starts[0] == 0
    assert starts == sorted(set(starts))
    if window < size:
        assert starts[-1] + window == size  # last window flush with the end
        gaps = np.diff(starts)
        assert gaps.max() <= max(1, int(np.floor(window * (1 - overlap))))  # at least the overlap asked
    else:
        assert starts == [0]


def test_window_starts_rejects_bad_overlap():
    with pytest.raises(ValueError, match="overlap"):
        window_starts(100, 10, 1.0)


def test_gaussian_importance_follows_nnunet_sigma_and_stays_positive():
    g = gaussian_importance_1d(64)
    centre = 31.5
    sigma = 64 / 8
    expected = np.exp(-0.5 * ((np.arange(64) - centre) / sigma) ** 2)
    np.testing.assert_allclose(g, np.maximum(expected / expected.max(), 1e-4), rtol=1e-6)
    assert g.min() > 0 and g.max() == pytest.approx(1.0)
    g3 = gaussian_importance((8, 16, 32))
    assert g3.shape == (8, 16, 32) and g3.min() > 0 and g3.dtype == np.float32
    np.testing.assert_allclose(g3[4, 8], gaussian_importance_1d(32) * g3[4, 8].max(), rtol=1e-6)


def test_plan_extent_matches_physical_window_and_shrinks_short_axes():
    cubic = {"adaptive": False}  # the cubic windows; the adaptive ones are tested below
    plan = plan_windows(
        (20, 300, 500), window=64, divisor=16, input_voxel_size_ang=8.0, model_voxel_size_ang=10.0, **cubic
    )
    z, y, x = plan.axes
    assert y.extent == x.extent == 80  # 64 model voxels * 10 Å / 8 Å
    assert z.model_window == 32 and z.extent == 40 and z.starts == (0,)  # shrunk, but to two divisors at least
    assert plan.model_window_zyx == (32, 64, 64)
    thicker = plan_windows(
        (50, 300, 500), window=64, divisor=16, input_voxel_size_ang=8.0, model_voxel_size_ang=10.0, **cubic
    )
    assert thicker.axes[0].model_window == 48 and thicker.axes[0].extent == 60  # the smallest cover: 3 divisors
    assert plan.stream_axis == 2  # x has the most window positions
    for axis in plan.axes:
        assert axis.total_weight.min() > 0


def test_plan_rejects_window_not_multiple_of_divisor():
    with pytest.raises(ValueError, match="multiple of divisor"):
        plan_windows((50, 50, 50), window=40, divisor=16, input_voxel_size_ang=10, model_voxel_size_ang=10)


def test_separable_weights_equal_explicit_sum_of_importance_maps():
    plan = plan_windows((37, 50, 29), window=16, divisor=8, input_voxel_size_ang=10, model_voxel_size_ang=10)
    explicit = np.zeros(plan.shape_zyx)
    for sz in plan.axes[0].starts:
        for sy in plan.axes[1].starts:
            for sx in plan.axes[2].starts:
                w = plan.importance((sz, sy, sx))
                explicit[sz : sz + w.shape[0], sy : sy + w.shape[1], sx : sx + w.shape[2]] += w
    z, y, x = (a.total_weight for a in plan.axes)
    np.testing.assert_allclose(explicit, z[:, None, None] * y[None, :, None] * x[None, None, :], rtol=1e-5)


@pytest.mark.parametrize("shape", [(37, 50, 29), (70, 20, 20), (20, 20, 64), (10, 40, 40), (10, 12, 9)])
def test_blender_ring_equals_full_accumulation(shape):
    rng = np.random.default_rng(1)
    plan = plan_windows(shape, window=16, divisor=8, input_voxel_size_ang=10, model_voxel_size_ang=10)
    blender = Blender(plan, np.float32, with_spread=True, on_disk=False)
    stream = plan.axes[plan.stream_axis]
    assert blender.rings[0].shape[plan.stream_axis] == min(stream.extent, stream.size)  # one window thick
    sums = np.zeros(shape)
    second = np.zeros(shape)
    weights = np.zeros(shape)
    axis = plan.stream_axis
    inner = [i for i in range(3) if i != axis]
    rows = plan.axes[axis].starts
    for r, row in enumerate(rows):
        for a in plan.axes[inner[0]].starts:
            for b in plan.axes[inner[1]].starts:
                starts = [row] * 3
                starts[inner[0]], starts[inner[1]] = a, b
                w = plan.importance(tuple(starts))
                values = rng.random(w.shape).astype(np.float32)
                var = rng.random(w.shape).astype(np.float32) * 0.1
                index = tuple(slice(s, s + n) for s, n in zip(starts, w.shape))
                sums[index] += w * values
                second[index] += w * var
                weights[index] += w
                blender.add(tuple(starts), [w * values, w * var])
        blender.finish_rows(row, rows[r + 1] if r + 1 < len(rows) else shape[axis])
    np.testing.assert_allclose(blender.out, sums / weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(blender.spread, np.sqrt(second / weights), rtol=2e-3, atol=1e-3)
    assert not np.any(blender.rings[0])  # every ring row was finished and cleared


@pytest.mark.parametrize(
    "shape, scale", [((100, 200, 200), 1.0), ((200, 512, 512), 1.0), ((96, 192, 192), 0.5), ((30, 700, 333), 1.4)]
)
def test_adaptive_windows_cover_with_fewer_network_voxels_at_no_more_memory(shape, scale):
    """Per-axis window sides: never more network voxels than cubic windows, never a larger window,
    and neighbours still share at least ``overlap * window`` model voxels."""
    window, divisor, overlap = 96, 8, 0.25
    kwargs = dict(window=window, divisor=divisor, input_voxel_size_ang=10.0, model_voxel_size_ang=10.0 * scale)
    adaptive = plan_windows(shape, overlap=overlap, **kwargs)
    cubic = plan_windows(shape, overlap=overlap, adaptive=False, **kwargs)

    def network_voxels(plan):
        return plan.n_windows * np.prod(plan.model_window_zyx)

    assert network_voxels(adaptive) <= network_voxels(cubic)
    assert np.prod(adaptive.model_window_zyx) <= window**3
    for axis in adaptive.axes:
        assert axis.model_window % divisor == 0 and axis.total_weight.min() > 0
        assert axis.starts[0] == 0 and axis.starts[-1] + axis.extent >= axis.size  # covered end to end
        steps = np.diff(axis.starts)
        assert (axis.extent - steps >= overlap * window * scale - 1).all()  # shared context, input voxels
    if shape == (100, 200, 200):
        assert network_voxels(cubic) / network_voxels(adaptive) > 2.4  # 18 windows of 96³ -> 8 of 64x112x112
