"""The surface stage on a simulated tomogram, and over files with its bad-input checks."""

import dataclasses

import numpy as np
import pytest
from scipy.spatial import cKDTree

from cryomem.geometry import (
    DEFAULT_FEATURE_LOWPASS_ANG,
    DEFAULT_FEATURE_OFFSETS_ANG,
    FEATURE_LOWPASS_ATTR,
    face_areas,
    membrane_instances,
    membrane_surfaces,
    sample_along_normals,
    surfaces_from_files,
)
from cryomem.io import read_membrane_h5, read_mesh, write_mrc
from cryomem.simulate import SimulationConfig, simulate_tomogram

NO_CYTOSOL = {"occupancy": 0.0, "microtubules": 0, "actin_filaments": 0}


@pytest.fixture(scope="module")
def simulated():
    config = SimulationConfig(shape_zyx=(48, 96, 96), seed=1, cytosol=NO_CYTOSOL)
    return simulate_tomogram(config)


@pytest.fixture(scope="module")
def surfaces(simulated):
    return membrane_surfaces(
        simulated.phantom.membrane_ids_zyx, simulated.tomogram_zyx, simulated.config.voxel_size_ang, min_voxels=500
    )


def test_one_surface_per_ground_truth_membrane(simulated, surfaces):
    ids = simulated.phantom.membrane_ids_zyx
    truth = {m.membrane_id: m for m in simulated.phantom.membranes if (ids == m.membrane_id).sum() >= 500}
    assert len(truth) >= 2
    assert [s.membrane_id for s in surfaces] == sorted(truth)
    for surface in surfaces:
        membrane = truth[surface.membrane_id]
        # the mesh is the boundary of the labelled bilayer: near its mid-surface, on both sides
        distance, _ = cKDTree(membrane.vertices_xyz_ang).query(surface.vertices_xyz_ang)
        assert np.median(distance) < membrane.bilayer.thickness_ang
        area = face_areas(surface.vertices_xyz_ang, surface.faces).sum()
        assert 1.8 < area / membrane.area_ang2 < 3.5
        assert surface.features.shape == (len(surface.vertices_xyz_ang), len(DEFAULT_FEATURE_OFFSETS_ANG))
        np.testing.assert_array_equal(surface.feature_offsets_ang, DEFAULT_FEATURE_OFFSETS_ANG)
        assert surface.attrs[FEATURE_LOWPASS_ATTR] == DEFAULT_FEATURE_LOWPASS_ANG
        # normals point out of the membrane: its label 15 Å behind each vertex, background 15 Å ahead
        label = (ids == surface.membrane_id).astype(np.float32)
        voxel = simulated.config.voxel_size_ang
        ahead_behind = sample_along_normals(label, voxel, surface.vertices_xyz_ang, surface.normals_xyz, [-15.0, 15.0])
        assert (ahead_behind[:, 0] > 0.5).mean() > 0.99 and (ahead_behind[:, 1] < 0.5).mean() > 0.99
        # dense matter is dark: behind the surface (in the membrane) darker than well outside it
        profile = surface.features.mean(axis=0)
        offsets = surface.feature_offsets_ang
        assert profile[offsets == -15.0][0] < profile[offsets == 25.0][0] - 0.3


def test_binary_mask_is_split_into_components_renumbered_from_one():
    mask = np.zeros((30, 30, 30), dtype=np.uint8)
    mask[2:6, 2:28, 2:28] = 1
    mask[20:24, 2:28, 2:28] = 1
    mask[12, 12, 12] = 1  # a speck below min_voxels
    instances, boxes = membrane_instances(mask, min_voxels=100)
    assert sorted(boxes) == [1, 2] and set(np.unique(instances)) == {0, 1, 2}
    _, boxes = membrane_instances(mask.astype(np.uint16) * 7, min_voxels=100)
    assert sorted(boxes) == [7]  # an instance map keeps its labels (7 is one label spanning two sheets)


