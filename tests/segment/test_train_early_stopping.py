"""Early stopping on validation Surface-Dice, and fine-tuning with part of the original data kept."""

import csv

import numpy as np
import pytest

import cryomem.segment._train as train_module
from cryomem.io import write_mrc
from cryomem.segment._model_file import load_model
from cryomem.segment._original_data import original_patches
from cryomem.segment._train import TrainConfig, train

TINY = {
    "base_channels": 4,
    "max_channels": 8,
    "depth": 3,
    "deep_supervision_levels": 2,
    "patch_size": 16,
    "inference_window": 16,
    "batch_size": 1,
    "iterations_per_epoch": 1,
    "augment": False,
    "threads": 1,
}


def _dataset(folder, prefix: str, n_train: int, n_val: int):
    rng = np.random.default_rng(len(prefix))
    label = np.zeros((16, 16, 16), np.uint8)
    label[8] = 1
    for split, n in (("Tr", n_train), ("Val", n_val)):
        for kind in ("images", "labels"):
            (folder / f"{kind}{split}").mkdir(parents=True, exist_ok=True)
        for k in range(n):
            name = f"{prefix}{split}{k}.mrc"
            write_mrc(folder / f"images{split}" / name, rng.normal(size=label.shape).astype(np.float32) + 2 * label,
                      voxel_size_ang=10.0)  # fmt: skip
            write_mrc(folder / f"labels{split}" / name, label, voxel_size_ang=10.0)
    return folder


def _scripted(monkeypatch, user: list[float], original: list[float] | None = None):
    """Make validation return the next scripted Surface-Dice: ``original`` for the original patches."""
    sequences = {"user": iter(user), "orig": iter(original or [])}

    def fake_validate(model, patches, voxel_size_ang, device):
        value = next(sequences["orig" if patches[0].name.startswith("orig") else "user"])
        return {"dice": value, "surface_dice": value}

    monkeypatch.setattr(train_module, "validate", fake_validate)


def _log(folder):
    with open(folder / "training_log.csv") as handle:
        return list(csv.DictReader(handle))


def test_early_stopping_keeps_the_best_surface_dice_epoch(tmp_path, monkeypatch):
    data = _dataset(tmp_path / "data", "user", 2, 1)
    _scripted(monkeypatch, [0.3, 0.5, 0.4, 0.45, 0.42, 0.9, 0.9])
    config = TrainConfig.model_validate({**TINY, "epochs": 7, "early_stopping_patience": 3})
    path = train(data, tmp_path / "run", config)
    assert [int(r["epoch"]) for r in _log(tmp_path / "run")] == [1, 2, 3, 4, 5]  # 3 epochs without gain after 2
    _, card = load_model(path)
    assert card.training.epochs_done == 2 and card.validation["surface_dice"] == 0.5
    assert "best epoch by validation Surface-Dice: 2" in card.training.selected
    assert "stopped after epoch 5: no better validation Surface-Dice for 3 epoch(s)" in card.training.selected
    assert "dice" in card.validation  # Dice stays reported
    _, final_card = load_model(tmp_path / "run" / "model_final.pt")
    assert final_card.training.epochs_done == 5


def test_without_patience_every_epoch_runs(tmp_path, monkeypatch):
    data = _dataset(tmp_path / "data", "user", 2, 1)
    _scripted(monkeypatch, [0.5, 0.4, 0.3, 0.2])
    train(data, tmp_path / "run", TrainConfig.model_validate({**TINY, "epochs": 4}))
    assert len(_log(tmp_path / "run")) == 4


def test_original_patches_keep_a_seeded_share_of_training_and_all_validation(tmp_path):
    orig = _dataset(tmp_path / "orig", "orig", 10, 3)
    kept = original_patches(orig, 0.3, seed=1, max_validation_patches=None)
    assert len(kept.train) == 3 and len(kept.val) == 3
    assert [p.name for p in kept.train] == [p.name for p in original_patches(orig, 0.3, 1, None).train]
    assert len(original_patches(orig, 0.01, 1, 2).train) == 1 and len(original_patches(orig, 0.01, 1, 2).val) == 2
    assert original_patches(orig, 0.0, 1, None).train == []


def test_fine_tuning_with_original_data_never_selects_a_forgetting_epoch(tmp_path, monkeypatch):
    user, orig = _dataset(tmp_path / "user", "user", 2, 1), _dataset(tmp_path / "orig", "orig", 4, 2)
    _scripted(monkeypatch, [0.5], None)
    start = train(user, tmp_path / "start", TrainConfig.model_validate({**TINY, "epochs": 1}))
    # epoch 0 is the starting model; epoch 2 scores best on the user's patches but forgets the original ones
    _scripted(monkeypatch, [0.4, 0.6, 0.9, 0.7], [0.80, 0.79, 0.60, 0.78])
    config = TrainConfig.model_validate({**TINY, "epochs": 3, "keep_original": 0.5, "forgetting_tolerance": 0.05})
    path = train(user, tmp_path / "tune", config, init_model=start, original_data=orig)
    rows = _log(tmp_path / "tune")
    assert [float(r["original_val_surface_dice"]) for r in rows] == [0.79, 0.60, 0.78]
    assert [float(r["val_surface_dice"]) for r in rows] == [0.6, 0.9, 0.7]
    _, card = load_model(path)
    assert card.training.epochs_done == 3  # epoch 2 (0.9) lost 0.2 on the original patches
    assert card.training.training_patches == 2 + 2  # the user's 2 and half of the original 4
    assert card.training.starting_model_validation == pytest.approx(
        {"dice": 0.4, "surface_dice": 0.4, "original_dice": 0.8, "original_surface_dice": 0.8}
    )
    assert card.validation["original_surface_dice"] == 0.78
    assert card.model_dump()["training"]["original_data"]["training_patches_mixed_in"] == 2
