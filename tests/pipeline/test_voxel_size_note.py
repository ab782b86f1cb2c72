"""A tomogram outside the segmentation model's training voxel sizes: the segment stage says so, the report shows it."""

from __future__ import annotations

import pytest
from pipeline_helpers import FakeStage, fake_functions, fake_tomograms

from cryomem.pipeline import (
    PickSettings,
    RunConfig,
    SegmentSettings,
    TomogramFolders,
    resolve_tomogram,
    run_pipeline,
    segment_stage,
)


@pytest.mark.parametrize("voxel_size_ang, noted", [(10.0, False), (25.0, True)])
def test_segment_stage_notes_a_voxel_size_the_shipped_model_never_saw(tmp_path, voxel_size_ang, noted):
    (path,) = fake_tomograms(tmp_path / "in", names=("a",), voxel_size_ang=voxel_size_ang)
    config = RunConfig(segment=SegmentSettings(tta=False), device="cpu")
    result = segment_stage(resolve_tomogram(path), TomogramFolders(tmp_path / "run" / "a", "a"), config)
    assert result["voxel_size_ang"] == pytest.approx(voxel_size_ang)
    if noted:  # the shipped model was trained on 7.0-21.9 Å
        assert "a.mrc has voxels of 25.0 Å, outside the 7.0-21.9 Å" in result["note"]
    else:
        assert "note" not in result


class _NotingStage(FakeStage):
    def __call__(self, tomogram, folders, config) -> dict:
        return {**super().__call__(tomogram, folders, config), "note": "note: voxels <too> large"}


def test_report_shows_the_segment_stage_note(tmp_path, tiny_pick_model, inproc_client):
    from cryomem.pipeline import write_report

    fake_tomograms(tmp_path / "in", names=("a",))
    functions = fake_functions(tmp_path / "calls.txt")
    functions["segment"] = _NotingStage("segment", tmp_path / "calls.txt")
    config = RunConfig(pick=PickSettings(model=tiny_pick_model))
    run_pipeline([tmp_path / "in"], tmp_path / "run", config, client=inproc_client, stage_functions=functions,
                 write_report=False)  # fmt: skip
    assert "note: voxels &lt;too&gt; large" in write_report(tmp_path / "run").read_text()