def test_files_round_trip_and_overwrite(simulated, surfaces, tmp_path):
    voxel = simulated.config.voxel_size_ang
    seg = write_mrc(tmp_path / "tomo_seg.mrc", simulated.phantom.membrane_ids_zyx > 0, voxel_size_ang=voxel)
    tomo = write_mrc(tmp_path / "tomo.mrc", simulated.tomogram_zyx, voxel_size_ang=voxel)
    out = tmp_path / "membranes"
    written = surfaces_from_files(seg, tomo, out, min_voxels=500)
    names = sorted(p.name for p in written)
    assert names == sorted(f"tomo_mb{i}.{s}" for i in range(1, len(surfaces) + 1) for s in ("h5", "obj"))
    assert sorted(p.name for p in out.iterdir()) == names  # nothing else (no temporary files)
    first = read_membrane_h5(out / "tomo_mb1.h5")
    assert first.tomogram_path == str(tomo.resolve()) and first.voxel_size_ang == voxel
    assert first.features.dtype == np.float32
    np.testing.assert_array_equal(first.feature_offsets_ang, DEFAULT_FEATURE_OFFSETS_ANG)
    obj = read_mesh(out / "tomo_mb1.obj")
    np.testing.assert_allclose(obj.vertices_xyz_ang, first.vertices_xyz_ang)
    np.testing.assert_array_equal(obj.faces, first.faces)
    # the binary mask's first component is ground-truth membrane 1 here: same mesh as in memory
    np.testing.assert_allclose(first.vertices_xyz_ang, surfaces[0].vertices_xyz_ang)
    with pytest.raises(FileExistsError, match="--overwrite"):
        surfaces_from_files(seg, tomo, out, min_voxels=500)
    (out / "tomo_mb9.h5").write_text("stale")
    surfaces_from_files(seg, tomo, out, min_voxels=500, overwrite=True)
    assert not (out / "tomo_mb9.h5").exists()


def _pair(tmp_path, seg_data, tomo_data, seg_voxel=10.0, tomo_voxel=10.0):
    seg = write_mrc(tmp_path / "seg.mrc", seg_data, voxel_size_ang=seg_voxel)
    tomo = write_mrc(tmp_path / "tomo.mrc", tomo_data, voxel_size_ang=tomo_voxel)
    return seg, tomo


def _slab(shape=(20, 24, 24)):
    mask = np.zeros(shape, dtype=np.uint8)
    mask[8:12, 2:-2, 2:-2] = 1
    return mask


@pytest.mark.parametrize(
    "seg_data, tomo_shape, voxels, message",
    [
        (np.zeros((20, 24, 24), np.uint8), (20, 24, 24), (10.0, 10.0), "no membrane of at least 100 voxels"),
        (_slab(), (20, 24, 28), (10.0, 10.0), r"has shape \(20, 24, 24\).*has \(20, 24, 28\)"),
        (_slab(), (20, 24, 24), (10.0, 12.0), "voxel size 10 Å but tomogram tomo.mrc has 12 Å"),
        (_slab(), (20, 24, 24), (1.0, 1.0), "pass --voxel-size"),
        (_slab().astype(np.float32) * 0.7, (20, 24, 24), (10.0, 10.0), "non-integer values"),
    ],
)
def test_bad_inputs_are_named_and_write_nothing(tmp_path, seg_data, tomo_shape, voxels, message):
    seg, tomo = _pair(tmp_path, seg_data, np.random.default_rng(0).normal(size=tomo_shape).astype(np.float32), *voxels)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=message):
        surfaces_from_files(seg, tomo, out, min_voxels=100)
    assert not out.exists()


def test_voxel_size_override_and_missing_files(tmp_path):
    noise = np.random.default_rng(0).normal(size=(20, 24, 24)).astype(np.float32)  # a constant tomogram is refused
    seg, tomo = _pair(tmp_path, _slab(), noise, 1.0, 1.0)
    written = surfaces_from_files(seg, tomo, tmp_path / "out", voxel_size_ang=8.0, min_voxels=100)
    assert read_membrane_h5(written[0]).voxel_size_ang == 8.0
    with pytest.raises(FileNotFoundError, match="tomogram .*missing.mrc does not exist"):
        surfaces_from_files(seg, tmp_path / "missing.mrc", tmp_path / "out2")
    (tmp_path / "not.mrc").write_text("not an mrc")
    with pytest.raises(ValueError, match="not a readable MRC"):
        surfaces_from_files(tmp_path / "not.mrc", tomo, tmp_path / "out3")


def test_stage_shape_check_in_memory():
    with pytest.raises(ValueError, match="differs from tomogram shape"):
        membrane_surfaces(_slab(), np.zeros((20, 24, 25)), 10.0)
    assert dataclasses.is_dataclass(membrane_surfaces(_slab(), np.zeros((20, 24, 24)), 10.0, min_voxels=100)[0])
