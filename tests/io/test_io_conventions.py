"""Coordinate and angle conventions: exact placements, inverses, and agreement with scipy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from cryomem.io import (
    centered_ang_to_xyz_px,
    euler_zyz_deg_to_matrix,
    matrix_to_euler_zyz_deg,
    normals_to_euler_zyz_deg,
    validate_voxel_size_ang,
    xyz_ang_to_xyz_px,
    xyz_ang_to_zyx_index,
    xyz_px_to_centered_ang,
    xyz_px_to_xyz_ang,
    zyx_index_to_xyz_ang,
)

coordinate = st.floats(-1e4, 1e4, allow_nan=False)
voxel_size = st.floats(0.1, 50.0)
angle = st.floats(-360.0, 360.0, allow_nan=False)
unit_component = st.floats(-1.0, 1.0, allow_nan=False)


def test_voxel_centre_placement_with_origin() -> None:
    origin = (100.0, -20.0, 5.0)
    # voxel (i_z, i_y, i_x) = (1, 2, 3) sits at (3 s, 2 s, 1 s) + origin
    points = zyx_index_to_xyz_ang([[1, 2, 3], [0, 0, 0]], 10.0, origin)
    np.testing.assert_allclose(points, [[130.0, 0.0, 15.0], [100.0, -20.0, 5.0]])
    np.testing.assert_allclose(xyz_ang_to_zyx_index(points, 10.0, origin), [[1, 2, 3], [0, 0, 0]])
    np.testing.assert_allclose(xyz_ang_to_xyz_px(points, 10.0, origin), [[3, 2, 1], [0, 0, 0]])


def test_index_to_ang_is_not_rounded() -> None:
    np.testing.assert_allclose(xyz_ang_to_zyx_index([[15.0, 0.0, 0.0]], 10.0), [[0.0, 0.0, 1.5]])


@settings(max_examples=50, deadline=None)
@given(
    points=arrays(np.float64, (5, 3), elements=coordinate),
    size=voxel_size,
    origin=st.tuples(coordinate, coordinate, coordinate),
)
def test_voxel_angstrom_round_trips(points: np.ndarray, size: float, origin: tuple) -> None:
    back = zyx_index_to_xyz_ang(xyz_ang_to_zyx_index(points, size, origin), size, origin)
    np.testing.assert_allclose(back, points, atol=1e-6)
    back = xyz_px_to_xyz_ang(xyz_ang_to_xyz_px(points, size, origin), size, origin)
    np.testing.assert_allclose(back, points, atol=1e-6)


def test_centered_angstrom_matches_relion5_definition() -> None:
    shape_zyx = (50, 60, 71)  # centre at N / 2 as a float: x 35.5, y 30, z 25
    centred = xyz_px_to_centered_ang([[35.5, 30.0, 25.0], [0.0, 0.0, 0.0]], 8.0, shape_zyx)
    np.testing.assert_allclose(centred, [[0.0, 0.0, 0.0], [-284.0, -240.0, -200.0]])
    np.testing.assert_allclose(centered_ang_to_xyz_px(centred, 8.0, shape_zyx), [[35.5, 30, 25], [0, 0, 0]])


def test_conversions_reject_bad_input() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        xyz_ang_to_xyz_px(np.zeros((4, 2)), 10.0)
    with pytest.raises(ValueError, match="finite and > 0"):
        xyz_px_to_xyz_ang(np.zeros((1, 3)), -1.0)
    with pytest.raises(ValueError, match="shape_zyx"):
        xyz_px_to_centered_ang(np.zeros((1, 3)), 10.0, (10, 10))


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0])
def test_header_voxel_size_zero_or_one_is_rejected_with_fix(value: float) -> None:
    with pytest.raises(ValueError, match="header of t.mrc.*no voxel size.*--voxel-size"):
        validate_voxel_size_ang(value, "the header of t.mrc")


@pytest.mark.parametrize("value", [-3.0, float("nan"), float("inf"), "abc"])
def test_voxel_size_must_be_finite_positive(value: object) -> None:
    with pytest.raises(ValueError, match="--voxel-size"):
        validate_voxel_size_ang(value, "somewhere")


def test_explicit_voxel_size_of_one_is_accepted() -> None:
    assert validate_voxel_size_ang(1.0, "--voxel-size", explicit=True) == 1.0
    assert validate_voxel_size_ang("13.5", "x") == 13.5


@settings(max_examples=100, deadline=None)
@given(angles=arrays(np.float64, (8, 3), elements=angle))
def test_euler_to_matrix_matches_scipy(angles: np.ndarray) -> None:
    expected = Rotation.from_euler("ZYZ", angles, degrees=True).inv().as_matrix()
    np.testing.assert_allclose(euler_zyz_deg_to_matrix(angles), expected, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(angles=arrays(np.float64, (8, 3), elements=angle))
def test_matrix_euler_round_trip(angles: np.ndarray) -> None:
    matrices = euler_zyz_deg_to_matrix(angles)
    back = matrix_to_euler_zyz_deg(matrices)
    assert np.all((back[:, 1] >= 0) & (back[:, 1] <= 180))
    assert np.all(np.abs(back[:, [0, 2]]) <= 180)
    np.testing.assert_allclose(euler_zyz_deg_to_matrix(back), matrices, atol=1e-9)


def test_matrix_to_euler_matches_scipy_away_from_gimbal_lock() -> None:
    rng = np.random.default_rng(0)
    matrices = Rotation.random(200, random_state=rng).as_matrix()
    ours = matrix_to_euler_zyz_deg(matrices)
    scipy_angles = Rotation.from_matrix(matrices).inv().as_euler("ZYZ", degrees=True)
    np.testing.assert_allclose((ours - scipy_angles + 180) % 360 - 180, 0.0, atol=1e-8)


@pytest.mark.parametrize("tilt", [0.0, 180.0])
def test_matrix_to_euler_at_gimbal_lock_puts_spin_in_rot(tilt: float) -> None:
    angles = np.array([[40.0, tilt, 0.0]])
    back = matrix_to_euler_zyz_deg(euler_zyz_deg_to_matrix(angles))
    np.testing.assert_allclose(back, angles, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    normal=st.tuples(unit_component, unit_component, unit_component).filter(lambda v: np.linalg.norm(v) > 1e-3),
    inplane=st.floats(-180.0, 180.0),
)
def test_normals_to_euler_puts_particle_z_on_normal(normal: tuple, inplane: float) -> None:
    angles = normals_to_euler_zyz_deg([normal], inplane)
    assert angles[0, 0] == inplane  # the in-plane angle is rlnAngleRot, unchanged
    matrix = euler_zyz_deg_to_matrix(angles)[0]
    unit = np.asarray(normal) / np.linalg.norm(normal)
    np.testing.assert_allclose(matrix[:, 2], unit, atol=1e-12)
    assert np.linalg.det(matrix) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(matrix.T @ matrix, np.eye(3), atol=1e-12)
    # the in-plane angle survives a round trip through the matrix
    back = matrix_to_euler_zyz_deg(matrix[None])[0]
    np.testing.assert_allclose(euler_zyz_deg_to_matrix(back[None])[0], matrix, atol=1e-9)


@pytest.mark.parametrize("normal", [(0, 0, 1), (0, 0, -1), (0, 0, 5), (1e-15, 0, -1), (0, -1e-14, 1)])
def test_normals_along_z_are_robust(normal: tuple) -> None:
    angles = normals_to_euler_zyz_deg([normal], [25.0])
    assert angles[0, 2] == 0.0 and angles[0, 0] == 25.0
    z_axis = euler_zyz_deg_to_matrix(angles)[0][:, 2]
    np.testing.assert_allclose(z_axis, np.asarray(normal) / np.linalg.norm(normal), atol=1e-12)


def test_inplane_rotation_spins_about_the_normal() -> None:
    normal = np.array([[1.0, 2.0, -0.5]])
    m0 = euler_zyz_deg_to_matrix(normals_to_euler_zyz_deg(normal, 0.0))[0]
    m90 = euler_zyz_deg_to_matrix(normals_to_euler_zyz_deg(normal, 90.0))[0]
    spin = m90 @ m0.T  # a rotation about the normal by 90 degrees
    axis = Rotation.from_matrix(spin).as_rotvec()
    np.testing.assert_allclose(np.abs(axis), np.abs(normal[0]) / np.linalg.norm(normal) * np.pi / 2, atol=1e-12)


def test_zero_normal_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        normals_to_euler_zyz_deg([[0.0, 0.0, 0.0]])
