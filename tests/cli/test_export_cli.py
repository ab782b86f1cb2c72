"""`cryomem export relion5 | stopgap | dynamo` (issue 22, part 3): runs and one-line refusals.

The commands are invoked on the ``export_app`` sub-app itself (it is mounted as ``cryomem export``).
"""

import numpy as np
import pandas as pd
import pytest
from bad_input import snapshot, write_raw_mrc
from typer.testing import CliRunner

from cryomem.cli._export import export_app
from cryomem.io import (
    euler_zyz_deg_to_matrix,
    normals_to_euler_zyz_deg,
    read_dynamo_table,
    read_particles_star,
    read_stopgap_motl,
    read_tomogram_index,
    write_mrc,
    write_particles_star,
)

SIZE = 10.0
SHAPE = (20, 30, 40)
ORIGIN = (50.0, 60.0, 70.0)
OUTPUTS = {
    "relion5": ("particles.star", "tomograms.star"),
    "stopgap": ("allmotl_1.star", "tomograms.tsv"),
    "dynamo": ("particles.tbl", "tomograms.tsv"),
}


def _run(args: list):
    return CliRunner().invoke(export_app, [str(a) for a in args])


def _refuses(args: list, message: str, folder) -> str:
    before = snapshot([folder])
    result = _run(args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    assert len([line for line in result.output.strip().splitlines() if line.strip()]) <= 2, result.output
    assert message.lower() in text.lower(), result.output
    assert snapshot([folder]) == before
    return text


def _particles(n: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    xyz = rng.uniform(0, 1, (n, 3)) * np.asarray(SHAPE[::-1]) * SIZE + ORIGIN
    normals = rng.normal(size=(n, 3))
    angles = normals_to_euler_zyz_deg(normals, rng.uniform(-180, 180, n))
    return pd.DataFrame(
        {"tomo_name": "tomo", "x_ang": xyz[:, 0], "y_ang": xyz[:, 1], "z_ang": xyz[:, 2]}
        | {"rot_deg": angles[:, 0], "tilt_deg": angles[:, 1], "psi_deg": angles[:, 2]}
        | {"class_number": 1, "membrane_id": np.arange(n) % 2, "score": rng.uniform(size=n)}
    )


@pytest.fixture
def work(tmp_path):
    """A tomogram ``tomo.mrc`` and its picks ``tomo_particles.star`` (pixel + centred coordinates)."""
    tomo = write_mrc(tmp_path / "tomo.mrc", np.zeros(SHAPE, np.float32), voxel_size_ang=SIZE, origin_xyz_ang=ORIGIN)
    particles = _particles()
    star = write_particles_star(
        tmp_path / "tomo_particles.star", particles, voxel_size_ang=SIZE, shape_zyx=SHAPE, origin_xyz_ang=ORIGIN
    )
    return tmp_path, tomo, star, particles


def _assert_same(read: pd.DataFrame, particles: pd.DataFrame) -> None:
    np.testing.assert_allclose(read[["x_ang", "y_ang", "z_ang"]], particles[["x_ang", "y_ang", "z_ang"]], atol=1e-6)
    angles = ["rot_deg", "tilt_deg", "psi_deg"]
    np.testing.assert_allclose(
        euler_zyz_deg_to_matrix(read[angles].to_numpy()),
        euler_zyz_deg_to_matrix(particles[angles].to_numpy()),
        atol=1e-9,
    )
    assert read["membrane_id"].tolist() == particles["membrane_id"].tolist()


def test_relion5_with_tomogram_header(work):
    folder, tomo, star, particles = work
    result = _run(["relion5", star, "--out", folder / "r5", "--tomogram", tomo])
    assert result.exit_code == 0, result.output
    assert "wrote 6 particles of 1 tomogram(s)" in " ".join(result.output.split())
    read = read_particles_star(folder / "r5" / "particles.star", shape_zyx=SHAPE, origin_xyz_ang=ORIGIN)
    _assert_same(read, particles)


def test_relion5_takes_the_shape_from_our_own_star(work):
    folder, _, star, particles = work
    result = _run(["relion5", star, "--out", folder / "r5"])  # no tomogram: shape from the STAR, origin 0
    assert result.exit_code == 0, result.output
    read = read_particles_star(folder / "r5" / "particles.star", shape_zyx=SHAPE, origin_xyz_ang=ORIGIN)
    _assert_same(read, particles)


@pytest.mark.parametrize("kind", ["stopgap", "dynamo"])
def test_stopgap_and_dynamo_round_trip(work, kind):
    folder, tomo, star, particles = work
    out = folder / kind
    result = _run([kind, star, "--out", out, "--tomogram", tomo])
    assert result.exit_code == 0, result.output
    names = read_tomogram_index(out / "tomograms.tsv")
    assert names == {1: "tomo"}
    reader = read_stopgap_motl if kind == "stopgap" else read_dynamo_table
    read = reader(out / OUTPUTS[kind][0], voxel_size_ang=SIZE, tomo_names=names, origins_xyz_ang={"tomo": ORIGIN})
    _assert_same(read, particles)


@pytest.mark.parametrize("kind", ["relion5", "stopgap", "dynamo"])
def test_bad_inputs_are_refused_in_one_line(work, kind):
    folder, tomo, star, particles = work
    out = folder / "out"
    _refuses([kind, folder / "missing.star", "--out", out], "not found", folder)
    _refuses([kind, star, "--out", out, "--voxel-size", "0"], "voxel size", folder)
    _refuses([kind, star, "--out", out, "--tomogram", folder / "missing.mrc"], "not found", folder)
    empty = write_particles_star(folder / "empty.star", particles.iloc[:0], voxel_size_ang=SIZE, shape_zyx=SHAPE)
    _refuses([kind, empty, "--out", out], "no particles", folder)
    (folder / "afile").write_text("x")
    _refuses([kind, star, "--out", folder / "afile"], "is a file", folder)
    no_size = write_raw_mrc(folder / "nosize.mrc", np.zeros((4, 4, 4), np.float32), 0.0)
    (folder / "tomo2.mrc").write_bytes(no_size.read_bytes())
    renamed = write_particles_star(
        folder / "tomo2_particles.star", particles.assign(tomo_name="tomo2"), voxel_size_ang=SIZE, shape_zyx=SHAPE
    )
    _refuses([kind, renamed, "--out", out, "--tomogram", folder / "tomo2.mrc"], "--voxel-size", folder)
    assert not out.exists()
    out.mkdir()
    (out / OUTPUTS[kind][0]).write_text("old")
    _refuses([kind, star, "--out", out, "--tomogram", tomo], "--overwrite", folder)
    assert _run([kind, star, "--out", out, "--tomogram", tomo, "--overwrite"]).exit_code == 0


def test_relion5_refuses_an_unknown_tomogram_shape(tmp_path):
    particles = _particles()
    star = tmp_path / "picks.star"
    # A Surforama-like file: pixel coordinates only, so it states no tomogram shape.
    lines = ["data_particles", "", "loop_", "_rlnTomoName", "_rlnCoordinateX", "_rlnCoordinateY", "_rlnCoordinateZ"]
    lines += [f"tomo {x / SIZE} {y / SIZE} {z / SIZE}" for x, y, z in particles[["x_ang", "y_ang", "z_ang"]].to_numpy()]
    star.write_text("\n".join(lines) + "\n")
    text = _refuses(["relion5", star, "--out", tmp_path / "out", "--voxel-size", "10"], "shape of tomogram", tmp_path)
    assert "--tomogram tomo.mrc" in text
    assert _run(["stopgap", star, "--out", tmp_path / "sg", "--voxel-size", "10"]).exit_code == 0  # needs no shape


def test_surforama_meshes_are_in_voxels_of_their_tomogram(tmp_path):
    """Surforama reads OBJ vertices as pixel coordinates of its image: (Å - origin) / voxel size."""
    from cryomem.io import MembraneSurface, read_mesh, write_membrane_h5, write_mesh

    vertices = np.array([[50.0, 60.0, 70.0], [150.0, 60.0, 70.0], [50.0, 260.0, 170.0]])
    faces = np.array([[0, 1, 2]])
    normals = np.tile([0.0, 0.0, 1.0], (3, 1))
    surface = MembraneSurface(vertices, faces, normals, membrane_id=3, voxel_size_ang=SIZE, origin_xyz_ang=ORIGIN)
    write_membrane_h5(tmp_path / "tomo_mb3.h5", surface)
    result = _run(["surforama", tmp_path / "tomo_mb3.h5", "--out", tmp_path / "sf"])
    assert result.exit_code == 0, result.output
    mesh = read_mesh(tmp_path / "sf" / "tomo_mb3.obj")
    np.testing.assert_allclose(mesh.vertices_xyz_ang, [[0, 0, 0], [10, 0, 0], [0, 20, 10]], atol=1e-5)
    np.testing.assert_array_equal(mesh.faces, faces)
    assert _run(["surforama", tmp_path / "tomo_mb3.h5", "--out", tmp_path / "sf"]).exit_code == 2  # no --overwrite
    (tmp_path / "plain").mkdir()
    write_mesh(tmp_path / "plain" / "tomo_mb4.obj", type(mesh)(vertices, faces, None))  # in Å, no voxel size
    refused = _run(["surforama", tmp_path / "plain" / "tomo_mb4.obj", "--out", tmp_path / "sf2"])
    assert refused.exit_code == 2 and "voxel size" in refused.output and not (tmp_path / "sf2").exists()
