"""Geodesic patches cover the mesh, overlap, and keep small meshes whole."""

import numpy as np
import pytest
import trimesh

from cryomem.geometry import GeodesicPatch, geodesic_patches


@pytest.fixture(scope="module")
def big_sphere():
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=100.0)  # 10242 vertices
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_patches_cover_every_vertex_and_overlap(big_sphere):
    vertices, faces = big_sphere
    patches = geodesic_patches(vertices, faces, patch_vertices=1500, overlap=0.3, seed=1)
    assert all(isinstance(p, GeodesicPatch) for p in patches)
    assert all(len(p.vertex_ids) == 1500 for p in patches)
    counts = np.bincount(np.concatenate([p.vertex_ids for p in patches]), minlength=len(vertices))
    assert counts.min() >= 1
    assert 1.3 < counts.mean() < 4.0  # overlapping, not wasteful
    for patch in patches:
        assert patch.centre_vertex in patch.vertex_ids
        assert patch.distance_to_centre_ang.shape == patch.vertex_ids.shape
        assert patch.distance_to_centre_ang[patch.vertex_ids == patch.centre_vertex][0] == 0
        # a patch is a geodesic disc: every vertex within its radius of its centre
        chord = np.linalg.norm(vertices[patch.vertex_ids] - vertices[patch.centre_vertex], axis=1)
        assert np.all(chord <= patch.distance_to_centre_ang + 1.0)
    more = geodesic_patches(vertices, faces, patch_vertices=1500, overlap=0.6, seed=1)
    assert len(more) > len(patches)


def test_same_seed_same_patches(big_sphere):
    first = geodesic_patches(*big_sphere, patch_vertices=3000, seed=4)
    again = geodesic_patches(*big_sphere, patch_vertices=3000, seed=4)
    assert [p.centre_vertex for p in first] == [p.centre_vertex for p in again]


def test_small_mesh_is_one_patch_and_components_get_their_own(sphere):
    vertices, faces = sphere
    (only,) = geodesic_patches(vertices, faces, patch_vertices=5000)
    np.testing.assert_array_equal(only.vertex_ids, np.arange(len(vertices)))
    n = len(vertices)
    two = geodesic_patches(np.vstack([vertices, vertices + 300.0]), np.vstack([faces, faces + n]), patch_vertices=5000)
    assert sorted(len(p.vertex_ids) for p in two) == [n, n]
    assert all(np.isfinite(p.distance_to_centre_ang).all() for p in two)


@pytest.mark.parametrize(
    "kwargs, message", [({"patch_vertices": 0}, "patch_vertices"), ({"overlap": 1.0}, "overlap must be in")]
)
def test_bad_arguments_are_named(sphere, kwargs, message):
    with pytest.raises(ValueError, match=message):
        geodesic_patches(*sphere, **kwargs)
