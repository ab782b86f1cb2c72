"""``run_copick``: a copick project's tomograms through the real segment/instances/surfaces stages, the
results read back with copick's own API and compared with the run folder's files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pipeline_helpers import FakePooled, FakeStage

from cryomem.geometry import read_membrane_meshes
from cryomem.io import (
    Volume,
    atomic_directory,
    euler_zyz_deg_to_matrix,
    read_mrc,
    write_ome_zarr,
    write_particles_star,
)
from cryomem.pipeline import (
    STAGE_FUNCTIONS,
    ClusterSettings,
    CopickSource,
    CopickTarget,
    MorphSettings,
    PickSettings,
    RunConfig,
    SegmentSettings,
    TomogramFolders,
    run_copick,
)

copick = pytest.importorskip("copick")

SPACING = 10.0
ANGLES_DEG = np.array([[10.0, 40.0, -70.0], [0.0, 90.0, 30.0], [-150.0, 120.0, 5.0]])


@pytest.fixture(scope="module")
def project(simulated_pair, tmp_path_factory):
    """Runs TS-1 (tomogram written by copick, overlay) and TS-2 (written by us, static): both ``wbp.zarr``."""
    inputs, _ = simulated_pair
    root_dir = tmp_path_factory.mktemp("copick")
    config = {
        "config_type": "filesystem",
        "name": "cryomem-test",
        "pickable_objects": [
            {"name": "membrane", "is_particle": False, "label": 1},
            {"name": "protein", "is_particle": True, "label": 2, "radius": 60.0},
        ],
        "overlay_root": f"local://{root_dir / 'overlay'}",
        "overlay_fs_args": {"auto_mkdir": True},
        "static_root": f"local://{root_dir / 'static'}",
    }
    path = root_dir / "copick.json"
    path.write_text(json.dumps(config))
    root = copick.from_file(str(path))
    data = {name: read_mrc(inputs / f"{name}.mrc").data_zyx.astype(np.float32) for name in ("ta", "tb")}
    root.new_run("TS-1").new_voxel_spacing(SPACING).new_tomogram("wbp").from_numpy(data["ta"], levels=1)
    static = root_dir / "static" / "ExperimentRuns" / "TS-2" / "VoxelSpacing10.000"
    static.mkdir(parents=True)
    write_ome_zarr(static / "wbp.zarr", Volume(data["tb"], voxel_size_ang=SPACING), levels=2)
    return path


def _particles(name: str) -> pd.DataFrame:
    return pd.DataFrame({
        "tomo_name": name, "x_ang": [100.0, 455.5, 800.0], "y_ang": [120.0, 300.0, 610.0],
        "z_ang": [40.0, 250.0, 300.0], "rot_deg": ANGLES_DEG[:, 0], "tilt_deg": ANGLES_DEG[:, 1],
        "psi_deg": ANGLES_DEG[:, 2], "class_number": 1, "membrane_id": [1, 2, 1], "score": [0.9, 0.5, 0.7],
    })  # fmt: skip


def fake_pick(tomogram, folders: TomogramFolders, config) -> dict:
    """Known particles instead of a trained picker."""
    with atomic_directory(folders.picks, overwrite=True) as tmp:
        write_particles_star(
            tmp / folders.particles_path.name, _particles(folders.name), voxel_size_ang=SPACING,
            shape_zyx=tomogram.shape_zyx,
        )  # fmt: skip
    return {"outputs": [str(folders.particles_path.relative_to(folders.root))]}


@pytest.fixture(scope="module")
def copick_run(project, tiny_pick_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "calls"
    config = RunConfig(
        segment=SegmentSettings(tta=False), pick=PickSettings(model=str(tiny_pick_model)),
        morph=MorphSettings(enabled=False), cluster=ClusterSettings(workers=1, processes=False),
    )  # fmt: skip
    functions = {**STAGE_FUNCTIONS, "pick": fake_pick, "stats": FakeStage("stats", log), "pooled": FakePooled(log)}
    source = CopickSource(project, "wbp", SPACING)
    out = tmp_path_factory.mktemp("copick_out") / "run"
    result, writes = run_copick(
        source, CopickTarget(), out, config, stage_functions=functions, write_report=False
    )  # fmt: skip
    return source, config, functions, out, result, writes


def test_each_run_is_named_after_its_copick_run(copick_run):
    _, _, _, out, result, _ = copick_run
    assert result.failures == []
    assert sorted(result.tomograms) == ["TS-1", "TS-2"]  # both tomograms are wbp.zarr
    assert sorted(p.name for p in (out / "tomograms").iterdir()) == ["TS-1", "TS-2"]


def test_segmentations_read_back_with_copick_equal_the_run_files(copick_run, project):
    _, _, _, out, _, writes = copick_run
    assert sorted((w.run, w.kind) for w in writes) == sorted(
        (run, kind) for run in ("TS-1", "TS-2") for kind in ("segmentation", "instances", "mesh", "picks")
    )
    root = copick.from_file(str(project))
    for name in ("TS-1", "TS-2"):
        run = root.get_run(name)
        folders = TomogramFolders(out / "tomograms" / name, name)
        (binary,) = run.get_segmentations(user_id="cryomem", session_id="0", name="membrane", voxel_size=SPACING)
        np.testing.assert_array_equal(binary.numpy(), read_mrc(folders.seg_path).data_zyx > 0)
        (instances,) = run.get_segmentations(
            user_id="cryomem", session_id="0", name="membrane", voxel_size=SPACING, is_instance=True
        )
        np.testing.assert_array_equal(instances.numpy(), read_mrc(folders.instances_path).data_zyx)
        assert instances.numpy().max() >= 1


def test_meshes_read_back_with_copick_hold_every_membrane(copick_run, project):
    _, _, _, out, _, _ = copick_run
    root = copick.from_file(str(project))
    for name in ("TS-1", "TS-2"):
        ours = read_membrane_meshes(TomogramFolders(out / "tomograms" / name, name).membrane_files())
        (mesh,) = root.get_run(name).get_meshes(object_name="membrane", user_id="cryomem", session_id="0")
        loaded = mesh.mesh  # a trimesh Scene
        loaded = loaded.to_geometry() if hasattr(loaded, "to_geometry") else loaded.dump(concatenate=True)
        vertices = np.asarray(loaded.vertices)
        assert len(vertices) == sum(len(m.vertices_xyz_ang) for m in ours)
        assert len(loaded.faces) == sum(len(m.faces) for m in ours)
        np.testing.assert_allclose(vertices, np.concatenate([m.vertices_xyz_ang for m in ours]), atol=1e-3)


def test_picks_read_back_with_copick_have_our_angstroms_and_poses(copick_run, project):
    root = copick.from_file(str(project))
    expected = _particles("TS-1")
    (picks,) = root.get_run("TS-1").get_picks(object_name="protein", user_id="cryomem", session_id="0")
    positions, transforms = picks.numpy()
    np.testing.assert_allclose(positions, expected[["x_ang", "y_ang", "z_ang"]].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(transforms[:, :3, :3], euler_zyz_deg_to_matrix(ANGLES_DEG), atol=1e-9)
    np.testing.assert_array_equal(picks.instance_ids(), [1, 2, 1])


def test_a_second_run_refuses_to_overwrite_then_replaces_when_asked(copick_run, project):
    source, config, functions, out, _, _ = copick_run
    with pytest.raises(ValueError, match="already holds results of user 'cryomem', session '0'.*--overwrite"):
        run_copick(source, CopickTarget(), out, config, stage_functions=functions, write_report=False)
    result, writes = run_copick(
        source, CopickTarget(overwrite=True), out, config, stage_functions=functions, write_report=False
    )  # fmt: skip
    assert result.n_executed == 0 and result.failures == []  # every stage up to date; results written again
    assert len(writes) == 8


def test_copick_bad_inputs_are_one_line_before_any_work(project, tmp_path):
    config = RunConfig(cluster=ClusterSettings(workers=1, processes=False))
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="no run of .* has a 'denoised' tomogram at 10 Å; types there: wbp"):
        run_copick(CopickSource(project, "denoised", SPACING), CopickTarget(), out, config)
    with pytest.raises(ValueError, match="voxel spacing 7.5 Å does not exist.*10 Å"):
        run_copick(CopickSource(project, "wbp", 7.5), CopickTarget(), out, config)
    with pytest.raises(ValueError, match="run 'TS-9' is not in"):
        run_copick(CopickSource(project, "wbp", SPACING, ("TS-9",)), CopickTarget(), out, config)
    with pytest.raises(ValueError, match="object 'bilayer' is not declared"):
        run_copick(CopickSource(project, "wbp", SPACING), CopickTarget(membrane_object="bilayer"), out, config)
    with pytest.raises(ValueError, match="--user-id 'my_name' is not a valid copick name"):
        run_copick(CopickSource(project, "wbp", SPACING), CopickTarget(user_id="my_name"), out, config)
    with pytest.raises(ValueError, match="object 'protein' is a particle"):
        run_copick(CopickSource(project, "wbp", SPACING), CopickTarget(membrane_object="protein"), out, config)
    assert not out.exists()
