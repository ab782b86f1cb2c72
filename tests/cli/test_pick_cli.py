"""`cryomem pick train|predict|evaluate` on tiny inputs, and their bad-input messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial import Delaunay
from typer.testing import CliRunner

from cryomem.cli._pick import pick_app
from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import (
    MembraneSurface,
    read_membrane_h5,
    read_particles_star,
    write_membrane_h5,
    write_mrc,
    write_particles_star,
)
from cryomem.pick import PickNet, PickTrainConfig, save_pick_model

runner = CliRunner()
OFFSETS_ANG = DEFAULT_FEATURE_OFFSETS_ANG
TINY = {"width": 8, "n_blocks": 1, "mlp_hidden": 8, "k_eig": 16, "patch_vertices": 300, "conv_channels": 4}


def _run(*args):
    return runner.invoke(pick_app, [str(a) for a in args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def _surface(tomogram, membrane_id: int = 1) -> MembraneSurface:
    x, y = np.meshgrid(np.arange(20) * 10.0 + 20.0, np.arange(20) * 10.0 + 20.0)
    vertices = np.column_stack([x.ravel(), y.ravel(), np.full(x.size, 150.0)])
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=Delaunay(vertices[:, :2]).simplices.astype(np.int64),
        normals_xyz=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)),
        membrane_id=membrane_id,
        voxel_size_ang=10.0,
        tomogram_path=str(tomogram),
        features=np.random.default_rng(membrane_id).normal(size=(len(vertices), len(OFFSETS_ANG))).astype(np.float32),
        feature_offsets_ang=OFFSETS_ANG,
    )


def _particles(xyz, name: str = "tomo") -> pd.DataFrame:
    xyz = np.asarray(xyz, dtype=np.float64)
    return pd.DataFrame({"tomo_name": [name] * len(xyz), "x_ang": xyz[:, 0], "y_ang": xyz[:, 1], "z_ang": xyz[:, 2]})


@pytest.fixture()
def project(tmp_path):
    """A tomogram, its membranes folder (one plane) and a STAR of particles on the plane."""
    tomogram = write_mrc(tmp_path / "tomo.mrc", np.zeros((32, 32, 32), np.float32), voxel_size_ang=10.0)
    membranes = tmp_path / "membranes"
    membranes.mkdir()
    write_membrane_h5(membranes / "tomo_mb1.h5", _surface(tomogram))
    star = write_particles_star(
        tmp_path / "gt.star",
        _particles([[60.0, 60.0, 150.0], [160.0, 80.0, 150.0], [100.0, 170.0, 150.0]]),
        voxel_size_ang=10.0,
        shape_zyx=(32, 32, 32),
    )
    config = tmp_path / "tiny.yaml"
    config.write_text("".join(f"{k}: {v}\n" for k, v in TINY.items()))
    return tmp_path, membranes, star, config


def _tiny_model(path, window=None):
    config = PickTrainConfig(**TINY, **({"window_offsets_ang": window} if window else {}))
    torch.manual_seed(0)
    card = {"window_offsets_ang": list(config.window_offsets_ang), "max_distance_ang": 100.0, "k_eig": 16}
    return save_pick_model(path, PickNet(config.architecture()), card)


def test_train_predict_evaluate_on_a_tiny_membrane(project):
    root, membranes, star, config = project
    result = _run(
        "train", "--membranes", membranes, "--particles", star, "--out", root / "run", "--config", config, "--epochs", 1
    )
    assert result.exit_code == 0, result.output
    for name in ("model.pt", "training_log.csv", "learning_curves.png"):
        assert (root / "run" / name).is_file()
    assert "model in" in _flat(result.output)

    inputs = {path: path.read_bytes() for path in membranes.iterdir()}
    result = _run(
        "predict", "--model", root / "run" / "model.pt", "--membranes", membranes, "--no-tta", "--inplane-deg", "5"
    )
    assert result.exit_code == 0, result.output
    star_out = root / "particles" / "tomo_particles.star"  # default: beside the membranes folder
    picked = read_particles_star(star_out)
    assert (picked["tomo_name"] == "tomo").all() and np.allclose(picked["rot_deg"], 5.0)
    assert {path: path.read_bytes() for path in membranes.iterdir()} == inputs  # inputs are never modified
    assert "predicted_distance_ang" in read_membrane_h5(root / "particles" / "tomo_mb1.h5").point_data
    assert "the input files are unchanged" in _flat(result.output)
    assert str(star_out) in _flat(result.output)
    model = root / "run" / "model.pt"  # an ensemble of one model twice picks exactly what the model picks
    result = _run("predict", "--model", model, "--model", model, "--membranes", membranes, "--no-tta",
                  "--inplane-deg", "5", "--out", root / "twice")  # fmt: skip
    assert result.exit_code == 0, result.output
    twice = read_particles_star(root / "twice" / "tomo_particles.star")
    pd.testing.assert_frame_equal(twice, picked)

    result = _run("evaluate", star, star, "--radius-nm", "6.3", "--csv", root / "scores.csv", "--per-membrane")
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(root / "scores.csv")
    assert scores.loc[scores["level"] == "pooled", "f1"].item() == pytest.approx(1.0)
    assert "pooled" in result.output


def test_train_with_an_empty_membranes_folder(project):
    root, _, star, config = project
    (root / "empty").mkdir()
    result = _run(
        "train", "--membranes", root / "empty", "--particles", star, "--out", root / "run", "--config", config
    )
    assert result.exit_code == 2
    assert "holds no membrane .h5 files" in _flat(result.output) and "Traceback" not in result.output
    assert not (root / "run").exists()


def test_train_with_particles_far_from_every_membrane(project):
    root, membranes, _, config = project
    far = write_particles_star(
        root / "far.star", _particles([[60.0, 60.0, 900.0]]), voxel_size_ang=10.0, shape_zyx=(100, 32, 32)
    )
    result = _run("train", "--membranes", membranes, "--particles", far, "--out", root / "run", "--config", config)
    assert result.exit_code == 2
    assert "none of the 1 particles lies within" in _flat(result.output)
    assert not (root / "run").exists()


@pytest.mark.parametrize(
    "make_model, message",
    [
        (lambda p: p.write_text("not a model") and p, "is not a cryomem picking model"),
        (lambda p: _tiny_model(p, window=tuple(np.arange(-20.0, 20.1, 4.0))), "the model needs"),
        (lambda p: p.with_name("missing.pt"), "does not exist"),
    ],
)
def test_predict_with_a_bad_model_leaves_nothing(project, make_model, message):
    root, membranes, _, _ = project
    model = make_model(root / "model.pt")
    before = (membranes / "tomo_mb1.h5").read_bytes()
    result = _run("predict", "--model", model, "--membranes", membranes, "--out", root / "out")
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output) and "Traceback" not in result.output
    assert not (root / "out").exists()
    assert (membranes / "tomo_mb1.h5").read_bytes() == before


def test_predict_with_no_membranes(project):
    root, _, _, _ = project
    model = _tiny_model(root / "model.pt")
    (root / "empty").mkdir()
    result = _run("predict", "--model", model, "--membranes", root / "empty", "--out", root / "out")
    assert result.exit_code == 2 and "holds no membrane .h5 files" in _flat(result.output)
    assert not (root / "out").exists()


def test_evaluate_bad_inputs(project):
    root, _, star, _ = project
    other = write_particles_star(
        root / "other.star", _particles([[0.0, 0.0, 0.0]], name="elsewhere"), voxel_size_ang=10.0, shape_zyx=(8, 8, 8)
    )
    result = _run("evaluate", star, other, "--csv", root / "scores.csv")
    assert result.exit_code == 2 and "share no tomogram" in _flat(result.output)
    assert not (root / "scores.csv").exists()
    result = _run("evaluate", star, root / "missing.star")
    assert result.exit_code == 2 and "not found" in _flat(result.output)
    result = _run("evaluate", star, star, "--radius-nm", "-1")
    assert result.exit_code == 2 and "radius_nm" in _flat(result.output)
