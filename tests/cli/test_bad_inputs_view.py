"""`cryomem view`: a bad path or tomogram name is one line before any window opens."""

from __future__ import annotations

import json

import pytest
from bad_input import assert_refuses


def _run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    manifest = {"format": "cryomem-run-manifest", "format_version": 1, "tomograms": {"a": {"path": "/gone/a.mrc"}}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


CASES = {
    "missing path": (lambda tmp: [tmp / "nothing"], "does not exist; give a tomogram, a run folder or a demo folder"),
    "folder of nothing readable": (
        lambda tmp: [(tmp / "notes").mkdir() or tmp / "notes"],
        "holds no file cryomem reads",
    ),
    "unknown tomogram of a run": (
        lambda tmp: [_run_folder(tmp), "--tomogram", "b"],
        "has no tomogram 'b'; choose one of a",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_view_refuses(case, tmp_path):
    make_args, message = CASES[case]
    assert_refuses(["view", *make_args(tmp_path)], message, [tmp_path])
