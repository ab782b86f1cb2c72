"""`cryomem stats ...` commands on tiny inputs, and their bad-input messages."""

import json

import numpy as np
import pytest
import trimesh
import typer
from typer.testing import CliRunner

from cryomem.cli._stats import stats_app
from cryomem.io import Mesh, normals_to_euler_zyz_deg, read_mesh, write_mesh, write_particles_star

runner = CliRunner()
app = typer.Typer()
app.add_typer(stats_app, name="stats")

RADIUS = 300.0
SHAPE = (64, 64, 64)


def _run(*args):
    return runner.invoke(app, ["stats", *[str(a) for a in args]])


def _flat(text):
    return " ".join(text.split())


def _particles(rng, n=30, radius=RADIUS, centre=(320.0, 320.0, 320.0)):
    import pandas as pd

    normals = rng.normal(size=(n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    xyz = np.asarray(centre) + radius * normals
    angles = normals_to_euler_zyz_deg(normals, rng.uniform(0, 360, n))
    return pd.DataFrame(
        {
            "tomo_name": "t",
            "x_ang": xyz[:, 0],
            "y_ang": xyz[:, 1],
            "z_ang": xyz[:, 2],
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": rng.integers(1, 3, n),
        }
    )


@pytest.fixture()
def inputs(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=RADIUS)
    vertices = np.asarray(sphere.vertices) + 320.0
    write_mesh(tmp_path / "t_mb001.obj", Mesh(vertices, np.asarray(sphere.faces)))
    star = write_particles_star(
        tmp_path / "t.star", _particles(np.random.default_rng(0)), voxel_size_ang=10.0, shape_zyx=SHAPE
    )
    return tmp_path / "t_mb001.obj", star


@pytest.mark.parametrize(
    "command, extra, files",
    [
        ("concentration", ["--side", "half"], ["concentration.csv", "concentration.png"]),
        (
            "neighbours",
            ["--k", "2", "--start-classes", "1", "--target-classes", "2"],
            ["neighbours.csv", "neighbours_per_membrane.csv", "neighbours.png"],
        ),
        ("ripley", ["--max-radius-nm", "20", "--bin-size-nm", "4", "--simulations", "3"], ["ripley.csv", "ripley.png"]),
        ("orientation", ["--k", "3"], ["orientation.csv", "orientation_min_angle.csv", "orientation.png"]),
        ("edges", ["--bin-nm", "5", "--max-nm", "20"], ["edges.csv", "edges.png"]),
        ("chains", ["--max-distance-nm", "30"], ["chains.csv", "chains_particles.csv"]),
        ("all", ["--max-radius-nm", "20", "--simulations", "2"], ["concentration.csv", "ripley.csv", "chains.csv"]),
    ],
)
def test_every_command_writes_its_files(inputs, tmp_path, command, extra, files):
    mesh, star = inputs
    out = tmp_path / "out"
    result = _run(command, mesh, "--particles", star, "--out", out, *extra)
    assert result.exit_code == 0, result.output
    assert "done" in result.output and "30 of 30 particles" in _flat(result.output)
    for name in files:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    name = "stats" if command == "all" else command
    summary = json.loads((out / f"{name}_summary.json").read_text())
    assert summary["particles"]["on_membranes"] == 30
    vtp = read_mesh(out / "meshes" / f"t_mb1_{name}.vtp")  # read from t_mb001.obj, written unpadded
    assert vtp.point_data["particle_count"].sum() == 30


def test_concentration_values_in_the_csv(inputs, tmp_path):
    import pandas as pd

    mesh, star = inputs
    result = _run("concentration", mesh, "-p", star, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "concentration.csv")
    row = table[(table["scope"] == "membrane") & (table["class"] == "all")].iloc[0]
    area_um2 = trimesh.load(mesh, process=False).area / 1e8
    assert row["concentration_per_um2"] == pytest.approx(30 / area_um2)
    assert {"n_particles", "area_um2", "concentration_per_um2"} <= set(table.columns)


def _voxel_mesh(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=RADIUS / 10.0)
    write_mesh(tmp_path / "t_mb001.obj", Mesh(np.asarray(sphere.vertices) + 32.0, np.asarray(sphere.faces)))


def _empty_mesh(tmp_path):
    write_mesh(tmp_path / "t_mb001.obj", Mesh(np.zeros((3, 3)), np.zeros((0, 3), dtype=int)))


def _far_particles(tmp_path):
    far = _particles(np.random.default_rng(1), centre=(5000.0, 5000.0, 5000.0))
    write_particles_star(tmp_path / "t.star", far, voxel_size_ang=10.0, shape_zyx=SHAPE)


@pytest.mark.parametrize(
    "make, command, extra, message",
    [
        (_voxel_mesh, "concentration", ["--voxel-size", "10"], "look like they are in voxels"),
        (_far_particles, "neighbours", [], "off every membrane"),
        (_empty_mesh, "concentration", [], "membrane mesh is empty"),
        (lambda p: None, "ripley", ["--max-radius-nm", "200", "--simulations", "0"], "larger than the membranes"),
        (lambda p: None, "concentration", ["--side", "single"], "exclude_edges_nm"),
        (lambda p: None, "neighbours", ["--method", "fast"], "method"),
        (lambda p: None, "concentration", ["--classes", "a,b"], "class numbers"),
        (lambda p: (p / "t.star").write_text("garbage"), "concentration", [], "no particle coordinates"),
    ],
)
def test_bad_input_gives_one_line_and_no_output(inputs, tmp_path, make, command, extra, message):
    mesh, star = inputs
    make(tmp_path)
    out = tmp_path / "out"
    result = _run(command, mesh, "--particles", star, "--out", out, *extra)
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output) and "Traceback" not in result.output
    assert not out.exists()


def test_missing_membrane_file(tmp_path):
    result = _run("concentration", tmp_path / "nope.obj", "--particles", tmp_path / "t.star", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "does not exist" in _flat(result.output)
