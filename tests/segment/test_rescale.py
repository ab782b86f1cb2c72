"""Window rescaling between tomogram and model voxel sizes."""

import numpy as np
import pytest
import torch

from cryomem.segment._rescale import resample_window


def _smooth(shape, extent=None):
    """A smooth field sampled at voxel centres of a box of physical size ``extent`` (default: shape)."""
    extent = extent or shape
    axes = [(np.arange(n) + 0.5) / n * e for n, e in zip(shape, extent)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    field = np.sin(2 * np.pi * z / 48) + np.cos(2 * np.pi * y / 40) * np.sin(2 * np.pi * x / 56)
    return torch.from_numpy(field.astype(np.float32))[None, None]


def test_identity_when_sizes_are_equal():
    x = torch.randn(2, 1, 8, 9, 10)
    assert resample_window(x, (8, 9, 10)) is x


def test_round_trip_of_smooth_volume():
    original = _smooth((48, 40, 56))
    down = resample_window(original, (32, 24, 40))
    assert down.shape == (1, 1, 32, 24, 40)
    np.testing.assert_allclose(down, _smooth((32, 24, 40), extent=(48, 40, 56)), atol=0.05)  # same physical box
    back = resample_window(down, (48, 40, 56))
    inner = (0, 0, slice(3, -3), slice(3, -3), slice(3, -3))
    error = (back - original)[inner].abs()
    assert error.max() < 0.06 and error.mean() < 0.02


def test_round_trip_up_then_down():
    original = _smooth((24, 20, 28))
    back = resample_window(resample_window(original, (36, 30, 42)), (24, 20, 28))
    error = (back - original)[0, 0, 2:-2, 2:-2, 2:-2].abs()
    assert error.max() < 0.05


def test_constant_stays_constant():
    x = torch.full((1, 1, 10, 12, 14), 0.7)
    for size in [(7, 9, 11), (15, 16, 20)]:
        np.testing.assert_allclose(resample_window(x, size), 0.7, atol=1e-6)


def test_rejects_non_5d_input():
    with pytest.raises(ValueError, match="batch, channels"):
        resample_window(torch.zeros(4, 4, 4), (2, 2, 2))


def test_large_shrink_averages_noise_instead_of_aliasing_it():
    noise = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 1, 60, 60, 60)).astype(np.float32))
    small = resample_window(noise, (20, 20, 20))  # 3x smaller: a 3-voxel box average first
    assert float(small.std()) < 0.35  # point sampling would keep std ~0.6-1
