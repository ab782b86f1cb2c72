"""Sliding-window prediction: equal to a whole-volume pass, flips undone exactly, rescaling, memory paths.

Exactness: a window's prediction equals the whole-volume prediction wherever the voxel lies at
least the model's receptive-field radius away from the window's faces inside the tomogram (zero
padding only differs there). The Gaussian blend of values that all equal the reference equals
the reference, so the sliding-window result is compared EXACTLY (float32 rounding) at voxels
that are that far from the interior faces of every window covering them, and closely
elsewhere. A pointwise (1x1x1) model has radius 0, so there it is exact everywhere. Stride-2
models are only shift-equivariant for even shifts, so their tests use even window starts.
"""

import numpy as np
import pytest
import torch
from torch import nn

from cryomem.segment._inference import TTA_FLIPS, flip_statistics, predict_probabilities, select_device
from cryomem.segment._windows import plan_windows

SETTINGS = {"input_voxel_size_ang": 10.0, "model_voxel_size_ang": 10.0, "normalize": False, "dtype": np.float32}


def _seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    for p in module.parameters():
        nn.init.uniform_(p, -0.6, 0.6)
    return module.eval()


def pointwise_model() -> nn.Module:
    return _seeded(nn.Sequential(nn.Conv3d(1, 4, 1), nn.Tanh(), nn.Conv3d(4, 1, 1)))


