"""Preprocessing (issue 20): pixel-size matching, spectra, spectrum matching, CTF deconvolution."""

import hashlib
import warnings

import mrcfile
import numpy as np
import pytest
import scipy.fft
from scipy import ndimage

from cryomem.io import ctf_1d, read_mrc, write_mrc
from cryomem.segment import (
    DEFAULT_REFERENCE_SPECTRUM_PATH,
    RadialSpectrum,
    deconvolve,
    deconvolve_file,
    load_reference_spectrum,
    match_pixel_size,
    match_spectrum,
    match_spectrum_file,
    radial_amplitude_spectrum,
    read_spectrum_tsv,
    resample_fourier,
    resampled_grid,
    spectrum_file,
    write_spectrum_tsv,
)
from cryomem.segment._preprocess_files import radial_frequency_plane
from cryomem.simulate._ctf import ctf_2d

ORIGIN = (120.0, -40.0, 35.5)


def _blob(shape=(40, 56, 64), sigma_vox=4.0) -> np.ndarray:
    """A smooth Gaussian blob in the middle: its spectrum lies far below half the Nyquist frequency."""
    grid = np.indices(shape, dtype=np.float64)
    centre = np.array([(n - 1) / 2 for n in shape])[:, None, None, None]
    return np.exp(-((grid - centre) ** 2).sum(0) / (2 * sigma_vox**2)).astype(np.float32)


def _sha(path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_pixel_size_round_trip_keeps_low_frequencies(tmp_path):
    blob = _blob()
    tomo = write_mrc(tmp_path / "tomo.mrc", blob, voxel_size_ang=8.0, origin_xyz_ang=ORIGIN)
    before = _sha(tomo)
    down = match_pixel_size(tomo, tmp_path / "down.mrc", 16.0)
    up = match_pixel_size(down, tmp_path / "up.mrc", 8.0)
    small, back = read_mrc(down), read_mrc(up)
    assert small.data_zyx.shape == (20, 28, 32)
    assert small.voxel_size_ang == pytest.approx(16.0)
    assert small.origin_xyz_ang == pytest.approx(ORIGIN) and back.origin_xyz_ang == pytest.approx(ORIGIN)
    assert back.voxel_size_ang == pytest.approx(8.0)
    assert _relative_error(back.data_zyx, blob) < 0.01
    assert small.data_zyx.mean() == pytest.approx(blob.mean(), rel=1e-4)  # values keep their scale
    assert _sha(tomo) == before


def test_pixel_size_samples_the_same_physical_positions():
    blob = _blob((32, 48, 48), sigma_vox=5.0)
    finer = resample_fourier(blob, (48, 72, 72))  # 1.5x: voxel i of the output sits at input position i / 1.5
    assert _relative_error(finer[::3, ::3, ::3], blob[::2, ::2, ::2]) < 1e-3


def test_achieved_voxel_size_is_written(tmp_path):
    tomo = write_mrc(tmp_path / "tomo.mrc", _blob(), voxel_size_ang=10.0)
    shape, achieved = resampled_grid((40, 56, 64), 10.0, 13.0)
    assert shape == (31, 43, 49)
    assert achieved == pytest.approx(np.mean([400 / 31, 560 / 43, 640 / 49]))
    out = read_mrc(match_pixel_size(tomo, tmp_path / "out.mrc", 13.0, smooth=True))
    assert out.data_zyx.shape == shape and out.voxel_size_ang == pytest.approx(achieved, rel=1e-6)


@pytest.mark.parametrize("voxel_out", [6.0, 17.0])
def test_streamed_path_equals_in_memory_path(tmp_path, voxel_out):
    data = ndimage.gaussian_filter(np.random.default_rng(3).normal(size=(30, 44, 52)), 2).astype(np.float32)
    tomo = write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=10.0, origin_xyz_ang=ORIGIN)
    whole = read_mrc(match_pixel_size(tomo, tmp_path / "whole.mrc", voxel_out, smooth=True))
    streamed = read_mrc(match_pixel_size(tomo, tmp_path / "streamed.mrc", voxel_out, smooth=True, chunk_mib=0.01))
    np.testing.assert_allclose(streamed.data_zyx, whole.data_zyx, atol=1e-5 * np.abs(whole.data_zyx).max())
    assert streamed.voxel_size_ang == whole.voxel_size_ang and streamed.origin_xyz_ang == whole.origin_xyz_ang
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.mrc", "tomo.mrc", "whole.mrc"]  # no scratch


