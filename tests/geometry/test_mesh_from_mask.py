"""Meshes of voxelised shapes: area, outward normals, spacing, physical placement."""

import numpy as np
import pytest

from cryomem.geometry import face_areas, mesh_from_mask
from cryomem.geometry._components import vertex_components

VOXEL_ANG = 10.0
RADIUS_VOX = 14.0


@pytest.fixture(scope="module")
def ball():
    z, y, x = np.mgrid[:40, :40, :40]
    centre_zyx = np.array([19.6, 20.3, 19.2])
    mask = (z - centre_zyx[0]) ** 2 + (y - centre_zyx[1]) ** 2 + (x - centre_zyx[2]) ** 2 <= RADIUS_VOX**2
    return mask, centre_zyx[::-1] * VOXEL_ANG


def test_ball_mesh_has_the_sphere_area_and_outward_normals(ball):
    mask, centre_xyz = ball
    origin = np.array([100.0, -50.0, 7.0])
    mesh = mesh_from_mask(mask, VOXEL_ANG, origin_xyz_ang=origin)
    radius_ang = RADIUS_VOX * VOXEL_ANG
    area = face_areas(mesh.vertices_xyz_ang, mesh.faces).sum()
    assert area == pytest.approx(4 * np.pi * radius_ang**2, rel=0.02)
    offsets = mesh.vertices_xyz_ang - (centre_xyz + origin)
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), radius_ang, rtol=0.03)
    radial = offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", mesh.normals_xyz, radial).min() > 0.9
    count, _ = vertex_components(len(mesh.vertices_xyz_ang), mesh.faces)
    assert count == 1


@pytest.mark.parametrize("spacing_ang", [None, 25.0])
def test_vertex_spacing_follows_the_target(ball, spacing_ang):
    mesh = mesh_from_mask(ball[0], VOXEL_ANG, spacing_ang=spacing_ang)
    target = spacing_ang or 1.5 * VOXEL_ANG
    edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
    lengths = np.linalg.norm(mesh.vertices_xyz_ang[edges[:, 0]] - mesh.vertices_xyz_ang[edges[:, 1]], axis=1)
    assert np.median(lengths) == pytest.approx(target, rel=0.2)


def test_sheet_mesh_has_both_sides_with_normals_away_from_the_membrane():
    mask = np.zeros((20, 30, 30), dtype=bool)
    mask[8:12, 3:27, 3:27] = True
    mesh = mesh_from_mask(mask, VOXEL_ANG)
    vertices, normals = mesh.vertices_xyz_ang, mesh.normals_xyz
    flat = np.abs(normals[:, 2]) > 0.99
    above = flat & (vertices[:, 2] > 100)
    below = flat & (vertices[:, 2] < 100)
    assert above.sum() > 50 and below.sum() > 50
    assert np.all(normals[above, 2] > 0) and np.all(normals[below, 2] < 0)
    # a closed sheet: every edge in exactly two triangles
    edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
    assert np.all(np.unique(edges, axis=0, return_counts=True)[1] == 2)


def test_empty_or_vanishing_masks_give_empty_meshes():
    assert len(mesh_from_mask(np.zeros((8, 8, 8)), VOXEL_ANG).vertices_xyz_ang) == 0
    speck = np.zeros((8, 8, 8))
    speck[4, 4, 4] = 1
    assert len(mesh_from_mask(speck, VOXEL_ANG, smoothing_sigma_vox=2.0).faces) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mask_zyx": np.zeros((4, 4))}, "must be 3-D"),
        ({"voxel_size_ang": 0.0}, "voxel_size_ang must be"),
        ({"spacing_ang": -1.0}, "spacing_ang must be"),
        ({"smoothing_sigma_vox": -1.0}, "smoothing_sigma_vox"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"mask_zyx": np.zeros((4, 4, 4)), "voxel_size_ang": 10.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        mesh_from_mask(**arguments)
