"""copick projects in and out: our writers checked with copick's own API, our readers round-tripped."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cryomem.io import (
    PARTICLE_COLUMNS,
    Volume,
    copick_tomograms,
    euler_zyz_deg_to_matrix,
    open_copick,
    read_copick_picks,
    write_copick_mesh,
    write_copick_picks,
    write_copick_segmentation,
    write_ome_zarr,
)

copick = pytest.importorskip("copick")

SPACING = 10.0
SHAPE = (8, 10, 12)
USER, SESSION = "cryomem", "1"


def _data(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)


@pytest.fixture
def project(tmp_path):
    """A filesystem project: TS-1's tomogram written by copick (overlay), TS-2's by us (static)."""
    config = {
        "config_type": "filesystem",
        "name": "test",
        "pickable_objects": [
            {"name": "membrane", "is_particle": False, "label": 1},
            {"name": "protein", "is_particle": True, "label": 2, "radius": 60.0},
        ],
        "overlay_root": f"local://{tmp_path / 'overlay'}",
        "overlay_fs_args": {"auto_mkdir": True},
        "static_root": f"local://{tmp_path / 'static'}",
    }
    path = tmp_path / "copick.json"
    path.write_text(json.dumps(config))
    root = copick.from_file(str(path))
    run = root.new_run("TS-1")
    run.new_voxel_spacing(SPACING).new_tomogram("wbp").from_numpy(_data(1), levels=1)
    static = tmp_path / "static" / "ExperimentRuns" / "TS-2" / "VoxelSpacing10.000"
    static.mkdir(parents=True)
    write_ome_zarr(static / "wbp.zarr", Volume(_data(2), voxel_size_ang=SPACING))
    return path


def _root(path):
    return copick.from_file(str(path))


def test_open_copick_gives_a_copick_root(project):
    root = open_copick(project)
    assert sorted(r.name for r in root.runs) == ["TS-1", "TS-2"]


def test_tomograms_found_and_read_back(project):
    tomos = copick_tomograms(project, tomo_type="wbp", voxel_spacing_ang=SPACING)
    assert [t.run for t in tomos] == ["TS-1", "TS-2"]
    assert tomos[1].zarr_path.is_dir() and "static" in tomos[1].zarr_path.parts
    for tomo, seed in zip(tomos, (1, 2)):
        volume = tomo.volume()
        assert volume.voxel_size_ang == pytest.approx(SPACING)
        assert volume.origin_xyz_ang == (0.0, 0.0, 0.0)
        np.testing.assert_array_equal(np.asarray(volume.data_zyx), _data(seed))
    (only,) = copick_tomograms(project, tomo_type="wbp", voxel_spacing_ang=SPACING, runs=["TS-2"])
    assert only.run == "TS-2" and only.voxel_spacing_ang == SPACING and only.tomo_type == "wbp"


def test_segmentation_written_as_copick_reads_it(project):
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[3:5, 2:8, 1:11] = 1
    write_copick_segmentation(
        project, "TS-1", voxel_spacing_ang=SPACING, name="membrane", labels_zyx=labels,
        user_id=USER, session_id=SESSION, is_multilabel=False,
    )  # fmt: skip
    instances = labels.astype(np.int32) * 2
    instances[4] *= 3
    write_copick_segmentation(
        project, "TS-1", voxel_spacing_ang=SPACING, name="membrane", labels_zyx=instances,
        user_id=USER, session_id=SESSION, is_instance=True,
    )  # fmt: skip
    run = _root(project).get_run("TS-1")
    (binary,) = run.get_segmentations(name="membrane", user_id=USER, session_id=SESSION, voxel_size=SPACING)
    np.testing.assert_array_equal(binary.numpy(), labels)
    (inst,) = run.get_segmentations(name="membrane", user_id=USER, is_instance=True)
    np.testing.assert_array_equal(inst.numpy(), instances)
    objects = labels * 2  # 'protein' has label 2
    objects[4] = labels[4]  # 'membrane' has label 1
    write_copick_segmentation(
        project, "TS-1", voxel_spacing_ang=SPACING, name="objects", labels_zyx=objects,
        user_id=USER, session_id=SESSION, is_multilabel=True,
    )  # fmt: skip
    (multi,) = _root(project).get_run("TS-1").get_segmentations(name="objects", is_multilabel=True)
    np.testing.assert_array_equal(multi.numpy(), objects)
    with pytest.raises(ValueError, match=r"multilabel labels 7 are no object's label"):
        write_copick_segmentation(
            project, "TS-1", voxel_spacing_ang=SPACING, name="other", labels_zyx=objects * 0 + 7,
            user_id=USER, session_id=SESSION, is_multilabel=True,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"binary segmentation holds 0/1.*pass is_instance=True"):
        write_copick_segmentation(
            project, "TS-1", voxel_spacing_ang=SPACING, name="membrane", labels_zyx=instances,
            user_id=USER, session_id="2", is_multilabel=False,
        )  # fmt: skip


def test_mesh_written_as_copick_reads_it(project):
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=150.0)
    vertices = sphere.vertices + np.array([60.0, 50.0, 40.0])
    write_copick_mesh(
        project, "TS-2", object_name="membrane", vertices_xyz_ang=vertices, faces=sphere.faces,
        user_id=USER, session_id=SESSION,
    )  # fmt: skip
    (mesh,) = _root(project).get_run("TS-2").get_meshes(object_name="membrane", user_id=USER, session_id=SESSION)
    loaded = mesh.mesh
    loaded = loaded.to_geometry() if hasattr(loaded, "to_geometry") else loaded.dump(concatenate=True)
    np.testing.assert_allclose(loaded.vertices, vertices, atol=1e-3)
    np.testing.assert_array_equal(loaded.faces, sphere.faces)


def _particles(run: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tomo_name": [run] * 3,
            "x_ang": [10.0, 55.5, 100.0],
            "y_ang": [20.0, 40.0, 80.0],
            "z_ang": [30.0, 35.0, 70.0],
            "rot_deg": [0.0, 30.0, -120.0],
            "tilt_deg": [0.0, 45.0, 100.0],
            "psi_deg": [0.0, -60.0, 170.0],
            "class_number": [1, 1, 1],
            "membrane_id": [1, 2, -1],
            "score": [0.9, 0.5, 0.25],
        }
    )


def test_picks_written_as_copick_reads_them_and_round_trip(project):
    particles = _particles("TS-1")
    write_copick_picks(project, "TS-1", object_name="protein", particles=particles, user_id=USER, session_id=SESSION)
    (picks,) = _root(project).get_run("TS-1").get_picks(object_name="protein", user_id=USER, session_id=SESSION)
    positions, transforms = picks.numpy()
    np.testing.assert_allclose(positions, particles[["x_ang", "y_ang", "z_ang"]].to_numpy())
    expected = euler_zyz_deg_to_matrix(particles[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())
    np.testing.assert_allclose(transforms[:, :3, :3], expected, atol=1e-12)
    np.testing.assert_allclose(transforms[:, :3, 3], 0.0)
    # copick's own RELION conversion agrees: object -> tomogram rotation
    from copick.util.relion import relion_rows_to_poses

    relion = particles.rename(columns={"rot_deg": "rlnAngleRot", "tilt_deg": "rlnAngleTilt", "psi_deg": "rlnAnglePsi"})
    np.testing.assert_allclose(relion_rows_to_poses(relion)[0], expected, atol=1e-12)

    table = read_copick_picks(project, "TS-1", object_name="protein")
    assert list(table.columns) == list(PARTICLE_COLUMNS)
    np.testing.assert_allclose(
        table[["x_ang", "y_ang", "z_ang", "score"]], particles[["x_ang", "y_ang", "z_ang", "score"]]
    )
    assert table["tomo_name"].tolist() == ["TS-1"] * 3
    assert table["membrane_id"].tolist() == [1, 2, -1]
    back = euler_zyz_deg_to_matrix(table[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())
    np.testing.assert_allclose(back, expected, atol=1e-9)


def test_writers_refuse_to_overwrite_unless_asked(project):
    particles = _particles("TS-1")
    write_copick_picks(project, "TS-1", object_name="protein", particles=particles, user_id=USER, session_id=SESSION)
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        write_copick_picks(
            project, "TS-1", object_name="protein", particles=particles, user_id=USER, session_id=SESSION
        )
    write_copick_picks(
        project, "TS-1", object_name="protein", particles=particles.iloc[:1], user_id=USER, session_id=SESSION,
        overwrite=True,
    )  # fmt: skip
    assert len(read_copick_picks(project, "TS-1", object_name="protein")) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"runs": ["TS-9"]}, r"run 'TS-9' is not in .*its runs are: TS-1, TS-2"),
        (
            {"runs": ["TS-1"], "tomo_type": "denoised"},
            r"run 'TS-1' has no 'denoised' tomogram at 10 Å; it has 10 Å \(wbp\)",
        ),
        ({"voxel_spacing_ang": 7.84}, r"voxel spacing 7.84 Å does not exist in .*its spacings are 10 Å"),
        ({"tomo_type": "denoised"}, r"no run of .* has a 'denoised' tomogram at 10 Å; types there: wbp"),
    ],
)
def test_tomograms_bad_inputs(project, kwargs, match):
    arguments = {"tomo_type": "wbp", "voxel_spacing_ang": SPACING, **kwargs}
    with pytest.raises(ValueError, match=match):
        copick_tomograms(project, **arguments)


def test_not_a_copick_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="copick config not found"):
        open_copick(tmp_path / "missing.json")
    other = tmp_path / "settings.json"
    other.write_text(json.dumps({"model": "unet", "epochs": 3}))
    with pytest.raises(ValueError, match=r"is not a copick config \(no 'pickable_objects'\)"):
        copick_tomograms(other, tomo_type="wbp", voxel_spacing_ang=SPACING)
    other.write_text("not json")
    with pytest.raises(ValueError, match="is not a copick config"):
        open_copick(other)


def test_writers_bad_inputs(project):
    particles = _particles("TS-1")
    with pytest.raises(ValueError, match=r"object 'ribosome' is not declared in .*add \{\"name\": \"ribosome\""):
        write_copick_picks(project, "TS-1", object_name="ribosome", particles=particles, user_id=USER, session_id="2")
    with pytest.raises(ValueError, match=r"object 'membrane' is not a particle"):
        write_copick_picks(project, "TS-1", object_name="membrane", particles=particles, user_id=USER, session_id="2")
    with pytest.raises(ValueError, match=r"holds rows of tomograms TS-1, not only run 'TS-2'"):
        write_copick_picks(project, "TS-2", object_name="protein", particles=particles, user_id=USER, session_id="2")
    with pytest.raises(ValueError, match=r"user_id 'cryo_mem' is not a valid copick name"):
        write_copick_picks(
            project, "TS-1", object_name="protein", particles=particles, user_id="cryo_mem", session_id="2"
        )
    with pytest.raises(ValueError, match=r"run 'TS-9' is not in"):
        write_copick_mesh(
            project, "TS-9", object_name="membrane", vertices_xyz_ang=np.eye(3), faces=[[0, 1, 2]],
            user_id=USER, session_id=SESSION,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"labels_zyx has shape \(2, 2, 2\) but run 'TS-1'"):
        write_copick_segmentation(
            project, "TS-1", voxel_spacing_ang=SPACING, name="membrane", labels_zyx=np.zeros((2, 2, 2), np.uint8),
            user_id=USER, session_id=SESSION, is_multilabel=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"run 'TS-1' has no voxel spacing 20 Å"):
        write_copick_segmentation(
            project, "TS-1", voxel_spacing_ang=20.0, name="membrane", labels_zyx=np.zeros(SHAPE, np.uint8),
            user_id=USER, session_id=SESSION, is_multilabel=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"run 'TS-1' has no picks of 'protein'"):
        read_copick_picks(project, "TS-1", object_name="protein")
    # nothing half-written was left behind by the refusals
    assert _root(project).get_run("TS-1").picks == []


def test_import_cryomem_io_does_not_import_copick():
    code = "import sys, cryomem.io; cryomem.io.copick_tomograms; print('copick' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_copick_is_one_clear_line(project, monkeypatch):
    monkeypatch.setitem(sys.modules, "copick", None)
    with pytest.raises(ImportError, match=r'pip install "cryomem\[copick\]"'):
        open_copick(project)
