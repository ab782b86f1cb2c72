"""Bad inputs and faults for `cryomem pick predict` and `cryomem pick evaluate` (issue 17).

Every case ends in a correct result or in one line (exit 2) naming the problem, with nothing written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import starfile
import torch
from bad_input import assert_leaves_nothing, assert_refuses, disk_full, interrupted, run_cli, snapshot
from scipy.spatial import Delaunay

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import MembraneSurface, read_particles_star, write_membrane_h5, write_mrc, write_particles_star
from cryomem.pick import PickNet, PickTrainConfig, save_pick_model

TINY = {"width": 8, "n_blocks": 1, "mlp_hidden": 8, "k_eig": 16, "patch_vertices": 300, "conv_channels": 4}


def _surface(tomogram) -> MembraneSurface:
    x, y = np.meshgrid(np.arange(20) * 10.0 + 20.0, np.arange(20) * 10.0 + 20.0)
    vertices = np.column_stack([x.ravel(), y.ravel(), np.full(x.size, 150.0)])
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=Delaunay(vertices[:, :2]).simplices.astype(np.int64),
        normals_xyz=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)),
        membrane_id=1,
        voxel_size_ang=10.0,
        tomogram_path=str(tomogram),
        features=np.random.default_rng(1)
        .normal(size=(len(vertices), len(DEFAULT_FEATURE_OFFSETS_ANG)))
        .astype(np.float32),
        feature_offsets_ang=DEFAULT_FEATURE_OFFSETS_ANG,
    )


def _particles(xyz, name="tomo") -> pd.DataFrame:
    xyz = np.asarray(xyz, dtype=np.float64)
    return pd.DataFrame({"tomo_name": [name] * len(xyz), "x_ang": xyz[:, 0], "y_ang": xyz[:, 1], "z_ang": xyz[:, 2]})


def _project(root, name="tomo"):
    """A 32³ tomogram, its membranes folder (one plane), a tiny model and a STAR of 3 particles."""
    root.mkdir(parents=True, exist_ok=True)
    tomogram = write_mrc(root / f"{name}.mrc", np.zeros((32, 32, 32), np.float32), voxel_size_ang=10.0)
    membranes = root / "membranes"
    membranes.mkdir()
    write_membrane_h5(membranes / f"{name}_mb1.h5", _surface(tomogram))
    star = write_particles_star(
        root / "gt.star",
        _particles([[60.0, 60.0, 150.0], [160.0, 80.0, 150.0], [100.0, 170.0, 150.0]], name),
        voxel_size_ang=10.0,
        shape_zyx=(32, 32, 32),
    )
    config = PickTrainConfig(**TINY)
    torch.manual_seed(0)
    card = {"window_offsets_ang": list(config.window_offsets_ang), "max_distance_ang": 100.0, "k_eig": 16}
    model = save_pick_model(root / "model.pt", PickNet(config.architecture()), card)
    return membranes, star, model


@pytest.fixture()
def project(tmp_path):
    return _project(tmp_path / "p")


def _predict(membranes, model, out, *extra):
    return ["pick", "predict", "--model", model, "--membranes", membranes, "--out", out, "--no-tta",
            "--inplane-deg", "0", *extra]  # fmt: skip


FAULTS = [
    (disk_full, "cryomem.pick._predict.write_membrane_h5"),
    (disk_full, "cryomem.pick._predict.write_particles_star"),
    (interrupted, "cryomem.pick._predict.write_membrane_h5"),
    (interrupted, "cryomem.pick._picker.predict_distances_ang"),
]


@pytest.mark.parametrize("fault, target", FAULTS)
def test_predict_fault_leaves_nothing_and_a_rerun_works(project, monkeypatch, fault, target):
    """Cases 4 and 9: a full disk or Ctrl-C leaves no STAR and the membrane files as they were."""
    membranes, _, model = project
    out = membranes.parent / "particles"
    args = _predict(membranes, model, out)
    with monkeypatch.context() as patch:
        patch.setattr(target, fault)
        text = assert_leaves_nothing(args, [membranes.parent])
    if fault is disk_full:
        assert "No space left on device" in text and len(text.split("error:")) == 2
    assert not out.exists()
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    assert (out / "tomo_particles.star").is_file()


def test_predict_refuses_a_membrane_folder_left_by_an_interrupted_surface(project):
    """Case 5: a leftover temporary file means the set of membranes may be partial."""
    membranes, _, model = project
    (membranes / ".tomo_mb2.h5.tmp-0123456789ab.h5").write_bytes(b"half")
    assert_refuses(
        _predict(membranes, model, membranes.parent / "particles"),
        "holds temporary files of an interrupted run (.tomo_mb2.h5.tmp-0123456789ab.h5)",
        [membranes.parent],
    )
    text = " ".join(run_cli(_predict(membranes, model, membranes.parent / "x")).output.split())
    assert "re-run `cryomem surface`" in text


def test_a_tomogram_named_nan_is_predicted_and_evaluated(tmp_path):
    """Case 7: the STAR names the tomogram 'nan' and evaluation matches it."""
    membranes, star, model = _project(tmp_path / "n", name="nan")
    result = run_cli(_predict(membranes, model, tmp_path / "out"))
    assert result.exit_code == 0, result.output
    picked = read_particles_star(tmp_path / "out" / "nan_particles.star")
    assert (picked["tomo_name"] == "nan").all()
    result = run_cli(["pick", "evaluate", star, star, "--csv", tmp_path / "scores.csv"])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False)
    assert scores.loc[scores["level"] == "tomogram", "tomo_name"].tolist() == ["nan"]
    assert float(scores.loc[scores["level"] == "pooled", "f1"].item()) == 1.0


PREDICT_CASES = {
    "missing model": (lambda m, s, md, r: [r / "none.pt"], "does not exist"),
    "model is text": (
        lambda m, s, md, r: [(r / "bad.pt").write_text("x") and r / "bad.pt"],
        "is not a cryomem picking model",
    ),
    "missing membranes": (lambda m, s, md, r: ["--membranes", r / "nowhere"], "does not exist"),
    "empty membranes": (
        lambda m, s, md, r: ["--membranes", (r / "e").mkdir() or r / "e"],
        "holds no membrane .h5 files",
    ),
    "membrane not h5": (lambda m, s, md, r: ["--membranes", s], "is not a readable HDF5 file"),
    "bandwidth -1": (
        lambda m, s, md, r: ["--bandwidth-ang", "-1"],
        "bandwidth_ang must be a positive distance in Å, got -1",
    ),
    "threshold 0": (lambda m, s, md, r: ["--threshold-ang", "0"], "seed_threshold_ang must be a positive distance"),
    "in-plane nan": (lambda m, s, md, r: ["--inplane-deg", "nan"], "fixed_inplane_deg must be a finite angle"),
    "out is a file": (lambda m, s, md, r: ["--out", s], "is a file"),
    "out is the membranes": (lambda m, s, md, r: ["--out", m], "never into them: pass another output folder"),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_bad_input_is_refused(project, case):
    membranes, star, model = project
    root = membranes.parent
    make, message = PREDICT_CASES[case]
    extra = make(membranes, star, model, root)
    args = _predict(membranes, model, root / "particles")
    if case.endswith("model") or case == "model is text":
        args[3] = extra[0]
    else:
        args += extra
    assert_refuses(args, message, [root])


def test_predict_refuses_to_replace_a_star_without_overwrite(project):
    membranes, _, model = project
    out = membranes.parent / "particles"
    assert run_cli(_predict(membranes, model, out)).exit_code == 0
    assert_refuses(_predict(membranes, model, out), "already exists; pass --overwrite", [membranes.parent])


def _edited(star, path, edit):
    table = starfile.read(star)
    starfile.write({"particles": edit(table)}, path)
    return path


def _shift(table):
    table.loc[1, "rlnCenteredCoordinateXAngst"] += 300.0
    return table


def _nan(table):
    table.loc[0, "rlnCoordinateZ"] = np.nan
    return table


EVALUATE_CASES = {
    "Å and pixel columns disagree by 300 Å": (
        lambda s, r: [s, _edited(s, r / "shift.star", _shift)],
        "pixel and Å coordinates disagree by 300 Å (row 2: rlnCoordinateX 16 px x 10 Å is 0 Å from the centre, "
        "rlnCenteredCoordinateXAngst says 300 Å); delete the stale set",
    ),
    "NaN coordinate": (lambda s, r: [_edited(s, r / "nan.star", _nan), s], "1 of 3 particles have NaN"),
    "voxel size unlike both files": (lambda s, r: [s, s, "--voxel-size", "14"], "--voxel-size 14 Å disagrees with"),
    "missing file": (lambda s, r: [s, r / "none.star"], "STAR file not found"),
    "no coordinates": (
        lambda s, r: [s, _edited(s, r / "nc.star", lambda t: t.drop(columns=[c for c in t if "Coordinate" in c]))],
        "has no particle coordinates",
    ),
    "radius 0": (lambda s, r: [s, s, "--radius-nm", "0"], "radius_nm must be a positive distance in nm, got 0"),
    "radius nan": (lambda s, r: [s, s, "--radius-nm", "nan"], "radius_nm must be a positive distance in nm, got nan"),
    "csv in a missing folder": (lambda s, r: [s, s, "--csv", r / "no" / "x.csv"], "is in a folder that does not exist"),
    "csv is a folder": (lambda s, r: [s, s, "--csv", r], "is a folder"),
    "no shared tomogram": (
        lambda s, r: [s, _edited(s, r / "o.star", lambda t: t.assign(rlnTomoName="other"))],
        "share no tomogram",
    ),
}


@pytest.mark.parametrize("case", list(EVALUATE_CASES))
def test_evaluate_bad_input_is_refused(project, case):
    _, star, _ = project
    root = star.parent
    make, message = EVALUATE_CASES[case]
    args = make(star, root)
    assert_refuses(["pick", "evaluate", *args], message, [root])


def test_evaluate_an_empty_star_scores_zero(project):
    _, star, _ = project
    empty = _edited(star, star.parent / "empty.star", lambda t: t.iloc[:0])
    result = run_cli(["pick", "evaluate", empty, star, "--csv", star.parent / "s.csv"])
    assert result.exit_code == 0, result.output
    pooled = pd.read_csv(star.parent / "s.csv").query("level == 'pooled'").iloc[0]
    assert (pooled["n_predicted"], pooled["n_ground_truth"], pooled["recall"]) == (0, 3, 0.0)


def test_evaluate_voxel_size_is_used_for_a_file_without_one(project):
    _, star, _ = project
    stated = ["rlnTomoTiltSeriesPixelSize", *(f"rlnCenteredCoordinate{a}Angst" for a in "XYZ")]
    bare = _edited(star, star.parent / "bare.star", lambda t: t.drop(columns=stated))
    before = snapshot([star.parent])
    result = run_cli(["pick", "evaluate", bare, star, "--voxel-size", "10"])
    assert result.exit_code == 0 and "1.0000" in result.output, result.output
    assert snapshot([star.parent]) == before
