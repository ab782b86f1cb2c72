"""Densities sampled along normals: exact on linear fields, leaflets of a bilayer at the right offsets."""

import numpy as np
import pytest

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG, mesh_from_mask, sample_along_normals


def test_default_offsets_are_49_samples_over_plus_minus_60_angstrom():
    assert len(DEFAULT_FEATURE_OFFSETS_ANG) == 49
    assert DEFAULT_FEATURE_OFFSETS_ANG[0] == -60.0 and DEFAULT_FEATURE_OFFSETS_ANG[-1] == 60.0
    np.testing.assert_allclose(np.diff(DEFAULT_FEATURE_OFFSETS_ANG), 2.5)


@pytest.mark.parametrize("order", [1, 3])
def test_linear_field_is_sampled_exactly_inside_and_zero_outside(order):
    z, y, x = np.mgrid[:20, :24, :28].astype(np.float64)
    voxel, origin = 4.0, np.array([10.0, -20.0, 30.0])
    # density = physical x + 2 y - z (Å), voxel (iz, iy, ix) at (ix, iy, iz) * voxel + origin
    volume = (x * voxel + origin[0]) + 2 * (y * voxel + origin[1]) - (z * voxel + origin[2])
    vertices = np.array([[50.0, 30.0, 60.0], [80.0, 10.0, 70.0]])
    normals = np.array([[0.0, 0.0, 1.0], [0.6, 0.8, 0.0]])
    offsets = np.array([-8.0, 0.0, 5.0])
    features = sample_along_normals(volume, voxel, vertices, normals, offsets, origin_xyz_ang=origin, order=order)
    assert features.dtype == np.float32 and features.shape == (2, 3)
    points = vertices[:, None, :] + offsets[None, :, None] * normals[:, None, :]
    expected = points[..., 0] + 2 * points[..., 1] - points[..., 2]
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-3 if order == 1 else 0.05)
    outside = sample_along_normals(
        volume, voxel, [[-100.0, 0, 60.0]], [[1.0, 0, 0]], [0.0, 200.0], origin_xyz_ang=origin
    )
    assert outside[0, 0] == 0 and outside[0, 1] != 0


def test_bilayer_leaflets_appear_at_the_right_offsets_on_both_sides():
    voxel = 5.0
    nz = 24
    mask = np.zeros((nz, 40, 40), dtype=np.uint8)
    mask[8:16] = 1  # slab from z = 37.5 Å to 77.5 Å (voxel faces), mid-plane 57.5 Å
    z_ang = np.arange(nz) * voxel
    leaflets_ang = (45.0, 70.0)  # 12.5 Å either side of the mid-plane, on voxel centres
    profile = sum(np.exp(-0.5 * ((z_ang - c) / 4.0) ** 2) for c in leaflets_ang)
    density = np.broadcast_to(profile[:, None, None], mask.shape).astype(np.float32)
    mesh = mesh_from_mask(mask, voxel)
    vertices, normals = mesh.vertices_xyz_ang, mesh.normals_xyz
    flat = (np.abs(normals[:, 2]) > 0.999) & np.all((vertices[:, :2] > 40) & (vertices[:, :2] < 150), axis=1)
    top, bottom = flat & (normals[:, 2] > 0), flat & (normals[:, 2] < 0)
    assert top.sum() > 50 and bottom.sum() > 50
    np.testing.assert_allclose(vertices[top, 2], 77.5, atol=0.3)
    np.testing.assert_allclose(vertices[bottom, 2], 37.5, atol=0.3)
    offsets = np.arange(-40.0, 40.0 + 1e-9, 2.5)
    features = sample_along_normals(density, voxel, vertices, normals, offsets)
    for side in (top, bottom):
        mean_profile = features[side].mean(axis=0)
        inner = offsets[np.argmax(np.where(offsets > -20, mean_profile, -np.inf))]
        outer = offsets[np.argmax(np.where(offsets <= -20, mean_profile, -np.inf))]
        assert inner == pytest.approx(-7.5) and outer == pytest.approx(-32.5)  # leaflets behind the surface
        assert mean_profile[offsets > 5].max() < 0.01  # nothing outside the membrane


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"volume_zyx": np.zeros((4, 4))}, "must be 3-D"),
        ({"order": 2}, "order must be 1"),
        ({"normals_xyz": np.zeros((2, 3))}, "must both have shape"),
        ({"offsets_ang": []}, "offsets_ang is empty"),
        ({"lowpass_sigma_ang": -1.0}, "lowpass_sigma_ang must be finite and >= 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {
        "volume_zyx": np.zeros((4, 4, 4)),
        "voxel_size_ang": 1.0,
        "vertices_xyz_ang": np.zeros((1, 3)),
        "normals_xyz": np.zeros((1, 3)),
        "offsets_ang": [0.0],
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        sample_along_normals(**arguments)


@pytest.mark.parametrize("order", [1, 3])
def test_lowpass_of_the_needed_box_equals_filtering_the_whole_volume(order):
    from scipy import ndimage

    rng = np.random.default_rng(4)
    volume = rng.normal(size=(30, 40, 50)).astype(np.float32)
    voxel_ang, origin = 8.0, (-16.0, 24.0, 40.0)
    # a small patch of vertices, one of them near a border so its samples leave the volume
    vertices = np.array([[120.0, 200.0, 150.0], [136.0, 184.0, 160.0], [-30.0, 200.0, 150.0], [300.0, 300.0, 250.0]])
    normals = rng.normal(size=(4, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = np.arange(-30.0, 30.1, 2.5)
    filtered = ndimage.gaussian_filter(volume, 15.0 / voxel_ang, mode="reflect")
    expected = sample_along_normals(filtered, voxel_ang, vertices, normals, offsets, origin_xyz_ang=origin, order=order)
    found = sample_along_normals(
        volume, voxel_ang, vertices, normals, offsets, origin_xyz_ang=origin, order=order, lowpass_sigma_ang=15.0
    )
    np.testing.assert_allclose(found, expected, atol=1e-5)
    assert (found[2] == 0).any() and np.abs(found).max() > 0  # some samples outside the volume read 0
    raw = sample_along_normals(volume, voxel_ang, vertices, normals, offsets, origin_xyz_ang=origin, order=order)
    assert np.abs(found).std() < 0.6 * np.abs(raw).std()  # white noise is damped


def test_lowpass_with_every_point_outside_reads_zero():
    found = sample_along_normals(
        np.ones((8, 8, 8)), 1.0, [[100.0, 100.0, 100.0]], [[0.0, 0.0, 1.0]], [0.0, 1.0], lowpass_sigma_ang=2.0
    )
    np.testing.assert_array_equal(found, 0.0)
