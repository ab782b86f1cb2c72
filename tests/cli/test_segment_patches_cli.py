"""`segment patches extract|merge` (through a small app holding ``patches_app``) and `segment finetune`'s new flags."""

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from cryomem.cli._segment_patches import patches_app
from cryomem.io import read_mrc, write_mrc
from tests.cli.bad_input import assert_refuses, run_cli, snapshot

app = typer.Typer()
app.add_typer(patches_app, name="patches")


@app.callback()
def _root() -> None:
    """Stands in for `cryomem segment`."""


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_refusal(args, message, watch):
    before = snapshot(watch)
    result = _run(*args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and message in text, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert snapshot(watch) == before


@pytest.fixture
def tomo(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shape = (32, 40, 48)
    seg = np.zeros(shape, np.uint8)
    seg[16] = 1
    scores = np.where(seg > 0, 0.9, 0.1).astype(np.float32)
    scores[4:14, 4:14, 4:14] = 0.5
    data = {"t": np.random.default_rng(0).normal(size=shape).astype(np.float32), "t_seg": seg, "t_scores": scores}
    for name, values in data.items():
        write_mrc(folder / f"{name}.mrc", values, voxel_size_ang=10.0, origin_xyz_ang=(5.0, 6.0, 7.0))
    return folder


def test_extract_then_merge(tomo, tmp_path):
    out, data = tmp_path / "patches", tmp_path / "data"
    result = _run("patches", "extract", tomo / "t.mrc", "--segmentation", tomo / "t_seg.mrc", "--scores",
                  tomo / "t_scores.mrc", "--n", 2, "--size", 12, "--strategy", "uncertain", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "patches.json").read_text())
    assert [p["image"] for p in record["patches"]] == ["t_patch000.mrc", "t_patch001.mrc"]
    assert read_mrc(out / "t_patch000_labels.mrc").voxel_size_ang == 10.0
    result = _run("patches", "merge", out, "--into", data, "--split", "val")
    assert result.exit_code == 0, result.output
    assert "added 0 training and 2 validation" in " ".join(result.output.split())
    assert sorted(p.name for p in (data / "labelsVal").iterdir()) == ["t_patch000.mrc", "t_patch001.mrc"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--strategy", "uncertain"], "needs --scores"),
        (["--strategy", "random", "--size", "100"], "--size 100 voxels does not fit"),
        (["--strategy", "random", "--n", "0"], "--n must be at least 1"),
        (["--strategy", "points", "--points", "nothing.star"], "nothing.star"),
        (["--strategy", "nearest"], "--strategy 'nearest' is unknown"),
    ],
)
def test_extract_refuses(tomo, tmp_path, extra, message):
    args = [
        "patches",
        "extract",
        tomo / "t.mrc",
        "--segmentation",
        tomo / "t_seg.mrc",
        "--out",
        tmp_path / "o",
        "--size",
        12,
        *extra,
    ]
    _one_line_refusal(args, message, [tomo, tmp_path])


def test_extract_refuses_a_segmentation_of_another_tomogram(tomo, tmp_path):
    write_mrc(tomo / "small_seg.mrc", np.zeros((8, 8, 8), np.uint8), voxel_size_ang=10.0)
    args = ["patches", "extract", tomo / "t.mrc", "--segmentation", tomo / "small_seg.mrc", "--strategy", "random",
            "--out", tmp_path / "o"]  # fmt: skip
    _one_line_refusal(args, "has shape (z, y, x) (8, 8, 8)", [tomo, tmp_path])


def test_merge_refuses_bad_labels_and_a_missing_label(tomo, tmp_path):
    out = tmp_path / "patches"
    args = ["patches", "extract", tomo / "t.mrc", "--segmentation", tomo / "t_seg.mrc", "--strategy", "random",
            "--n", 2, "--size", 12, "--out", out]  # fmt: skip
    assert _run(*args).exit_code == 0
    write_mrc(out / "t_patch001_labels.mrc", np.full((12, 12, 12), 3, np.uint8), voxel_size_ang=10.0)
    _one_line_refusal(["patches", "merge", out, "--into", tmp_path / "data"], "t_patch001_labels.mrc holds", [tmp_path])
    (out / "t_patch001_labels.mrc").unlink()
    _one_line_refusal(
        ["patches", "merge", out, "--into", tmp_path / "data"], "has no t_patch001_labels.mrc", [tmp_path]
    )
    _one_line_refusal(["patches", "merge", out, "--into", tmp_path / "data", "--split", "test"], "--split 'test'",
                      [tmp_path])  # fmt: skip
    _one_line_refusal(
        ["patches", "merge", tmp_path / "none", "--into", tmp_path / "data"], "does not exist", [tmp_path]
    )


@pytest.fixture(scope="module")
def start_model(tmp_path_factory):
    """A tiny model trained on one data folder, and a second folder of 'the user's' patches."""
    from cryomem.segment import TrainConfig, train
    from tests.segment.test_train_early_stopping import TINY, _dataset

    root = tmp_path_factory.mktemp("finetune")
    orig, user = _dataset(root / "orig", "orig", 4, 2), _dataset(root / "user", "user", 2, 1)
    model = train(orig, root / "start", TrainConfig.model_validate({**TINY, "epochs": 1}))
    config = root / "tiny.yaml"
    config.write_text("patch_size: 16\niterations_per_epoch: 1\naugment: false\n")
    return model, orig, user, config


def test_finetune_keeps_original_data_and_reports_both_surface_dice(start_model, tmp_path):
    model, orig, user, config = start_model
    out = tmp_path / "tuned"
    result = run_cli(["segment", "finetune", user, "--model", model, "--out", out, "--config", config,
                      "--epochs", 2, "--keep-original", 0.5, "--patience", 5])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "starting model: val_dice" in text and "original_val_surface_dice" in text
    from cryomem.segment import read_model_card

    card = read_model_card(out / "model.pt")
    assert card.training.training_patches == 2 + 2 and card.training.config["early_stopping_patience"] == 5
    assert card.model_dump()["training"]["original_data"]["data_dir"] == str(orig)


def test_finetune_says_in_one_line_when_the_original_data_is_missing(start_model, tmp_path):
    model, orig, user, config = start_model
    args = ["segment", "finetune", user, "--model", model, "--out", tmp_path / "t", "--config", config, "--epochs", 1,
            "--original-data", tmp_path / "gone"]  # fmt: skip
    assert_refuses(args, "--original-data", [user, tmp_path])
    assert_refuses([*args[:-2], "--keep-original", 2], "--keep-original 2.0", [user, tmp_path])
    assert_refuses([*args[:-2], "--patience", 0], "--patience 0", [user, tmp_path])
    shipped = run_cli(
        ["segment", "finetune", user, "--out", tmp_path / "s", "--config", config, "--epochs", 1, "--patience", 1]
    )  # fmt: skip  (the shipped model's data is not on this machine)
    assert shipped.exit_code == 0, shipped.output
    assert "fine-tuning on your data only" in " ".join(shipped.output.split())
