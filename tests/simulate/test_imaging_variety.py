"""Imaging variety: SIRT, defocus gradient, dose and damage, detector MTF, coloured noise, denoised look;
and the CLI's one-line messages for bad values of the new flags."""

import numpy as np
import pytest
from cli_refusal import assert_simulate_refuses

from cryomem.simulate._microscope import ImagingEffects, image_tomogram, simulate_tilt_series
from cryomem.simulate._projection import TiltProjector, tilt_angles_deg
from cryomem.simulate._reconstruction import denoise_tomogram, reconstruct_sirt
from cryomem.simulate._tilt_effects import (
    accumulated_dose_e_per_ang2,
    acquisition_rank,
    coloured_noise,
    column_defoci_ang,
    detector_mtf_2d,
    dose_per_tilt_e_per_ang2,
    exposure_filter_2d,
)

SHAPE = (32, 48, 64)
VOXEL = 10.0


@pytest.fixture(scope="module")
def density():
    zz, yy, xx = np.indices(SHAPE)
    ball = ((zz - 16) ** 2 + (yy - 24) ** 2 + (xx - 30) ** 2 < 6**2).astype(np.float32)
    ball[14:18, :, 5:12] = 1.0  # a slab, for some texture
    return ball


def _tomogram(density, seed=0, **kwargs):
    args = dict(voxel_size_ang=VOXEL, defocus_ang=30000.0, snr=0.5, misalignment_px=0.5)
    args["rng"] = np.random.default_rng(seed)
    return image_tomogram(density, **(args | kwargs))


@pytest.fixture(scope="module")
def plain(density):
    return _tomogram(density)[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(reconstruction="sirt", sirt_iterations=5),
        dict(effects=ImagingEffects(defocus_gradient=True)),
        dict(effects=ImagingEffects(total_dose_e_per_ang2=120.0)),
        dict(
            effects=ImagingEffects(total_dose_e_per_ang2=120.0, dose_split="inverse_cosine", tilt_scheme="sequential")
        ),
        dict(effects=ImagingEffects(detector_mtf=True)),
        dict(effects=ImagingEffects(noise_exponent=1.0)),
        dict(denoise="lowpass"),
        dict(denoise="diffusion"),
    ],
    ids=["sirt", "defocus_gradient", "dose", "dose_cos_sequential", "mtf", "pink_noise", "lowpass", "diffusion"],
)
def test_each_option_changes_the_tomogram_keeps_determinism_and_normalisation(density, plain, kwargs):
    a, series = _tomogram(density, **kwargs)
    b, _ = _tomogram(density, **kwargs)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a)) and a.shape == SHAPE
    assert abs(float(a.mean())) < 1e-4 and float(a.std()) == pytest.approx(1.0, rel=1e-3)
    assert np.abs(a - plain).max() > 0.05
    effects = kwargs.get("effects")
    assert (series.dose_e_per_ang2 is not None) == bool(effects and effects.dose)


def test_default_effects_reproduce_the_plain_simulation(density, plain):
    same, series = _tomogram(density, effects=ImagingEffects(), reconstruction="wbp", denoise="none")
    np.testing.assert_array_equal(same, plain)
    assert series.dose_e_per_ang2 is None


def test_sirt_differs_from_wbp_and_fits_the_projections_better_with_iterations(density):
    angles = tilt_angles_deg(-60, 60, 6)
    projector = TiltProjector((SHAPE[0], SHAPE[2]), angles)
    images = projector.project(density)
    misfit = []
    for iterations in (1, 4, 12):
        volume = reconstruct_sirt(images, angles, thickness_z=SHAPE[0], projector=projector, iterations=iterations)
        misfit.append(float(np.linalg.norm(projector.project(volume) - images)))
    assert misfit[0] > misfit[1] > misfit[2]
    # SIRT recovers the ball's density better than a blur and is positive inside it
    assert volume[16, 24, 30] > 0.5 * density[16, 24, 30]


