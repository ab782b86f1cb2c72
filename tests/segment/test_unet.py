"""The U-Net: shapes, deep supervision, fully convolutional, and its model file."""

import numpy as np
import pytest
import torch

from cryomem.segment._model_file import load_model, read_model_card, save_model
from cryomem.segment._unet import CPU_PATH_LOGIT_TOLERANCE, UNet3D, UNetConfig, parameter_count

SMALL = UNetConfig(base_channels=4, max_channels=16, depth=3, deep_supervision_levels=2)


def test_training_mode_returns_every_supervised_level_full_resolution_first():
    model = UNet3D(SMALL).train()
    outputs = model(torch.randn(2, 1, 16, 24, 32))
    assert [tuple(o.shape) for o in outputs] == [(2, 1, 16, 24, 32), (2, 1, 8, 12, 16)]


def test_eval_mode_returns_full_resolution_logits_for_any_multiple_of_the_divisor():
    model = UNet3D(SMALL).eval()
    with torch.no_grad():
        for shape in [(8, 8, 8), (12, 20, 28)]:
            assert model(torch.randn(1, 1, *shape)).shape == (1, 1, *shape)


def test_inputs_not_divisible_are_refused():
    with pytest.raises(ValueError, match="multiples of 4"):
        UNet3D(SMALL)(torch.randn(1, 1, 10, 8, 8))


def test_bad_architecture_is_refused():
    with pytest.raises(ValueError, match="deep_supervision_levels"):
        UNetConfig(depth=3, deep_supervision_levels=3)


def test_model_file_round_trip(tmp_path):
    model = UNet3D(SMALL).eval()
    path = save_model(tmp_path / "m.pt", model, {"voxel_size_ang": 12.0, "inference_window": 32})
    loaded, card = load_model(path)
    assert card.voxel_size_ang == 12.0 and card.parameter_count == parameter_count(model)
    assert card.architecture["base_channels"] == 4 and read_model_card(path) == card
    x = torch.randn(1, 1, 8, 8, 8)
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    assert not loaded.training


def test_files_that_are_not_models_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a cryomem segmentation model"):
        load_model(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a cryomem segmentation model"):
        load_model(tmp_path / "other.pt")


def test_training_voxel_range_comes_from_the_card():
    from cryomem.segment import SegmentModelCard

    def card(**fields):
        return SegmentModelCard.model_validate(fields)

    assert card(training={"voxel_size_range_ang": [9.0, 14.5]}).trained_voxel_range_ang() == (9.0, 14.5)
    older = card(training={"dataset_config": {"voxel_size_ang": [8, 20]}})  # cards of simulated-data models
    assert older.trained_voxel_range_ang() == (8.0, 20.0)
    for unknown in (card(), card(training=None), card(training={"voxel_size_range_ang": [0.0, 5.0]})):
        assert unknown.trained_voxel_range_ang() is None and unknown.voxel_size_note(50.0) is None
    assert older.voxel_size_note(8.0) is None and older.voxel_size_note(20.0) is None
    assert "24.0 Å, outside the 8.0-20.0 Å" in older.voxel_size_note(24.0, "big.mrc")
    assert older.voxel_size_note(5.0).startswith("note: the tomogram has voxels of 5.0 Å")
    _, shipped = load_model(None)
    assert shipped.trained_voxel_range_ang() == pytest.approx((7.0, 21.9), abs=0.05)  # v3: v2's 8-20 Å and 7-22 Å


@pytest.mark.parametrize("in_channels, batch", [(1, 1), (1, 2), (2, 2)])
def test_eval_cpu_path_matches_the_standard_modules_within_its_tolerance(in_channels, batch):
    """The lean channels-last CPU path (eval mode) gives the logits of the modules called in order."""
    torch.manual_seed(in_channels + batch)
    model = UNet3D(
        UNetConfig(in_channels=in_channels, base_channels=4, max_channels=16, depth=3, deep_supervision_levels=2)
    ).eval()
    with torch.no_grad():
        for p in model.parameters():  # trained-like: affine norms and biases away from 1 and 0
            p.add_(0.3 * torch.randn_like(p))
        x = 5.0 + 3.0 * torch.randn(batch, in_channels, 16, 24, 32)  # an offset, as raw intensities have
        fast, standard = model(x), model._module_forward(x)
    assert fast.shape == standard.shape == (batch, 1, 16, 24, 32) and fast.is_contiguous()
    assert (fast - standard).abs().max() < CPU_PATH_LOGIT_TOLERANCE
    assert (fast - standard).abs().max() > 0 or in_channels > 1  # the lean path did run (not the same ops)
