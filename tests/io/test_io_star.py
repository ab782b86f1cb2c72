"""Particle STAR files: our own round trip and every flavour we must read."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from cryomem.io import (
    PARTICLE_COLUMNS,
    euler_zyz_deg_to_matrix,
    read_particles_star,
    write_particles_star,
)


def _particles(n: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "tomo_name": ["01"] * n,  # a numeric-looking name must stay a string
            "x_ang": rng.uniform(0, 1000, n),
            "y_ang": rng.uniform(0, 1000, n),
            "z_ang": rng.uniform(0, 500, n),
            "rot_deg": rng.uniform(-180, 180, n),
            "tilt_deg": rng.uniform(0, 180, n),
            "psi_deg": rng.uniform(-180, 180, n),
            "class_number": np.arange(n) + 1,
            "membrane_id": np.arange(n) - 1,
            "score": [np.nan, *rng.uniform(0, 1, n - 1)],
        }
    )


def _assert_same(read: pd.DataFrame, expected: pd.DataFrame, atol: float = 1e-4) -> None:
    assert tuple(read.columns) == PARTICLE_COLUMNS
    assert read["tomo_name"].tolist() == expected["tomo_name"].tolist()
    for column in ("x_ang", "y_ang", "z_ang", "rot_deg", "tilt_deg", "psi_deg", "score"):
        np.testing.assert_allclose(read[column], expected[column], atol=atol, err_msg=column)
    for column in ("class_number", "membrane_id"):
        assert read[column].dtype == np.int64
        np.testing.assert_array_equal(read[column], expected[column])


def test_round_trip_with_origin(tmp_path: Path) -> None:
    particles = _particles()
    origin = (50.0, -20.0, 10.0)
    path = write_particles_star(
        tmp_path / "p.star",
        particles,
        voxel_size_ang=12.5,
        shape_zyx=(60, 100, 90),
        origin_xyz_ang=origin,
    )
    _assert_same(read_particles_star(path, origin_xyz_ang=origin), particles)


def test_written_columns_follow_relion5(tmp_path: Path) -> None:
    particles = pd.DataFrame({"tomo_name": ["TS_1"], "x_ang": [100.0], "y_ang": [40.0], "z_ang": [20.0]})
    write_particles_star(tmp_path / "p.star", particles, voxel_size_ang=10.0, shape_zyx=(8, 10, 30))
    blocks = starfile.read(tmp_path / "p.star", always_dict=True)
    assert list(blocks) == ["particles"]
    table = blocks["particles"]
    assert list(table.columns) == [
        "rlnTomoName",
        "rlnCoordinateX",
        "rlnCoordinateY",
        "rlnCoordinateZ",
        "rlnCenteredCoordinateXAngst",
        "rlnCenteredCoordinateYAngst",
        "rlnCenteredCoordinateZAngst",
        "rlnAngleRot",
        "rlnAngleTilt",
        "rlnAnglePsi",
        "rlnClassNumber",
        "rlnTomoTiltSeriesPixelSize",
        "cryomemMembraneId",
        "cryomemScore",
    ]
    row = table.iloc[0]
    assert (row["rlnCoordinateX"], row["rlnCoordinateY"], row["rlnCoordinateZ"]) == (10.0, 4.0, 2.0)
    # (px - N / 2) * s with N = (30, 10, 8) along x, y, z
    assert (
        row["rlnCenteredCoordinateXAngst"],
        row["rlnCenteredCoordinateYAngst"],
        row["rlnCenteredCoordinateZAngst"],
    ) == (-50.0, -10.0, -20.0)
    assert row["rlnClassNumber"] == 1 and row["cryomemMembraneId"] == -1
    assert np.isnan(row["cryomemScore"]) and row["rlnTomoTiltSeriesPixelSize"] == 10.0


def test_empty_table_round_trips(tmp_path: Path) -> None:
    empty = _particles().iloc[:0]
    write_particles_star(tmp_path / "p.star", empty, voxel_size_ang=10.0, shape_zyx=(8, 8, 8))
    read = read_particles_star(tmp_path / "p.star", voxel_size_ang=10.0)
    assert len(read) == 0 and tuple(read.columns) == PARTICLE_COLUMNS


@settings(max_examples=25, deadline=None)
@given(
    xyz=st.lists(st.tuples(*[st.floats(0, 5000)] * 3), min_size=1, max_size=5),
    size=st.floats(1.5, 30.0),
    origin=st.tuples(*[st.floats(-1e3, 1e3)] * 3),
)
def test_round_trip_property(xyz: list, size: float, origin: tuple) -> None:
    points = np.array(xyz)
    particles = pd.DataFrame({"tomo_name": "t", "x_ang": points[:, 0], "y_ang": points[:, 1], "z_ang": points[:, 2]})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.star"
        write_particles_star(path, particles, voxel_size_ang=size, shape_zyx=(500, 500, 500), origin_xyz_ang=origin)
        read = read_particles_star(path, origin_xyz_ang=origin)
        centred_only = read_particles_star(_drop_pixels(path), shape_zyx=(500, 500, 500), origin_xyz_ang=origin)
    np.testing.assert_allclose(read[["x_ang", "y_ang", "z_ang"]], points, atol=1e-7)
    np.testing.assert_allclose(centred_only[["x_ang", "y_ang", "z_ang"]], points, atol=1e-7)


def _drop_pixels(path: Path) -> Path:
    table = starfile.read(path)
    out = path.with_name("centred.star")
    starfile.write(
        {"particles": table.drop(columns=["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"])},
        out,
        float_format="%.12g",
    )
    return out


def _surforama_file(path: Path, normals_xyz: np.ndarray, ups_xyz: np.ndarray, points_xyz_px: np.ndarray) -> None:
    """A file as Surforama writes it: one DataFrame via starfile, pixel xyz, ZYZ angles.

    Surforama builds each particle frame with columns (up x normal, up, normal) in xyz and
    stores ``Rotation.from_matrix(frame).inv().as_euler("ZYZ", degrees=True)``.
    """
    frames = np.stack([np.cross(ups_xyz, normals_xyz), ups_xyz, normals_xyz], axis=-1)
    eulers = Rotation.from_matrix(frames).inv().as_euler("ZYZ", degrees=True)
    table = pd.DataFrame(
        {
            "rlnCoordinateX": points_xyz_px[:, 0],
            "rlnCoordinateY": points_xyz_px[:, 1],
            "rlnCoordinateZ": points_xyz_px[:, 2],
            "rlnAngleRot": eulers[:, 0],
            "rlnAngleTilt": eulers[:, 1],
            "rlnAnglePsi": eulers[:, 2],
        }
    )
    starfile.write(table, path)


def test_reads_surforama_files(tmp_path: Path) -> None:
    normals = np.array([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]])
    ups = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    points_px = np.array([[10.0, 20.0, 30.0], [1.5, 2.5, 3.5]])
    _surforama_file(tmp_path / "s.star", normals, ups, points_px)
    with pytest.raises(ValueError, match="no pixel size.*pass voxel_size_ang"):
        read_particles_star(tmp_path / "s.star")
    read = read_particles_star(tmp_path / "s.star", voxel_size_ang=14.0, tomo_name="tomoA")
    np.testing.assert_allclose(read[["x_ang", "y_ang", "z_ang"]], points_px * 14.0)
    assert read["tomo_name"].tolist() == ["tomoA", "tomoA"]
    assert read["class_number"].tolist() == [1, 1] and read["membrane_id"].tolist() == [-1, -1]
    assert read["score"].isna().all()
    matrices = euler_zyz_deg_to_matrix(read[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())
    np.testing.assert_allclose(matrices[:, :, 2], normals, atol=1e-5)  # z axis is the normal
    np.testing.assert_allclose(matrices[:, :, 1], ups, atol=1e-5)


def test_reads_relion4_pixel_file_with_optics_and_shifts(tmp_path: Path) -> None:
    optics = pd.DataFrame({"rlnOpticsGroup": [1, 2], "rlnImagePixelSize": [5.0, 10.0]})
    particles = pd.DataFrame(
        {
            "rlnTomoName": ["a", "b"],
            "rlnCoordinateX": [10.0, 10.0],
            "rlnCoordinateY": [0.0, 1.0],
            "rlnCoordinateZ": [2.0, 3.0],
            "rlnOriginXAngst": [5.0, 0.0],
            "rlnOriginYAngst": [0.0, 0.0],
            "rlnOriginZAngst": [0.0, -10.0],
            "rlnOpticsGroup": [1, 2],
            "rlnAngleTilt": [90.0, 45.0],
            "rlnClassNumber": [2, 3],
            "rlnAutopickFigureOfMerit": [0.25, 0.75],
        }
    )
    starfile.write({"optics": optics, "particles": particles}, tmp_path / "r4.star")
    read = read_particles_star(tmp_path / "r4.star")
    # position = coordinate * pixel size - origin shift (RELION convention)
    np.testing.assert_allclose(read[["x_ang", "y_ang", "z_ang"]], [[45.0, 0.0, 10.0], [100.0, 10.0, 40.0]])
    assert read["tilt_deg"].tolist() == [90.0, 45.0] and read["rot_deg"].tolist() == [0.0, 0.0]
    assert read["class_number"].tolist() == [2, 3] and read["score"].tolist() == [0.25, 0.75]


def test_detector_pixel_size_uses_magnification(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "rlnCoordinateX": [2.0],
            "rlnCoordinateY": [0.0],
            "rlnCoordinateZ": [0.0],
            "rlnDetectorPixelSize": [14.0],
            "rlnMagnification": [20000.0],
        }
    )
    starfile.write({"particles": table}, tmp_path / "d.star")
    assert read_particles_star(tmp_path / "d.star")["x_ang"].tolist() == [14.0]  # 7 Å pixels


def test_reads_relion5_centred_file(tmp_path: Path) -> None:
    general = {"rlnTomoSubTomosAre2DStacks": 1}
    table = pd.DataFrame(
        {
            "rlnTomoName": ["t"],
            "rlnCenteredCoordinateXAngst": [0.0],
            "rlnCenteredCoordinateYAngst": [-100.0],
            "rlnCenteredCoordinateZAngst": [10.0],
            "rlnTomoTiltSeriesPixelSize": [10.0],
        }
    )
    starfile.write({"general": general, "particles": table}, tmp_path / "r5.star")
    with pytest.raises(ValueError, match="only RELION-5 centred coordinates.*pass shape_zyx"):
        read_particles_star(tmp_path / "r5.star")
    read = read_particles_star(tmp_path / "r5.star", shape_zyx=(20, 40, 60))
    np.testing.assert_allclose(read[["x_ang", "y_ang", "z_ang"]], [[300.0, 100.0, 110.0]])


def test_bad_star_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.star"):
        read_particles_star(tmp_path / "missing.star")
    starfile.write({"optics": pd.DataFrame({"rlnImagePixelSize": [3.0]})}, tmp_path / "none.star")
    with pytest.raises(ValueError, match="none.star has no particle coordinates.*blocks: \\['optics'\\]"):
        read_particles_star(tmp_path / "none.star")
    (tmp_path / "junk.star").write_text("this is not a star file\n")
    with pytest.raises(ValueError, match="junk.star has no particle coordinates"):
        read_particles_star(tmp_path / "junk.star")
    flat = pd.DataFrame({"rlnCoordinateX": [1.0], "rlnCoordinateY": [2.0], "rlnPixelSize": [5.0]})
    starfile.write({"particles": flat}, tmp_path / "flat.star")
    with pytest.raises(ValueError, match="lacks a z coordinate"):
        read_particles_star(tmp_path / "flat.star")
    one = pd.DataFrame(
        {
            "rlnCoordinateX": [1.0],
            "rlnCoordinateY": [2.0],
            "rlnCoordinateZ": [3.0],
            "rlnPixelSize": [1.0],
        }
    )
    starfile.write({"particles": one}, tmp_path / "one.star")
    with pytest.raises(ValueError, match="rlnPixelSize.*no voxel size.*voxel_size_ang"):
        read_particles_star(tmp_path / "one.star")


def test_write_rejects_bad_tables(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"lacks required column\(s\) \['tomo_name'\]"):
        write_particles_star(
            tmp_path / "p.star",
            _particles().drop(columns="tomo_name"),
            voxel_size_ang=10.0,
            shape_zyx=(8, 8, 8),
        )
    named = _particles().assign(tomo_name="has space")
    with pytest.raises(ValueError, match="without whitespace"):
        write_particles_star(tmp_path / "p.star", named, voxel_size_ang=10.0, shape_zyx=(8, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        write_particles_star(
            tmp_path / "p.star",
            _particles().assign(x_ang=np.nan),
            voxel_size_ang=10.0,
            shape_zyx=(8, 8, 8),
        )
    assert list(tmp_path.iterdir()) == []
