"""Membrane skeletons: one voxel thick, on the mid-surface, independent of chunking."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import ndimage

from cryomem.segment._skeleton import skeletonize_membranes


def _radius(shape: tuple[int, int, int], centre: tuple[float, float, float]) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=float)
    return np.sqrt((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2)


@pytest.mark.parametrize(("start", "thickness", "centre"), [(10, 7, 13), (10, 6, 12), (11, 3, 12), (12, 1, 12)])
def test_thick_plane_gives_exactly_its_centre_plane(start: int, thickness: int, centre: int) -> None:
    segmentation = np.zeros((30, 24, 28), dtype=np.uint8)
    segmentation[start : start + thickness] = 1
    skeleton = skeletonize_membranes(segmentation)
    expected = np.zeros_like(skeleton)
    expected[centre] = 1  # for even thickness the lower of the two central planes
    assert skeleton.dtype == np.uint8
    np.testing.assert_array_equal(skeleton, expected)


def test_thick_spherical_shell_gives_a_thin_closed_mid_surface() -> None:
    shape = (48, 48, 48)
    r = _radius(shape, (23.7, 24.1, 23.3))
    inner, outer = 13.5, 20.5  # 7 voxels thick, mid radius 17
    shell = (r >= inner) & (r <= outer)
    skeleton = skeletonize_membranes(shell).astype(bool)
    assert np.all(np.abs(r[skeleton] - 17.0) <= 1.0)
    # no holes: every voxel of the mid-surface has a skeleton voxel among its 26 neighbours
    mid = np.abs(r - 17.0) < 0.5
    near_skeleton = ndimage.binary_dilation(skeleton, np.ones((3, 3, 3), dtype=bool))
    assert np.all(near_skeleton[mid])
    # one voxel thick: about as many voxels as a digital sphere of radius 17 (4 pi r^2 ~ 3632)
    assert 0.9 * mid.sum() <= skeleton.sum() <= 1.3 * mid.sum()
    assert not np.any(skeleton & ~shell)


def test_oblique_plane_skeleton_lies_on_its_mid_plane() -> None:
    shape = (40, 44, 44)
    z, y, x = np.indices(shape, dtype=float)
    normal = np.array([0.8, 0.5, 0.33]) / np.linalg.norm([0.8, 0.5, 0.33])
    distance = (z - 20) * normal[0] + (y - 22) * normal[1] + (x - 22) * normal[2]
    skeleton = skeletonize_membranes(np.abs(distance) <= 3.0).astype(bool)
    interior = (z >= 4) & (z < 36) & (y >= 4) & (y < 40) & (x >= 4) & (x < 40)
    assert np.all(np.abs(distance[skeleton & interior]) <= 1.0)
    mid = (np.abs(distance) < 0.5) & interior
    near_skeleton = ndimage.binary_dilation(skeleton, np.ones((3, 3, 3), dtype=bool))
    assert np.mean(near_skeleton[mid]) > 0.99


@pytest.mark.parametrize("chunk_z", [1, 3, 7, 16])
def test_chunked_skeleton_equals_unchunked(chunk_z: int) -> None:
    shape = (40, 36, 38)
    r = _radius(shape, (19.2, 17.6, 18.9))
    segmentation = (np.abs(r - 12.0) <= 2.5) | (np.abs(r - 5.0) <= 1.0)
    segmentation[:, 30:33, :] = True  # a plane crossing every slab
    segmentation[2:6, :, 2:6] = True  # a thick block at the border
    whole = skeletonize_membranes(segmentation, chunk_z=None)
    assert whole.any()
    np.testing.assert_array_equal(skeletonize_membranes(segmentation, chunk_z=chunk_z), whole)


def test_scipy_distance_fallback_gives_the_same_planes_and_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "edt", None)  # as if the optional edt package were missing
    segmentation = np.zeros((30, 20, 22), dtype=bool)
    segmentation[10:17] = True
    segmentation[:, 3:8] = True
    whole = skeletonize_membranes(segmentation, chunk_z=None)
    assert np.all(whole[13, 9:, :] == 1) and np.all(whole[:, 5, :][np.r_[0:9, 21:30]] == 1)
    np.testing.assert_array_equal(skeletonize_membranes(segmentation, chunk_z=4), whole)


def test_empty_segmentation_gives_empty_skeleton() -> None:
    skeleton = skeletonize_membranes(np.zeros((5, 6, 7), dtype=bool))
    assert skeleton.shape == (5, 6, 7) and skeleton.dtype == np.uint8 and not skeleton.any()


def test_sigma_in_angstrom_matches_sigma_in_voxels() -> None:
    segmentation = np.abs(_radius((30, 30, 30), (14.5, 15.2, 14.8)) - 9.0) <= 2.0
    np.testing.assert_array_equal(
        skeletonize_membranes(segmentation, voxel_size_ang=10.0, sigma_ang=15.0),
        skeletonize_membranes(segmentation, sigma_px=1.5),
    )


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="3D"):
        skeletonize_membranes(np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match="sigma_ang needs voxel_size_ang"):
        skeletonize_membranes(np.zeros((4, 4, 4), dtype=bool), sigma_ang=10.0)
    with pytest.raises(ValueError, match="chunk_z"):
        skeletonize_membranes(np.zeros((4, 4, 4), dtype=bool), chunk_z=0)
    with pytest.raises(ValueError, match="sigma_px"):
        skeletonize_membranes(np.zeros((4, 4, 4), dtype=bool), sigma_px=-1.0)
    with pytest.raises(ValueError, match="voxel"):
        skeletonize_membranes(np.zeros((4, 4, 4), dtype=bool), voxel_size_ang=0.0)


def test_closed_form_normals_match_lapack_eigen_decomposition() -> None:
    """Sheet test and normal agree with ``numpy.linalg.eigh`` on random and degenerate Hessians."""
    from cryomem.segment._skeleton import _normals

    rng = np.random.default_rng(11)
    hessians = rng.normal(size=(5000, 3, 3))
    hessians = hessians + hessians.transpose(0, 2, 1)
    hessians[:3] = 2.0 * np.eye(3)  # all eigenvalues equal
    hessians[3:6] = np.diag([-4.0, 1.0, 1.0])  # a sheet with a degenerate tangent plane
    normals, sheet = _normals(hessians)
    values, vectors = np.linalg.eigh(hessians)
    order = np.argsort(np.abs(values), axis=1)
    largest = np.take_along_axis(values, order[:, 2:3], axis=1)[:, 0]
    second = np.take_along_axis(values, order[:, 1:2], axis=1)[:, 0]
    np.testing.assert_array_equal(sheet, (largest < 0) & (np.abs(largest) >= 2.0 * np.abs(second)))
    assert sheet[3:6].all() and not sheet[:3].any()
    expected = np.take_along_axis(vectors, order[:, None, 2:3], axis=2)[:, :, 0]
    cosine = np.abs(np.einsum("ij,ij->i", normals, expected))
    assert cosine[sheet].min() > 1.0 - 1e-9  # the same axis wherever the normal is used
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert (np.take_along_axis(normals, np.argmax(np.abs(normals), axis=1)[:, None], axis=1) > 0).all()
