"""`cryomem segment` commands on tiny inputs, and their bad-input messages."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cryomem.cli import app
from cryomem.io import read_mrc, write_mrc
from cryomem.segment import UNet3D, UNetConfig, save_model

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text):
    return " ".join(text.split())


def _write_nan(path):
    data = np.random.default_rng(0).normal(size=(16, 16, 16)).astype(np.float32)
    data[3, 4, 5] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN"):
        write_mrc(path, data, voxel_size_ang=10.0)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    model = UNet3D(UNetConfig(base_channels=4, max_channels=8, depth=3, deep_supervision_levels=1)).eval()
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model(path, model, {"voxel_size_ang": 10.0, "inference_window": 32})


@pytest.fixture()
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(24, 40, 40)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=12.0, origin_xyz_ang=(5.0, 6.0, 7.0))


def test_segment_writes_outputs_with_the_input_header(tiny_model, tomogram, tmp_path):
    out = tmp_path / "out"
    result = _run(
        "segment", tomogram, "--model", tiny_model, "--out", out, "--no-tta", "--scores", "--instances",
        "--no-sheet-filter",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (out / "tomo_sheet_filter.csv").exists()
    seg = read_mrc(out / "tomo_seg.mrc")
    assert seg.data_zyx.shape == (24, 40, 40) and seg.data_zyx.dtype == np.uint8
    assert seg.voxel_size_ang == pytest.approx(12.0) and seg.origin_xyz_ang == pytest.approx((5.0, 6.0, 7.0))
    scores = read_mrc(out / "tomo_scores.mrc").data_zyx
    assert scores.dtype == np.float16 and 0.0 <= float(scores.min()) <= float(scores.max()) <= 1.0
    np.testing.assert_array_equal(seg.data_zyx, (scores.astype(np.float32) > 0.5).astype(np.uint8))
    assert (out / "tomo_instances.mrc").is_file()


def test_segment_reads_an_ome_zarr_tomogram_like_its_mrc(tiny_model, tomogram, tmp_path):
    """An OME-Zarr image is segmented at the level nearest the model's voxel size, outputs named and
    placed as for the MRC it came from."""
    from cryomem.io import write_ome_zarr

    zarr_dir = tmp_path / "zarr"
    zarr_dir.mkdir()
    write_ome_zarr(zarr_dir / "tomo.ome.zarr", read_mrc(tomogram), levels=2)
    args = ("--model", tiny_model, "--no-tta", "--scores", "--no-sheet-filter")
    assert _run("segment", tomogram, "--out", tmp_path / "from_mrc", *args).exit_code == 0
    result = _run("segment", zarr_dir, "--out", tmp_path / "from_zarr", *args)  # a folder of OME-Zarr images
    assert result.exit_code == 0, result.output
    mrc, zarr = (
        read_mrc(tmp_path / "from_mrc" / "tomo_scores.mrc"),
        read_mrc(tmp_path / "from_zarr" / "tomo_scores.mrc"),
    )
    assert zarr.voxel_size_ang == pytest.approx(12.0) and zarr.origin_xyz_ang == pytest.approx((5.0, 6.0, 7.0))
    np.testing.assert_allclose(zarr.data_zyx.astype(np.float32), mrc.data_zyx.astype(np.float32), atol=1e-3)


def test_segment_takes_out_like_every_command_and_still_the_old_out_dir(tiny_model, tomogram, tmp_path):
    help_text = _run("segment", "predict", "--help").output
    assert "--out " in help_text and "--out-dir" not in help_text  # the old name works but is not offered
    old = tmp_path / "old"
    result = _run("segment", tomogram, "--model", tiny_model, "--out-dir", old, "--no-tta", "--no-sheet-filter")
    assert result.exit_code == 0, result.output
    assert (old / "tomo_seg.mrc").is_file()
    result = _run("segment", tomogram, "--model", tiny_model, "--out", tmp_path / "a", "--out-dir", tmp_path / "b")
    assert result.exit_code == 2 and "pass --out only" in _flat(result.output), result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_segment_sheet_filter_is_on_by_default_and_takes_a_rules_file(tiny_model, tomogram, tmp_path):
    import pandas as pd

    out = tmp_path / "out"
    result = _run("segment", tomogram, "--model", tiny_model, "--out", out, "--no-tta")
    assert result.exit_code == 0, result.output
    decisions = pd.read_csv(out / "tomo_sheet_filter.csv")
    assert f"sheet filter: kept {decisions['kept'].sum()} of {len(decisions)} pieces" in _flat(result.output)
    assert {"area_nm2", "thickness_nm", "tubularity", "kept", "reason"} <= set(decisions.columns)
    assert read_mrc(out / "tomo_seg.mrc").data_zyx.sum() == (
        decisions["voxels"] * decisions["kept"]).sum()  # fmt: skip
    missing = tmp_path / "missing.json"
    result = _run("segment", tomogram, "--model", tiny_model, "--out", tmp_path / "o2", "--sheet-filter-rules", missing)
    assert result.exit_code != 0 and result.output.count("\n") == 1 and "missing.json does not exist" in result.output
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize(
    "trained, note", [(None, False), ([8.0, 12.0], False), ([8.0, 11.0], True), ([12.5, 20.0], True)]
)
def test_segment_notes_a_voxel_size_outside_the_training_range(tmp_path, tomogram, trained, note):
    model = UNet3D(UNetConfig(base_channels=4, max_channels=8, depth=3, deep_supervision_levels=1)).eval()
    card = {"voxel_size_ang": 10.0, "inference_window": 32}
    if trained is not None:
        card["training"] = {"voxel_size_range_ang": trained}
    path = save_model(tmp_path / "model.pt", model, card)
    result = _run("segment", tomogram, "--model", path, "--out", tmp_path / "out", "--no-tta")
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    if note:  # the tomogram is at 12 Å
        assert f"tomo.mrc has voxels of 12.0 Å, outside the {trained[0]:.1f}-{trained[1]:.1f} Å" in text
        assert "cryomem segment finetune" in text
    else:
        assert "outside the" not in text
    assert (tmp_path / "out" / "tomo_seg.mrc").is_file()


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (lambda p: p.write_text("not an mrc"), [], "not a readable MRC"),
        (lambda p: write_mrc(p, np.zeros((1, 16, 16), np.float32), voxel_size_ang=10.0), [], "3D"),
        (lambda p: _write_nan(p), [], "NaN"),
        (lambda p: write_mrc(p, np.zeros((16, 16, 16), np.float32), voxel_size_ang=1.0), [], "--voxel-size"),
        (
            lambda p: write_mrc(p, np.zeros((16, 16, 16), np.float32), voxel_size_ang=10.0),
            ["--threshold", "1.5"],
            "probability in [0, 1]",
        ),
    ],
)
def test_bad_tomograms_give_one_line_and_no_output(tiny_model, tmp_path, make, extra, message):
    path = tmp_path / "bad.mrc"
    make(path)
    out = tmp_path / "out"
    result = _run("segment", path, "--model", tiny_model, "--out", out, "--no-tta", *extra)
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output) and "Traceback" not in result.output
    assert not list(out.glob("*")) if out.exists() else True


def test_a_file_that_is_not_a_model(tomogram, tmp_path):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"\x00" * 64)
    result = _run("segment", tomogram, "--model", fake)
    assert result.exit_code == 2 and "not a cryomem segmentation model" in _flat(result.output)
    assert not (tmp_path / "tomo_seg.mrc").exists()


def test_skeletonize_and_evaluate(tmp_path):
    seg = np.zeros((20, 20, 20), np.uint8)
    seg[7:14] = 1
    write_mrc(tmp_path / "seg.mrc", seg, voxel_size_ang=10.0)
    result = _run("segment", "skeletonize", tmp_path / "seg.mrc")
    assert result.exit_code == 0, result.output
    skeleton = read_mrc(tmp_path / "seg_skel.mrc").data_zyx
    assert skeleton[10].all() and skeleton.sum() == 400
    result = _run("segment", "evaluate", tmp_path / "seg.mrc", tmp_path / "seg.mrc", "--csv", tmp_path / "scores.csv")
    assert result.exit_code == 0, result.output
    assert "pooled" in result.output and (tmp_path / "scores.csv").is_file()


def test_train_then_finetune_from_the_cli(tmp_path):
    from cryomem.simulate import DatasetConfig, simulate_dataset

    data = tmp_path / "data"
    simulate_dataset(
        DatasetConfig(
            n_tomograms=2,
            val_fraction=0.5,
            shape_zyx=(40, 64, 64),
            patch_size=40,
            patches_per_tomogram=2,
            voxel_size_ang=(10.0, 12.0),
        ),
        data,
    )
    settings = tmp_path / "train.yaml"
    settings.write_text(
        "base_channels: 4\nmax_channels: 8\ndepth: 3\ndeep_supervision_levels: 2\npatch_size: 32\n"
        "inference_window: 32\niterations_per_epoch: 2\naugment: false\n"
    )
    result = _run("segment", "train", data, "--out", tmp_path / "run", "--config", settings, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.output and (tmp_path / "run" / "model.pt").is_file()
    result = _run(
        "segment",
        "finetune",
        data,
        "--model",
        tmp_path / "run" / "model.pt",
        "--out",
        tmp_path / "tuned",
        "--epochs",
        "1",
    )
    assert result.exit_code == 0, result.output
    from cryomem.segment import read_model_card

    card = read_model_card(tmp_path / "tuned" / "model.pt")
    assert card.training.config["learning_rate"] == 1e-5
    low, high = card.training.voxel_size_range_ang  # the training patches' voxel sizes, drawn from 10-12 Å
    assert 10.0 <= low <= high <= 12.0
    start = card.training.starting_model_validation  # the starting model's scores, also printed first
    assert set(start) == {"dice", "surface_dice"} and f"starting model: val_dice {start['dice']:.4f}" in result.output
    result = _run(
        "segment",
        "finetune",
        data,
        "--model",
        tmp_path / "run" / "model.pt",
        "--out",
        tmp_path / "t2",
        "--epochs",
        "101",
    )
    assert result.exit_code == 2 and "less than or equal to 100" in _flat(result.output)


def test_finetune_says_when_no_epoch_beat_the_starting_model(tmp_path, capsys):
    from cryomem.cli._segment import _warn_if_no_gain
    from cryomem.segment import UNet3D, UNetConfig, save_model

    model = UNet3D(UNetConfig(base_channels=4, max_channels=8, depth=3, deep_supervision_levels=2))
    save_model(tmp_path / "m.pt", model, {"voxel_size_ang": 10.0, "validation": {"surface_dice": 0.7}})
    _warn_if_no_gain(tmp_path / "m.pt", {"val_surface_dice": 0.8})
    assert "no epoch beat the starting model" in _flat(capsys.readouterr().err)
    _warn_if_no_gain(tmp_path / "m.pt", {"val_surface_dice": 0.6})
    assert "no epoch beat" not in capsys.readouterr().err


def test_train_bad_config_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("epochs: [1\n")
    result = _run("segment", "train", tmp_path, "--out", tmp_path / "run", "--config", tmp_path / "bad.yaml")
    assert result.exit_code == 2 and "not valid YAML" in result.output


def test_train_bad_data_dir(tmp_path):
    result = _run("segment", "train", tmp_path / "nothing", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "imagesTr" in result.output
