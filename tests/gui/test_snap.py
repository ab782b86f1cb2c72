"""Exact closest points on triangle meshes: planes, spheres, random meshes against brute force."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import trimesh

from cryomem.gui._snap import MeshSnapper, closest_points_on_mesh, closest_points_on_triangles, snap_to_surface
from cryomem.io import MembraneSurface

RADIUS_ANG = 300.0


def _grid(nx: int, ny: int, spacing_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """A triangulated plane z = 0, Å."""
    xs, ys = np.meshgrid(np.arange(nx) * spacing_ang, np.arange(ny) * spacing_ang, indexing="xy")
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(nx * ny)], axis=1)
    index = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel()
    return vertices, np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def _sphere(subdivisions: int = 5) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=RADIUS_ANG)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def _ericson(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point on triangle abc to p: Ericson, Real-Time Collision Detection, 5.1.5 (a reference)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = ab @ ap, ac @ ap
    if d1 <= 0 and d2 <= 0:
        return a
    bp = p - b
    d3, d4 = ab @ bp, ac @ bp
    if d3 >= 0 and d4 <= d3:
        return b
    vc = d1 * d4 - d3 * d2
    if vc <= 0 and d1 >= 0 and d3 <= 0:
        return a + d1 / (d1 - d3) * ab
    cp = p - c
    d5, d6 = ab @ cp, ac @ cp
    if d6 >= 0 and d5 <= d6:
        return c
    vb = d5 * d2 - d1 * d6
    if vb <= 0 and d2 >= 0 and d6 <= 0:
        return a + d2 / (d2 - d6) * ac
    va = d3 * d6 - d5 * d4
    if va <= 0 and (d4 - d3) >= 0 and (d5 - d6) >= 0:
        return b + (d4 - d3) / ((d4 - d3) + (d5 - d6)) * (c - b)
    denom = 1.0 / (va + vb + vc)
    return a + ab * vb * denom + ac * vc * denom


def _brute_force_distance_ang(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Distance of each point to the mesh over ALL triangles (vectorised per point)."""
    corners = vertices[faces]
    result = np.empty(len(points))
    for i, point in enumerate(points):
        repeated = np.repeat(point[None], len(faces), axis=0)
        _, distance2 = closest_points_on_triangles(repeated, corners[:, 0], corners[:, 1], corners[:, 2])
        result[i] = np.sqrt(distance2.min())
    return result


def _check_on_faces(closest, face_index, barycentric, vertices, faces) -> None:
    assert np.all(barycentric >= -1e-12) and np.allclose(barycentric.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.einsum("pk,pkj->pj", barycentric, vertices[faces[face_index]]), closest, atol=1e-9)


def test_plane_snaps_by_dropping_the_height():
    vertices, faces = _grid(30, 30, 10.0)
    rng = np.random.default_rng(0)
    xy = np.concatenate(
        [
            rng.uniform(0.0, 290.0, (200, 2)),
            vertices[rng.choice(len(vertices), 30), :2],  # above vertices
            (vertices[faces[:30, 0], :2] + vertices[faces[:30, 1], :2]) / 2,  # above edge midpoints
        ]
    )
    points = np.column_stack([xy, rng.uniform(-80.0, 80.0, len(xy))])
    normals = np.tile([0.0, 0.0, 1.0], (len(vertices), 1))
    surface = MembraneSurface(
        vertices_xyz_ang=vertices, faces=faces, normals_xyz=normals, membrane_id=1, voxel_size_ang=10.0
    )

    snapped, snapped_normals = snap_to_surface(points, surface)

    np.testing.assert_allclose(snapped, np.column_stack([xy, np.zeros(len(xy))]), atol=1e-9)
    np.testing.assert_allclose(snapped_normals, np.tile([0.0, 0.0, 1.0], (len(xy), 1)), atol=1e-12)


def test_plane_points_beyond_the_border_snap_to_its_edge_and_corner():
    vertices, faces = _grid(5, 5, 10.0)
    points = np.array([[-7.0, 20.0, 3.0], [55.0, 55.0, -4.0], [15.0, 60.0, 0.0]])
    closest, _, _ = closest_points_on_mesh(points, vertices, faces)
    np.testing.assert_allclose(closest, [[0.0, 20.0, 0.0], [40.0, 40.0, 0.0], [15.0, 40.0, 0.0]], atol=1e-12)


@pytest.fixture(scope="module")
def sphere():
    return _sphere(5)


