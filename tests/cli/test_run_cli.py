"""`cryomem run` and `cryomem report` on a tiny simulated tomogram, and their bad-input messages."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from cryomem.cli import _app
from cryomem.cli._run import report, run
from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import read_membrane_h5, read_mrc, write_mrc

runner = CliRunner()
app = _app.app
if "run" not in {c.name for c in app.registered_commands}:  # until cli/_app.py registers them
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("run")(run)
    app.command("report")(report)


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text):
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tomogram_folder(tmp_path_factory):
    from cryomem.pipeline import demo_simulation_config
    from cryomem.simulate import simulate_to_folder

    root = tmp_path_factory.mktemp("cli_run")
    folder, _, _ = simulate_to_folder(demo_simulation_config(21, (48, 96, 96)), root / "sim", name="t1")
    inputs = root / "in"
    inputs.mkdir()
    (inputs / "t1.mrc").write_bytes((folder / "t1.mrc").read_bytes())
    (inputs / "t1_notes.txt").write_text("not a tomogram")
    config = root / "run.yaml"
    config.write_text("cluster:\n  workers: 1\n  processes: false\n")
    return inputs, config


@pytest.fixture(scope="module")
def cli_run(tomogram_folder, tmp_path_factory):
    inputs, config = tomogram_folder
    out = tmp_path_factory.mktemp("cli_out") / "run"
    result = _run("run", inputs, "--out", out, "--config", config, "--no-tta")
    return out, result


def test_run_writes_every_stage_and_the_report(cli_run):
    out, result = cli_run
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "dask: 1 workers" in text and "dashboard:" in text
    assert "ignored 1 non-MRC files: t1_notes.txt" in text
    assert f"report: {out / 'report.html'}" in text
    root = out / "tomograms" / "t1"
    assert read_mrc(root / "segment" / "t1_seg.mrc").data_zyx.shape == (48, 96, 96)
    assert read_mrc(root / "instances" / "t1_instances.mrc").data_zyx.max() >= 1
    surfaces = sorted((root / "membranes").glob("t1_mb*.h5"))
    assert surfaces and read_membrane_h5(surfaces[0]).features.shape[1] == len(DEFAULT_FEATURE_OFFSETS_ANG)
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s: r["status"] for s, r in manifest["tomograms"]["t1"]["stages"].items()} == {
        "segment": "done", "instances": "done", "surfaces": "done", "morph": "done"
    }  # fmt: skip
    assert manifest["config"]["segment"]["tta"] is False
    assert (out / "report.html").stat().st_size > 5000 and not (out / ".lock").exists()


def test_run_again_resumes_without_work(cli_run, tomogram_folder):
    out, _ = cli_run
    inputs, config = tomogram_folder
    result = _run("run", inputs, "--out", out, "--config", config, "--no-tta", "--no-report")
    assert result.exit_code == 0, result.output
    for stage in ("segment", "instances", "surfaces"):  # ran 0, up to date 1, failed 0, skipped 0
        assert re.search(stage + r"\W+0\W+1\W+0\W+0\W", result.output), result.output


def test_report_command(cli_run, tmp_path):
    out, _ = cli_run
    result = _run("report", out, "--out", tmp_path / "page.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "page.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page and "t1" in page


def test_report_of_a_folder_that_is_no_run(tmp_path):
    result = _run("report", tmp_path)
    assert result.exit_code == 2 and "holds no manifest.json" in _flat(result.output)
    assert not (tmp_path / "report.html").exists()


def test_missing_pick_model_is_one_line_and_leaves_nothing(tomogram_folder, tmp_path):
    inputs, config = tomogram_folder
    result = _run("run", inputs, "--out", tmp_path / "run", "--config", config, "--pick-model", tmp_path / "no.pt")
    assert result.exit_code == 2
    assert "error: pick model" in _flat(result.output) and "does not exist" in _flat(result.output)
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_two_pick_models_pick_with_their_ensemble(cli_run, tomogram_folder, tmp_path):
    import shutil

    from cryomem.pipeline import DEMO_PICK_MODEL_PATH

    inputs, _ = tomogram_folder
    out = tmp_path / "run"
    shutil.copytree(cli_run[0], out)  # segmentation and surfaces are done: only picking and statistics run
    copy = shutil.copy2(DEMO_PICK_MODEL_PATH, tmp_path / "copy.pt")
    config = tmp_path / "run.yaml"
    config.write_text(
        "cluster:\n  workers: 1\n  processes: false\npick:\n  tta: false\n"
        "stats:\n  analyses: [concentration]\n  pooled_analyses: [concentration]\n"
    )
    result = _run("run", inputs, "--out", out, "--config", config, "--no-tta", "--no-report",
                  "--pick-model", DEMO_PICK_MODEL_PATH, "--pick-model", copy)  # fmt: skip
    assert result.exit_code == 0, result.output
    for stage, counts in (("segment", r"0\W+1"), ("pick", r"1\W+0")):  # ran, up to date (then failed, skipped)
        assert re.search(stage + r"\W+" + counts + r"\W+0\W+0\W", result.output), result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["pick"]["model"] == [str(DEMO_PICK_MODEL_PATH), str(copy)]
    record = manifest["tomograms"]["t1"]["stages"]["pick"]
    assert record["status"] == "done" and len(record["inputs"]["model"]) == 2
    membranes = sorted((out / "tomograms" / "t1" / "picks").glob("t1_mb*.h5"))
    assert membranes and read_membrane_h5(membranes[0]).attrs["pick_model"].count(";") == 1


def test_pick_models_that_disagree_are_one_line_and_leave_nothing(tomogram_folder, tmp_path):
    from cryomem.pick import load_pick_model, save_pick_model
    from cryomem.pipeline import DEMO_PICK_MODEL_PATH

    inputs, config = tomogram_folder
    network, card = load_pick_model(DEMO_PICK_MODEL_PATH)
    far = save_pick_model(
        tmp_path / "far.pt", network, {**card.to_dict(), "max_distance_ang": 2 * card.max_distance_ang}
    )
    result = _run("run", inputs, "--out", tmp_path / "run", "--config", config,
                  "--pick-model", DEMO_PICK_MODEL_PATH, "--pick-model", far)  # fmt: skip
    assert result.exit_code == 2, result.output
    text = _flat(result.output)
    assert "error: the picking models differ in max_distance_ang" in text
    assert "(demo_pick.pt: 100 Å, far.pt: 200 Å)" in text and "retrain them alike" in text
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_folder_without_tomograms(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x")
    result = _run("run", tmp_path / "in", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "no .mrc/.rec/.map/.zarr tomograms" in _flat(result.output)
    assert not (tmp_path / "run").exists()


def test_mixed_voxel_sizes_are_named(tmp_path):
    (tmp_path / "in").mkdir()
    for name, size in (("a", 10.0), ("b", 14.08)):
        write_mrc(tmp_path / "in" / f"{name}.mrc", np.zeros((8, 8, 8), np.float32), voxel_size_ang=size)
    result = _run("run", tmp_path / "in", "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "different voxel sizes: 1 at 10 Å (a.mrc); 1 at 14.08 Å (b.mrc)" in _flat(result.output)
    assert "--allow-mixed-voxel-sizes" in _flat(result.output) and not (tmp_path / "run").exists()


def test_slurm_without_dask_jobqueue(tomogram_folder, tmp_path):
    import importlib.util

    if importlib.util.find_spec("dask_jobqueue") is not None:
        pytest.skip("dask-jobqueue is installed: this test checks the message shown without it")
    inputs, _ = tomogram_folder
    result = _run("run", inputs, "--out", tmp_path / "run", "--slurm")
    assert result.exit_code == 2 and "--slurm needs dask-jobqueue: install it with" in _flat(result.output)
    assert not (tmp_path / "run").exists()


def test_bad_config_setting(tomogram_folder, tmp_path):
    inputs, _ = tomogram_folder
    bad = tmp_path / "bad.yaml"
    bad.write_text("segment:\n  threshold: 3\n")
    result = _run("run", inputs, "--out", tmp_path / "run", "--config", bad)
    assert result.exit_code == 2 and "invalid setting segment.threshold" in _flat(result.output)


def test_run_takes_an_ome_zarr_tomogram_like_its_mrc(tomogram_folder, cli_run, tmp_path):
    """An OME-Zarr image in the inputs runs through every stage at level 0, named after its stem, and
    gives the segmentation and membranes the MRC gave."""
    from cryomem.io import write_ome_zarr

    inputs, config = tomogram_folder
    zarr_inputs = tmp_path / "zarr_in"
    zarr_inputs.mkdir()
    write_ome_zarr(zarr_inputs / "t1.ome.zarr", read_mrc(inputs / "t1.mrc"), levels=2)
    out = tmp_path / "run"
    result = _run("run", zarr_inputs, "--out", out, "--config", config, "--no-tta")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s: r["status"] for s, r in manifest["tomograms"]["t1"]["stages"].items()} == {
        "segment": "done", "instances": "done", "surfaces": "done", "morph": "done"
    }  # fmt: skip
    mrc_run, _ = cli_run
    ours = read_mrc(out / "tomograms" / "t1" / "segment" / "t1_seg.mrc")
    theirs = read_mrc(mrc_run / "tomograms" / "t1" / "segment" / "t1_seg.mrc")
    np.testing.assert_array_equal(ours.data_zyx, theirs.data_zyx)
    assert ours.voxel_size_ang == theirs.voxel_size_ang and ours.origin_xyz_ang == theirs.origin_xyz_ang
    assert len(list((out / "tomograms" / "t1" / "membranes").glob("t1_mb*.h5"))) == len(
        list((mrc_run / "tomograms" / "t1" / "membranes").glob("t1_mb*.h5"))
    )
    assert (out / "tomograms" / "t1" / "morph" / "t1_membranes.csv").is_file()
