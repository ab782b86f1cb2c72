"""The runner with fake stages: resume, changed inputs and settings, failures kept to their tomogram."""

from __future__ import annotations

import errno
import json
import os

import pytest
from pipeline_helpers import calls, fake_functions, fake_tomograms

from cryomem.pipeline import Manifest, PickSettings, RunConfig, run_pipeline


def _config(model, **pick) -> RunConfig:
    return RunConfig(pick=PickSettings(model=model, **pick))


def _run(inputs, out, config, client, functions):
    return run_pipeline(inputs, out, config, client=client, stage_functions=functions, write_report=False)


def test_resume_skips_finished_stages_and_reruns_changed_ones(tmp_path, tiny_pick_model, inproc_client):
    paths = fake_tomograms(tmp_path / "in")
    out, log = tmp_path / "run", tmp_path / "calls.txt"
    functions = fake_functions(log)
    config = _config(tiny_pick_model)
    first = _run([tmp_path / "in"], out, config, inproc_client, functions)
    assert first.executed == {
        "segment": 3, "instances": 3, "surfaces": 3, "pick": 3, "stats": 3, "morph": 3, "pooled": 1
    }  # fmt: skip
    assert len(calls(log)) == 19 and not first.failures
    manifest = json.loads((out / "manifest.json").read_text())
    record = manifest["tomograms"]["b"]["stages"]["pick"]
    assert record["status"] == "done" and record["summary"] == {"answer": 42}
    assert record["outputs"] == ["pick/out.txt"] and "sha256" in record["inputs"]["model"]

    log.unlink()
    again = _run([tmp_path / "in"], out, config, inproc_client, functions)  # nothing changed: nothing runs
    assert again.n_executed == 0 and calls(log) == []
    assert again.up_to_date == {
        "segment": 3, "instances": 3, "surfaces": 3, "pick": 3, "stats": 3, "morph": 3, "pooled": 1
    }  # fmt: skip

    st = paths[1].stat()  # tomogram b changed on disk: b reruns from segment, then the pooled statistics
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = _run([tmp_path / "in"], out, config, inproc_client, functions)
    assert sorted(calls(log)) == sorted(
        ["b segment", "b instances", "b surfaces", "b pick", "b stats", "b morph", "* pooled"]
    )
    assert changed.up_to_date["segment"] == 2

    log.unlink()  # a picking setting changed: pick, stats and morph of every tomogram, not segmentation
    settings = _run([tmp_path / "in"], out, _config(tiny_pick_model, seed=3), inproc_client, functions)
    assert settings.executed == {"pick": 3, "stats": 3, "morph": 3, "pooled": 1}
    assert (out / "tomograms" / "a" / "pick" / "out.txt").read_text() == "a pick 3"

    log.unlink()  # a finished stage's output went missing: that stage and the ones after it rerun
    (out / "tomograms" / "c" / "instances" / "out.txt").unlink()
    missing = _run([tmp_path / "in"], out, _config(tiny_pick_model, seed=3), inproc_client, functions)
    assert sorted(calls(log)) == sorted(["c instances", "c surfaces", "c pick", "c stats", "c morph", "* pooled"])
    assert missing.up_to_date["segment"] == 3


def test_a_failing_task_leaves_the_other_tomograms_complete(tmp_path, tiny_pick_model, inproc_client):
    fake_tomograms(tmp_path / "in")
    out, log = tmp_path / "run", tmp_path / "calls.txt"
    broken = fake_functions(log, fail={"b": ValueError("membrane b is broken; fix it")})
    result = _run([tmp_path / "in"], out, _config(tiny_pick_model), inproc_client, broken)
    assert result.failures == [("b", "surfaces", "membrane b is broken; fix it")]
    assert sorted(result.skipped) == [("b", "morph"), ("b", "pick"), ("b", "stats")]
    manifest = Manifest.load(out)
    for name in ("a", "c"):
        assert all(manifest.record(name, s)["status"] == "done" for s in ("segment", "surfaces", "pick", "stats"))
        assert (out / "tomograms" / name / "stats" / "out.txt").is_file()
    assert manifest.record("b", "surfaces")["status"] == "failed"
    assert manifest.record("b", "surfaces")["error"] == "membrane b is broken; fix it"
    assert manifest.record("b", "stats")["status"] == "skipped"
    assert not (out / "tomograms" / "b" / "membranes").exists()  # nothing half-written
    assert manifest.pooled["status"] == "done"
    assert (out / "pooled" / "pooled.txt").read_text() == "a c"

    log.unlink()  # fixed: only b's failed and skipped stages run, then the pooled statistics
    fixed = _run([tmp_path / "in"], out, _config(tiny_pick_model), inproc_client, fake_functions(log))
    assert sorted(calls(log)) == sorted(["b surfaces", "b pick", "b stats", "b morph", "* pooled"])
    assert not fixed.failures and (out / "pooled" / "pooled.txt").read_text() == "a b c"


