"""`cryomem demo` in its fast test mode, and its bad-input messages."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cryomem.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text):
    return " ".join(text.split())


def test_fast_demo_runs_the_whole_pipeline_and_compares_with_ground_truth(tmp_path):
    out = tmp_path / "demo"
    result = _run("demo", out, "--fast")
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for words in ("segmentation Dice", "segmentation Surface-Dice", "picking F1 at 6.3 nm", "concentration error"):
        assert words in text
    assert f"open {out / 'run' / 'report.html'} in a browser" in text
    comparison = json.loads((out / "run" / "ground_truth_comparison.json").read_text())
    assert 0.0 < comparison["segmentation"]["dice"] <= 1.0
    assert 0.0 <= comparison["picking"]["f1"] <= 1.0 and comparison["picking"]["radius_nm"] == 6.3
    assert comparison["concentration"]["true_per_um2"] > 0
    assert (out / "data" / "demo.mrc").is_file() and (out / "data" / "demo_preview.png").is_file()
    assert (out / "run" / "tomograms" / "demo" / "picks" / "demo_particles.star").is_file()
    assert "Comparison with the simulator" in (out / "run" / "report.html").read_text()


def test_demo_refuses_a_file_and_a_foreign_folder(tmp_path):
    target = tmp_path / "afile"
    target.write_text("not a folder")
    result = _run("demo", target)
    assert result.exit_code == 2 and "is a file" in result.output
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("keep me")
    result = _run("demo", foreign)
    assert result.exit_code == 2 and "not empty" in _flat(result.output)
    assert (foreign / "thesis.txt").read_text() == "keep me"
