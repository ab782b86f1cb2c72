"""Curvature at a scale: closed forms on a sphere, a cylinder, a torus and a voxelised sphere."""

import numpy as np
import pytest
import trimesh

from cryomem.geometry import mesh_from_mask, vertex_normals
from cryomem.morph._curvature import curvature_at_scale

SPHERE_RADIUS_ANG = 200.0


def _grid_faces(nu: int, nv: int, *, wrap_v: bool) -> np.ndarray:
    """Triangles of an (nu, nv) vertex grid, periodic in u (and in v if ``wrap_v``)."""
    i, j = np.meshgrid(np.arange(nu), np.arange(nv if wrap_v else nv - 1), indexing="ij")
    p00 = i * nv + j
    p10 = ((i + 1) % nu) * nv + j
    p01 = i * nv + (j + 1) % nv
    p11 = ((i + 1) % nu) * nv + (j + 1) % nv
    return np.concatenate(
        [
            np.column_stack([p00.ravel(), p10.ravel(), p11.ravel()]),
            np.column_stack([p00.ravel(), p11.ravel(), p01.ravel()]),
        ]
    )


def _wind_outward(vertices: np.ndarray, faces: np.ndarray, outward_xyz: np.ndarray) -> np.ndarray:
    """Flip triangles whose normal opposes ``outward_xyz`` (one vector per triangle)."""
    corners = vertices[faces]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    flip = np.einsum("ij,ij->i", normal, outward_xyz) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return faces


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=SPHERE_RADIUS_ANG)  # 2562 vertices, ~15 Å edges
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def _cylinder(radius_ang: float = 150.0, length_ang: float = 600.0):
    nu, nv = 64, 41
    theta, z = np.meshgrid(
        np.arange(nu) * 2 * np.pi / nu, np.linspace(-length_ang / 2, length_ang / 2, nv), indexing="ij"
    )
    vertices = np.column_stack([radius_ang * np.cos(theta).ravel(), radius_ang * np.sin(theta).ravel(), z.ravel()])
    faces = _grid_faces(nu, nv, wrap_v=False)
    centroid = vertices[faces].mean(axis=1)
    return vertices, _wind_outward(vertices, faces, centroid * [1.0, 1.0, 0.0])


def _torus(major_ang: float = 400.0, minor_ang: float = 150.0):
    nu, nv = 120, 48
    phi, v = np.meshgrid(np.arange(nu) * 2 * np.pi / nu, np.arange(nv) * 2 * np.pi / nv, indexing="ij")
    ring = major_ang + minor_ang * np.cos(v)
    vertices = np.column_stack(
        [(ring * np.cos(phi)).ravel(), (ring * np.sin(phi)).ravel(), (minor_ang * np.sin(v)).ravel()]
    )
    faces = _grid_faces(nu, nv, wrap_v=True)
    centroid = vertices[faces].mean(axis=1)
    tube_centre = major_ang * centroid * [1.0, 1.0, 0.0] / np.linalg.norm(centroid[:, :2], axis=1, keepdims=True)
    return vertices, _wind_outward(vertices, faces, centroid - tube_centre), v.ravel()


def test_sphere_has_mean_curvature_one_over_r_gaussian_one_over_r2_and_shape_index_one(sphere):
    vertices, faces = sphere
    curvature = curvature_at_scale(vertices, faces, scale_nm=5.0)
    radius_nm = SPHERE_RADIUS_ANG / 10
    assert curvature.valid.all()
    assert np.median(np.abs(curvature.mean_per_nm * radius_nm - 1)) < 0.02
    assert np.median(np.abs(curvature.gaussian_per_nm2 * radius_nm**2 - 1)) < 0.02
    assert np.median(np.abs(curvature.k2_per_nm * radius_nm - 1)) < 0.02
    assert np.median(curvature.shape_index) > 0.98
    np.testing.assert_allclose(np.median(curvature.curvedness_per_nm), 1 / radius_nm, rtol=0.02)
    assert np.median(curvature.fit_residual_nm) < 0.05
    assert curvature.scale_nm == 5.0


def test_cylinder_has_k1_one_over_r_k2_zero_with_circumferential_and_axial_directions():
    vertices, faces = _cylinder(radius_ang=150.0, length_ang=600.0)
    curvature = curvature_at_scale(vertices, faces, scale_nm=6.0)
    interior = np.abs(vertices[:, 2]) < 300.0 - 60.0 - 1.0  # neighbourhoods away from the open rims
    radius_nm = 15.0
    assert curvature.valid[interior].all()
    assert np.median(np.abs(curvature.k1_per_nm[interior] * radius_nm - 1)) < 0.02
    assert np.median(np.abs(curvature.k2_per_nm[interior] * radius_nm)) < 0.02
    assert np.median(np.abs(curvature.mean_per_nm[interior] * 2 * radius_nm - 1)) < 0.02
    assert np.median(np.abs(curvature.gaussian_per_nm2[interior]) * radius_nm**2) < 0.02
    assert np.median(np.abs(curvature.shape_index[interior] - 0.5)) < 0.02
    radial = vertices[interior] * [1.0, 1.0, 0.0]
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    circumferential = np.cross([0.0, 0.0, 1.0], radial)
    alignment1 = np.abs(np.einsum("ij,ij->i", curvature.direction1_xyz[interior], circumferential))
    alignment2 = np.abs(curvature.direction2_xyz[interior, 2])
    assert np.percentile(alignment1, 5) > 0.99
    assert np.percentile(alignment2, 5) > 0.99
    np.testing.assert_allclose(np.linalg.norm(curvature.direction1_xyz[interior], axis=1), 1.0, atol=1e-9)


