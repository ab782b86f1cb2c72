"""Inter-membrane distances along normals: exact ray casting checked against known geometry."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from cryomem.morph._distances import NormalDistances, normal_axis_angles_deg, normal_distances


def grid_plane(half_ang: float, spacing_ang: float, z_ang: float, angle_rad: float = 0.0):
    """Square of side 2·half in the plane z = z_ang, rotated about z, triangulated; (vertices, faces)."""
    n = int(round(2 * half_ang / spacing_ang)) + 1
    u = np.linspace(-half_ang, half_ang, n)
    x, y = np.meshgrid(u, u, indexing="ij")
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    vertices = np.column_stack([c * x.ravel() - s * y.ravel(), s * x.ravel() + c * y.ravel(), np.full(n * n, z_ang)])
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a, b, d, e = i * n + j, (i + 1) * n + j, i * n + j + 1, (i + 1) * n + j + 1
    faces = np.concatenate([np.stack([a, b, e], -1).reshape(-1, 3), np.stack([a, e, d], -1).reshape(-1, 3)])
    return vertices, faces


def icosphere(radius_ang: float, subdivisions: int, center=(0.0, 0.0, 0.0)):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    unit = np.asarray(mesh.vertices)
    unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    return radius_ang * unit + np.asarray(center), np.asarray(mesh.faces), unit


def face_plane_distances(vertices: np.ndarray, faces: np.ndarray, center=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Distance from the centre to each face's plane (the polygonal sphere lies between min and max)."""
    tri = vertices[faces] - np.asarray(center)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return np.abs((normal * tri[:, 0]).sum(1)) / np.linalg.norm(normal, axis=1)


def up(n: int, sign: float = 1.0) -> np.ndarray:
    return np.tile([0.0, 0.0, sign], (n, 1))


@pytest.mark.parametrize("facing", [True, False])
def test_parallel_planes_give_the_separation_exactly(facing: bool) -> None:
    gap_ang = 73.3
    v1, f1 = grid_plane(100.0, 10.0, 0.0)
    v2, f2 = grid_plane(50.0, 7.0, gap_ang, angle_rad=0.3)  # other grid: hits fall inside triangles
    n2 = up(len(v2), -1.0 if facing else 1.0)
    result = normal_distances([(1, v1, f1, up(len(v1))), (7, v2, f2, n2)])
    lower, upper = result[1], result[7]
    inside = np.all(np.abs(v1[:, :2]) < 35.0, axis=1)  # within the rotated small square
    outside = np.any(np.abs(v1[:, :2]) > 72.0, axis=1)  # beyond its corners
    np.testing.assert_allclose(lower.outward_nm[inside], gap_ang / 10.0, rtol=1e-6)
    assert np.all(lower.outward_membrane[inside] == 7)
    assert np.all(np.isnan(lower.outward_nm[outside])) and np.all(lower.outward_membrane[outside] == -1)
    assert np.all(np.isnan(lower.inward_nm)) and np.all(lower.inward_membrane == -1)
    above = np.all(np.abs(v2[:, :2]) < 95.0, axis=1)
    hit_lower = upper.outward_nm if facing else upper.inward_nm
    missing = upper.inward_nm if facing else upper.outward_nm
    np.testing.assert_allclose(hit_lower[above], gap_ang / 10.0, rtol=1e-6)
    assert np.all((upper.outward_membrane if facing else upper.inward_membrane)[above] == 1)
    assert np.all(np.isnan(missing))
    assert np.all(np.isnan(lower.self_nm)) and np.all(np.isnan(upper.self_nm))


def test_nothing_is_hit_beyond_max_distance() -> None:
    v1, f1 = grid_plane(100.0, 10.0, 0.0)
    v2, f2 = grid_plane(100.0, 10.0, 73.3)
    result = normal_distances([(1, v1, f1, up(len(v1))), (2, v2, f2, up(len(v2), -1.0))], max_distance_nm=7.3)
    assert np.all(np.isnan(result[1].outward_nm)) and np.all(result[1].outward_membrane == -1)
    assert result[1].max_distance_nm == 7.3
    result = normal_distances([(1, v1, f1, up(len(v1))), (2, v2, f2, up(len(v2), -1.0))], max_distance_nm=7.34)
    np.testing.assert_allclose(result[1].outward_nm, 7.33, rtol=1e-6)