def test_pixel_size_refuses_bad_requests(tmp_path):
    tomo = write_mrc(tmp_path / "tomo.mrc", _blob(), voxel_size_ang=10.0)
    for bad in (0.0, -3.0, float("nan"), 1e5):
        with pytest.raises(ValueError, match="--voxel-size-out"):
            match_pixel_size(tomo, tmp_path / "out.mrc", bad)
    write_mrc(tmp_path / "out.mrc", _blob(), voxel_size_ang=10.0)
    with pytest.raises(FileExistsError, match="overwrite"):
        match_pixel_size(tomo, tmp_path / "out.mrc", 12.0)
    with pytest.raises(ValueError, match="also an input"):
        match_pixel_size(tomo, tomo, 12.0, overwrite=True)


def test_white_noise_spectrum_is_flat_at_its_standard_deviation():
    noise = np.random.default_rng(0).normal(scale=2.0, size=(64, 96, 96)).astype(np.float32)
    spectrum = radial_amplitude_spectrum(noise, 12.0, tile=32)
    assert spectrum.frequency_per_ang[-1] == pytest.approx(1 / 24.0)
    np.testing.assert_allclose(spectrum.amplitude[2:], 2.0, rtol=0.08)


def test_spectrum_tsv_round_trip(tmp_path):
    data = np.random.default_rng(1).normal(size=(40, 40, 40)).astype(np.float32)
    tomo = write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=9.0)
    written = spectrum_file(tomo, tmp_path / "s.tsv", tile=32)
    read = read_spectrum_tsv(written)
    direct = radial_amplitude_spectrum(data, 9.0, tile=32)
    assert read.voxel_size_ang == 9.0
    np.testing.assert_allclose(read.frequency_per_ang, direct.frequency_per_ang, rtol=1e-7)
    np.testing.assert_allclose(read.amplitude, direct.amplitude, rtol=1e-7)
    again = read_spectrum_tsv(write_spectrum_tsv(tmp_path / "again.tsv", read, note="copy"))
    np.testing.assert_allclose(again.amplitude, read.amplitude, rtol=1e-7)
    (tmp_path / "bad.tsv").write_text("frequency_per_ang\tamplitude\n0\t1\n")
    with pytest.raises(ValueError, match="spectrum table"):
        read_spectrum_tsv(tmp_path / "bad.tsv")


def test_matched_spectrum_equals_the_reference():
    noise = np.random.default_rng(2).normal(size=(64, 96, 96)).astype(np.float32)
    f = np.arange(33) / (64 * 10.0)
    reference = RadialSpectrum(f, 0.02 / np.maximum(f, f[1]) ** 0.6 * np.exp(-((f / 0.03) ** 2)), 10.0)
    matched = match_spectrum(noise, 10.0, reference)
    measured = radial_amplitude_spectrum(matched, 10.0)
    mid = slice(4, 28)
    np.testing.assert_allclose(measured.amplitude[mid], reference.amplitude[mid], rtol=0.05)
    phases_kept = np.angle(scipy.fft.rfftn(matched)[1:4, 1:4, 1:4] / scipy.fft.rfftn(noise)[1:4, 1:4, 1:4])
    np.testing.assert_allclose(phases_kept, 0.0, atol=1e-3)


def test_match_spectrum_file_with_the_default_reference(tmp_path):
    data = np.random.default_rng(4).normal(size=(48, 64, 64)).astype(np.float32)
    tomo = write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=12.0, origin_xyz_ang=ORIGIN)
    before = _sha(tomo)
    out = read_mrc(match_spectrum_file(tomo, tmp_path / "matched.mrc"))
    reference = load_reference_spectrum(None)
    assert DEFAULT_REFERENCE_SPECTRUM_PATH.is_file() and reference.voxel_size_ang == 10.0
    assert out.voxel_size_ang == 12.0 and out.origin_xyz_ang == pytest.approx(ORIGIN)
    measured = radial_amplitude_spectrum(out.data_zyx, 12.0)
    shells = slice(4, 26)
    np.testing.assert_allclose(measured.amplitude[shells], reference.at(measured.frequency_per_ang[shells]), rtol=0.1)
    assert _sha(tomo) == before


def test_ctf_equals_the_simulators():
    ny, nx, voxel = 64, 80, 7.5
    k = np.sqrt(np.fft.fftfreq(ny, d=voxel)[:, None] ** 2 + np.fft.rfftfreq(nx, d=voxel)[None, :] ** 2)
    for defocus_ang, kv, cs, amp in [(30000.0, 300.0, 2.7, 0.07), (15000.0, 200.0, 2.0, 0.1)]:
        ours = ctf_1d(k, defocus_ang=defocus_ang, voltage_kv=kv, cs_mm=cs, amplitude_contrast=amp)
        theirs = ctf_2d(
            (ny, nx), voxel_size_ang=voxel, defocus_ang=defocus_ang, voltage_kv=kv, cs_mm=cs, amplitude_contrast=amp
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-6)