def _sphere_queries(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Directions at random, at vertices and at edge midpoints, inside and outside the sphere."""
    directions = np.concatenate(
        [
            rng.normal(size=(150, 3)),
            vertices[rng.choice(len(vertices), 25)],
            vertices[faces[:25, 0]] + vertices[faces[:25, 1]],
            vertices[faces[25:50]].mean(axis=1),  # face centres
        ]
    )
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    inside, outside = rng.uniform(200.0, 299.5, len(directions)), rng.uniform(300.5, 420.0, len(directions))
    radii = np.where(rng.random(len(directions)) < 0.5, inside, outside)
    radii[::3] = RADIUS_ANG + rng.uniform(-20.0, 20.0, len(radii[::3]))  # near the surface, as clicks are
    radii[::7] = RADIUS_ANG  # exactly at the radius: just inside or outside the mesh
    return directions * radii[:, None]


def test_sphere_snap_matches_brute_force_and_lies_on_the_sphere(sphere):
    vertices, faces = sphere
    points = _sphere_queries(vertices, faces, np.random.default_rng(1))

    closest, face_index, barycentric = closest_points_on_mesh(points, vertices, faces)

    _check_on_faces(closest, face_index, barycentric, vertices, faces)
    distances = np.linalg.norm(closest - points, axis=1)
    np.testing.assert_allclose(distances, _brute_force_distance_ang(points, vertices, faces), atol=1e-9)
    on_sphere = RADIUS_ANG * points / np.linalg.norm(points, axis=1, keepdims=True)
    assert np.abs(np.linalg.norm(closest, axis=1) - RADIUS_ANG).max() < 1.0
    near = np.abs(np.linalg.norm(points, axis=1) - RADIUS_ANG) <= 20.0
    assert near.sum() > 50 and np.linalg.norm(closest - on_sphere, axis=1)[near].max() < 1.0


def test_sphere_normals_are_unit_and_radial(sphere):
    vertices, faces = sphere
    points = _sphere_queries(vertices, faces, np.random.default_rng(2))
    snapper = MeshSnapper(vertices, faces, vertices / RADIUS_ANG)

    snapped, normals = snapper.snap(points)

    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-12)
    radial = snapped / np.linalg.norm(snapped, axis=1, keepdims=True)
    angles_deg = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", normals, radial), -1.0, 1.0)))
    assert angles_deg.max() < 1.0


def test_random_mesh_matches_ericson_over_all_triangles():
    rng = np.random.default_rng(3)
    vertices = rng.uniform(-50.0, 50.0, (60, 3))
    faces = np.array([rng.choice(60, 3, replace=False) for _ in range(120)])
    points = np.concatenate([rng.uniform(-80.0, 80.0, (150, 3)), vertices[:20] + rng.normal(0, 0.5, (20, 3))])

    closest, face_index, barycentric = closest_points_on_mesh(points, vertices, faces)

    _check_on_faces(closest, face_index, barycentric, vertices, faces)
    reference = np.array([min(np.linalg.norm(_ericson(p, *vertices[f]) - p) for f in faces) for p in points])
    np.testing.assert_allclose(np.linalg.norm(closest - points, axis=1), reference, atol=1e-9)


def test_degenerate_triangles_snap_to_their_segment_or_point():
    vertices = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [20.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    faces = np.array([[0, 1, 2], [3, 3, 3]])  # collinear corners; one point
    points = np.array([[15.0, 4.0, -3.0], [30.0, 0.0, 0.0], [5.0, 5.0, 6.0]])

    closest, face_index, _ = closest_points_on_mesh(points, vertices, faces)

    np.testing.assert_allclose(closest, [[15.0, 0.0, 0.0], [20.0, 0.0, 0.0], [5.0, 5.0, 5.0]], atol=1e-12)
    assert face_index.tolist() == [0, 0, 1]


def test_bad_inputs_are_refused_with_a_fix():
    vertices, faces = _grid(3, 3, 10.0)
    with pytest.raises(ValueError, match="faces must have shape"):
        MeshSnapper(vertices, np.empty((0, 3), int))
    with pytest.raises(ValueError, match="faces index vertices"):
        MeshSnapper(vertices, faces + 100)
    with pytest.raises(ValueError, match="NaN or infinite"):
        closest_points_on_mesh([[np.nan, 0.0, 0.0]], vertices, faces)
    with pytest.raises(ValueError, match="no vertex normals"):
        MeshSnapper(vertices, faces).snap([[0.0, 0.0, 1.0]])
    closest, face_index, barycentric = closest_points_on_mesh(np.empty((0, 3)), vertices, faces)
    assert closest.shape == (0, 3) and face_index.shape == (0,) and barycentric.shape == (0, 3)


def test_snapping_a_thousand_points_on_a_large_mesh_is_fast():
    vertices, faces = _sphere(7)  # 163842 vertices, 327680 triangles
    rng = np.random.default_rng(4)
    directions = rng.normal(size=(1000, 3))
    points = directions / np.linalg.norm(directions, axis=1, keepdims=True) * rng.uniform(250.0, 350.0, (1000, 1))
    snapper = MeshSnapper(vertices, faces, vertices / RADIUS_ANG)

    start = time.perf_counter()
    snapped, _ = snapper.snap(points)
    seconds = time.perf_counter() - start

    print(f"snapped 1000 points on {len(vertices)} vertices in {seconds:.3f} s", file=sys.stderr)
    assert np.abs(np.linalg.norm(snapped, axis=1) - RADIUS_ANG).max() < 0.1
    assert seconds < 1.0