def test_torus_matches_the_closed_form_with_positive_k_outside_and_negative_k_inside():
    major, minor = 400.0, 150.0
    vertices, faces, v = _torus(major, minor)
    curvature = curvature_at_scale(vertices, faces, scale_nm=4.0)  # the quadric smooths K by ~1.5% here
    a_nm, r_nm = minor / 10, major / 10
    expected_k = np.cos(v) / (a_nm * (r_nm + a_nm * np.cos(v)))
    expected_h = (r_nm + 2 * a_nm * np.cos(v)) / (2 * a_nm * (r_nm + a_nm * np.cos(v)))
    assert curvature.valid.all()
    assert np.median(np.abs(curvature.mean_per_nm / expected_h - 1)) < 0.02
    # K crosses zero on the top and bottom circles: compare against the scale of the curvature there
    assert np.median(np.abs(curvature.gaussian_per_nm2 - expected_k)) < 0.02 / a_nm**2
    outer, inner = np.abs(np.cos(v) - 1) < 1e-9, np.abs(np.cos(v) + 1) < 1e-9
    assert (curvature.gaussian_per_nm2[outer] > 0).all() and (curvature.gaussian_per_nm2[inner] < 0).all()
    np.testing.assert_allclose(curvature.gaussian_per_nm2[outer], expected_k[outer], rtol=0.02)
    np.testing.assert_allclose(curvature.gaussian_per_nm2[inner], expected_k[inner], rtol=0.02)
    assert (np.abs(curvature.shape_index[inner]) < 0.5).all()  # a saddle-like inner equator


def test_voxelised_sphere_shell_from_mesh_from_mask_is_within_five_percent():
    voxel_ang, radius_ang, half_thickness_ang = 10.0, 200.0, 20.0
    axis = (np.arange(52) - 25.5) * voxel_ang
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    mask = np.abs(np.sqrt(x**2 + y**2 + z**2) - radius_ang) <= half_thickness_ang
    mesh = mesh_from_mask(mask, voxel_ang, origin_xyz_ang=(axis[0], axis[0], axis[0]))
    curvature = curvature_at_scale(mesh.vertices_xyz_ang, mesh.faces, scale_nm=10.0)  # 2.8% at 8 nm, 5% at 6
    distance = np.linalg.norm(mesh.vertices_xyz_ang, axis=1)
    side = np.sign(np.einsum("ij,ij->i", mesh.normals_xyz, mesh.vertices_xyz_ang))  # +1 outer surface, -1 inner
    assert (side > 0).any() and (side < 0).any()
    expected_h_nm = side * 10.0 / distance
    assert curvature.valid.mean() > 0.99
    assert np.nanmedian(np.abs(curvature.mean_per_nm / expected_h_nm - 1)) < 0.05
    assert np.nanmedian(np.abs(curvature.gaussian_per_nm2 * (distance / 10.0) ** 2 - 1)) < 0.05


def test_flipping_the_normals_flips_mean_curvature_and_keeps_gaussian(sphere):
    vertices, faces = sphere
    normals = vertex_normals(vertices, faces)
    out = curvature_at_scale(vertices, faces, scale_nm=4.0, normals_xyz=normals)
    flipped = curvature_at_scale(vertices, faces, scale_nm=4.0, normals_xyz=-normals)
    np.testing.assert_allclose(flipped.mean_per_nm, -out.mean_per_nm, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(flipped.gaussian_per_nm2, out.gaussian_per_nm2, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(flipped.k1_per_nm, -out.k2_per_nm, rtol=1e-6, atol=1e-9)
    assert np.median(flipped.shape_index) < -0.98


@pytest.mark.parametrize("scale_nm", [0.0, -3.0, float("nan"), float("inf"), 500.0])
def test_bad_scale_is_refused_with_a_message_naming_the_fix(sphere, scale_nm):
    vertices, faces = sphere
    with pytest.raises(ValueError, match="scale") as error:
        curvature_at_scale(vertices, faces, scale_nm=scale_nm)
    assert "nm" in str(error.value) and "\n" not in str(error.value)
    if scale_nm == 500.0:
        assert "larger than the membrane" in str(error.value) and "--scale-nm" in str(error.value)


def test_vertices_with_too_few_neighbours_are_invalid_and_nan():
    vertices, faces = _cylinder()
    stray = np.array([[5000.0, 0.0, 0.0], [5010.0, 0.0, 0.0], [5000.0, 10.0, 0.0]])  # a lone triangle far away
    vertices = np.vstack([vertices, stray])
    faces = np.vstack([faces, len(vertices) - 3 + np.array([[0, 1, 2]])])
    curvature = curvature_at_scale(vertices, faces, scale_nm=6.0)
    assert not curvature.valid[-3:].any()
    assert np.isnan(curvature.mean_per_nm[-3:]).all() and np.isnan(curvature.direction1_xyz[-3:]).all()


def test_inputs_are_not_modified(sphere):
    vertices, faces = sphere
    normals = vertex_normals(vertices, faces)
    copies = vertices.copy(), faces.copy(), normals.copy()
    curvature_at_scale(vertices, faces, scale_nm=4.0, normals_xyz=normals)
    for before, after in zip(copies, (vertices, faces, normals)):
        np.testing.assert_array_equal(before, after)
