"""Training data handling and a short training run on a tiny simulated dataset."""

import csv

import numpy as np
import pytest

from cryomem.io import write_mrc
from cryomem.segment._data import Patch, load_split, random_crop, whole_patch
from cryomem.segment._model_file import load_model
from cryomem.segment._train import TrainConfig, _card, train
from cryomem.simulate import DatasetConfig, simulate_dataset

TINY_TRAINING = {
    "base_channels": 4,
    "max_channels": 16,
    "depth": 3,
    "deep_supervision_levels": 2,
    "patch_size": 32,
    "inference_window": 32,
    "batch_size": 2,
    "iterations_per_epoch": 8,
    "augment": False,
    "threads": 2,
}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "set"
    config = DatasetConfig(
        n_tomograms=2,
        val_fraction=0.5,
        shape_zyx=(40, 64, 64),
        patch_size=40,
        patches_per_tomogram=3,
        voxel_size_ang=(10.0, 12.0),
        snr=(2.0, 4.0),
        membrane_occupancy=(0.06, 0.08),
    )
    simulate_dataset(config, out)
    return out


def test_load_split_pairs_images_and_labels(tiny_dataset):
    train_set, val_set = load_split(tiny_dataset, "Tr"), load_split(tiny_dataset, "Val")
    assert len(train_set) == len(val_set) == 3
    assert all(10.0 <= p.voxel_size_ang <= 12.0 for p in train_set)
    assert set(np.unique(train_set[0].label_zyx)) <= {0, 1, 2}


def test_load_split_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="imagesTr"):
        load_split(tmp_path, "Tr")
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    write_mrc(tmp_path / "imagesTr" / "a.mrc", np.zeros((8, 8, 8), np.float32), voxel_size_ang=10.0)
    write_mrc(tmp_path / "labelsTr" / "b.mrc", np.zeros((8, 8, 8), np.uint8), voxel_size_ang=10.0)
    with pytest.raises(ValueError, match="do not pair up"):
        load_split(tmp_path, "Tr")
    write_mrc(tmp_path / "labelsTr" / "a.mrc", np.full((8, 8, 8), 7, np.uint8), voxel_size_ang=10.0)
    (tmp_path / "labelsTr" / "b.mrc").unlink()
    with pytest.raises(ValueError, match="other than 0, 1, 2"):
        load_split(tmp_path, "Tr")


def test_random_crop_covers_the_model_patch_physically():
    label = np.zeros((60, 60, 60), np.uint8)
    label[:, :, 30:] = 1  # a half-space boundary along x
    patch = Patch("p", label.astype(np.float32), label, voxel_size_ang=20.0)
    image, crop = random_crop(patch, 32, 10.0, np.random.default_rng(0))
    assert image.shape == crop.shape == (32, 32, 32)  # 16 voxels at 20 Å resampled to 32 at 10 Å
    full_image, full_label = whole_patch(patch, 10.0, 8)
    assert full_label.shape == (120, 120, 120)
    assert abs(int(np.argmax(full_label[0, 0])) - 60) <= 1  # the boundary keeps its physical place


def test_random_crop_pads_a_small_patch_instead_of_stretching_it():
    label = np.zeros((20, 20, 20), np.uint8)
    label[:, :, 10:] = 1
    patch = Patch("p", label.astype(np.float32), label, voxel_size_ang=10.0)
    image, crop = random_crop(patch, 32, 10.0, np.random.default_rng(0))
    assert image.shape == crop.shape == (32, 32, 32)
    np.testing.assert_array_equal(crop[:20, :20, :20], label)  # same scale: not zoomed
    assert np.all(crop[20:] == 2) and np.all(crop[:, :, 20:] == 2)  # padding is ignored


def test_loader_workers_train_and_are_seeded_per_epoch(tiny_dataset, tmp_path):
    config = TrainConfig.model_validate({**TINY_TRAINING, "epochs": 2, "iterations_per_epoch": 4, "loader_workers": 2})
    train(tiny_dataset, tmp_path / "a", config)
    train(tiny_dataset, tmp_path / "b", config)
    with open(tmp_path / "a" / "training_log.csv") as a, open(tmp_path / "b" / "training_log.csv") as b:
        losses_a = [float(r["train_loss"]) for r in csv.DictReader(a)]
        losses_b = [float(r["train_loss"]) for r in csv.DictReader(b)]
    assert len(losses_a) == 2
    np.testing.assert_allclose(losses_a, losses_b, rtol=1e-4)  # same seed, same batches


