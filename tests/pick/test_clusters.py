"""DBSCAN merging of converged seeds; particle tables with orientations along the membrane normal."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from cryomem.io import (
    PARTICLE_COLUMNS,
    MembraneSurface,
    euler_zyz_deg_to_matrix,
    read_particles_star,
    write_particles_star,
)
from cryomem.pick import half_thickness_ang, merge_duplicates, pick_surface


def test_duplicates_merge_into_their_centroids():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 100.0, 50.0]])
    offsets = rng.uniform(-2.0, 2.0, (3, 20, 3))
    points = (centres[:, None, :] + offsets).reshape(-1, 3)
    merged = merge_duplicates(points, eps_ang=10.0)
    np.testing.assert_allclose(merged, (centres[:, None, :] + offsets).mean(axis=1), atol=1e-9)


def test_identical_points_are_cheap_and_weigh_by_their_count():
    points = np.concatenate([np.zeros((200_000, 3)), np.full((100_000, 3), 3.0)])
    merged = merge_duplicates(points, eps_ang=10.0)
    np.testing.assert_allclose(merged, [[1.0, 1.0, 1.0]])


def test_min_points_drops_isolated_outliers_and_chains_merge():
    points = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [50, 0, 0], [0, 0, 8], [0, 0, 16]], float)
    kept = merge_duplicates(points, eps_ang=9.0, min_points=2)
    np.testing.assert_allclose(kept, [points[[0, 1, 2, 4, 5]].mean(axis=0)])
    assert merge_duplicates(np.empty((0, 3)), eps_ang=5.0).shape == (0, 3)
    with pytest.raises(ValueError, match="eps_ang"):
        merge_duplicates(points, eps_ang=0.0)


def _sphere_surface(radius_ang: float = 300.0) -> MembraneSurface:
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=radius_ang)
    vertices = np.asarray(mesh.vertices)
    return MembraneSurface(
        vertices_xyz_ang=vertices,
        faces=np.asarray(mesh.faces),
        normals_xyz=vertices / radius_ang,
        membrane_id=7,
        voxel_size_ang=10.0,
    )


def _particles_on(surface: MembraneSurface, directions: np.ndarray) -> np.ndarray:
    radius = np.linalg.norm(surface.vertices_xyz_ang, axis=1).mean()
    return radius * directions / np.linalg.norm(directions, axis=1, keepdims=True)


def _picked(surface, centres, **kwargs):
    distances = np.minimum(cKDTree(centres).query(surface.vertices_xyz_ang)[0], 100.0)
    return pick_surface(surface, distances, tomo_name="tomo", **kwargs)


DIRECTIONS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, 0], [0, -1, -1], [1, 1, -1]], float)


def test_picks_lie_on_the_surface_at_the_particles_with_z_along_the_normal():
    surface = _sphere_surface()
    centres = _particles_on(surface, DIRECTIONS)
    table = _picked(surface, centres)
    assert list(table.columns) == list(PARTICLE_COLUMNS) and len(table) == len(centres)
    xyz = table[["x_ang", "y_ang", "z_ang"]].to_numpy()
    assert cKDTree(xyz).query(centres)[0].max() < 5.0
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 300.0, atol=1.0)  # on the surface, not inside
    z_axis = euler_zyz_deg_to_matrix(table[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy())[:, :, 2]
    nearest = cKDTree(surface.vertices_xyz_ang).query(xyz)[1]
    np.testing.assert_allclose(z_axis, surface.normals_xyz[nearest], atol=1e-9)
    assert (table["membrane_id"] == 7).all() and (table["tomo_name"] == "tomo").all()
    assert table["score"].between(0.9, 1.0).all()


def test_inplane_angle_fixed_or_random_from_the_seed():
    surface = _sphere_surface()
    centres = _particles_on(surface, DIRECTIONS)
    fixed = _picked(surface, centres, inplane_deg=33.0)
    np.testing.assert_allclose(fixed["rot_deg"], 33.0)
    first, again, other = (_picked(surface, centres, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(first["rot_deg"], again["rot_deg"])
    assert not np.allclose(first["rot_deg"], other["rot_deg"])
    assert first["rot_deg"].between(-180.0, 180.0).all()
    # the spin changes rot only: tilt and psi (the normal) are the same
    np.testing.assert_allclose(first[["tilt_deg", "psi_deg"]], fixed[["tilt_deg", "psi_deg"]])


def test_orientations_survive_a_star_round_trip(tmp_path):
    surface = _sphere_surface()
    table = _picked(surface, _particles_on(surface, DIRECTIONS), seed=3)
    path = write_particles_star(tmp_path / "p.star", table, voxel_size_ang=10.0, shape_zyx=(64, 64, 64))
    back = read_particles_star(path)
    np.testing.assert_allclose(back[["x_ang", "y_ang", "z_ang"]], table[["x_ang", "y_ang", "z_ang"]], atol=1e-6)
    angles = back[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy()
    z_axis = euler_zyz_deg_to_matrix(angles)[:, :, 2]
    nearest = cKDTree(surface.vertices_xyz_ang).query(back[["x_ang", "y_ang", "z_ang"]].to_numpy())[1]
    np.testing.assert_allclose(z_axis, surface.normals_xyz[nearest], atol=1e-6)
    np.testing.assert_array_equal(back["membrane_id"], 7)


def test_background_only_map_gives_an_empty_table():
    surface = _sphere_surface()
    table = pick_surface(surface, np.full(len(surface.vertices_xyz_ang), 100.0), tomo_name="t")
    assert len(table) == 0 and list(table.columns) == list(PARTICLE_COLUMNS)
    with pytest.raises(ValueError, match="one distance per vertex"):
        pick_surface(surface, np.zeros(5))


def _shell_surface(outer_ang: float = 300.0, inner_ang: float = 240.0) -> MembraneSurface:
    """A thick spherical membrane: the outer side's normals point out, the inner side's in."""
    outer = trimesh.creation.icosphere(subdivisions=5, radius=outer_ang)
    inner = trimesh.creation.icosphere(subdivisions=5, radius=inner_ang)
    vertices = np.concatenate([outer.vertices, inner.vertices])
    faces = np.concatenate([outer.faces, inner.faces[:, ::-1] + len(outer.vertices)])
    normals = np.concatenate([outer.vertices / outer_ang, -inner.vertices / inner_ang])
    return MembraneSurface(
        vertices_xyz_ang=vertices, faces=faces, normals_xyz=normals, membrane_id=3, voxel_size_ang=10.0
    )


def test_half_thickness_is_measured_to_the_opposite_side():
    surface = _shell_surface()
    outer_ids = np.arange(0, len(surface.vertices_xyz_ang) // 2, 97)
    inner_ids = len(surface.vertices_xyz_ang) // 2 + outer_ids
    np.testing.assert_allclose(
        half_thickness_ang(surface.vertices_xyz_ang, surface.normals_xyz, outer_ids), 30.0, atol=1.0
    )
    np.testing.assert_allclose(
        half_thickness_ang(surface.vertices_xyz_ang, surface.normals_xyz, inner_ids), 30.0, atol=1.0
    )
    single = _sphere_surface()  # one side only: nothing below
    assert np.isnan(half_thickness_ang(single.vertices_xyz_ang, single.normals_xyz, [0, 5])).all()
    assert np.isnan(
        half_thickness_ang(surface.vertices_xyz_ang, surface.normals_xyz, [0], max_thickness_ang=50.0)
    ).all()


def test_picks_move_to_the_mid_surface_and_both_sides_give_one_particle():
    surface = _shell_surface()
    directions = DIRECTIONS / np.linalg.norm(DIRECTIONS, axis=1, keepdims=True)
    # distance maps that put each particle on the outer side and, for the first three, also on the inner side
    outer, inner = 300.0 * directions, 240.0 * directions[:3]
    vertices = surface.vertices_xyz_ang
    n_outer = len(vertices) // 2  # the outer sphere's vertices come first
    distances = np.concatenate(
        [cKDTree(outer).query(vertices[:n_outer])[0], cKDTree(inner).query(vertices[n_outer:])[0]]
    ).clip(max=100.0)
    narrow = {"bandwidth_ang": 50.0, "tomo_name": "t"}  # narrower than the membrane: the two sides stay apart
    mid = pick_surface(surface, distances, **narrow)
    on_surface = pick_surface(surface, distances, position="surface", **narrow)
    assert len(mid) == len(outer) < len(on_surface)  # the inner-side duplicates are merged at the mid-surface
    xyz = mid[["x_ang", "y_ang", "z_ang"]].to_numpy()
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 270.0, atol=2.0)
    assert cKDTree(xyz).query(270.0 * directions)[0].max() < 5.0
    with pytest.raises(ValueError, match="position"):
        pick_surface(surface, distances, position="middle")


def test_merge_radii_do_not_shrink_with_the_bandwidth():
    surface = _sphere_surface()
    # one particle predicted as two close minima 25 Å apart (a noisy map), and a second particle 80 Å away
    arcs = np.array([0.0, 25.0, 105.0]) / 300.0  # arc lengths on the 300 Å sphere, radians
    centres = 300.0 * np.stack([np.cos(arcs), np.sin(arcs), np.zeros(3)], axis=1)
    distances = np.minimum(cKDTree(centres).query(surface.vertices_xyz_ang)[0], 100.0)
    narrow = pick_surface(surface, distances, bandwidth_ang=20.0, tomo_name="t")  # the mean shift keeps both minima
    assert len(narrow) == 2  # the minima 25 Å apart are one particle (default merge radius 30 Å), the far one stays
    # radii that follow the bandwidth (/4, /2) pick the particles repeatedly
    coupled = pick_surface(surface, distances, bandwidth_ang=20.0, merge_eps_ang=5.0, coincide_ang=10.0, tomo_name="t")
    assert len(coupled) > 2
