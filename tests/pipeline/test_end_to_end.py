"""The real pipeline on two tiny simulated tomograms: every file, resume, and the report in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from cryomem.io import read_membrane_h5, read_mesh, read_mrc, read_particles_star
from cryomem.pipeline import (
    DEMO_PICK_MODEL_PATH,
    Manifest,
    PickSettings,
    RunConfig,
    SegmentSettings,
    StatsSettings,
    TomogramFolders,
    pick_stage,
    resolve_tomogram,
    run_pipeline,
)

STAGE_NAMES = ("segment", "instances", "surfaces", "pick", "stats", "morph")


def _config() -> RunConfig:
    return RunConfig(
        segment=SegmentSettings(tta=False),
        pick=PickSettings(model=DEMO_PICK_MODEL_PATH, tta=False),
        stats=StatsSettings(analyses=("concentration", "neighbours"), pooled_analyses=("concentration",)),
    )


@pytest.fixture(scope="module")
def full_run(simulated_pair, tmp_path_factory):
    from distributed import Client, LocalCluster

    inputs, _ = simulated_pair
    (inputs / "notes.txt").write_text("not a tomogram")
    before = _bytes_of(inputs)
    out = tmp_path_factory.mktemp("e2e") / "run"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        first = run_pipeline([inputs], out, _config(), client=client)
        again = run_pipeline([inputs], out, _config(), client=client, write_report=False)
        stats_settings = StatsSettings(analyses=("concentration",), pooled_analyses=("concentration",))
        changed = run_pipeline([inputs], out, _config().model_copy(update={"stats": stats_settings}), client=client)
    return out, first, again, changed, before


def _bytes_of(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_no_stage_modifies_its_inputs(full_run, simulated_pair):
    out, _, _, _, before = full_run
    assert _bytes_of(simulated_pair[0]) == before  # the tomograms given to `cryomem run`
    for name in ("ta", "tb"):  # the pick stage writes its own copies: the surfaces stage's files stay as written
        folders = TomogramFolders(out / "tomograms" / name, name)
        for path in folders.membrane_files():
            assert "predicted_distance_ang" not in read_membrane_h5(path).point_data
        picked = folders.membrane_files(picked=True)
        assert [p.name for p in picked] == [p.name for p in folders.membrane_files()] and picked


def test_every_expected_file_exists_and_is_readable(full_run, simulated_pair):
    out, first, _, _, _ = full_run
    assert not first.failures, first.failures
    assert first.executed == {
        "segment": 2,
        "instances": 2,
        "surfaces": 2,
        "pick": 2,
        "stats": 2,
        "morph": 2,
        "pooled": 1,
    }
    assert [p.name for p in first.ignored_inputs] == ["notes.txt"]
    manifest = Manifest.load(out)
    for name in ("ta", "tb"):
        folders = TomogramFolders(out / "tomograms" / name, name)
        for stage in STAGE_NAMES:
            record = manifest.record(name, stage)
            assert record["status"] == "done" and record["outputs"], (name, stage)
            assert all((folders.root / o).is_file() for o in record["outputs"])
        seg = read_mrc(folders.seg_path)
        assert seg.data_zyx.shape == (48, 96, 96) and seg.voxel_size_ang == pytest.approx(10.0)
        instances = read_mrc(folders.instances_path).data_zyx
        assert set(pd.unique(instances.ravel())) <= set(range(instances.max() + 1)) and instances.max() >= 1
        surfaces = folders.membrane_files()
        assert len(surfaces) == manifest.record(name, "surfaces")["summary"]["membranes"] >= 1
        for path in surfaces:
            surface = read_membrane_h5(path)
            assert surface.features.shape[0] == len(surface.vertices_xyz_ang)
            assert len(read_mesh(path.with_suffix(".obj")).faces) == len(surface.faces)
        for path in folders.membrane_files(picked=True):
            distances = read_membrane_h5(path).point_data["predicted_distance_ang"]
            assert distances.shape == (len(read_membrane_h5(path).vertices_xyz_ang),)
        particles = read_particles_star(folders.particles_path)
        assert (particles["tomo_name"] == name).all()
        assert len(particles) == manifest.record(name, "pick")["summary"]["particles"]
        table = pd.read_csv(folders.stats / "concentration.csv")
        assert {"scope", "concentration_per_um2", "area_um2"} <= set(table.columns)
        assert (folders.stats / f"{name}_summary.json").is_file()
        morph = pd.read_csv(folders.morph / f"{name}_membranes.csv")
        assert len(morph) == len(surfaces) and (morph["area_nm2"] > 0).all()
        assert manifest.record(name, "morph")["summary"]["particles"] == len(particles) > 0
    pooled = pd.read_csv(out / "pooled" / "concentration.csv")
    assert set(pooled.loc[pooled["scope"] == "tomogram", "tomo_name"]) <= {"ta", "tb"}
    assert manifest.pooled["status"] == "done" and manifest.pooled["summary"]["tomograms"] == 2
    assert first.report == out / "report.html" and first.report.stat().st_size > 10_000
    assert not list(out.rglob(".*.tmp-*"))  # no temporary leftovers


def test_rerun_skips_everything_and_a_changed_setting_reruns_only_its_stages(full_run):
    _, _, again, changed, _ = full_run
    assert again.n_executed == 0
    assert again.up_to_date == {
        "segment": 2, "instances": 2, "surfaces": 2, "pick": 2, "stats": 2, "morph": 2, "pooled": 1
    }  # fmt: skip
    assert changed.executed == {"stats": 2, "pooled": 1}  # statistics settings changed: stats only (morph reads picks)
    assert changed.up_to_date == {"segment": 2, "instances": 2, "surfaces": 2, "pick": 2, "morph": 2}


def test_an_ensemble_of_two_copies_of_a_model_predicts_what_the_model_does(full_run, simulated_pair, tmp_path):
    """The pick stage averages the members' distances: two copies of one model give its own map."""
    out, _, _, _, _ = full_run
    inputs, _ = simulated_pair
    single = TomogramFolders(out / "tomograms" / "ta", "ta")
    folders = TomogramFolders(tmp_path / "ta", "ta")
    shutil.copytree(single.membranes, folders.membranes)
    copy = shutil.copy2(DEMO_PICK_MODEL_PATH, tmp_path / "copy.pt")
    config = _config().model_copy(update={"pick": PickSettings(model=[DEMO_PICK_MODEL_PATH, copy], tta=False)})
    membranes_before = _bytes_of(folders.membranes)
    summary = pick_stage(resolve_tomogram(inputs / "ta.mrc"), folders, config)
    assert _bytes_of(folders.membranes) == membranes_before  # the stage reads membranes/, never writes it
    assert summary["particles"] == len(read_particles_star(folders.particles_path))
    picked, alone = folders.membrane_files(picked=True), single.membrane_files(picked=True)
    assert [p.name for p in picked] == [p.name for p in alone] and picked
    for path, reference in zip(picked, alone, strict=True):
        surface = read_membrane_h5(path)
        expected = read_membrane_h5(reference).point_data["predicted_distance_ang"]
        np.testing.assert_allclose(surface.point_data["predicted_distance_ang"], expected, atol=1e-3)
        assert surface.attrs["pick_model"].split(";") == [str(DEMO_PICK_MODEL_PATH.resolve()), str(copy.resolve())]


def test_report_renders_in_headless_chromium(full_run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no chromium on PATH: install Debian's `chromium` package to render the report in a browser")
    report = full_run[0] / "report.html"
    text = report.read_text()
    assert "http://" not in text and "https://" not in text and 'src="data:image/png;base64,' in text
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=20000",
        "--dump-dom",
        report.as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    tag = re.search(r'<[^>]*id="render-check"[^>]*>', dom)
    assert tag is not None, dom[-2000:]
    found = {k: int(v) for k, v in re.findall(r'data-(images-total|images-loaded|tables)="(\d+)"', tag.group(0))}
    assert found["images-total"] >= 6  # per tomogram: slice + meshes + 2 plots; pooled plot(s)
    assert found["images-loaded"] == found["images-total"]
    assert found["tables"] >= 4