def test_concentric_spheres_give_the_radius_difference_within_the_sagitta() -> None:
    r1, r2 = 200.0, 330.0
    v1, f1, n1 = icosphere(r1, 3)
    v2, f2, n2 = icosphere(r2, 4)
    result = normal_distances([(3, v1, f1, n1), (5, v2, f2, n2)])
    inner, outer = result[3], result[5]
    # a radial ray meets a polygonal sphere between its nearest face plane and its vertices' radius
    low2, low1 = face_plane_distances(v2, f2).min(), face_plane_distances(v1, f1).min()
    assert np.all(inner.outward_membrane == 5) and np.all(outer.inward_membrane == 3)
    assert np.all(inner.outward_nm >= (low2 - r1) / 10 - 1e-9) and np.all(inner.outward_nm <= (r2 - r1) / 10 + 1e-9)
    assert np.all(outer.inward_nm >= (r2 - r1) / 10 - 1e-9) and np.all(outer.inward_nm <= (r2 - low1) / 10 + 1e-9)
    assert np.all(np.isnan(outer.outward_nm)) and np.all(outer.outward_membrane == -1)
    # through the centre: the inner sphere's far side (self) at its diameter, the outer one beyond 50 nm
    assert np.all(np.abs(inner.self_nm - 2 * r1 / 10) <= (r1 - low1) / 10 + 1e-9)
    assert np.all(np.isnan(outer.self_nm))
    assert np.all(np.isnan(inner.inward_nm))  # the outer sphere's far side is 53 nm away
    farther = normal_distances([(3, v1, f1, n1), (5, v2, f2, n2)], max_distance_nm=60.0)[3]
    np.testing.assert_allclose(farther.inward_nm, (r1 + r2) / 10, atol=(r2 - low2 + r1 - low1) / 10)
    assert np.all(farther.inward_membrane == 5)


def pancake(half_ang: float, spacing_ang: float, height_ang: float):
    """A closed flat box-like membrane: two sheets of one mesh joined at the rim; normals out of the fold."""
    bottom, faces = grid_plane(half_ang, spacing_ang, 0.0)
    top = bottom + [0.0, 0.0, height_ang]
    n = int(round(2 * half_ang / spacing_ang)) + 1
    index = np.arange(n * n).reshape(n, n)
    rim = np.concatenate([index[0, :-1], index[:-1, -1], index[-1, ::-1][:-1], index[::-1, 0][:-1]])
    a, b = rim, np.roll(rim, -1)
    off = n * n
    sides = np.concatenate([np.stack([a, b, b + off], 1), np.stack([a, b + off, a + off], 1)])
    vertices = np.concatenate([bottom, top])
    normals = np.concatenate([up(n * n, -1.0), up(n * n, 1.0)])
    return vertices, np.concatenate([faces[:, ::-1], faces + off, sides]), normals


def test_folded_membrane_gives_its_inner_spacing_as_self_distance() -> None:
    vertices, faces, normals = pancake(100.0, 10.0, 120.0)
    result = normal_distances([(4, vertices, faces, normals)])[4]
    interior = np.all(np.abs(vertices[:, :2]) < 99.0, axis=1)
    np.testing.assert_allclose(result.self_nm[interior], 12.0, rtol=1e-6)
    assert np.all(np.isnan(result.outward_nm)) and np.all(np.isnan(result.inward_nm))
    assert np.all(result.outward_membrane == -1) and np.all(result.inward_membrane == -1)
    # closer than the minimum: ignored
    thin = normal_distances([(4, vertices, faces, normals)], min_self_distance_nm=12.5)[4]
    assert np.all(np.isnan(thin.self_nm[interior]))
    # the outward own crossing equals the inward one of the flipped normals (one pass gives both)
    flipped = normal_distances([(4, vertices, faces, -normals)])[4]
    np.testing.assert_array_equal(np.isnan(result.self_outward_nm), np.isnan(flipped.self_nm))
    np.testing.assert_allclose(result.self_outward_nm, flipped.self_nm, rtol=1e-12)
    np.testing.assert_allclose(flipped.self_outward_nm[interior], 12.0, rtol=1e-6)  # normals into the fold


@pytest.mark.parametrize("height_ang", [50.0, 51.3, 53.7, 56.1, 58.9, 62.5])
def test_self_distance_just_beyond_the_minimum_is_found(height_ang: float) -> None:
    vertices, faces, normals = pancake(60.0, 10.0, height_ang)
    result = normal_distances([(4, vertices, faces, normals)], min_self_distance_nm=5.0)[4]
    interior = np.all(np.abs(vertices[:, :2]) < 59.0, axis=1)
    np.testing.assert_allclose(result.self_nm[interior], height_ang / 10.0, rtol=1e-6)


