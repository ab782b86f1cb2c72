"""An ensemble of picking models in a run: settings, checks before any work, and what a change reruns."""

from __future__ import annotations

import json
import shutil

import pytest
from pipeline_helpers import calls, fake_functions, fake_tomograms, save_tiny_pick_model

from cryomem.pipeline import PickSettings, RunConfig, file_fingerprint, load_run_config, run_pipeline


def _run(tmp_path, model, client, log=None):
    config = RunConfig(pick=PickSettings(model=model))
    functions = fake_functions(log or tmp_path / "calls.txt")
    return run_pipeline([tmp_path / "in"], tmp_path / "run", config, client=client, stage_functions=functions,
                        write_report=False)  # fmt: skip


def test_an_ensemble_run_config_validates_and_one_model_stays_one_path(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("pick:\n  model: [a.pt, models/b.pt]\n  seed: 2\n")
    config = load_run_config(path)
    assert [str(p) for p in config.pick.model_paths] == ["a.pt", "models/b.pt"]
    assert config.model_dump(mode="json")["pick"]["model"] == ["a.pt", "models/b.pt"]
    assert RunConfig.model_validate(config.model_dump(mode="json")) == config  # the manifest's copy reads back
    single = load_run_config(path, **{"pick.model": "c.pt"})  # a dotted override still sets one model
    assert str(single.pick.model) == "c.pt" and [str(p) for p in single.pick.model_paths] == ["c.pt"]
    assert PickSettings(model=["c.pt"]) == single.pick.model_copy(update={"seed": 0})  # a list of one is one model
    assert PickSettings().model_paths == ()
    # the model files are inputs, not settings: the pick hash is the same for one model and an ensemble
    assert config.settings_hash("pick") == RunConfig(pick=PickSettings(model="a.pt", seed=2)).settings_hash("pick")
    with pytest.raises(ValueError, match="empty list of picking models"):
        load_run_config(None, **{"pick.model": []})
    with pytest.raises(ValueError, match="must be a picking model file or a list of them, got"):
        load_run_config(None, **{"pick.model": ["a.pt", 3]})


def test_a_missing_member_stops_before_any_output(tmp_path, tiny_pick_model, inproc_client):
    fake_tomograms(tmp_path / "in", names=("a",))
    with pytest.raises(FileNotFoundError, match=r"pick model .*gone\.pt does not exist; .*--pick-model"):
        _run(tmp_path, [tiny_pick_model, tmp_path / "gone.pt"], inproc_client)
    (tmp_path / "fake.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a cryomem picking model"):
        _run(tmp_path, [tiny_pick_model, tmp_path / "fake.pt"], inproc_client)
    assert not (tmp_path / "run").exists() and not (tmp_path / "calls.txt").exists()


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ({"max_distance_ang": 150.0}, r"differ in max_distance_ang \(tiny_pick\.pt: 100 Å, other\.pt: 150 Å\)"),
        ({"feature_lowpass_ang": 0.0}, r"differ in feature_lowpass_ang \(tiny_pick\.pt: 15 Å, other\.pt: 0 Å\)"),
    ],
)
def test_members_that_disagree_are_refused_before_any_output(tmp_path, tiny_pick_model, inproc_client, card, message):
    fake_tomograms(tmp_path / "in", names=("a",))
    other = save_tiny_pick_model(tmp_path / "other.pt", **card)
    with pytest.raises(ValueError, match=message + ".*retrain them alike"):
        _run(tmp_path, [tiny_pick_model, other], inproc_client)
    assert not (tmp_path / "run").exists() and not (tmp_path / "calls.txt").exists()


def test_every_member_must_match_the_runs_feature_lowpass(tmp_path, inproc_client):
    fake_tomograms(tmp_path / "in", names=("a",))
    first = save_tiny_pick_model(tmp_path / "first.pt", feature_lowpass_ang=0.0)
    second = save_tiny_pick_model(tmp_path / "second.pt", seed=1, feature_lowpass_ang=0.0)
    with pytest.raises(ValueError, match=r"pick model .*first\.pt was trained .* surfaces.feature_lowpass_ang: 0"):
        _run(tmp_path, [first, second], inproc_client)
    assert not (tmp_path / "run").exists()


def test_changing_any_member_reruns_picking_and_what_follows(tmp_path, tiny_pick_model, inproc_client):
    fake_tomograms(tmp_path / "in", names=("a", "b"))
    log = tmp_path / "calls.txt"
    single = _run(tmp_path, tiny_pick_model, inproc_client, log)
    assert single.executed == {
        "segment": 2, "instances": 2, "surfaces": 2, "pick": 2, "stats": 2, "morph": 2, "pooled": 1
    }  # fmt: skip
    log.unlink()  # the same model as a list of one: the same fingerprint, nothing runs
    assert _run(tmp_path, [tiny_pick_model], inproc_client, log).n_executed == 0 and calls(log) == []

    member = shutil.copy2(tiny_pick_model, tmp_path / "member.pt")
    ensemble = _run(tmp_path, [tiny_pick_model, member], inproc_client, log)
    assert ensemble.executed == {"pick": 2, "stats": 2, "morph": 2, "pooled": 1}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["tomograms"]["a"]["stages"]["pick"]["inputs"]["model"] == [
        file_fingerprint(tiny_pick_model),
        file_fingerprint(member),
    ]
    assert manifest["config"]["pick"]["model"] == [str(tiny_pick_model), str(member)]
    log.unlink()
    assert _run(tmp_path, [tiny_pick_model, member], inproc_client, log).n_executed == 0

    save_tiny_pick_model(member, seed=7)  # the second member retrained: picking, statistics, morph again
    changed = _run(tmp_path, [tiny_pick_model, member], inproc_client, log)
    assert changed.executed == {"pick": 2, "stats": 2, "morph": 2, "pooled": 1}
    assert changed.up_to_date == {"segment": 2, "instances": 2, "surfaces": 2}
    assert sorted(calls(log)) == sorted(["a pick", "b pick", "a stats", "b stats", "a morph", "b morph", "* pooled"])
