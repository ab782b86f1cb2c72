"""Simulated microscope: contrast sign, SNR, misalignment, seeds, bad inputs."""

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage

from cryomem.simulate._ctf import ctf_2d
from cryomem.simulate._microscope import (
    image_tomogram,
    misalignment_sigma_px,
    simulate_tilt_series,
)
from cryomem.simulate._projection import TiltProjector, tilt_angles_deg

SHAPE_ZYX = (32, 48, 64)
VOXEL_ANG = 10.0
DEFOCUS_ANG = 30000.0


@pytest.fixture(scope="module")
def ball() -> np.ndarray:
    zz, yy, xx = np.indices(SHAPE_ZYX)
    return ((zz - 16) ** 2 + (yy - 24) ** 2 + (xx - 30) ** 2 < 6**2).astype(np.float32)


@pytest.fixture(scope="module")
def projector() -> TiltProjector:
    return TiltProjector((SHAPE_ZYX[0], SHAPE_ZYX[2]), tilt_angles_deg())


def _simulate(density, projector, **kwargs):
    args = (
        dict(
            voxel_size_ang=VOXEL_ANG,
            defocus_ang=DEFOCUS_ANG,
            snr=1.0,
            rng=np.random.default_rng(0),
            projector=projector,
        )
        | kwargs
    )
    return simulate_tilt_series(density, **args)


def _ctf_filtered_projections(density, projector):
    """Noise-free images: projected density times −H."""
    ctf = ctf_2d(SHAPE_ZYX[1:], voxel_size_ang=VOXEL_ANG, defocus_ang=DEFOCUS_ANG)
    return scipy.fft.irfft2(-ctf * scipy.fft.rfft2(projector.project(density)), s=SHAPE_ZYX[1:]), ctf


@pytest.mark.parametrize("phase_flip", [True, False])
def test_dense_object_is_dark_in_the_normalised_tomogram(ball, phase_flip):
    tomogram, series = image_tomogram(
        ball,
        voxel_size_ang=VOXEL_ANG,
        defocus_ang=DEFOCUS_ANG,
        snr=1.0,
        misalignment_px=1.0,
        phase_flip=phase_flip,
        rng=np.random.default_rng(0),
    )
    assert tomogram.shape == ball.shape and tomogram.dtype == np.float32
    assert tomogram.mean() == pytest.approx(0, abs=1e-4)
    assert tomogram.std() == pytest.approx(1, rel=1e-4)
    assert tomogram[ball > 0].mean() < -2
    assert abs(tomogram[ball == 0].mean()) < 0.1
    assert series.images.shape == (41, *SHAPE_ZYX[1:]) and series.images.dtype == np.float32
    assert series.phase_flipped is phase_flip


def test_measured_snr_of_each_tilt_is_the_requested_one(ball, projector):
    series = _simulate(ball, projector, snr=0.5, phase_flip=False)
    clean, _ = _ctf_filtered_projections(ball, projector)
    measured = clean.var(axis=(1, 2)) / (series.images - clean).var(axis=(1, 2))
    assert measured.mean() == pytest.approx(0.5, rel=0.03)
    np.testing.assert_allclose(measured, 0.5, rtol=0.1)
    assert series.snr == 0.5


def test_shift_and_phase_flip_keep_the_snr(ball, projector):
    plain = _simulate(ball, projector, snr=0.5, phase_flip=False)
    flipped = _simulate(ball, projector, snr=0.5, phase_flip=True, misalignment_px=2.0)
    np.testing.assert_allclose(flipped.images.var(axis=(1, 2)), plain.images.var(axis=(1, 2)), rtol=0.02)


def test_phase_flipping_turns_the_ctf_into_minus_its_modulus(ball, projector):
    series = _simulate(ball, projector, snr=1e8, phase_flip=True)
    clean, ctf = _ctf_filtered_projections(ball, projector)
    expected = scipy.fft.irfft2(-np.abs(ctf) * scipy.fft.rfft2(projector.project(ball)), s=SHAPE_ZYX[1:])
    np.testing.assert_allclose(series.images, expected, atol=1e-3 * np.abs(expected).max())
    # flipped: every frequency of the ball's image is dark; unflipped: some bands are bright
    assert np.abs(series.images - clean).max() > 0.05 * np.abs(clean).max()


