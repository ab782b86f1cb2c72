"""Bad inputs and faults for `cryomem segment train|finetune` and `cryomem pick train`.

Every bad input ends in exit 2, one line naming the problem and a fix, and no file written or
changed; a fault (disk full, Ctrl-C) never leaves files that look like a finished run, and a re-run
(with --resume where a checkpoint was kept) finishes.
"""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pandas as pd
import pytest
import torch
from bad_input import assert_leaves_nothing, assert_refuses, disk_full, interrupted, run_cli
from scipy.spatial import Delaunay

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import MembraneSurface, write_membrane_h5, write_mrc, write_particles_star
from cryomem.segment import UNet3D, UNetConfig, read_model_card, save_model
from cryomem.simulate import DatasetConfig, simulate_dataset

FINISHED = ("model.pt", "model_final.pt", "training_log.csv", "learning_curves.png", "train_config.json")
TINY_SEG = (
    "base_channels: 4\nmax_channels: 8\ndepth: 3\ndeep_supervision_levels: 2\npatch_size: 32\n"
    "inference_window: 32\niterations_per_epoch: 2\naugment: false\nthreads: 1\n"
)
TINY_PICK = "width: 8\nn_blocks: 1\nmlp_hidden: 8\nk_eig: 16\npatch_vertices: 300\nconv_channels: 4\nthreads: 1\n"