def test_dose_schedule_and_exposure_filter():
    angles = np.array([-6.0, -3.0, 0.0, 3.0, 6.0])
    assert acquisition_rank(angles, "dose_symmetric").tolist() == [4, 2, 0, 1, 3]
    assert acquisition_rank(angles, "sequential").tolist() == [0, 1, 2, 3, 4]
    doses = dose_per_tilt_e_per_ang2(angles, 100.0, "uniform")
    assert doses.sum() == pytest.approx(100.0) and np.allclose(doses, 20.0)
    cos_doses = dose_per_tilt_e_per_ang2(angles, 100.0, "inverse_cosine")
    assert cos_doses.sum() == pytest.approx(100.0) and cos_doses[0] > cos_doses[2]
    accumulated = accumulated_dose_e_per_ang2(angles, doses, "dose_symmetric")
    assert accumulated.tolist() == pytest.approx([90.0, 50.0, 10.0, 30.0, 70.0])
    low, high = (exposure_filter_2d((64, 64), 10.0, d) for d in (10.0, 90.0))
    assert low[0, 0] == high[0, 0] == pytest.approx(1.0)
    assert np.all(high <= low + 1e-7) and high[0, 32] < low[0, 32] < 1.0  # damage grows with dose and frequency


def test_mtf_defocus_gradient_and_noise_colour_follow_their_formulas():
    mtf = detector_mtf_2d((64, 64), 0.5)
    assert mtf[0, 0] == pytest.approx(1.0) and mtf[0, 32] == pytest.approx(np.sinc(0.5) * np.exp(-0.5), rel=1e-5)
    columns = column_defoci_ang(30000.0, 30.0, 65, 10.0)
    assert columns[32] == pytest.approx(30000.0) and columns[-1] - columns[0] == pytest.approx(64 * 10.0 * 0.5)
    noise = coloured_noise(np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32), 1.0)
    assert float(noise.std()) == pytest.approx(1.0, rel=1e-4)
    power = np.abs(np.fft.rfft2(noise)) ** 2
    f = np.hypot(np.fft.fftfreq(256)[:, None], np.fft.rfftfreq(256)[None, :])
    ratio = power[(f > 0.04) & (f < 0.06)].mean() / power[(f > 0.38) & (f < 0.42)].mean()
    assert ratio == pytest.approx(8.0, rel=0.3)  # 1/f: power at f=0.05 is 8x that at f=0.4


def test_dose_lowers_the_signal_of_late_tilts(density):
    angles = tilt_angles_deg(-60, 60, 30)
    common = dict(voxel_size_ang=VOXEL, defocus_ang=30000.0, snr=1e6, angles_deg=angles, phase_flip=False)
    clean = simulate_tilt_series(density, rng=np.random.default_rng(0), **common)
    damaged = simulate_tilt_series(
        density, rng=np.random.default_rng(0), effects=ImagingEffects(total_dose_e_per_ang2=150.0), **common
    )
    order = np.argsort(damaged.dose_e_per_ang2)
    kept = [np.std(damaged.images[i]) / np.std(clean.images[i]) for i in order]
    assert kept[0] > kept[-1] and all(k <= 1.0 + 1e-6 for k in kept)


def test_denoise_smooths_the_background():
    noisy = np.random.default_rng(0).standard_normal((24, 32, 32)).astype(np.float32)
    for method in ("lowpass", "diffusion"):
        assert float(denoise_tomogram(noisy, method, 1.0).std()) < 0.8 * float(noisy.std())
    with pytest.raises(ValueError, match="denoise"):
        denoise_tomogram(noisy, "cryocare")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--reconstruction", "art"], "microscope.reconstruction"),
        (["--noise-color", "-1"], "microscope.noise_exponent"),
        (["--denoise", "blur"], "microscope.denoise"),
        (["--dose", "-5"], "microscope.total_dose_e_per_ang2"),
        (["--sirt-iterations", "0"], "microscope.sirt_iterations"),
        (["--protofilaments", "10,16"], "microtubule_protofilaments"),
        (["--protofilaments", "13"], "--protofilaments must be 2 integers"),
        (["--membrane-contrast", "0,1"], "density_factor"),
        (["--bundles", "-1"], "cytosol.filament_bundles"),
    ],
)
def test_cli_bad_values_give_one_clear_line(tmp_path, args, message):
    assert_simulate_refuses(tmp_path, args, message)
