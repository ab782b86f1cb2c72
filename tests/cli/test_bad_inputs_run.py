"""Bad inputs for `cryomem run`, `cryomem report` and `cryomem demo` (issue 17).

Every case ends in a correct result or in one line (exit 2) naming the problem, with nothing written.
The cases are all refused before any dask cluster or model starts, so they are fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from bad_input import assert_refuses, run_cli

from cryomem.io import write_mrc
from cryomem.pipeline._manifest import Manifest


@pytest.fixture()
def inputs(tmp_path):
    """A folder with one tiny tomogram, and a few files a user might pass by mistake."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_mrc(folder / "a.mrc", np.zeros((8, 8, 8), np.float32), voxel_size_ang=10.0)
    (tmp_path / "notes.txt").write_text("not a tomogram")
    (tmp_path / "fake.mrc").write_text("not an MRC file")
    (tmp_path / "bad.yaml").write_text("segment: [1, 2\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    (tmp_path / "unknown.yaml").write_text("nonsense: 3\n")
    (tmp_path / "threshold.yaml").write_text("segment:\n  threshold: 3\n")
    return tmp_path


RUN_CASES = {
    "missing tomogram": (["{root}/missing.mrc"], "tomogram {root}/missing.mrc does not exist"),
    "no tomograms in folder": (["{root}/notes.txt"], "no .mrc/.rec/.map/.zarr tomograms"),
    "unreadable tomogram": (["{root}/fake.mrc"], "no tomogram can be used: {root}/fake.mrc is not a readable MRC"),
    "voxel size 0": (["{root}/in", "--voxel-size", "0"], "--voxel-size 0.0: input should be greater than 0"),
    "voxel size -3": (["{root}/in", "--voxel-size", "-3"], "--voxel-size -3.0: input should be greater than 0"),
    "unknown device": (
        ["{root}/in", "--device", "gpu"],
        "--device 'gpu': input should be 'auto', 'cpu', 'cuda' or 'mps'",
    ),
    "missing config": (["{root}/in", "--config", "{root}/nope.yaml"], "does not exist; pass an existing YAML file"),
    "config not YAML": (["{root}/in", "--config", "{root}/bad.yaml"], "is not valid YAML"),
    "config a list": (["{root}/in", "--config", "{root}/list.yaml"], "must hold a mapping of settings, got list"),
    "unknown setting": (["{root}/in", "--config", "{root}/unknown.yaml"], "invalid setting nonsense in"),
    "setting out of range": (["{root}/in", "--config", "{root}/threshold.yaml"], "invalid setting segment.threshold"),
    "missing pick model": (["{root}/in", "--pick-model", "{root}/none.pt"], "does not exist"),
    "pick model is text": (["{root}/in", "--pick-model", "{root}/notes.txt"], "is not a cryomem picking model"),
    "segmentation model is text": (
        ["{root}/in", "--segmentation-model", "{root}/notes.txt"],
        "is not a cryomem segmentation model",
    ),
    "out is a file": (["{root}/in", "--out", "{root}/notes.txt"], "is a file; pass a folder with --out"),
}


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_run_bad_input_is_refused(inputs, case):
    args, message = RUN_CASES[case]
    args = [a.format(root=inputs) for a in args]
    if "--out" not in args:
        args += ["--out", str(inputs / "run")]
    assert_refuses(["run", *args], message.format(root=inputs), [inputs])
    assert not (inputs / "run").exists()


def _finished_run(root):
    """A run folder whose manifest records one tomogram's segmentation as done, with its output."""
    run = root / "run"
    output = run / "tomograms" / "t1" / "segment" / "t1_seg.mrc"
    output.parent.mkdir(parents=True)
    write_mrc(output, np.zeros((8, 8, 8), np.int8), voxel_size_ang=10.0)
    manifest = Manifest(run / "manifest.json")
    manifest.set_record("t1", "segment", {"status": "done", "outputs": ["segment/t1_seg.mrc"]})
    manifest.save()
    return run


def test_report_of_a_run_whose_outputs_were_deleted_is_refused(tmp_path):
    """Case 6: the report must not call a stage finished when its outputs are gone."""
    import shutil

    run = _finished_run(tmp_path)
    result = run_cli(["report", run, "--out", tmp_path / "ok.html"])
    assert result.exit_code == 0, result.output
    assert "1 with every stage finished" in (tmp_path / "ok.html").read_text()
    shutil.rmtree(run / "tomograms")
    text = assert_refuses(["report", run], "1 outputs that", [tmp_path])
    assert "tomograms/t1/segment/t1_seg.mrc" in text and "re-run `cryomem run`" in text
    assert not (run / "report.html").exists()


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("no run folder", ["{root}"], "holds no manifest.json"),
        ("missing folder", ["{root}/nowhere"], "holds no manifest.json"),
        ("out is a folder", ["{root}/run", "--out", "{root}"], "is a folder; pass an .html file path (--out)"),
    ],
)
def test_report_bad_input_is_refused(tmp_path, case, args, message):
    if case == "out is a folder":
        _finished_run(tmp_path)
    args = [a.format(root=tmp_path) for a in args]
    assert_refuses(["report", *args], message, [tmp_path])


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("negative seed", ["--seed", "-1"], "the demo's seed (--seed) must be a whole number >= 0, got -1"),
        ("out is a file", [], "is a file; give a folder for the demo output"),
        ("foreign folder", [], "is not empty and holds no earlier demo"),
    ],
)
def test_demo_bad_input_is_refused(tmp_path, case, args, message):
    out = tmp_path / "demo"
    if case == "out is a file":
        out.write_text("mine")
    elif case == "foreign folder":
        out.mkdir()
        (out / "thesis.txt").write_text("keep me")
    assert_refuses(["demo", out, "--fast", *args], message, [tmp_path])
    assert case != "negative seed" or not out.exists()
