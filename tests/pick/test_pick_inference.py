"""Model files (round trip, self-description, bad files) and whole-membrane prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pick_model_meshes import plane_surface

import cryomem.pick._operators as operators_module
from cryomem.io import MembraneSurface
from cryomem.pick import (
    PICK_MODEL_FORMAT,
    DiffusionNetConfig,
    PickModelCard,
    PickNet,
    load_pick_model,
    predict_distances_ang,
    read_pick_model_card,
    save_pick_model,
)

WINDOW = [float(v) for v in np.arange(-25.0, 25.1, 2.5)]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _card(**extra) -> dict:
    return {
        "window_offsets_ang": WINDOW,
        "max_distance_ang": 100.0,
        "k_eig": 16,
        "patch_vertices": 150,
        "voxel_size_ang": 10.0,
        **extra,
    }


def _model(bias: float = 0.5, seed: int = 0) -> PickNet:
    """A small untrained network whose output sits near ``bias`` (inside (0, 1), so nothing is clipped)."""
    torch.manual_seed(seed)
    model = PickNet(DiffusionNetConfig(in_samples=21, width=8, n_blocks=2, mlp_hidden=8, k_eig=16))
    with torch.no_grad():
        model.head[-1].weight.mul_(0.1)
        model.head[-1].bias.fill_(bias)
    return model.eval()


def _constant_model(value: float) -> PickNet:
    model = _model()
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.fill_(value)
    return model


def test_round_trip_keeps_weights_and_card(tmp_path):
    model = _model()
    path = save_pick_model(tmp_path / "model.pt", model, _card(note="test"))
    loaded, card = load_pick_model(path)
    assert not loaded.training
    for name, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)
    assert card.note == "test" and card.units == "Å"
    assert card.architecture == model.config.model_dump(mode="json")
    assert card.parameter_count == sum(p.numel() for p in model.parameters())
    assert read_pick_model_card(path) == card
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_card_is_typed_and_owns_the_feature_lowpass_check(tmp_path):
    """Typed reads with the defaults of older cards; one place refuses another low-pass."""
    path = save_pick_model(tmp_path / "model.pt", _model(), _card(note="kept"))
    card = read_pick_model_card(path)
    assert isinstance(card, PickModelCard) and card.k_eig == 16 and card.patch_vertices == 150
    assert card.patch_overlap == 0.3 and card.feature_lowpass_ang == 0.0 and card.calibration is None  # defaults
    assert card.note == "kept" and "patch_overlap" not in card  # unknown keys kept, defaults not written
    card.check_feature_lowpass_setting(0.0, model_name="model.pt")
    with pytest.raises(
        ValueError, match=r"model.pt was trained .* 0 Å .* with 15 Å; set surfaces.feature_lowpass_ang: 0"
    ):
        card.check_feature_lowpass_setting(15.0, model_name="model.pt")


def test_saving_requires_a_self_describing_card(tmp_path):
    with pytest.raises(ValueError, match=r"model card lacks \['window_offsets_ang'\]"):
        save_pick_model(tmp_path / "m.pt", _model(), {"max_distance_ang": 100.0, "k_eig": 16})
    assert not (tmp_path / "m.pt").exists()


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt does not exist"):
        load_pick_model(tmp_path / "nothing.pt")


def test_foreign_files_are_rejected(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not a cryomem picking model"):
        load_pick_model(text)
    other = tmp_path / "seg.pt"
    torch.save({"format": "cryomem-segmentation-model", "format_version": 1}, other)
    with pytest.raises(ValueError, match="format 'cryomem-segmentation-model'"):
        load_pick_model(other)


def test_newer_format_and_mismatched_weights_are_rejected(tmp_path):
    path = save_pick_model(tmp_path / "model.pt", _model(), _card())
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == PICK_MODEL_FORMAT
    torch.save({**payload, "format_version": 99}, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match="newer cryomem"):
        load_pick_model(tmp_path / "newer.pt")
    torch.save({**payload, "architecture": {**payload["architecture"], "width": 12}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="does not match its architecture"):
        load_pick_model(tmp_path / "bad.pt")


def test_prediction_covers_every_vertex_in_range(tmp_path):
    surface = plane_surface(30, 30)
    distances = predict_distances_ang(_model(), _card(), surface, cache_dir=tmp_path)
    assert distances.shape == (900,) and distances.dtype == np.float32
    assert np.all((distances >= 0) & (distances <= 100.0))


def test_gaussian_merge_of_a_constant_is_that_constant(tmp_path):
    surface = plane_surface(30, 30)
    distances = predict_distances_ang(_constant_model(0.37), _card(), surface, tta_shifts=(0,), cache_dir=tmp_path)
    np.testing.assert_allclose(distances, 37.0, rtol=1e-5)


def test_tta_averages_really_shifted_windows(tmp_path):
    surface = plane_surface(20, 20, seed=3)
    model, card = _model(), _card()
    single = {s: predict_distances_ang(model, card, surface, tta_shifts=(s,), cache_dir=tmp_path) for s in (-2, 0, 2)}
    assert np.abs(single[-2] - single[2]).max() > 1e-3  # different windows give different predictions
    averaged = predict_distances_ang(model, card, surface, tta_shifts=(-2, 0, 2), cache_dir=tmp_path)
    np.testing.assert_allclose(averaged, (single[-2] + single[0] + single[2]) / 3, rtol=1e-5, atol=1e-4)


def test_model_trained_at_another_feature_sampling_is_a_clear_error(tmp_path):
    surface = plane_surface(10, 10, offsets_ang=np.arange(-30.0, 30.1, 2.0))
    with pytest.raises(ValueError, match=r"membrane 1 of tomo.mrc has features at -30..30 Å in steps of 2 Å"):
        predict_distances_ang(_model(), _card(), surface, cache_dir=tmp_path)


def test_tta_beyond_the_sampled_offsets_is_a_clear_error(tmp_path):
    surface = plane_surface(10, 10, offsets_ang=np.arange(-25.0, 25.1, 2.5))
    with pytest.raises(ValueError, match="shifted by -2 samples"):
        predict_distances_ang(_model(), _card(), surface, cache_dir=tmp_path)
    assert predict_distances_ang(_model(), _card(), surface, tta_shifts=(0,), cache_dir=tmp_path).shape == (100,)


def test_surface_without_features_and_empty_tta_are_errors(tmp_path):
    bare = plane_surface(5, 5)
    bare = MembraneSurface(bare.vertices_xyz_ang, bare.faces, bare.normals_xyz, membrane_id=3, voxel_size_ang=10.0)
    with pytest.raises(ValueError, match="membrane 3 has no features"):
        predict_distances_ang(_model(), _card(), bare, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="tta_shifts is empty"):
        predict_distances_ang(_model(), _card(), plane_surface(5, 5), tta_shifts=(), cache_dir=tmp_path)


def test_second_prediction_hits_the_operator_cache(tmp_path, monkeypatch):
    surface = plane_surface(25, 25)
    first = predict_distances_ang(_model(), _card(), surface, cache_dir=tmp_path)
    entries = sorted(tmp_path.iterdir())
    assert len(entries) >= 2  # several patches, one cache file each

    def fail(*args, **kwargs):
        raise AssertionError("operators recomputed despite the cache")

    monkeypatch.setattr(operators_module, "compute_operators", fail)
    second = predict_distances_ang(_model(), _card(), surface, cache_dir=tmp_path)
    np.testing.assert_array_equal(first, second)
    assert sorted(tmp_path.iterdir()) == entries
