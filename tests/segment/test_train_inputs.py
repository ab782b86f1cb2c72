"""Training inputs checked where they enter: non-finite patches, optional validation, machine settings."""

import numpy as np
import pytest
import torch

from cryomem.io import write_mrc
from cryomem.segment import TrainConfig, _train
from cryomem.segment._data import load_split


def _pair(folder, split, image, label=None, voxel_size_ang=10.0):
    for kind, data in (("images", image), ("labels", np.zeros(image.shape, np.uint8) if label is None else label)):
        (folder / f"{kind}{split}").mkdir(parents=True, exist_ok=True)
        write_mrc(folder / f"{kind}{split}" / "p.mrc", data, voxel_size_ang=voxel_size_ang)


@pytest.mark.parametrize("value, count", [(np.nan, 2), (np.inf, 1), (-np.inf, 3)])
def test_a_patch_with_non_finite_voxels_is_refused_by_name(tmp_path, value, count):
    image = np.zeros((8, 8, 8), np.float32)
    image.flat[:count] = value
    with pytest.warns(RuntimeWarning):  # mrcfile (and numpy, for inf) warn while writing them
        _pair(tmp_path, "Tr", image)
    with pytest.raises(ValueError, match=rf"imagesTr/p.mrc holds {count} NaN or infinite voxel value\(s\)"):
        load_split(tmp_path, "Tr")


def test_validation_patches_are_optional_but_half_a_split_is_an_error(tmp_path):
    _pair(tmp_path, "Tr", np.zeros((8, 8, 8), np.float32))
    assert load_split(tmp_path, "Val", required=False) == []
    (tmp_path / "imagesVal").mkdir()
    (tmp_path / "labelsVal").mkdir()
    assert load_split(tmp_path, "Val", required=False) == []  # empty folders: no patches either
    (tmp_path / "labelsVal").rmdir()
    with pytest.raises(FileNotFoundError, match="needs imagesVal/ and labelsVal/"):
        load_split(tmp_path, "Val", required=False)


def test_a_header_without_voxel_size_is_named(tmp_path):
    _pair(tmp_path, "Tr", np.zeros((8, 8, 8), np.float32), voxel_size_ang=1.0)
    with pytest.raises(ValueError, match="imagesTr/p.mrc states no voxel size in its header"):
        load_split(tmp_path, "Tr")


@pytest.mark.parametrize(
    "device, cores, given, expected",
    [
        ("cpu", 16, {}, (2, 0)),  # CPU: augmentation in the training process
        ("cuda", 16, {}, (8, 8)),
        ("cuda", 4, {}, (8, 3)),  # never more workers than cores - 1
        ("cpu", 2, {"loader_workers": 15, "batch_size": 8}, (8, 1)),  # a GPU recipe on a 2-core CPU
        ("cpu", 1, {"loader_workers": 4}, (2, 0)),
    ],
)
def test_machine_settings_follow_the_device(monkeypatch, device, cores, given, expected):
    monkeypatch.setattr(_train, "_available_cores", lambda: cores)
    used = _train.for_device(TrainConfig(**given), torch.device(device))
    assert (used.batch_size, used.loader_workers) == expected
    assert TrainConfig(**given).batch_size == given.get("batch_size")  # the config itself is unchanged