def _ctf_image(volume: np.ndarray, voxel: float, defocus_um: float, rng) -> np.ndarray:
    """``-H ⊛ volume`` plus a little noise: dense matter dark, phases not flipped (the simulator's convention)."""
    spectrum = scipy.fft.rfftn(volume)
    for iz in range(volume.shape[0]):
        k = radial_frequency_plane(volume.shape, voxel, iz)
        spectrum[iz] *= -ctf_1d(k, defocus_ang=defocus_um * 1e4)
    return scipy.fft.irfftn(spectrum, s=volume.shape) + rng.normal(scale=0.02, size=volume.shape)


def test_deconvolution_moves_a_ctf_image_closer_to_the_original(tmp_path):
    rng = np.random.default_rng(5)
    original = ndimage.gaussian_filter(rng.normal(size=(48, 64, 64)), 1.5).astype(np.float32)
    image = _ctf_image(original, 10.0, 4.0, rng).astype(np.float32)

    def dark_correlation(a):  # dense matter is dark in a tomogram
        return np.corrcoef(a.ravel(), -original.ravel())[0, 1]

    restored = deconvolve(image, 10.0, defocus_um=4.0)
    assert dark_correlation(restored) > dark_correlation(image) + 0.1
    tomo = write_mrc(tmp_path / "tomo.mrc", image, voxel_size_ang=10.0, origin_xyz_ang=ORIGIN)
    out = read_mrc(deconvolve_file(tomo, tmp_path / "deconv.mrc", defocus_um=4.0))
    np.testing.assert_allclose(out.data_zyx, restored, atol=1e-5 * np.abs(restored).max())
    assert out.origin_xyz_ang == pytest.approx(ORIGIN) and out.voxel_size_ang == 10.0
    with pytest.raises(ValueError, match="--defocus-um"):
        deconvolve(image, 10.0, defocus_um=-1.0)
    with pytest.raises(ValueError, match="--strength"):
        deconvolve(image, 10.0, defocus_um=3.0, strength=0.0)


@pytest.mark.parametrize("shape", [(30, 44, 52), (17, 33, 41)])
def test_streamed_radial_filters_equal_the_in_memory_ones(tmp_path, shape):
    """Matching and deconvolution stream through a scratch file for big tomograms; the result is the same."""
    data = ndimage.gaussian_filter(np.random.default_rng(6).normal(size=shape), 1.0).astype(np.float32)
    tomo = write_mrc(tmp_path / "tomo.mrc", data, voxel_size_ang=9.0, origin_xyz_ang=ORIGIN, start_xyz_vox=(3, 4, 5))
    reference = load_reference_spectrum(None)
    runs = {
        "matched": (
            match_spectrum(data, 9.0, reference),
            lambda out, mib: match_spectrum_file(tomo, out, reference=reference, chunk_mib=mib),
        ),
        "deconvolved": (
            deconvolve(data, 9.0, defocus_um=3.0, strength=0.7),
            lambda out, mib: deconvolve_file(tomo, out, defocus_um=3.0, strength=0.7, chunk_mib=mib),
        ),
    }
    for name, (in_memory, run) in runs.items():
        for mib in (64.0, 0.02):  # whole; blocks of a few planes / rows
            out = read_mrc(run(tmp_path / f"{name}-{mib}.mrc", mib))
            np.testing.assert_allclose(out.data_zyx, in_memory, atol=2e-5 * np.abs(in_memory).max())
            assert out.voxel_size_ang == 9.0 and out.origin_xyz_ang == pytest.approx(ORIGIN)
            assert out.start_xyz_vox == (3, 4, 5)
            with mrcfile.open(tmp_path / f"{name}-{mib}.mrc", permissive=True) as mrc:
                assert float(mrc.header.dmean) == pytest.approx(float(in_memory.mean()), abs=1e-4)
                assert float(mrc.header.dmax) == pytest.approx(float(in_memory.max()), rel=1e-4)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert all(not n.startswith(".") for n in names) and len(names) == 5  # tomo + 4 outputs, no scratch left


def test_nan_is_refused_before_writing(tmp_path):
    data = _blob()
    data[3, 4, 5] = np.nan
    tomo = tmp_path / "tomo.mrc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mrcfile warns about NaN header statistics
        with mrcfile.new(tomo) as mrc:
            mrc.set_data(data)
            mrc.voxel_size = 10.0
    with pytest.raises(ValueError, match="NaN"):
        deconvolve_file(tomo, tmp_path / "out.mrc", defocus_um=3.0)
    with pytest.raises(ValueError, match="NaN"):
        match_pixel_size(tomo, tmp_path / "out.mrc", 20.0, chunk_mib=0.01)
    for mib in (64.0, 0.01):
        with pytest.raises(ValueError, match="NaN"):
            deconvolve_file(tomo, tmp_path / "out.mrc", defocus_um=3.0, chunk_mib=mib)
        with pytest.raises(ValueError, match="NaN"):
            match_spectrum_file(tomo, tmp_path / "out.mrc", chunk_mib=mib)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tomo.mrc"]