def test_full_disk_is_reported_per_task(tmp_path, tiny_pick_model, inproc_client):
    fake_tomograms(tmp_path / "in", names=("a", "b"))
    full = OSError(errno.ENOSPC, "No space left on device")
    functions = fake_functions(tmp_path / "calls.txt", fail={"a": full, "b": full}, fail_stage="segment")
    result = _run([tmp_path / "in"], tmp_path / "run", _config(tiny_pick_model), inproc_client, functions)
    assert [f[:2] for f in sorted(result.failures)] == [("a", "segment"), ("b", "segment")]
    assert all("no space left on the disk" in f[2] and "--out on a larger disk" in f[2] for f in result.failures)


def test_unexpected_errors_keep_a_traceback(tmp_path, tiny_pick_model, inproc_client):
    fake_tomograms(tmp_path / "in", names=("a",))
    functions = fake_functions(tmp_path / "calls.txt", fail={"a": ZeroDivisionError("oops")}, fail_stage="pick")
    result = _run([tmp_path / "in"], tmp_path / "run", _config(tiny_pick_model), inproc_client, functions)
    assert result.failures == [("a", "pick", "ZeroDivisionError: oops")]
    assert "ZeroDivisionError" in Manifest.load(tmp_path / "run").record("a", "pick")["traceback"]


def test_a_killed_worker_is_reported_and_the_rest_finishes(tmp_path, tiny_pick_model):
    import cloudpickle
    import dask
    import pipeline_helpers
    from distributed import Client, LocalCluster

    cloudpickle.register_pickle_by_value(pipeline_helpers)  # worker processes need not import the tests
    fake_tomograms(tmp_path / "in", names=("a", "b"))
    functions = fake_functions(tmp_path / "calls.txt", fail={"b": "exit"}, fail_stage="instances")
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}),
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        result = _run([tmp_path / "in"], tmp_path / "run", _config(tiny_pick_model), client, functions)
    assert [f[:2] for f in result.failures] == [("b", "instances")]
    assert "worker running this task died" in result.failures[0][2]
    manifest = Manifest.load(tmp_path / "run")
    assert manifest.record("a", "stats")["status"] == "done"
    assert manifest.record("b", "pick")["status"] == "skipped"


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, tiny_pick_model, inproc_client):
    from cryomem.pipeline._lock import run_lock

    fake_tomograms(tmp_path / "in", names=("a",))
    (tmp_path / "run").mkdir()
    with run_lock(tmp_path / "run"), pytest.raises(ValueError, match="another cryomem run"):
        _run(
            [tmp_path / "in"], tmp_path / "run", _config(tiny_pick_model), inproc_client, fake_functions(tmp_path / "l")
        )
    assert not (tmp_path / "run" / ".lock").exists()


def test_joins_a_running_scheduler(tmp_path, tiny_pick_model, inproc_client):
    from cryomem.pipeline import ClusterSettings

    fake_tomograms(tmp_path / "in", names=("a",))
    address = inproc_client.scheduler.address
    config = _config(tiny_pick_model).model_copy(update={"cluster": ClusterSettings(scheduler=address)})
    seen = []
    functions = fake_functions(tmp_path / "l")
    result = run_pipeline([tmp_path / "in"], tmp_path / "run", config, stage_functions=functions, write_report=False,
                          on_start=lambda client: seen.append(client.scheduler.address))  # fmt: skip
    assert seen == [address] and result.executed["stats"] == 1 and not result.failures


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, tiny_pick_model, monkeypatch):
    from cryomem.pipeline import ClusterSettings, _cluster

    monkeypatch.setattr(_cluster, "CONNECT_TIMEOUT", "1s")
    fake_tomograms(tmp_path / "in", names=("a",))
    config = _config(tiny_pick_model).model_copy(update={"cluster": ClusterSettings(scheduler="tcp://127.0.0.1:9")})
    with pytest.raises(ValueError, match="cannot reach the dask scheduler at tcp://127.0.0.1:9"):
        run_pipeline([tmp_path / "in"], tmp_path / "run", config)
    assert not (tmp_path / "run").exists()


def test_report_lists_failures_and_draws_what_exists(tmp_path, tiny_pick_model, inproc_client):
    from cryomem.pipeline import write_report

    fake_tomograms(tmp_path / "in", names=("a", "b"))
    broken = fake_functions(tmp_path / "calls.txt", fail={"b": ValueError("b went <wrong> & broke")})
    _run([tmp_path / "in"], tmp_path / "run", _config(tiny_pick_model), inproc_client, broken)
    page = write_report(tmp_path / "run").read_text()
    assert "<h2>Failures</h2>" in page and "b went &lt;wrong&gt; &amp; broke" in page
    assert page.count("data:image/png;base64,") == 2  # a slice of each tomogram; fake stages wrote no meshes
    with pytest.raises(FileNotFoundError, match="holds no manifest.json"):
        write_report(tmp_path / "in")