def stride2_model() -> nn.Module:
    """Conv, stride-2 down, conv, stride-2 up: receptive-field radius 4 voxels."""
    return _seeded(
        nn.Sequential(
            nn.Conv3d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.Conv3d(4, 4, 2, stride=2),
            nn.ReLU(),
            nn.Conv3d(4, 4, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose3d(4, 1, 2, stride=2),
        ),
        seed=1,
    )


def _whole(model: nn.Module, volume: np.ndarray, tta: bool) -> np.ndarray:
    x = torch.from_numpy(volume)[None, None]
    flips = TTA_FLIPS if tta else ((),)
    with torch.no_grad():
        probs = [torch.sigmoid(model(x.flip(d) if d else x)) for d in flips]
        probs = [p.flip(d) if d else p for p, d in zip(probs, flips)]
    return torch.stack(probs).mean(0)[0, 0].numpy()


def _safe_mask(plan, radius: int) -> np.ndarray:
    """Voxels at least ``radius`` from the interior faces of every window that covers them."""
    masks = []
    for axis in plan.axes:
        safe = np.ones(axis.size, dtype=bool)
        for s in axis.starts:
            stop = s + axis.extent
            p = np.arange(s, min(stop, axis.size))
            ok = ((s == 0) | (p - s >= radius)) & ((stop >= axis.size) | (stop - 1 - p >= radius))
            safe[p] &= ok
        masks.append(safe)
    return masks[0][:, None, None] & masks[1][None, :, None] & masks[2][None, None, :]


@pytest.mark.parametrize("tta", [False, True])
def test_pointwise_model_equals_whole_volume_pass_everywhere(tta):
    volume = np.random.default_rng(0).normal(size=(40, 70, 55)).astype(np.float32)
    model = pointwise_model()
    probs = predict_probabilities(volume, model, window=32, divisor=16, tta=tta, **SETTINGS)
    assert probs.dtype == np.float32 and probs.shape == volume.shape
    np.testing.assert_allclose(probs, _whole(model, volume, tta), atol=1e-6)


@pytest.mark.parametrize("tta", [False, True])
def test_stride2_model_equals_whole_volume_pass_away_from_window_faces(tta):
    volume = np.random.default_rng(1).normal(size=(80, 48, 64)).astype(np.float32)
    model = stride2_model()
    plan = plan_windows(
        volume.shape, window=32, divisor=16, input_voxel_size_ang=10, model_voxel_size_ang=10, overlap=0.5
    )
    assert all(s % 2 == 0 for a in plan.axes for s in a.starts)
    safe = _safe_mask(plan, radius=5)
    overlapped = np.zeros(volume.shape[0], dtype=int)
    for s in plan.axes[0].starts:
        overlapped[s : s + 32] += 1
    assert safe[overlapped >= 2].any()  # the comparison includes voxels blended from two windows
    probs = predict_probabilities(volume, model, window=32, divisor=16, tta=tta, overlap=0.5, **SETTINGS)
    reference = _whole(model, volume, tta)
    np.testing.assert_allclose(probs[safe], reference[safe], atol=2e-6)
    assert np.abs(probs - reference).max() < 0.02  # near faces: tiny Gaussian weights of border voxels


def _flipped_kernel_probabilities(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """What the 8 flips of ``conv`` give once undone: the conv with each flipped kernel."""
    with torch.no_grad():
        kernels = [conv.weight.flip(d) if d else conv.weight for d in TTA_FLIPS]
        return torch.stack([torch.sigmoid(nn.functional.conv3d(x, k, conv.bias, padding=1)) for k in kernels])


@pytest.mark.parametrize("dims", TTA_FLIPS)
def test_each_flip_is_undone_exactly(dims):
    """flip -> asymmetric conv -> unflip equals the conv with the flipped kernel."""
    conv = _seeded(nn.Conv3d(1, 1, 3, padding=1), seed=3)
    assert not torch.equal(conv.weight, conv.weight.flip((2, 3, 4)))  # not symmetric
    x = torch.randn(2, 1, 16, 12, 20)
    with torch.no_grad():
        mean, _ = flip_statistics(conv, x, (dims,))
        kernel = conv.weight.flip(dims) if dims else conv.weight
        expected = torch.sigmoid(nn.functional.conv3d(x, kernel, conv.bias, padding=1))
    torch.testing.assert_close(mean, expected, atol=1e-6, rtol=0)


def test_flip_statistics_mean_and_variance_over_all_flips():
    conv = _seeded(nn.Conv3d(1, 1, 3, padding=1), seed=4)
    x = torch.randn(3, 1, 8, 10, 12)
    with torch.no_grad():
        mean, variance = flip_statistics(conv, x, batch_size=5, spread=True)
    each = _flipped_kernel_probabilities(conv, x)
    torch.testing.assert_close(mean, each.mean(0), atol=1e-6, rtol=0)
    torch.testing.assert_close(variance, each.var(0, correction=0), atol=1e-6, rtol=0)
    assert float(variance.max()) > 1e-3  # the flips really disagree for an asymmetric model


class Recorder(nn.Module):
    """Wraps a model; records input shapes and whether it ran in eval mode."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.shapes: list[tuple[int, ...]] = []
        self.modes: list[bool] = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        self.modes.append(self.training)
        return self.inner(x)


@pytest.mark.parametrize("tta, calls_per_window", [(False, 1), (True, 8)])
def test_tta_switch_and_batching(tta, calls_per_window):
    volume = np.random.default_rng(2).normal(size=(20, 40, 40)).astype(np.float32)
    model = Recorder(pointwise_model())
    model.train()
    predict_probabilities(volume, model, window=16, divisor=16, tta=tta, batch_size=3, **SETTINGS)
    plan = plan_windows(volume.shape, window=16, divisor=16, input_voxel_size_ang=10, model_voxel_size_ang=10)
    assert sum(s[0] for s in model.shapes) == plan.n_windows * calls_per_window
    assert max(s[0] for s in model.shapes) <= 3
    assert not any(model.modes) and model.training  # ran in eval mode, training mode restored


def test_uncertainty_is_flip_spread():
    volume = np.random.default_rng(3).normal(size=(32, 32, 32)).astype(np.float32)  # one window, no padding
    probs, spread = predict_probabilities(
        volume, pointwise_model(), window=32, divisor=16, uncertainty=True, **SETTINGS
    )
    assert spread.dtype == np.float16 and float(spread.max()) < 1e-3  # pointwise: every flip agrees
    conv = _seeded(nn.Conv3d(1, 1, 3, padding=1), seed=5)
    _, spread = predict_probabilities(volume, conv, window=32, divisor=16, uncertainty=True, **SETTINGS)
    each = _flipped_kernel_probabilities(conv, torch.from_numpy(volume)[None, None])
    np.testing.assert_allclose(spread, each.std(0, correction=0)[0, 0].numpy(), atol=2e-3)
    with pytest.raises(ValueError, match="tta"):
        predict_probabilities(volume, conv, window=32, divisor=16, uncertainty=True, tta=False, **SETTINGS)


def test_rescaling_on_the_fly_feeds_model_windows_and_matches_direct_prediction():
    z, y, x = np.meshgrid(*(np.arange(n) for n in (30, 90, 70)), indexing="ij")
    volume = (np.sin(z / 9.0) + np.cos(y / 11.0) * np.sin(x / 13.0)).astype(np.float32)
    model = Recorder(pointwise_model())
    settings = {**SETTINGS, "input_voxel_size_ang": 8.0, "model_voxel_size_ang": 12.0}
    probs = predict_probabilities(volume, model, window=32, divisor=16, tta=False, **settings)
    assert {s[2:] for s in model.shapes} == {(32, 32, 32)}  # 48 input voxels -> 32 model voxels
    reference = _whole(pointwise_model(), volume, tta=False)
    assert np.abs(probs - reference)[2:-2, 2:-2, 2:-2].max() < 0.02


def test_short_axis_shrinks_window_to_multiple_of_divisor():
    volume = np.random.default_rng(4).normal(size=(10, 50, 50)).astype(np.float32)
    model = Recorder(pointwise_model())
    probs = predict_probabilities(volume, model, window=32, divisor=8, tta=False, adaptive_windows=False, **SETTINGS)
    assert {s[2:] for s in model.shapes} == {(16, 32, 32)}
    np.testing.assert_allclose(probs, _whole(model.inner, volume, tta=False), atol=1e-6)


def test_normalisation_makes_prediction_invariant_to_gain_and_offset():
    volume = np.random.default_rng(5).normal(size=(20, 30, 30)).astype(np.float32)
    model = stride2_model()
    kwargs = {"input_voxel_size_ang": 10, "model_voxel_size_ang": 10, "window": 16, "divisor": 16, "dtype": np.float32}
    a = predict_probabilities(volume, model, **kwargs)
    b = predict_probabilities(volume * 37.0 - 5.0, model, **kwargs)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_memmap_input_and_disk_accumulators(tmp_path):
    rng = np.random.default_rng(6)
    volume = rng.normal(size=(24, 40, 36)).astype(np.float32)
    path = tmp_path / "tomo.raw"
    volume.astype(">f4").tofile(path)  # big-endian on disk: converted window by window
    mapped = np.memmap(path, dtype=">f4", mode="r", shape=volume.shape)
    model = stride2_model()
    in_memory = predict_probabilities(volume, model, window=16, divisor=16, **SETTINGS)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    probs, spread = predict_probabilities(
        mapped, model, window=16, divisor=16, uncertainty=True, use_disk=True, scratch_dir=scratch, **SETTINGS
    )
    assert isinstance(probs, np.memmap) and isinstance(spread, np.memmap)
    np.testing.assert_allclose(probs, in_memory, atol=1e-6)  # Welford mean (with spread) vs plain mean
    assert list(scratch.iterdir()) == []  # scratch files are anonymous (unlinked at once)


def test_integer_input_and_float16_output_and_progress():
    volume = np.random.default_rng(7).integers(-100, 100, size=(20, 30, 30)).astype(np.int16)
    calls = []
    probs = predict_probabilities(
        volume, pointwise_model(), input_voxel_size_ang=10, model_voxel_size_ang=10, window=16, divisor=16,
        progress=lambda stage, fraction: calls.append((stage, fraction)),
    )  # fmt: skip
    assert probs.dtype == np.float16 and 0 <= probs.min() and probs.max() <= 1
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {s for s, _ in calls} == {"membrane prediction"}


def test_bad_inputs_are_rejected_clearly():
    model = pointwise_model()
    volume = np.zeros((8, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="3D"):
        predict_probabilities(volume[0], model, window=16, divisor=16, **SETTINGS)
    with pytest.raises(ValueError, match="multiple of divisor"):
        predict_probabilities(volume, model, window=24, divisor=16, **SETTINGS)
    nan_volume = volume.copy()
    nan_volume[3, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict_probabilities(nan_volume, model, window=16, divisor=16, **SETTINGS)
    two_channels = nn.Conv3d(1, 2, 1)
    with pytest.raises(ValueError, match="logit channel"):
        predict_probabilities(volume, two_channels, window=16, divisor=16, **SETTINGS)


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in {"cuda", "mps", "cpu"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            select_device("cuda")
        assert select_device("auto").type in {"mps", "cpu"}
    with pytest.raises(ValueError, match="device must be"):
        select_device("tpu")
