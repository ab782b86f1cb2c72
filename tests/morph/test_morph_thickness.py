"""Bilayer thickness: two-leaflet fits of single profiles and of a synthetic bilayer slab."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cryomem.morph._leaflet_fit import fit_two_leaflets
from cryomem.morph._thickness import bilayer_thickness

OFFSETS = np.arange(-60.0, 60.0 + 1e-9, 2.0)


def _two_leaflets(separation: float, centre: float = 3.0) -> np.ndarray:
    t = OFFSETS
    return np.exp(-0.5 * ((t - centre + separation / 2) / 6.0) ** 2) + 0.8 * np.exp(
        -0.5 * ((t - centre - separation / 2) / 7.0) ** 2
    )


@pytest.mark.parametrize("separation", [30.0, 40.0, 50.0])
@pytest.mark.parametrize("dark", [True, False])
def test_two_gaussians_with_noise_give_their_separation(separation: float, dark: bool) -> None:
    rng = np.random.default_rng(int(separation))
    profile = _two_leaflets(separation) + 0.002 * OFFSETS + 0.08 * rng.standard_normal(OFFSETS.size)
    profile = -profile if dark else profile
    fit = fit_two_leaflets(OFFSETS, profile, dark_membrane=dark)
    assert fit.ok, fit.reason
    assert fit.separation_ang == pytest.approx(separation, abs=2.0)
    assert 0.5 <= fit.quality <= 1.0


def test_wrong_sign_is_not_a_bilayer() -> None:
    profile = -(_two_leaflets(40.0)) + 0.02 * np.random.default_rng(0).standard_normal(OFFSETS.size)
    fit = fit_two_leaflets(OFFSETS, profile, dark_membrane=False)  # two dark layers read as bright ones
    assert not fit.ok or abs(fit.separation_ang - 40.0) > 5.0


@pytest.mark.parametrize("sigma", [6.0, 14.0])
def test_one_gaussian_is_not_ok(sigma: float) -> None:
    rng = np.random.default_rng(1)
    profile = -np.exp(-0.5 * (OFFSETS / sigma) ** 2) + 0.05 * rng.standard_normal(OFFSETS.size)
    fit = fit_two_leaflets(OFFSETS, profile)
    assert not fit.ok and np.isnan(fit.separation_ang)
    assert fit.reason


def test_flat_noise_is_not_ok() -> None:
    rng = np.random.default_rng(2)
    for _ in range(5):
        fit = fit_two_leaflets(OFFSETS, rng.standard_normal(OFFSETS.size))
        assert not fit.ok and np.isnan(fit.separation_ang)


def _planar_mesh(z_ang: float, lo: float, hi: float, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.arange(lo, hi + 1e-9, spacing)
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    vertices = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z_ang)], axis=1)
    m = xs.size
    idx = np.arange(m * m).reshape(m, m)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    normals = np.tile([0.0, 0.0, 1.0], (len(vertices), 1))
    return vertices, faces, normals


def _slab(separation: float, voxel: float = 4.0, seed: int = 0) -> np.ndarray:
    """A dark bilayer (two Gaussian sheets) in a (40, 48, 48) volume at z = 80 Å, blurred a little, noisy."""
    z = np.arange(40) * voxel
    mid = 80.0
    profile = np.exp(-0.5 * ((z - mid + separation / 2) / 5.0) ** 2) + np.exp(
        -0.5 * ((z - mid - separation / 2) / 5.0) ** 2
    )
    volume = np.broadcast_to(-profile[:, None, None], (40, 48, 48)).astype(np.float32)
    volume = ndimage.gaussian_filter(volume, 0.5)
    return volume + 0.5 * np.random.default_rng(seed).standard_normal(volume.shape).astype(np.float32)


@pytest.mark.parametrize("separation", [38.0, 46.0])
def test_flat_bilayer_slab_recovers_its_thickness(separation: float) -> None:
    volume = _slab(separation)
    vertices, faces, normals = _planar_mesh(82.0, 20.0, 168.0, 6.0)  # 2 Å off the mid-plane
    before = (volume.copy(), vertices.copy(), faces.copy(), normals.copy())
    result = bilayer_thickness(volume, 4.0, vertices, faces, normals, patch_radius_nm=2.0, half_width_nm=5.0)
    assert result.fitted.mean() >= 0.9
    error = result.thickness_nm[result.fitted] * 10.0 - separation
    assert np.mean(np.abs(error) <= 3.0) >= 0.9
    assert result.patch_radius_nm == 2.0
    for a, b in zip(before, (volume, vertices, faces, normals), strict=True):
        np.testing.assert_array_equal(a, b)  # inputs untouched


def test_mesh_outside_the_volume_is_refused() -> None:
    volume = _slab(40.0)
    vertices, faces, normals = _planar_mesh(82.0, 20.0, 168.0, 6.0)
    with pytest.raises(ValueError, match="does not lie inside the tomogram"):
        bilayer_thickness(volume, 4.0, vertices + 5000.0, faces, normals)
    with pytest.raises(ValueError, match="does not lie inside the tomogram"):
        bilayer_thickness(volume, 0.1, vertices, faces, normals)  # wrong voxel size


def test_bad_patch_radius_is_refused() -> None:
    volume = _slab(40.0)
    vertices, faces, normals = _planar_mesh(82.0, 20.0, 168.0, 6.0)
    with pytest.raises(ValueError, match="patch_radius_nm"):
        bilayer_thickness(volume, 4.0, vertices, faces, normals, patch_radius_nm=0.0)


def test_ctf_aware_fit_removes_the_ctf_bias() -> None:
    from cryomem.morph._leaflet_fit import LeafletCtf, _CtfLeaflet

    ctf = LeafletCtf(3.0)
    shape = _CtfLeaflet(ctf, 10.0, 200.0)
    separation = 38.0
    profile = -(shape(OFFSETS + separation / 2, np.full(OFFSETS.size, 7.0))[0])
    profile = profile - shape(OFFSETS - separation / 2, np.full(OFFSETS.size, 7.0))[0]  # dark, as imaged
    aware = fit_two_leaflets(OFFSETS, profile, ctf=ctf, voxel_size_ang=10.0)
    plain = fit_two_leaflets(OFFSETS, profile)
    assert aware.ok and aware.separation_ang == pytest.approx(separation, abs=0.5)
    assert plain.ok and plain.separation_ang > separation + 0.5  # the CTF moves plain Gaussians apart