def test_misalignment_moves_image_content_by_the_recorded_shift(ball, projector):
    aligned = _simulate(ball, projector, snr=1e8, phase_flip=False, misalignment_px=0.0)
    moved = _simulate(ball, projector, snr=1e8, phase_flip=False, misalignment_px=3.0)
    assert np.all(aligned.shifts_yx_px == 0)
    for i in (0, 20, 40):
        # scipy.ndimage.fourier_shift moves content by +shift
        expected = scipy.fft.irfft2(
            scipy.ndimage.fourier_shift(scipy.fft.rfft2(aligned.images[i]), moved.shifts_yx_px[i], n=SHAPE_ZYX[2]),
            s=SHAPE_ZYX[1:],
        )
        scale = np.abs(expected).max()
        np.testing.assert_allclose(moved.images[i], expected, atol=0.02 * scale)


def test_misalignment_grows_with_tilt_as_documented():
    sigma = misalignment_sigma_px([0.0, 30.0, -60.0, 60.0], 2.0)
    np.testing.assert_allclose(sigma, [1.0, 1.0 + np.sin(np.pi / 6) / np.sin(np.pi / 3), 2.0, 2.0])
    tiny = np.ones((2, 4, 4), np.float32)
    draws = np.stack(
        [
            _simulate(
                tiny, None, misalignment_px=1.0, rng=np.random.default_rng(seed), angles_deg=[-60.0, 0.0, 60.0]
            ).shifts_yx_px
            for seed in range(300)
        ]
    )  # (seed, tilt, yx)
    spread = draws.std(axis=(0, 2))
    assert spread[1] == pytest.approx(0.5, rel=0.15)
    assert spread[0] == pytest.approx(1.0, rel=0.15) and spread[2] == pytest.approx(1.0, rel=0.15)


def test_same_seed_same_tilt_series_other_seed_different(ball, projector):
    args = dict(misalignment_px=1.0)
    a = _simulate(ball, projector, rng=np.random.default_rng(7), **args)
    b = _simulate(ball, projector, rng=np.random.default_rng(7), **args)
    c = _simulate(ball, projector, rng=np.random.default_rng(8), **args)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.shifts_yx_px, b.shifts_yx_px)
    assert not np.array_equal(a.images, c.images)
    assert not np.array_equal(a.shifts_yx_px, c.shifts_yx_px)


def test_defocus_per_tilt_is_accepted_and_recorded(ball, projector):
    defoci = np.linspace(25000, 35000, projector.n_tilts)
    series = _simulate(ball, projector, defocus_ang=defoci)
    np.testing.assert_array_equal(series.defocus_ang, defoci)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(snr=0.0), "snr"),
        (dict(snr=-1.0), "snr"),
        (dict(misalignment_px=-1.0), "misalignment_px"),
        (dict(voxel_size_ang=0.0), "voxel_size_ang"),
        (dict(amplitude_contrast=2.0), "amplitude_contrast"),
        (dict(angles_deg=[0.0, 95.0]), "angles_deg"),
        (dict(defocus_ang=[1.0, 2.0]), "defocus_ang"),
        (dict(lowpass_fraction=0.0), "lowpass_fraction"),
    ],
)
def test_bad_imaging_inputs_name_the_parameter(ball, kwargs, name):
    args = dict(voxel_size_ang=VOXEL_ANG, defocus_ang=DEFOCUS_ANG, snr=1.0, rng=np.random.default_rng(0)) | kwargs
    with pytest.raises(ValueError, match=name):
        image_tomogram(ball, **args)


def test_non_3d_density_is_refused(projector):
    for call in (image_tomogram, simulate_tilt_series):
        with pytest.raises(ValueError, match="density_zyx"):
            call(
                np.zeros((48, 64), np.float32),
                voxel_size_ang=VOXEL_ANG,
                defocus_ang=DEFOCUS_ANG,
                snr=1.0,
                rng=np.random.default_rng(0),
            )
    with pytest.raises(ValueError, match="angles_deg"):
        simulate_tilt_series(
            np.zeros(SHAPE_ZYX, np.float32),
            voxel_size_ang=VOXEL_ANG,
            defocus_ang=DEFOCUS_ANG,
            snr=1.0,
            rng=np.random.default_rng(0),
            projector=projector,
            angles_deg=[0.0],
        )