def _looks_finished(folder) -> list[str]:
    """Files of a finished run, and temporary leftovers, found in ``folder``."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name in FINISHED or p.name.startswith("."))


@pytest.fixture(scope="module")
def seg_data(tmp_path_factory):
    """4 patches of 32³ (2 training, 2 validation) from simulated tomograms."""
    out = tmp_path_factory.mktemp("segdata") / "data"
    config = DatasetConfig(
        n_tomograms=2,
        val_fraction=0.5,
        shape_zyx=(40, 64, 64),
        patch_size=32,
        patches_per_tomogram=2,
        voxel_size_ang=(10.0, 12.0),
    )
    simulate_dataset(config, out)
    return out


@pytest.fixture()
def seg(tmp_path, seg_data):
    """A private copy of the data, a tiny config, and the output folder (not yet there)."""
    data = shutil.copytree(seg_data, tmp_path / "data")
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_SEG)
    return data, config, tmp_path / "run"


@pytest.fixture(scope="module")
def gpu_model(tmp_path_factory):
    """A tiny model whose card carries a GPU recipe: 15 loader workers, batch 8, patch 80, 40 iterations."""
    torch.manual_seed(0)
    model = UNet3D(UNetConfig(base_channels=4, max_channels=8, depth=3, deep_supervision_levels=2))
    recipe = {"batch_size": 8, "loader_workers": 15, "threads": 1, "patch_size": 80, "iterations_per_epoch": 40}
    card = {"voxel_size_ang": 10.0, "inference_window": 32, "training": {"config": recipe}}
    return save_model(tmp_path_factory.mktemp("model") / "gpu.pt", model, card)


def _image(data, name="synth0001_p00.mrc", split="Tr"):
    return data / f"images{split}" / name


def _rewrite(path, values, voxel_size_ang=10.0):
    path.unlink()
    with pytest.warns(RuntimeWarning) if not np.isfinite(values).all() else _nothing():
        write_mrc(path, values, voxel_size_ang=voxel_size_ang)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _with_nan(path, value=np.nan):
    from cryomem.io import read_mrc

    data = read_mrc(path).data_zyx.astype(np.float32)
    data[3, 4, 5] = value
    _rewrite(path, data)


def _empty_splits(data):
    for sub in ("imagesTr", "labelsTr"):
        for p in (data / sub).iterdir():
            p.unlink()


def _tif_only(data):
    _empty_splits(data)
    (data / "imagesTr" / "a.tif").write_bytes(b"II*\x00")
    (data / "labelsTr" / "a.tif").write_bytes(b"II*\x00")


def _label_values(data, value):
    label = data / "labelsTr" / "synth0001_p00.mrc"
    _rewrite(label, np.full((32, 32, 32), value, np.uint8))


SEGMENT_TRAIN_CASES = {
    # name: (prepare(data, config, out) -> extra args, message)
    "missing data folder": (lambda d, c, o: (shutil.rmtree(d), [])[1], "does not exist"),
    "data folder is a file": (lambda d, c, o: (shutil.rmtree(d), d.write_text("x"), [])[2], "is a file"),
    "empty data folder": (lambda d, c, o: (shutil.rmtree(d), d.mkdir(), [])[2], "needs imagesTr/ and labelsTr/"),
    "no training patches": (lambda d, c, o: (_empty_splits(d), [])[1], "holds no .mrc"),
    "tif instead of mrc": (lambda d, c, o: (_tif_only(d), [])[1], "convert them to MRC"),
    "image not an mrc": (lambda d, c, o: (_image(d).write_text("no"), [])[1], "not a readable MRC"),
    "unpaired names": (lambda d, c, o: (_image(d).rename(_image(d, "x.mrc")), [])[1], "do not pair up"),
    "shape mismatch": (
        lambda d, c, o: (_rewrite(_image(d), np.zeros((16, 32, 32), np.float32)), [])[1],
        "must match voxel for voxel",
    ),
    "label value 3": (lambda d, c, o: (_label_values(d, 3), [])[1], "other than 0, 1, 2"),
    "NaN voxel in a patch": (lambda d, c, o: (_with_nan(_image(d)), [])[1], "1 NaN or infinite voxel"),
    "inf voxel in a patch": (lambda d, c, o: (_with_nan(_image(d), np.inf), [])[1], "NaN or infinite voxel"),
    "2D image": (lambda d, c, o: (_rewrite(_image(d), np.zeros((1, 32, 32), np.float32)), [])[1], "not a 3D volume"),
    "no voxel size in header": (
        lambda d, c, o: (_rewrite(_image(d), np.zeros((32, 32, 32), np.float32), voxel_size_ang=1.0), [])[1],
        "states no voxel size",
    ),
    "missing config": (lambda d, c, o: (c.unlink(), [])[1], "pass an existing YAML"),
    "config not YAML": (lambda d, c, o: (c.write_text("epochs: [1\n"), [])[1], "not valid YAML"),
    "config a list": (lambda d, c, o: (c.write_text("- 1\n"), [])[1], "must hold a mapping"),
    "unknown config key": (lambda d, c, o: (c.write_text("batchsize: 2\n"), [])[1], "did you mean batch_size"),
    "bad config value": (lambda d, c, o: (c.write_text("batch_size: 0\n"), [])[1], "batch_size = 0"),
    "config value of the wrong type": (lambda d, c, o: (c.write_text("epochs: many\n"), [])[1], "epochs = 'many'"),
    "negative epochs": (lambda d, c, o: ["--epochs", "-1"], "--epochs -1"),
    "zero epochs": (lambda d, c, o: ["--epochs", "0"], "--epochs 0"),
    "out is a file": (lambda d, c, o: (o.write_text("x"), [])[1], "is a file"),
    "resume without checkpoint": (lambda d, c, o: ["--resume"], "drop --resume"),
    "resume from an empty folder": (lambda d, c, o: (o.mkdir(), ["--resume"])[1], "holds no checkpoint_last.pt"),
    "corrupt checkpoint": (
        lambda d, c, o: (o.mkdir(), (o / "checkpoint_last.pt").write_bytes(b"\x80junk"), ["--resume"])[2],
        "cannot be read",
    ),
    "foreign checkpoint": (
        lambda d, c, o: (o.mkdir(), torch.save({"weights": 1}, o / "checkpoint_last.pt"), ["--resume"])[2],
        "not a cryomem training checkpoint",
    ),
    "missing init model": (lambda d, c, o: ["--init-model", o.parent / "none.pt"], "does not exist"),
    "init model not a model": (
        lambda d, c, o: ((o.parent / "m.pt").write_text("x"), ["--init-model", o.parent / "m.pt"])[1],
        "not a cryomem segmentation model",
    ),
}


@pytest.mark.parametrize("case", list(SEGMENT_TRAIN_CASES))
def test_segment_train_refuses(seg, case):
    data, config, out = seg
    prepare, message = SEGMENT_TRAIN_CASES[case]
    extra = prepare(data, config, out)
    text = assert_refuses(["segment", "train", data, "--out", out, "--config", config, *extra], message, [data.parent])
    assert "error:" in text


def test_segment_train_refuses_a_config_that_changes_the_init_model_s_network(seg, gpu_model):
    data, config, out = seg  # the tiny config asks for max_channels 8 as the model has; depth 4 differs
    config.write_text(TINY_SEG.replace("depth: 3", "depth: 4"))
    args = ["segment", "train", data, "--out", out, "--config", config, "--init-model", gpu_model]
    assert_refuses(args, "sets depth = 4 (model: 3)", [data.parent])


def test_segment_train_resume_with_another_network_is_one_line(seg):
    data, config, out = seg
    assert run_cli(["segment", "train", data, "--out", out, "--config", config, "--epochs", "1"]).exit_code == 0
    config.write_text(TINY_SEG.replace("max_channels: 8", "max_channels: 16"))
    args = ["segment", "train", data, "--out", out, "--config", config, "--epochs", "2", "--resume"]
    assert_refuses(args, "does not fit this model", [data.parent])


FINETUNE_CASES = {
    "missing model": (lambda d, c, o, m: ["--model", o.parent / "none.pt"], "does not exist"),
    "model not a model": (
        lambda d, c, o, m: ((o.parent / "m.pt").write_text("x"), ["--model", o.parent / "m.pt"])[1],
        "not a cryomem segmentation model",
    ),
    "101 epochs": (lambda d, c, o, m: ["--model", m, "--epochs", "101"], "less than or equal to 100"),
    "101 epochs in the config": (
        lambda d, c, o, m: (c.write_text("epochs: 101\n"), ["--model", m, "--config", c])[1],
        "less than or equal to 100",
    ),
    "zero epochs": (lambda d, c, o, m: ["--model", m, "--epochs", "0"], "--epochs 0"),
    "tolerance above 1": (lambda d, c, o, m: ["--model", m, "--tolerance", "2"], "--tolerance 2.0"),
    "negative tolerance": (lambda d, c, o, m: ["--model", m, "--tolerance", "-0.1"], "--tolerance -0.1"),
    "config changes the network": (
        lambda d, c, o, m: (c.write_text("base_channels: 16\n"), ["--model", m, "--config", c])[1],
        "remove these settings",
    ),
    "unknown config key": (
        lambda d, c, o, m: (c.write_text("lr: 0.1\n"), ["--model", m, "--config", c])[1],
        "unknown setting(s) lr",
    ),
    "missing config": (lambda d, c, o, m: (c.unlink(), ["--model", m, "--config", c])[1], "does not exist"),
    "missing data folder": (lambda d, c, o, m: (shutil.rmtree(d), ["--model", m])[1], "does not exist"),
    "NaN voxel in a patch": (lambda d, c, o, m: (_with_nan(_image(d)), ["--model", m])[1], "NaN or infinite"),
    "NaN voxel in a validation patch": (
        lambda d, c, o, m: (_with_nan(_image(d, "synth0000_p00.mrc", "Val")), ["--model", m])[1],
        "NaN or infinite",
    ),
    "resume without checkpoint": (lambda d, c, o, m: ["--model", m, "--resume"], "drop --resume"),
    "out is a file": (lambda d, c, o, m: (o.write_text("x"), ["--model", m])[1], "is a file"),
}


@pytest.mark.parametrize("case", list(FINETUNE_CASES))
def test_segment_finetune_refuses(seg, gpu_model, case):
    data, config, out = seg
    config.write_text("iterations_per_epoch: 1\n")
    prepare, message = FINETUNE_CASES[case]
    extra = prepare(data, config, out, gpu_model)
    assert_refuses(["segment", "finetune", data, "--out", out, *extra], message, [data.parent, gpu_model])


def test_finetune_on_a_cpu_ignores_the_card_s_gpu_settings_and_takes_a_config(seg, gpu_model):
    """The card says 15 loader workers, batch 8, patch 80 and 40 iterations: --config and the CPU decide."""
    data, config, out = seg
    config.write_text("epochs: 2\npatch_size: 32\niterations_per_epoch: 2\nmax_validation_patches: 2\naugment: false\n")
    started = time.perf_counter()
    result = run_cli(["segment", "finetune", data, "--model", gpu_model, "--out", out, "--config", config])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    used = json.loads((out / "train_config.json").read_text())
    assert used["patch_size"] == 32 and used["iterations_per_epoch"] == 2 and used["epochs"] == 2  # from --config
    assert used["batch_size"] == 2 and used["loader_workers"] == 0  # from the device, not the card
    assert used["threads"] is None and used["learning_rate"] == 1e-5  # torch's threads; fine-tuning's rate
    assert "batch size 2, 0 loader worker(s), patch 32" in " ".join(result.output.split())
    assert "epoch 2/2" in result.output and seconds < 30, seconds  # the card's recipe ran past 120 s an epoch


def test_train_without_validation_patches_writes_the_last_epoch_s_model(seg):
    data, config, out = seg
    for sub in ("imagesVal", "labelsVal"):
        shutil.rmtree(data / sub)
    result = run_cli(["segment", "train", data, "--out", out, "--config", config, "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(_looks_finished(out)) == sorted(FINISHED)
    card = read_model_card(out / "model.pt")
    assert card.training.epochs_done == 2 and card.training.validation_patches == 0
    assert "no validation patches" in card.training.selected
    assert "the last epoch: 2, no validation patches" in " ".join(result.output.split())


def _nan_loss_from_epoch(monkeypatch, module: str, epoch: int):
    """Make the segmentation loss NaN from the ``epoch``-th epoch on (iterations of 2)."""
    from cryomem.segment import SegmentationLoss

    calls = {"n": 0}

    class NanAfter(SegmentationLoss):
        def forward(self, logits, labels):
            calls["n"] += 1
            loss = super().forward(logits, labels)
            return loss * float("nan") if calls["n"] > 2 * (epoch - 1) else loss

    monkeypatch.setattr(f"{module}.SegmentationLoss", NanAfter)


def test_a_non_finite_loss_stops_training_without_a_model(seg, monkeypatch):
    data, config, out = seg
    _nan_loss_from_epoch(monkeypatch, "cryomem.segment._train", epoch=2)
    args = ["segment", "train", data, "--out", out, "--config", config, "--epochs", "3"]
    result = run_cli(args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "the loss became nan at epoch 2, iteration 1" in " ".join(result.output.split())
    assert _looks_finished(out) == [] and (out / "checkpoint_last.pt").is_file()  # epoch 1 kept
    monkeypatch.undo()
    result = run_cli([*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "epoch 1/3" not in result.output and "epoch 3/3" in result.output
    assert pd.read_csv(out / "training_log.csv")["epoch"].tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "where, fault",
    [
        ("cryomem.segment._train_files._plot", disk_full),  # inside the final set, after both models
        ("cryomem.segment._train.validate", interrupted),  # Ctrl-C while validating epoch 1
    ],
)
def test_segment_train_fault_leaves_nothing_finished_and_a_rerun_works(seg, monkeypatch, where, fault):
    data, config, out = seg
    args = ["segment", "train", data, "--out", out, "--config", config, "--epochs", "2"]
    monkeypatch.setattr(where, fault)
    text = assert_leaves_nothing(args, [data])
    assert _looks_finished(out) == []
    if fault is disk_full:
        assert "No space left on device" in text and len(text.splitlines()) == 1
    monkeypatch.undo()
    resume = ["--resume"] if (out / "checkpoint_last.pt").is_file() else []
    result = run_cli([*args, *resume])
    assert result.exit_code == 0, result.output
    assert sorted(_looks_finished(out)) == sorted(FINISHED)
    assert pd.read_csv(out / "training_log.csv")["epoch"].tolist() == [1, 2]


def test_disk_full_at_the_first_checkpoint_writes_nothing(seg, monkeypatch):
    data, config, out = seg
    monkeypatch.setattr("cryomem.segment._train_files.torch.save", disk_full)
    text = assert_leaves_nothing(["segment", "train", data, "--out", out, "--config", config], [data.parent])
    assert "No space left on device" in text


# ---------------------------------------------------------------- pick train

OFFSETS_ANG = DEFAULT_FEATURE_OFFSETS_ANG


def _surface(tomogram, *, features=None, shift_z=0.0) -> MembraneSurface:
    x, y = np.meshgrid(np.arange(20) * 10.0 + 20.0, np.arange(20) * 10.0 + 20.0)
    vertices = np.column_stack([x.ravel(), y.ravel(), np.full(x.size, 150.0 + shift_z)])
    if features is None:
        features = np.random.default_rng(1).normal(size=(len(vertices), len(OFFSETS_ANG))).astype(np.float32)
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=Delaunay(vertices[:, :2]).simplices.astype(np.int64),
        normals_xyz=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)),
        membrane_id=1,
        voxel_size_ang=10.0,
        tomogram_path=str(tomogram),
        features=features,
        feature_offsets_ang=OFFSETS_ANG,
    )


@pytest.fixture()
def pick(tmp_path):
    """A membranes folder (one plane), a STAR of particles on it, a tiny config, the output folder."""
    tomogram = write_mrc(tmp_path / "tomo.mrc", np.zeros((32, 32, 32), np.float32), voxel_size_ang=10.0)
    membranes = tmp_path / "membranes"
    membranes.mkdir()
    write_membrane_h5(membranes / "tomo_mb1.h5", _surface(tomogram))
    xyz = np.array([[60.0, 60.0, 150.0], [160.0, 80.0, 150.0], [100.0, 170.0, 150.0]])
    table = pd.DataFrame({"tomo_name": ["tomo"] * 3, "x_ang": xyz[:, 0], "y_ang": xyz[:, 1], "z_ang": xyz[:, 2]})
    star = write_particles_star(tmp_path / "gt.star", table, voxel_size_ang=10.0, shape_zyx=(32, 32, 32))
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_PICK)
    return tmp_path, membranes, star, config


def _nan_features(membranes, rows):
    surface = _surface(membranes.parent / "tomo.mrc")
    features = surface.features.copy()
    features[:rows, 10] = np.nan
    (membranes / "tomo_mb1.h5").unlink()
    write_membrane_h5(membranes / "tomo_mb1.h5", _surface(membranes.parent / "tomo.mrc", features=features))


def _far_star(root):
    table = pd.DataFrame({"tomo_name": ["tomo"] * 2, "x_ang": [60.0, 90.0], "y_ang": [60.0] * 2, "z_ang": [900.0] * 2})
    return write_particles_star(root / "far.star", table, voxel_size_ang=10.0, shape_zyx=(100, 32, 32))


def _nan_vertex(membranes):
    surface = _surface(membranes.parent / "tomo.mrc")
    surface.vertices_xyz_ang[7] = np.nan
    (membranes / "tomo_mb1.h5").unlink()
    write_membrane_h5(membranes / "tomo_mb1.h5", surface)


PICK_TRAIN_CASES = {
    # name: (prepare(root, membranes, star, config) -> replaced/extra args, message)
    "missing membranes folder": (lambda r, m, s, c: {"--membranes": r / "none"}, "does not exist"),
    "empty membranes folder": (lambda r, m, s, c: ((r / "e").mkdir(), {"--membranes": r / "e"})[1], "holds no"),
    "NaN features": (lambda r, m, s, c: (_nan_features(m, 5), {})[1], "NaN or infinite features at 5 of 400"),
    "NaN vertex": (lambda r, m, s, c: (_nan_vertex(m), {})[1], "1 vertices with NaN or infinite"),
    "particles far from every membrane": (lambda r, m, s, c: {"--particles": _far_star(r)}, "none of the 2 particles"),
    "unknown config key": (lambda r, m, s, c: (c.write_text("epoch: 2\n"), {})[1], "did you mean epochs"),
    "bad config value": (lambda r, m, s, c: (c.write_text("k_eig: 2\n"), {})[1], "k_eig = 2"),
    "uneven window": (
        lambda r, m, s, c: (c.write_text("window_offsets_ang: [-5, 0, 2]\n"), {})[1],
        "evenly spaced",
    ),
    "negative epochs": (lambda r, m, s, c: {"--epochs": -1}, "--epochs -1"),
    "missing config": (lambda r, m, s, c: {"--config": r / "none.yaml"}, "does not exist"),
    "out is a file": (lambda r, m, s, c: ((r / "f").write_text("x"), {"--out": r / "f"})[1], "is a file"),
}


@pytest.mark.parametrize("case", list(PICK_TRAIN_CASES))
def test_pick_train_refuses(pick, case):
    root, membranes, star, config = pick
    prepare, message = PICK_TRAIN_CASES[case]
    options = {"--membranes": membranes, "--particles": star, "--out": root / "run", "--config": config}
    options |= prepare(root, membranes, star, config)
    args = ["pick", "train", *[v for item in options.items() for v in item]]
    assert_refuses(args, message, [root])


def test_pick_train_non_finite_loss_stops_without_a_model(pick, monkeypatch):
    from cryomem.pick import _train

    root, membranes, star, config = pick
    real = _train._patch_loss

    def nan_loss(*args, **kwargs):
        loss, n = real(*args, **kwargs)
        return loss * float("nan"), n

    monkeypatch.setattr(_train, "_patch_loss", nan_loss)
    args = ["pick", "train", "--membranes", membranes, "--particles", star, "--out", root / "run", "--config", config]
    result = run_cli([*args, "--epochs", "2"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "the loss became nan at epoch 1" in " ".join(result.output.split())
    assert _looks_finished(root / "run") == []


@pytest.mark.parametrize(
    "where, fault",
    [("cryomem.pick._train._write_plot", disk_full), ("cryomem.pick._train._validate", interrupted)],
)
def test_pick_train_fault_leaves_nothing_finished_and_a_rerun_works(pick, monkeypatch, where, fault):
    root, membranes, star, config = pick
    write_membrane_h5(membranes / "tomo_mb2.h5", _surface(root / "tomo.mrc", shift_z=60.0))  # for validation
    config.write_text(TINY_PICK + "validation_fraction: 0.5\n")
    args = ["pick", "train", "--membranes", membranes, "--particles", star, "--out", root / "run", "--config", config]
    monkeypatch.setattr(where, fault)
    text = assert_leaves_nothing([*args, "--epochs", "2"], [membranes, star, config])
    assert _looks_finished(root / "run") == []
    if fault is disk_full:
        assert "No space left on device" in text
    monkeypatch.undo()
    result = run_cli([*args, "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(_looks_finished(root / "run")) == sorted(FINISHED)
