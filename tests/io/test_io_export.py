"""Subtomogram-averaging export (issue 22, part 3): angle conventions, hand-computed poses, round trips."""

import numpy as np
import pandas as pd
import pytest
import starfile
from scipy.spatial.transform import Rotation

from cryomem.io import (
    euler_zyz_deg_to_matrix,
    normals_to_euler_zyz_deg,
    particle_star_shapes_zyx,
    read_dynamo_table,
    read_particles_star,
    read_stopgap_motl,
    read_tomogram_index,
    relion_to_zxz,
    write_dynamo_table,
    write_particles_star,
    write_relion5,
    write_stopgap_motl,
    zxz_deg_to_matrix,
    zxz_to_relion,
)

SIZE = 10.0
SHAPES = {"tomoA": (40, 60, 80), "tomoB": (30, 50, 70)}
ORIGINS = {"tomoA": (100.0, -50.0, 20.0), "tomoB": (0.0, 0.0, 0.0)}


def _random_angles(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-180, 180, (n, 3))
    angles[:, 1] = np.degrees(np.arccos(rng.uniform(-1, 1, n)))
    return angles


def _particles(n: int = 12, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.where(np.arange(n) % 3 == 0, "tomoB", "tomoA")
    xyz = np.empty((n, 3))
    for i, name in enumerate(names):
        extent = np.asarray(SHAPES[name][::-1]) * SIZE
        xyz[i] = rng.uniform(0, extent) + ORIGINS[name]
    angles = _random_angles(n, seed)
    return pd.DataFrame(
        {
            "tomo_name": names,
            "x_ang": xyz[:, 0],
            "y_ang": xyz[:, 1],
            "z_ang": xyz[:, 2],
            "rot_deg": angles[:, 0],
            "tilt_deg": angles[:, 1],
            "psi_deg": angles[:, 2],
            "class_number": rng.integers(1, 4, n),
            "membrane_id": rng.integers(0, 5, n),
            "score": rng.uniform(0, 1, n),
        }
    )


def _matrices(table: pd.DataFrame) -> np.ndarray:
    return euler_zyz_deg_to_matrix(table[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())


def _assert_same_particles(read: pd.DataFrame, written: pd.DataFrame) -> None:
    assert read["tomo_name"].tolist() == written["tomo_name"].tolist()
    np.testing.assert_allclose(read[["x_ang", "y_ang", "z_ang"]], written[["x_ang", "y_ang", "z_ang"]], atol=1e-6)
    np.testing.assert_allclose(_matrices(read), _matrices(written), atol=1e-9)
    for column in ("class_number", "membrane_id"):
        assert read[column].tolist() == written[column].tolist()
    np.testing.assert_allclose(read["score"], written["score"], rtol=1e-9)


# --------------------------------------------------------------------------------- conventions
@pytest.mark.parametrize("software", ["stopgap", "dynamo"])
def test_zxz_conversions_round_trip_and_keep_the_rotation(software):
    angles = _random_angles(500)
    zxz = relion_to_zxz(angles, software=software)
    np.testing.assert_allclose(zxz_deg_to_matrix(zxz, software=software), euler_zyz_deg_to_matrix(angles), atol=1e-12)
    np.testing.assert_allclose(
        euler_zyz_deg_to_matrix(zxz_to_relion(zxz, software=software)), euler_zyz_deg_to_matrix(angles), atol=1e-12
    )
    middle = zxz[:, 2] if software == "stopgap" else zxz[:, 1]  # STOPGAP order (phi, psi, the)
    assert np.all((middle >= 0) & (middle <= 180))


def test_zxz_matrices_match_scipy_and_the_packages_definitions():
    angles = _random_angles(50, seed=3)
    m = euler_zyz_deg_to_matrix(angles)
    # STOPGAP sg_euler2matrix(phi, psi, the) = Rz(psi) Rx(the) Rz(phi): intrinsic ZXZ (psi, the, phi).
    phi, psi, the = relion_to_zxz(angles, software="stopgap").T
    expected = Rotation.from_euler("ZXZ", np.column_stack([psi, the, phi]), degrees=True).as_matrix()
    np.testing.assert_allclose(m, expected, atol=1e-12)
    # dynamo_euler2matrix(tdrot, tilt, narot) = Rz(narot) Rx(tilt) Rz(tdrot) = extrinsic zxz; it is M transposed.
    dynamo = relion_to_zxz(angles, software="dynamo")
    np.testing.assert_allclose(
        Rotation.from_euler("zxz", dynamo, degrees=True).as_matrix(), np.swapaxes(m, 1, 2), atol=1e-12
    )


@pytest.mark.parametrize("software", ["stopgap", "dynamo"])
@pytest.mark.parametrize("tilt", [0.0, 180.0])
def test_zxz_poles_keep_the_rotation(software, tilt):
    angles = np.array([[37.0, tilt, 0.0], [-120.0, tilt, 55.0]])
    zxz = relion_to_zxz(angles, software=software)
    np.testing.assert_allclose(zxz_deg_to_matrix(zxz, software=software), euler_zyz_deg_to_matrix(angles), atol=1e-12)


def test_hand_computed_pose_normal_along_x_in_plane_30():
    # Normal n = +x, in-plane angle 30 degrees.
    # RELION: M = Rz(-psi) Ry(-tilt) Rz(-rot) with M e_z = (-cos psi sin tilt, sin psi sin tilt, cos tilt) = n
    #   -> tilt = 90, psi = 180, rot = the in-plane angle = 30.
    angles = normals_to_euler_zyz_deg([[1.0, 0.0, 0.0]], 30.0)
    np.testing.assert_allclose(angles, [[30.0, 90.0, 180.0]], atol=1e-9)
    # The particle frame in the tomogram: z = n = (1, 0, 0); x = Rz(180) Ry(-90) (cos 30, -sin 30, 0)
    #   = Rz(180) (0, -1/2, sqrt(3)/2) = (0, 1/2, sqrt(3)/2); y = z x x = (0, -sqrt(3)/2, 1/2).
    m = euler_zyz_deg_to_matrix(angles)[0]
    h = np.sqrt(3) / 2
    np.testing.assert_allclose(m, [[0, 0, 1], [0.5, -h, 0], [h, 0.5, 0]], atol=1e-12)
    # STOPGAP: M = Rz(psi) Rx(the) Rz(phi). Column 3 = (sin psi sin the, -cos psi sin the, cos the) = (1, 0, 0)
    #   -> the = 90, psi = 90. Row 3 = (sin the sin phi, sin the cos phi, cos the) = (sqrt(3)/2, 1/2, 0)
    #   -> phi = 60.
    np.testing.assert_allclose(relion_to_zxz(angles, software="stopgap"), [[60.0, 90.0, 90.0]], atol=1e-6)
    # Dynamo: M.T = Rz(narot) Rx(tilt) Rz(tdrot). Column 3 of M.T = row 3 of M = (sqrt(3)/2, 1/2, 0)
    #   = (sin narot sin tilt, -cos narot sin tilt, cos tilt) -> tilt = 90, narot = atan2(sqrt(3)/2, -1/2) = 120.
    #   Row 3 of M.T = column 3 of M = (1, 0, 0) = (sin tilt sin tdrot, sin tilt cos tdrot, cos tilt) -> tdrot = 90.
    np.testing.assert_allclose(relion_to_zxz(angles, software="dynamo"), [[90.0, 90.0, 120.0]], atol=1e-6)


def test_unknown_software_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="software"):
        relion_to_zxz([[0, 0, 0]], software="warp")
    with pytest.raises(ValueError, match="shape"):
        zxz_deg_to_matrix([1.0, 2.0], software="dynamo")


# ----------------------------------------------------------------------------------- RELION 5
def test_relion5_round_trip_per_tomogram(tmp_path):
    particles = _particles()
    written = write_relion5(
        particles, tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx=SHAPES, origins_xyz_ang=ORIGINS
    )
    assert set(written) == {"particles", "tomograms"}
    for name in SHAPES:
        read = read_particles_star(written["particles"], shape_zyx=SHAPES[name], origin_xyz_ang=ORIGINS[name])
        rows = (read["tomo_name"] == name).to_numpy()
        _assert_same_particles(read[rows].reset_index(drop=True), particles[rows].reset_index(drop=True))


def test_relion5_columns_priors_optics_and_tomograms(tmp_path):
    # One particle at voxel (x, y, z) = (10, 20, 5) of tomoA (80 x 60 x 40 voxels of 10 Å, origin (100, -50, 20)).
    particles = pd.DataFrame(
        {"tomo_name": ["tomoA"], "x_ang": [200.0], "y_ang": [150.0], "z_ang": [70.0]}
        | {"rot_deg": [30.0], "tilt_deg": [90.0], "psi_deg": [180.0]}
    )
    written = write_relion5(
        particles, tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx=SHAPES, origins_xyz_ang=ORIGINS
    )
    blocks = starfile.read(written["particles"], always_dict=True)
    assert list(blocks) == ["optics", "particles"]
    star = blocks["particles"]
    # (px - N/2) * s: (10 - 40) * 10, (20 - 30) * 10, (5 - 20) * 10.
    np.testing.assert_allclose(
        star[["rlnCenteredCoordinateXAngst", "rlnCenteredCoordinateYAngst", "rlnCenteredCoordinateZAngst"]],
        [[-300.0, -100.0, -150.0]],
    )
    assert star["rlnAngleTiltPrior"][0] == 90.0 and star["rlnAnglePsiPrior"][0] == 180.0
    assert star["rlnOpticsGroup"][0] == 1 and star["cryomemMembraneId"][0] == -1
    assert not any(c.startswith("rlnCoordinate") for c in star.columns)
    optics = blocks["optics"]
    assert optics["rlnOpticsGroupName"][0] == "tomoA" and optics["rlnTomoTiltSeriesPixelSize"][0] == SIZE
    tomograms = starfile.read(written["tomograms"], always_dict=True)["global"]
    assert tomograms[["rlnTomoSizeX", "rlnTomoSizeY", "rlnTomoSizeZ"]].to_numpy().tolist() == [[80, 60, 40]]


def test_relion5_refuses_unknown_shapes_empty_tables_and_overwrites(tmp_path):
    particles = _particles()
    with pytest.raises(ValueError, match="no shape for tomogram"):
        write_relion5(particles, tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx={"tomoA": SHAPES["tomoA"]})
    with pytest.raises(ValueError, match="empty"):
        write_relion5(particles.iloc[:0], tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx=SHAPES)
    with pytest.raises(ValueError, match="voxel size"):
        write_relion5(particles, tmp_path, voxel_size_ang=0.0, tomogram_shapes_zyx=SHAPES)
    assert list(tmp_path.iterdir()) == []
    write_relion5(particles, tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx=SHAPES)
    with pytest.raises(FileExistsError):
        write_relion5(particles, tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx=SHAPES)
    write_relion5(particles, tmp_path, voxel_size_ang=SIZE, tomogram_shapes_zyx=SHAPES, overwrite=True)


# --------------------------------------------------------------------------- STOPGAP and Dynamo
def test_stopgap_round_trip(tmp_path):
    particles = _particles()
    written = write_stopgap_motl(particles, tmp_path, voxel_size_ang=SIZE, origins_xyz_ang=ORIGINS)
    names = read_tomogram_index(written["index"])
    assert names == {1: "tomoA", 2: "tomoB"}
    read = read_stopgap_motl(written["motl"], voxel_size_ang=SIZE, tomo_names=names, origins_xyz_ang=ORIGINS)
    _assert_same_particles(read, particles)


def test_dynamo_round_trip(tmp_path):
    particles = _particles()
    written = write_dynamo_table(particles, tmp_path, voxel_size_ang=SIZE, origins_xyz_ang=ORIGINS)
    read = read_dynamo_table(
        written["table"], voxel_size_ang=SIZE, tomo_names=read_tomogram_index(written["index"]), origins_xyz_ang=ORIGINS
    )
    _assert_same_particles(read, particles)


def _one_particle() -> pd.DataFrame:
    # tomoA voxel (x, y, z) = (10.26, 20.5, 4.7) 0-based -> 1-based (11.26, 21.5, 5.7); normal +x, in-plane 30.
    origin = np.asarray(ORIGINS["tomoA"])
    xyz = np.array([10.26, 20.5, 4.7]) * SIZE + origin
    return pd.DataFrame(
        {"tomo_name": ["tomoA"], "x_ang": [xyz[0]], "y_ang": [xyz[1]], "z_ang": [xyz[2]]}
        | {"rot_deg": [30.0], "tilt_deg": [90.0], "psi_deg": [180.0], "membrane_id": [3], "score": [0.75]}
    )


def test_stopgap_hand_computed_particle(tmp_path):
    written = write_stopgap_motl(_one_particle(), tmp_path, voxel_size_ang=SIZE, origins_xyz_ang=ORIGINS)
    motl = starfile.read(written["motl"], always_dict=True)["stopgap_motivelist"]
    assert list(motl.columns) == [
        "motl_idx", "tomo_num", "object", "subtomo_num", "halfset", "orig_x", "orig_y", "orig_z",
        "score", "x_shift", "y_shift", "z_shift", "phi", "psi", "the", "class",
    ]  # fmt: skip
    row = motl.iloc[0]
    # 1-based: 11.26 = 11 + 0.26, 21.5 = 22 - 0.5 (round half up), 5.7 = 6 - 0.3.
    assert (row["orig_x"], row["orig_y"], row["orig_z"]) == (11, 22, 6)
    np.testing.assert_allclose([row["x_shift"], row["y_shift"], row["z_shift"]], [0.26, -0.5, -0.3], atol=1e-9)
    np.testing.assert_allclose([row["phi"], row["psi"], row["the"]], [60.0, 90.0, 90.0], atol=1e-6)
    assert (row["tomo_num"], row["object"], row["halfset"], row["class"]) == (1, 3, "A", 1)
    assert row["score"] == 0.75


def test_dynamo_hand_computed_particle(tmp_path):
    written = write_dynamo_table(_one_particle(), tmp_path, voxel_size_ang=SIZE, origins_xyz_ang=ORIGINS)
    table = np.loadtxt(written["table"], ndmin=2)
    assert table.shape == (1, 35)
    row = table[0]
    assert row[0] == 1 and row[1] == 1 and row[2] == 1  # tag, aligned, averaged
    np.testing.assert_allclose(row[23:26], [11, 22, 6])  # x y z, 1-based whole voxels
    np.testing.assert_allclose(row[3:6], [0.26, -0.5, -0.3], atol=1e-9)  # dx dy dz
    np.testing.assert_allclose(row[6:9], [90.0, 90.0, 120.0], atol=1e-6)  # tdrot tilt narot
    assert (row[9], row[19], row[20], row[21]) == (0.75, 1, 3, 1)  # cc, tomo, reg, class


def test_unknown_scores_are_written_as_zero(tmp_path):
    particles = _one_particle().assign(score=np.nan)
    written = write_dynamo_table(particles, tmp_path, voxel_size_ang=SIZE)
    assert np.loadtxt(written["table"], ndmin=2)[0, 9] == 0.0


def test_readers_refuse_bad_files(tmp_path):
    (tmp_path / "short.tbl").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="at least 26"):
        read_dynamo_table(tmp_path / "short.tbl", voxel_size_ang=SIZE)
    (tmp_path / "other.star").write_text("data_x\n\nloop_\n_a\n1\n")
    with pytest.raises(ValueError, match="not a STOPGAP motive list"):
        read_stopgap_motl(tmp_path / "other.star", voxel_size_ang=SIZE)
    with pytest.raises(FileNotFoundError):
        read_dynamo_table(tmp_path / "missing.tbl", voxel_size_ang=SIZE)


def test_shapes_from_our_own_star_files(tmp_path):
    particles = _particles()
    rows = (particles["tomo_name"] == "tomoA").to_numpy()
    path = write_particles_star(
        tmp_path / "a.star",
        particles[rows],
        voxel_size_ang=SIZE,
        shape_zyx=SHAPES["tomoA"],
        origin_xyz_ang=ORIGINS["tomoA"],
    )
    assert particle_star_shapes_zyx(path) == {"tomoA": SHAPES["tomoA"]}
