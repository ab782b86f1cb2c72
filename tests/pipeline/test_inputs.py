"""Run settings, manifest, input discovery and bad input: clear messages before any work."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from pipeline_helpers import fake_functions, fake_tomograms

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG
from cryomem.io import write_mrc
from cryomem.pipeline import (
    Manifest,
    PickSettings,
    RunConfig,
    SurfaceSettings,
    file_fingerprint,
    find_tomograms,
    load_run_config,
    read_tomograms,
    run_pipeline,
)


def test_run_config_from_yaml_with_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("segment:\n  tta: false\nstats:\n  analyses: [concentration]\ncluster:\n  workers: 3\n")
    config = load_run_config(path, **{"pick.model": "m.pt", "segment.threshold": 0.4, "device": None})
    assert config.segment.tta is False and config.segment.threshold == 0.4
    assert config.stats.analyses == ("concentration",) and config.cluster.workers == 3
    assert str(config.pick.model) == "m.pt" and config.device == "auto"
    with pytest.raises(ValueError, match="stats.analyses"):
        load_run_config(None, **{"stats.analyses": ["ripleyy"]})
    with pytest.raises(ValueError, match="segment.colour"):
        load_run_config(None, **{"segment.colour": 1})
    with pytest.raises(FileNotFoundError, match="run config .* does not exist"):
        load_run_config(tmp_path / "missing.yaml")
    path.write_text("- a list\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_run_config(path)


def test_settings_hash_changes_only_for_the_stage_concerned():
    base = RunConfig()
    picked = RunConfig(pick=PickSettings(seed=5))
    assert base.settings_hash("pick") != picked.settings_hash("pick")
    for stage in ("segment", "instances", "surfaces", "stats"):
        assert base.settings_hash(stage) == picked.settings_hash(stage)
    moved = RunConfig(pick=PickSettings(model="elsewhere/model.pt"))  # models are inputs, tracked by content
    assert moved.settings_hash("pick") == base.settings_hash("pick")
    assert RunConfig(cluster={"workers": 7}).settings_hash("segment") == base.settings_hash("segment")


def test_the_surfaces_hash_follows_the_codes_feature_sampling(monkeypatch):
    """Surfaces built with another sampling along the normal (an older release) are rebuilt."""
    import cryomem.pipeline._settings as settings_module

    before = RunConfig().settings_hash("surfaces")
    assert RunConfig().stage_settings("surfaces")["feature_offsets_ang"][-1] == DEFAULT_FEATURE_OFFSETS_ANG[-1]
    monkeypatch.setattr(settings_module, "DEFAULT_FEATURE_OFFSETS_ANG", DEFAULT_FEATURE_OFFSETS_ANG[5:-5])
    assert RunConfig().settings_hash("surfaces") != before


def test_fingerprints_follow_content_for_small_files_and_mtime_for_tomograms(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"weights")
    shutil.copy(a, b)
    assert file_fingerprint(a) == file_fingerprint(b) and "sha256" in file_fingerprint(a)
    quick = file_fingerprint(a, content=False)
    assert set(quick) == {"size", "mtime_ns"}


def test_manifest_refuses_foreign_files(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"something": "else"}))
    with pytest.raises(ValueError, match="not a cryomem run manifest"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{ broken")
    with pytest.raises(ValueError, match="not a readable run manifest"):
        Manifest.load(tmp_path)
    assert Manifest.load(tmp_path / "new").tomograms == {}


def test_find_tomograms_skips_other_files_and_refuses_clashing_names(tmp_path):
    fake_tomograms(tmp_path / "one", names=("a", "b"))
    (tmp_path / "one" / "notes.txt").write_text("x")
    (tmp_path / "one" / "table.star").write_text("x")
    found, ignored = find_tomograms([tmp_path / "one"])
    assert [p.name for p in found] == ["a.mrc", "b.mrc"] and sorted(p.name for p in ignored) == [
        "notes.txt",
        "table.star",
    ]
    fake_tomograms(tmp_path / "two", names=("a",))
    with pytest.raises(ValueError, match="two tomograms are named 'a'"):
        find_tomograms([tmp_path / "one", tmp_path / "two"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_tomograms([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(ValueError, match="no .mrc/.rec/.map/.zarr tomograms"):
        find_tomograms([tmp_path / "empty"])


def test_mixed_voxel_sizes_are_refused_unless_allowed(tmp_path):
    paths = fake_tomograms(tmp_path, names=("a", "b")) + fake_tomograms(tmp_path, names=("c",), voxel_size_ang=14.08)
    with pytest.raises(ValueError, match=r"different voxel sizes: 2 at 10 Å \(a.mrc, b.mrc\); 1 at 14.08 Å \(c.mrc\)"):
        read_tomograms(paths, RunConfig())
    tomograms = read_tomograms(paths, RunConfig(allow_mixed_voxel_sizes=True))
    assert [t.voxel_size_ang for t in tomograms] == pytest.approx([10.0, 10.0, 14.08])


def test_unreadable_tomograms_are_recorded_and_the_others_run(tmp_path, tiny_pick_model, inproc_client):
    fake_tomograms(tmp_path / "in", names=("good",))
    (tmp_path / "in" / "garbage.mrc").write_bytes(b"this is not an MRC file" * 100)
    write_mrc(tmp_path / "in" / "nosize.mrc", np.zeros((8, 8, 8), np.float32), voxel_size_ang=1.0)
    config = RunConfig(pick=PickSettings(model=tiny_pick_model))
    result = run_pipeline([tmp_path / "in"], tmp_path / "run", config, client=inproc_client,
                          stage_functions=fake_functions(tmp_path / "log"), write_report=False)  # fmt: skip
    failures = {name: error for name, _, error in result.failures}
    assert set(failures) == {"garbage", "nosize"}
    assert "not a readable MRC file" in failures["garbage"]
    assert "--voxel-size" in failures["nosize"]
    manifest = Manifest.load(tmp_path / "run")
    assert manifest.record("good", "stats")["status"] == "done"
    assert manifest.record("garbage", "segment")["status"] == "failed"


def test_pick_model_trained_on_another_feature_lowpass_stops_before_any_output(
    tmp_path, tiny_pick_model, inproc_client
):
    fake_tomograms(tmp_path / "in", names=("a",))
    config = RunConfig(pick=PickSettings(model=tiny_pick_model), surfaces=SurfaceSettings(feature_lowpass_ang=0.0))
    with pytest.raises(ValueError, match="set surfaces.feature_lowpass_ang: 15 in the run config"):
        run_pipeline([tmp_path / "in"], tmp_path / "run", config, client=inproc_client)
    assert not (tmp_path / "run").exists()


def test_missing_or_foreign_pick_model_stops_before_any_output(tmp_path, inproc_client):
    fake_tomograms(tmp_path / "in", names=("a",))
    config = RunConfig(pick=PickSettings(model=tmp_path / "nope.pt"))
    with pytest.raises(FileNotFoundError, match="pick model .*nope.pt does not exist"):
        run_pipeline([tmp_path / "in"], tmp_path / "run", config, client=inproc_client)
    (tmp_path / "fake.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a cryomem picking model"):
        run_pipeline([tmp_path / "in"], tmp_path / "run", RunConfig(pick=PickSettings(model=tmp_path / "fake.pt")),
                     client=inproc_client)  # fmt: skip
    assert not (tmp_path / "run").exists()
