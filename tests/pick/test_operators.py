"""Surface operators: Laplacian eigenbasis, mass, tangent gradients, and their disk cache."""

from __future__ import annotations

import numpy as np
import pytest
from pick_model_meshes import grid, sphere

import cryomem.pick._operators as operators_module
from cryomem.pick import OperatorCache, compute_operators, default_operator_cache_dir


def test_sphere_eigenvalues_match_spherical_harmonics():
    radius = 100.0
    vertices, faces, normals = sphere(radius, subdivisions=3)
    ops = compute_operators(vertices, faces, k_eig=16, normals_xyz=normals)
    expected = np.array([0] + [2] * 3 + [6] * 5 + [12] * 7) / radius**2  # l (l + 1) / r², multiplicity 2l + 1
    assert ops.eigenvalues_per_ang2[0] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(ops.eigenvalues_per_ang2[1:], expected[1:], rtol=0.02)
    assert ops.mass_ang2.sum() == pytest.approx(4 * np.pi * radius**2, rel=0.01)


def test_eigenvectors_are_mass_orthonormal():
    vertices, faces, normals = sphere(50.0, subdivisions=2)
    ops = compute_operators(vertices, faces, k_eig=24, normals_xyz=normals)
    phi = ops.eigenvectors.astype(np.float64)
    gram = phi.T @ (ops.mass_ang2[:, None] * phi)
    np.testing.assert_allclose(gram, np.eye(24), atol=1e-4)


def test_sparse_solver_agrees_with_dense():
    vertices, faces, normals = sphere(80.0, subdivisions=3)  # 642 vertices: sparse shift-invert path
    ops = compute_operators(vertices, faces, k_eig=10, normals_xyz=normals)
    small_vertices, small_faces, _ = sphere(80.0, subdivisions=2)  # 162 vertices: dense path, mesh normals
    ops_small = compute_operators(small_vertices, small_faces, k_eig=10)
    assert ops.eigenvalues_per_ang2[1] == pytest.approx(2 / 80.0**2, rel=0.01)
    assert ops_small.eigenvalues_per_ang2[1] == pytest.approx(2 / 80.0**2, rel=0.03)


def test_more_eigenpairs_than_vertices_are_zero_padded():
    vertices, faces = grid(4, 4)
    ops = compute_operators(vertices, faces, k_eig=40)
    assert ops.eigenvectors.shape == (16, 40)
    assert np.all(ops.eigenvectors[:, 15:] == 0)


@pytest.mark.parametrize("jitter", [0.0, 0.3])
def test_gradient_of_linear_function_is_exact_on_a_plane(jitter):
    vertices, faces = grid(12, 9, spacing_ang=7.0, jitter=jitter)
    normals = np.tile([0.0, 0.0, 1.0], (len(vertices), 1))
    ops = compute_operators(vertices, faces, k_eig=8, normals_xyz=normals)
    slope = np.array([0.3, -1.7, 0.0])  # per Å
    field = vertices @ slope + 4.0
    g1, g2 = ops.gradient_matrices()
    frames = ops.tangent_frames_xyz.astype(np.float64)
    gradient_xyz = (g1 @ field)[:, None] * frames[:, 0] + (g2 @ field)[:, None] * frames[:, 1]
    np.testing.assert_allclose(gradient_xyz, np.tile(slope, (len(vertices), 1)), atol=1e-5)


def test_gradient_is_exact_on_a_tilted_plane_and_frames_are_orthonormal():
    vertices, faces = grid(10, 10, spacing_ang=5.0, jitter=0.2)
    rotation = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    vertices = vertices @ rotation.T
    normal = rotation[:, 2]
    ops = compute_operators(vertices, faces, k_eig=8, normals_xyz=np.tile(normal, (len(vertices), 1)))
    slope_in_plane = rotation @ np.array([1.2, 0.5, 0.0])
    field = vertices @ slope_in_plane
    g1, g2 = ops.gradient_matrices()
    frames = ops.tangent_frames_xyz.astype(np.float64)
    gradient_xyz = (g1 @ field)[:, None] * frames[:, 0] + (g2 @ field)[:, None] * frames[:, 1]
    np.testing.assert_allclose(gradient_xyz, np.tile(slope_in_plane, (len(vertices), 1)), atol=1e-4)
    np.testing.assert_allclose(np.cross(frames[:, 0], frames[:, 1]), np.tile(normal, (len(vertices), 1)), atol=1e-6)


def test_unused_vertex_is_rejected():
    vertices, faces = grid(3, 3)
    with pytest.raises(ValueError, match="every vertex must belong to a triangle"):
        compute_operators(np.vstack([vertices, [[100.0, 100.0, 0.0]]]), faces)


def test_cache_hit_reads_identical_operators_without_recomputing(tmp_path, monkeypatch):
    vertices, faces, normals = sphere(60.0, subdivisions=2)
    cache = OperatorCache(tmp_path / "ops")
    first = cache.get(vertices, faces, k_eig=12, normals_xyz=normals)
    assert (cache.hits, cache.misses) == (0, 1)
    files = list((tmp_path / "ops").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary leftovers

    def fail(*args, **kwargs):
        raise AssertionError("operators recomputed despite a cache entry")

    monkeypatch.setattr(operators_module, "compute_operators", fail)
    fresh = OperatorCache(tmp_path / "ops")
    second = fresh.get(vertices, faces, k_eig=12, normals_xyz=normals)
    assert (fresh.hits, fresh.misses) == (1, 0)
    for name, value in first.to_arrays().items():
        np.testing.assert_array_equal(value, getattr(second, name))


def test_cache_key_depends_on_mesh_and_k(tmp_path):
    vertices, faces, normals = sphere(60.0, subdivisions=2)
    key = OperatorCache.key(vertices, faces, 12, normals)
    assert key != OperatorCache.key(vertices, faces, 13, normals)
    assert key != OperatorCache.key(vertices * 1.001, faces, 12, normals)
    assert key != OperatorCache.key(vertices, faces[:, [0, 2, 1]], 12, normals)
    assert key == OperatorCache.key(vertices.copy(), faces.copy(), 12, normals.copy())


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    vertices, faces, normals = sphere(60.0, subdivisions=1)
    cache = OperatorCache(tmp_path)
    path = cache.path(vertices, faces, 6, normals)
    path.write_bytes(b"not an npz file")
    ops = cache.get(vertices, faces, k_eig=6, normals_xyz=normals)
    assert cache.misses == 1 and ops.k_eig == 6
    assert OperatorCache(tmp_path).get(vertices, faces, k_eig=6, normals_xyz=normals).k_eig == 6


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_operator_cache_dir() == tmp_path / "cryomem" / "operators"
