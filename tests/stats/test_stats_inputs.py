"""Reading membranes, matching particles to them, and the bad-input messages."""

import numpy as np
import pandas as pd
import pytest
from stats_helpers import particle_table, sphere

from cryomem.io import MembraneSurface, Mesh, write_membrane_h5, write_mesh
from cryomem.stats import assign_particles, membrane_surface, read_membrane_meshes


def _sphere_at(centre, radius=300.0, membrane_id=1, tomo="t"):
    vertices, faces = sphere(radius, 3)
    return membrane_surface(tomo, membrane_id, vertices + centre, faces)


def test_files_are_named_by_tomogram_and_membrane(tmp_path):
    vertices, faces = sphere(300.0, 2)
    write_mesh(tmp_path / "TS_01_mb7.obj", Mesh(vertices, faces))
    write_mesh(tmp_path / "other.ply", Mesh(vertices * 0.1, faces))
    surface = MembraneSurface(vertices, faces, vertices / 300.0, membrane_id=4, voxel_size_ang=12.0)
    write_membrane_h5(tmp_path / "TS_02_mb4.h5", surface)
    meshes = read_membrane_meshes([tmp_path])
    assert [(m.tomo_name, m.membrane_id) for m in meshes] == [("TS_01", 7), ("TS_02", 4), ("other", 3)]
    assert meshes[1].voxel_size_ang == 12.0
    scaled = read_membrane_meshes([tmp_path / "other.ply"], mesh_unit="voxel", voxel_size_ang=10.0)[0]
    np.testing.assert_allclose(scaled.vertices_xyz_ang, vertices)


def test_a_surface_folder_with_h5_and_obj_reads_each_membrane_once_from_the_h5(tmp_path):
    vertices, faces = sphere(300.0, 2)
    surface = MembraneSurface(vertices, faces, vertices / 300.0, membrane_id=1, voxel_size_ang=12.0)
    write_membrane_h5(tmp_path / "TS_01_mb1.h5", surface)
    write_mesh(tmp_path / "TS_01_mb1.obj", Mesh(vertices, faces))  # as `cryomem surface` writes them
    meshes = read_membrane_meshes([tmp_path])
    assert len(meshes) == 1 and meshes[0].source.endswith(".h5") and meshes[0].voxel_size_ang == 12.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: write_mesh(p / "a.obj", Mesh(np.zeros((3, 3)), np.zeros((0, 3), int))), "empty"),
        (lambda p: (p / "a.txt").write_text("x"), "unsupported"),
        (lambda p: None, "does not exist"),
    ],
)
def test_bad_membrane_files(tmp_path, make, message):
    make(tmp_path)
    path = tmp_path / "a.obj" if message != "unsupported" else tmp_path / "a.txt"
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        read_membrane_meshes([path])


def test_particles_go_to_the_nearest_membrane_and_off_mesh_ones_are_counted():
    meshes = [_sphere_at((0, 0, 0)), _sphere_at((1000, 0, 0), membrane_id=2)]
    xyz = np.array([[300.0, 0, 0], [1000, 300, 0], [1000, -300, 0], [0, 330, 0], [0, 0, 5000]])
    result = assign_particles(meshes, particle_table(xyz), tolerance_nm=10.0)
    assert [len(m.particles) for m in result.membranes] == [2, 2]
    assert result.off_mesh["particle_index"].tolist() == [4] and result.n_assigned == 4
    named = particle_table(xyz[:1])
    named["membrane_id"] = 2  # a membrane id naming a farther membrane is only a hint: the nearest one wins
    routed = assign_particles(meshes, named, tolerance_nm=100.0)
    assert [len(m.particles) for m in routed.membranes] == [1, 0] and routed.n_membrane_id_mismatch == 1
    named["membrane_id"] = 1
    agreed = assign_particles(meshes, named, tolerance_nm=100.0)
    assert [len(m.particles) for m in agreed.membranes] == [1, 0] and agreed.n_membrane_id_mismatch == 0


def test_particles_of_other_tomograms_are_refused_with_the_names():
    meshes = [_sphere_at((0, 0, 0), tomo="a"), _sphere_at((0, 0, 0), tomo="b", membrane_id=2)]
    with pytest.raises(ValueError, match=r"particles name tomograms \['c'\]"):
        assign_particles(meshes, particle_table([[300.0, 0, 0]], tomo="c"))
    single = assign_particles(meshes[:1], particle_table([[300.0, 0, 0]], tomo="anything"))
    assert single.n_assigned == 1


def test_all_particles_off_every_mesh_is_an_error_with_a_hint_for_voxel_meshes():
    vertices, faces = sphere(30.0, 3)  # a 300 Å vesicle written in 10 Å voxels
    mesh = membrane_surface("t", 1, vertices, faces, voxel_size_ang=10.0)
    xyz = sphere(300.0, 3)[0][:20]
    with pytest.raises(ValueError, match="look like they are in voxels"):
        assign_particles([mesh], particle_table(xyz))
    plain = membrane_surface("t", 1, vertices, faces)
    with pytest.raises(ValueError, match="off every membrane"):
        assign_particles([plain], particle_table(xyz + 5000.0))
    with pytest.raises(ValueError, match="empty"):
        assign_particles([plain], particle_table(np.zeros((0, 3))))
    with pytest.raises(ValueError, match="lacks columns"):
        assign_particles([plain], pd.DataFrame({"x_ang": [0.0]}))
