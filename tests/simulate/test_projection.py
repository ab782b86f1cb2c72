"""Tilt projector and weighted back-projection: geometry, adjointness, missing wedge."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryomem.simulate._projection import TiltProjector, reconstruct_wbp, tilt_angles_deg, wbp_filter

SHAPE_ZYX = (32, 48, 64)


@pytest.fixture(scope="module")
def projector() -> TiltProjector:
    return TiltProjector((SHAPE_ZYX[0], SHAPE_ZYX[2]), tilt_angles_deg())


def _gaussian_blob(centre_zyx, sigma_px):
    zz, yy, xx = np.indices(SHAPE_ZYX)
    d2 = (zz - centre_zyx[0]) ** 2 + (yy - centre_zyx[1]) ** 2 + (xx - centre_zyx[2]) ** 2
    return np.exp(-d2 / (2 * sigma_px**2)).astype(np.float32)


def test_default_tilt_angles_are_minus_60_to_60_in_3_degree_steps():
    angles = tilt_angles_deg()
    assert angles.size == 41
    assert angles[0] == -60 and angles[-1] == 60
    np.testing.assert_allclose(np.diff(angles), 3)
    np.testing.assert_allclose(tilt_angles_deg(-50, 52, 4), np.arange(-50, 51, 4))


def test_backprojected_point_is_a_compact_point_at_the_same_place(projector):
    volume = np.zeros(SHAPE_ZYX, dtype=np.float32)
    point = (12, 20, 37)
    volume[point] = 1
    recon = reconstruct_wbp(
        projector.project(volume), projector.angles_deg, thickness_z=SHAPE_ZYX[0], projector=projector
    )
    assert np.unravel_index(np.argmax(recon), recon.shape) == point
    # the tilt axis is y: nothing leaks into other y slices
    assert np.abs(np.delete(recon, point[1], axis=1)).max() == 0
    zx = recon[:, point[1], :]
    dist = np.hypot(*np.indices(zx.shape) - np.array(point[::2])[:, None, None])
    assert np.abs(zx[dist > 3]).max() < 0.2 * recon.max()
    assert (zx[dist <= 2] ** 2).sum() > 0.7 * (zx**2).sum()


def test_projection_conserves_mass_and_matches_the_tilted_centre(projector):
    centre = (20.0, 24.0, 40.0)
    blob = _gaussian_blob(centre, 2.0)
    series = projector.project(blob)
    np.testing.assert_allclose(series.sum(axis=(1, 2)), blob.sum(), rtol=1e-4)
    # u = (x - cx)cosθ + (z - cz)sinθ + cu: the blob's centroid follows that line
    theta = np.deg2rad(projector.angles_deg)
    nz, nx = projector.shape_zx
    expected_u = (centre[2] - (nx - 1) / 2) * np.cos(theta) + (centre[0] - (nz - 1) / 2) * np.sin(theta)
    profile = series.sum(axis=1)
    centroid_u = (profile * np.arange(nx)).sum(axis=1) / profile.sum(axis=1) - (nx - 1) / 2
    np.testing.assert_allclose(centroid_u, expected_u, atol=0.05)


def test_full_angular_range_wbp_recovers_density_quantitatively():
    angles = tilt_angles_deg(-89, 89, 1)
    proj = TiltProjector((SHAPE_ZYX[0], SHAPE_ZYX[2]), angles)
    blob = _gaussian_blob((16, 24, 30), 3.0)
    recon = reconstruct_wbp(proj.project(blob), angles, thickness_z=SHAPE_ZYX[0], projector=proj)
    assert np.corrcoef(recon.ravel(), blob.ravel())[0, 1] > 0.99
    assert (recon * blob).sum() / (blob * blob).sum() == pytest.approx(1.0, abs=0.05)


def test_projection_is_linear_and_backprojection_is_its_adjoint(projector):
    rng = np.random.default_rng(0)
    v1, v2 = rng.standard_normal((2, *SHAPE_ZYX), dtype=np.float32)
    w = rng.standard_normal((projector.n_tilts, SHAPE_ZYX[1], SHAPE_ZYX[2]), dtype=np.float32)
    np.testing.assert_allclose(
        projector.project(2 * v1 - 3 * v2),
        2 * projector.project(v1) - 3 * projector.project(v2),
        atol=1e-4,
    )
    lhs = np.vdot(projector.project(v1).astype(np.float64), w)
    rhs = np.vdot(v1.astype(np.float64), projector.backproject(w))
    assert lhs == pytest.approx(rhs, rel=1e-5)


@settings(max_examples=15, deadline=None)
@given(
    nz=st.integers(1, 12),
    ny=st.integers(1, 40),
    nx=st.integers(1, 20),
    angles=st.lists(st.floats(-85, 85), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_adjointness_holds_for_any_geometry(nz, ny, nx, angles, seed):
    rng = np.random.default_rng(seed)
    proj = TiltProjector((nz, nx), angles)
    v = rng.standard_normal((nz, ny, nx)).astype(np.float32)
    w = rng.standard_normal((len(angles), ny, nx)).astype(np.float32)
    lhs = np.vdot(proj.project(v).astype(np.float64), w)
    rhs = np.vdot(v.astype(np.float64), proj.backproject(w))
    assert lhs == pytest.approx(rhs, rel=1e-4, abs=1e-3)


def test_threads_give_the_same_answer_as_one():
    rng = np.random.default_rng(1)
    volume = rng.standard_normal(SHAPE_ZYX, dtype=np.float32)
    shape_zx, angles = (SHAPE_ZYX[0], SHAPE_ZYX[2]), tilt_angles_deg()
    one = TiltProjector(shape_zx, angles, n_threads=1).project(volume)
    two = TiltProjector(shape_zx, angles, n_threads=2).project(volume)
    np.testing.assert_array_equal(one, two)


def _wedge_power_ratio(max_tilt_deg: float, margin_deg: float = 10.0) -> float:
    """Mean 3D power inside the missing wedge over mean power outside it."""
    angles = tilt_angles_deg(-max_tilt_deg, max_tilt_deg, 3)
    proj = TiltProjector((SHAPE_ZYX[0], SHAPE_ZYX[2]), angles)
    noise = np.random.default_rng(2).standard_normal(SHAPE_ZYX, dtype=np.float32)
    recon = reconstruct_wbp(proj.project(noise), angles, thickness_z=SHAPE_ZYX[0], projector=proj)
    # taper z and x so the box edges do not spread power over all directions
    taper = np.hanning(SHAPE_ZYX[0])[:, None, None] * np.hanning(SHAPE_ZYX[2])[None, None, :]
    power = np.abs(np.fft.fftn(recon * taper)) ** 2
    kz = np.fft.fftfreq(SHAPE_ZYX[0])[:, None, None]
    kx = np.fft.fftfreq(SHAPE_ZYX[2])[None, None, :]
    # a projection at tilt θ samples Fourier directions at angle θ from kx in the kx-kz plane
    elevation = np.broadcast_to(np.degrees(np.arctan2(np.abs(kz), np.abs(kx))), power.shape)
    not_lowest = np.broadcast_to(np.hypot(kz, kx) > 0.1, power.shape)
    wedge = (elevation > max_tilt_deg + margin_deg) & not_lowest
    measured = (elevation < max_tilt_deg - margin_deg) & not_lowest
    return power[wedge].mean() / power[measured].mean()


@pytest.mark.parametrize("max_tilt_deg", [60, 45])
def test_missing_wedge_is_empty_and_the_rest_is_full(max_tilt_deg):
    assert _wedge_power_ratio(max_tilt_deg) < 0.01


def test_wbp_filter_is_a_ramp_that_rolls_off_to_nyquist():
    ramp, n_pad = wbp_filter(64)
    assert n_pad >= 128
    freq = np.fft.rfftfreq(n_pad)
    mid = (freq > 0.05) & (freq < 0.35)
    np.testing.assert_allclose(ramp[mid], freq[mid], rtol=0.02)  # |k| in cycles/pixel
    assert ramp[0] > 0  # discrete Ram-Lak keeps the mean
    assert ramp[-1] == pytest.approx(0, abs=1e-6)
    cut, _ = wbp_filter(64, lowpass_fraction=0.5, rolloff_fraction=0.1)
    assert np.all(cut[freq >= 0.25] == 0)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        (dict(step_deg=0), "step_deg"),
        (dict(step_deg=-3), "step_deg"),
        (dict(min_deg=-95), "min_deg"),
        (dict(max_deg=90), "max_deg"),
        (dict(min_deg=30, max_deg=-30), "min_deg"),
    ],
)
def test_bad_tilt_ranges_name_the_parameter(kwargs, names):
    with pytest.raises(ValueError, match=names):
        tilt_angles_deg(**kwargs)


def test_bad_projector_inputs_name_the_parameter(projector):
    with pytest.raises(ValueError, match="angles_deg"):
        TiltProjector((8, 8), [0.0, 91.0])
    with pytest.raises(ValueError, match="shape_zx"):
        TiltProjector((0, 8), [0.0])
    with pytest.raises(ValueError, match="volume_zyx"):
        projector.project(np.zeros((SHAPE_ZYX[0], SHAPE_ZYX[2])))
    with pytest.raises(ValueError, match="tilt_series"):
        projector.backproject(np.zeros((3, 4, SHAPE_ZYX[2])))
    with pytest.raises(ValueError, match="thickness_z"):
        reconstruct_wbp(np.zeros((1, 4, 8)), [0.0], thickness_z=0)
    with pytest.raises(ValueError, match="angles_deg"):
        reconstruct_wbp(np.zeros((2, 4, 8)), [0.0], thickness_z=4)
    with pytest.raises(ValueError, match="projector"):
        reconstruct_wbp(np.zeros((41, 4, 8)), tilt_angles_deg(), thickness_z=4, projector=projector)