def test_short_training_run_lowers_the_loss(tiny_dataset, tmp_path):
    config = TrainConfig.model_validate({**TINY_TRAINING, "epochs": 4})
    path = train(tiny_dataset, tmp_path / "run", config)
    with open(tmp_path / "run" / "training_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(r["train_loss"]) for r in rows]
    assert len(rows) == 4 and losses[-1] < losses[0]
    assert {"val_dice", "val_surface_dice"} <= set(rows[0])
    model, card = load_model(path)
    assert card.voxel_size_ang == 10.0 and card.training.training_patches == 3
    assert 0.0 <= card.validation["dice"] <= 1.0
    assert (tmp_path / "run" / "learning_curves.png").is_file()


def test_training_resumes_from_its_checkpoint(tiny_dataset, tmp_path):
    first = TrainConfig.model_validate({**TINY_TRAINING, "epochs": 2, "iterations_per_epoch": 2})
    train(tiny_dataset, tmp_path / "run", first)
    train(tiny_dataset, tmp_path / "run", first.model_copy(update={"epochs": 3}), resume=True)
    with open(tmp_path / "run" / "training_log.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [1, 2, 3]


def test_a_resumed_fine_tune_keeps_the_starting_model_scores(tiny_dataset, tmp_path):
    config = TrainConfig.model_validate({**TINY_TRAINING, "epochs": 1, "iterations_per_epoch": 2})
    start = train(tiny_dataset, tmp_path / "start", config)
    tune = config.model_copy(update={"learning_rate": 0.05})  # large steps: later weights score differently
    train(tiny_dataset, tmp_path / "tune", tune, init_model=start)
    first = load_model(tmp_path / "tune" / "model_final.pt")[1].training.starting_model_validation
    train(tiny_dataset, tmp_path / "tune", tune.model_copy(update={"epochs": 2}), init_model=start, resume=True)
    resumed = load_model(tmp_path / "tune" / "model_final.pt")[1].training.starting_model_validation
    assert set(first) == {"dice", "surface_dice"} and resumed == pytest.approx(first)


def _ddp_worker(rank: int, world: int, port: int, data_dir, out_dir) -> None:
    import os

    os.environ.update(
        {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1"}
    )
    os.environ["MASTER_PORT"] = str(port)
    config = TrainConfig.model_validate({**TINY_TRAINING, "epochs": 2, "iterations_per_epoch": 2, "threads": 1})
    train(data_dir, out_dir, config)


def test_data_parallel_training_through_torch_ddp(tiny_dataset, tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, tiny_dataset, tmp_path / "run"), nprocs=2, join=True)
    model, card = load_model(tmp_path / "run" / "model_final.pt")
    assert card.training.data_parallel_processes == 2 and card.training.epochs_done == 2
    with open(tmp_path / "run" / "training_log.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [1, 2]  # one log, written by rank 0


@pytest.mark.parametrize(
    "voxel_sizes, start, expected",
    [([14.0], None, [14.0, 14.0]), ([9.0, 14.0, 11.0], None, [9.0, 14.0]), ([14.0], [8.0, 20.0], [8.0, 20.0]),
     ([25.0, 14.0], [8.0, 20.0], [8.0, 25.0])],
)  # fmt: skip
def test_card_records_the_training_voxel_sizes_with_the_starting_model_s(tmp_path, voxel_sizes, start, expected):
    patches = [Patch(f"p{i}", np.zeros((8, 8, 8), np.float32), np.zeros((8, 8, 8), np.uint8), v)
               for i, v in enumerate(voxel_sizes)]  # fmt: skip
    init_card = {"name": "start", "training": {"voxel_size_range_ang": start}} if start else None
    card = _card(TrainConfig(), tmp_path, patches, [], {"epoch": 1}, init_card)
    assert card["training"]["voxel_size_range_ang"] == expected  # the card being built