def brute_force(origins, directions, vertices, faces, min_t, max_t):
    """Nearest crossing by testing every triangle (reference)."""
    tri = vertices[faces]
    v0, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    best = np.full(len(origins), np.inf)
    for i, (o, d) in enumerate(zip(origins, directions)):
        p = np.cross(d, e2)
        det = (e1 * p).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = o - v0
            u = (s * p).sum(1) / det
            q = np.cross(s, e1)
            v = (q @ d) / det
            t = (e2 * q).sum(1) / det
        ok = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= min_t) & (t <= max_t)
        best[i] = t[ok].min() if ok.any() else np.inf
    return best


def test_grid_search_finds_the_same_crossings_as_testing_every_triangle() -> None:
    rng = np.random.default_rng(0)
    meshes = []
    for membrane_id, (radius, center) in enumerate([(150.0, (0, 0, 0)), (120.0, (230, 40, 0)), (90.0, (60, 250, 90))]):
        v, f, _ = icosphere(radius, 3, center)
        v = v + rng.normal(0, 4.0, v.shape)  # irregular triangles
        n = rng.normal(size=v.shape)  # any unit directions
        meshes.append((membrane_id + 10, v, f, n / np.linalg.norm(n, axis=1, keepdims=True)))
    result = normal_distances(meshes, max_distance_nm=30.0, min_self_distance_nm=4.0)
    all_v = np.concatenate([m[1] for m in meshes])
    offsets = np.cumsum([0] + [len(m[1]) for m in meshes])
    all_f = np.concatenate([m[2] + off for m, off in zip(meshes, offsets)])
    for k, (membrane_id, v, f, n) in enumerate(meshes):
        other_faces = np.concatenate([m[2] + off for j, (m, off) in enumerate(zip(meshes, offsets)) if j != k])
        pick = rng.choice(len(v), 60, replace=False)
        for sign, got in ((1.0, result[membrane_id].outward_nm), (-1.0, result[membrane_id].inward_nm)):
            expected = brute_force(v[pick], sign * n[pick], all_v, other_faces, 0.0, 300.0) / 10
            np.testing.assert_allclose(np.nan_to_num(got[pick], nan=np.inf), expected, rtol=1e-9)
        expected = brute_force(v[pick], -n[pick], v, f, 40.0, 300.0) / 10
        np.testing.assert_allclose(np.nan_to_num(result[membrane_id].self_nm[pick], nan=np.inf), expected, rtol=1e-9)
    assert len(all_f) == sum(len(m[2]) for m in meshes)


def test_a_lone_membrane_sees_no_other() -> None:
    v, f, n = icosphere(100.0, 2)
    result = normal_distances([(1, v, f, n)])
    assert set(result) == {1} and isinstance(result[1], NormalDistances)
    for name in ("outward_nm", "inward_nm"):
        assert np.all(np.isnan(getattr(result[1], name)))
    assert np.all(result[1].outward_membrane == -1) and np.all(result[1].inward_membrane == -1)
    assert normal_distances([]) == {}


@pytest.mark.parametrize("bad", [0.0, -5.0, np.inf, np.nan])
def test_refuses_a_bad_max_distance(bad: float) -> None:
    v, f, n = icosphere(100.0, 1)
    with pytest.raises(ValueError, match="max_distance_nm must be positive and finite"):
        normal_distances([(1, v, f, n)], max_distance_nm=bad)


def test_refuses_bad_normals_and_duplicate_ids() -> None:
    v, f, n = icosphere(100.0, 1)
    with pytest.raises(ValueError, match="normals_xyz must be unit length.*normalise"):
        normal_distances([(1, v, f, 2.0 * n)])
    with pytest.raises(ValueError, match="normals_xyz must have one row per vertex"):
        normal_distances([(1, v, f, n[:-1])])
    with pytest.raises(ValueError, match=r"membrane ids must be distinct, got \[1\]"):
        normal_distances([(1, v, f, n), (1, v + 500.0, f, n)])
    with pytest.raises(ValueError, match="min_self_distance_nm"):
        normal_distances([(1, v, f, n)], min_self_distance_nm=-1.0)


def test_normal_axis_angles_are_folded_to_0_90_degrees() -> None:
    normals = np.array([[0, 0, 1], [0, 0, -1], [1, 0, 0], [0, 1, 1], [0, -1, -1], [1, 1, -1], [0, 0, 5]], float)
    expected = [0.0, 0.0, 90.0, 45.0, 45.0, np.degrees(np.arccos(1 / np.sqrt(3))), 0.0]
    np.testing.assert_allclose(normal_axis_angles_deg(normals), expected, atol=1e-9)
    with pytest.raises(ValueError, match="non-zero"):
        normal_axis_angles_deg(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        normal_axis_angles_deg(np.zeros(3))
