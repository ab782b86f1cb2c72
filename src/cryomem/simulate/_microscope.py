"""Image a density volume in a simulated microscope and reconstruct a tomogram.

One tilt image is made as a real one is: the projected density is convolved
with ``−H`` (the CTF, see `ctf_2d`; dense matter comes out dark), white
Gaussian noise is added to reach the requested SNR, the image is displaced by
a random misalignment and, if asked, phase-flipped like a CTF correction.
The tomogram is the weighted back-projection (or a SIRT reconstruction) of
those images with the nominal geometry, so the missing wedge, its streaks and
the misalignment blur all come from the physics rather than a filter.
Optional effects (`ImagingEffects`: defocus gradient, dose and radiation
damage, detector MTF, coloured noise) and a denoised look are off by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from cryomem.simulate._ctf import ctf_2d
from cryomem.simulate._projection import (
    TiltProjector,
    tilt_angles_deg,
    validate_angles_deg,
    wbp_filter,
)
from cryomem.simulate._reconstruction import check_reconstruction, denoise_tomogram, reconstruct
from cryomem.simulate._tilt_effects import (
    ImagingEffects,
    accumulated_dose_e_per_ang2,
    apply_in_strips,
    coloured_noise,
    column_defoci_ang,
    detector_mtf_2d,
    dose_per_tilt_e_per_ang2,
    exposure_filter_2d,
)

# tilt_angles_deg is re-exported: callers build the angles next to image_tomogram
__all__ = [
    "ImagingEffects",
    "TiltSeries",
    "image_tomogram",
    "misalignment_sigma_px",
    "simulate_tilt_series",
    "tilt_angles_deg",
]


@dataclass(frozen=True)
class TiltSeries:
    """A simulated tilt series and what was done to make it.

    Attributes
    ----------
    images : (n_tilts, ny, nx) float32 array
        Image contrast (dense matter negative), arbitrary units, not normalised.
    angles_deg : (n_tilts,) float64 array, degrees
        Tilt angle of each image, about y.
    shifts_yx_px : (n_tilts, 2) float64 array, pixels
        Misalignment applied to each image as (dy, dx): content at pixel ``p``
        moved to ``p + shift``.  The reconstruction does not know it.
    snr : float
        Signal-to-noise ratio per image: var(noise-free image) / var(noise).
    voxel_size_ang : float
        Pixel size, Å.
    defocus_ang : (n_tilts,) float64 array, Å
        Defocus of each image (positive: underfocus).
    phase_flipped : bool
        Whether the images were multiplied by sign(CTF).
    dose_e_per_ang2 : (n_tilts,) float64 array, e/Å², or None
        Accumulated (mid-exposure) dose of each tilt when dose was simulated.
    """

    images: np.ndarray
    angles_deg: np.ndarray
    shifts_yx_px: np.ndarray
    snr: float
    voxel_size_ang: float
    defocus_ang: np.ndarray
    phase_flipped: bool
    dose_e_per_ang2: np.ndarray | None = None


def misalignment_sigma_px(angles_deg: Sequence[float] | np.ndarray, misalignment_px: float) -> np.ndarray:
    """Standard deviation of the random shift of each tilt (in y and in x), pixels.

    A sinusoidal model that penalises high tilts, after PolNet:
    ``σ(θ) = misalignment_px · (0.5 + 0.5·|sin θ| / sin 60°)``, i.e. half of
    ``misalignment_px`` at 0° and all of it at ±60°.

    Returns
    -------
    sigma_px : (n_tilts,) float64 array, pixels
    """
    if not misalignment_px >= 0:
        raise ValueError(f"misalignment_px must be >= 0 pixels, got {misalignment_px}; use 0 for none")
    theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    return misalignment_px * (0.5 + 0.5 * np.abs(np.sin(theta)) / np.sin(np.pi / 3))


def _shift_phase(shape_yx: tuple[int, int], shift_yx: np.ndarray) -> np.ndarray:
    """rfft2-layout factor that moves image content by ``shift_yx`` pixels."""
    ky = np.fft.fftfreq(shape_yx[0])[:, None]
    kx = np.fft.rfftfreq(shape_yx[1])[None, :]
    return np.exp(-2j * np.pi * (ky * shift_yx[0] + kx * shift_yx[1])).astype(np.complex64)


def _check_imaging_inputs(
    density_zyx: np.ndarray,
    *,
    voxel_size_ang: float,
    defocus_ang: float | Sequence[float] | np.ndarray,
    snr: float,
    misalignment_px: float,
    angles_deg: Sequence[float] | np.ndarray | None,
    projector: TiltProjector | None,
    voltage_kv: float,
    cs_mm: float,
    amplitude_contrast: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cheap checks before any projection; returns (angles_deg, defocus_ang per tilt)."""
    if np.ndim(density_zyx) != 3:
        raise ValueError(f"density_zyx must be a 3D (z, y, x) array, got {np.ndim(density_zyx)} dimensions")
    if not snr > 0:
        raise ValueError(f"snr must be > 0, got {snr}; e.g. 0.1 for realistic data")
    if projector is not None:
        angles = projector.angles_deg
        if angles_deg is not None and not np.array_equal(np.asarray(angles_deg), angles):
            raise ValueError("angles_deg differs from projector.angles_deg; pass only one or make them match")
    elif angles_deg is None:
        angles = tilt_angles_deg()
    else:
        angles = validate_angles_deg(angles_deg)
    if np.ndim(defocus_ang) != 0 and np.size(defocus_ang) != angles.size:
        raise ValueError(
            f"defocus_ang must be one value or one per tilt ({angles.size}), got {np.size(defocus_ang)} values"
        )
    defoci = np.broadcast_to(np.asarray(defocus_ang, dtype=np.float64), angles.shape).copy()
    for defocus in np.unique(defoci).tolist():  # checks the optics on a 1-pixel grid
        ctf_2d(
            (1, 1),
            voxel_size_ang=voxel_size_ang,
            defocus_ang=defocus,
            voltage_kv=voltage_kv,
            cs_mm=cs_mm,
            amplitude_contrast=amplitude_contrast,
        )
    misalignment_sigma_px(angles[:1], misalignment_px)
    return angles, defoci


def simulate_tilt_series(
    density_zyx: np.ndarray,
    *,
    voxel_size_ang: float,
    defocus_ang: float | Sequence[float] | np.ndarray,
    snr: float,
    rng: np.random.Generator,
    angles_deg: Sequence[float] | np.ndarray | None = None,
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.07,
    misalignment_px: float = 0.0,
    phase_flip: bool = True,
    projector: TiltProjector | None = None,
    effects: ImagingEffects | None = None,
    snr_reference_zyx: np.ndarray | None = None,
) -> TiltSeries:
    """Simulate the tilt series a microscope records of a density volume.

    Per tilt: project along the beam; multiply by ``−H`` in Fourier space
    (constant defocus over the image); add white Gaussian noise of variance
    ``var(noise-free image) / snr``; shift by a random misalignment with
    standard deviation `misalignment_sigma_px` (Fourier shift); multiply by
    ``sign(H)`` if ``phase_flip`` (signal and noise together, like a real CTF
    correction).  Shift and flip keep both variances, so the SNR holds on the
    returned images.

    Parameters
    ----------
    density_zyx : (nz, ny, nx) array
        Density, larger = denser, arbitrary units per voxel.
    voxel_size_ang : float
        Voxel (and detector pixel) size, Å.
    defocus_ang : float or (n_tilts,) array of float
        Defocus, Å, positive = underfocus; one value or one per tilt.
    snr : float
        Signal-to-noise ratio per image, > 0 (real tilt images: about 0.01-0.1).
    rng : numpy.random.Generator
        Source of all randomness (shifts first, then noise tilt by tilt).
    angles_deg : (n_tilts,) array of float, degrees, optional
        Tilt angles (default `tilt_angles_deg()`: -60 to 60 in 3° steps).
        Leave out when ``projector`` is given.
    voltage_kv, cs_mm, amplitude_contrast : float
        Microscope optics, see `ctf_2d`.
    misalignment_px : float
        Scale of the random per-tilt shifts, pixels, >= 0 (see `misalignment_sigma_px`).
    phase_flip : bool
        Apply phase flipping (CTF correction) to the recorded images.
    projector : TiltProjector, optional
        Reuse one built for ``(nz, nx)``; its angles are used.
    effects : ImagingEffects, optional
        Defocus gradient, dose, detector MTF and noise colour (default: none). With dose the
        SNR holds at the mean per-tilt dose before damage; damage and MTF act on the signal.
    snr_reference_zyx : (nz, ny, nx) array, optional
        Density whose image sets the noise level (default ``density_zyx``). The simulator passes
        the density without its hard negatives, so that dense gold, ice or carbon do not raise the
        noise on everything else: in a microscope the dose, not the sample, sets the noise.

    Returns
    -------
    TiltSeries
    """
    angles, defoci = _check_imaging_inputs(
        density_zyx,
        voxel_size_ang=voxel_size_ang,
        defocus_ang=defocus_ang,
        snr=snr,
        misalignment_px=misalignment_px,
        angles_deg=angles_deg,
        projector=projector,
        voltage_kv=voltage_kv,
        cs_mm=cs_mm,
        amplitude_contrast=amplitude_contrast,
    )
    nz, ny, nx = density_zyx.shape
    if projector is None:
        projector = TiltProjector((nz, nx), angles)
    images = projector.project(density_zyx)  # becomes the output, tilt by tilt
    reference = None if snr_reference_zyx is None else projector.project(snr_reference_zyx)
    shifts = rng.standard_normal((angles.size, 2)) * misalignment_sigma_px(angles, misalignment_px)[:, None]
    ctfs = {
        defocus: ctf_2d(
            (ny, nx),
            voxel_size_ang=voxel_size_ang,
            defocus_ang=defocus,
            voltage_kv=voltage_kv,
            cs_mm=cs_mm,
            amplitude_contrast=amplitude_contrast,
        )
        for defocus in np.unique(defoci).tolist()
    }
    effects = effects or ImagingEffects()
    accumulated, relative_dose = None, np.ones(angles.size)
    if effects.dose:
        doses = dose_per_tilt_e_per_ang2(angles, effects.total_dose_e_per_ang2, effects.dose_split)
        accumulated = accumulated_dose_e_per_ang2(angles, doses, effects.tilt_scheme)
        relative_dose = doses / doses.mean()
    mtf = detector_mtf_2d((ny, nx), effects.mtf_decay) if effects.detector_mtf else None

    optics = dict(voltage_kv=voltage_kv, cs_mm=cs_mm, amplitude_contrast=amplitude_contrast)

    def ctf_at(defocus: float) -> np.ndarray:
        if defocus not in ctfs:
            ctfs[defocus] = ctf_2d((ny, nx), voxel_size_ang=voxel_size_ang, defocus_ang=defocus, **optics)
        return ctfs[defocus]

    for i in range(angles.size):
        ctf = ctfs[float(defoci[i])]
        columns = column_defoci_ang(defoci[i], angles[i], nx, voxel_size_ang) if effects.defocus_gradient else None
        if columns is not None:
            image = apply_in_strips(images[i], columns, lambda d: -ctf_at(d))
        else:
            spectrum = scipy.fft.rfft2(images[i])
            spectrum *= -ctf
            image = scipy.fft.irfft2(spectrum, s=(ny, nx))
        if reference is not None:  # the noise of an image of the reference density
            reference_image = scipy.fft.irfft2(scipy.fft.rfft2(reference[i]) * ctf, s=(ny, nx))
            noise_std = np.sqrt(reference_image.var(dtype=np.float64) / snr)
        else:
            noise_std = np.sqrt(image.var(dtype=np.float64) / snr)
        if effects.dose or mtf is not None:
            noise_std /= np.sqrt(relative_dose[i])
            signal_filter = np.ones((ny, nx // 2 + 1), np.float32) if mtf is None else mtf
            if accumulated is not None:
                signal_filter = signal_filter * exposure_filter_2d((ny, nx), voxel_size_ang, accumulated[i])
            image = scipy.fft.irfft2(scipy.fft.rfft2(image) * signal_filter, s=(ny, nx))
        noise = rng.standard_normal((ny, nx), dtype=np.float32)
        if effects.noise_exponent > 0:
            noise = coloured_noise(noise, effects.noise_exponent)
        image += noise * np.float32(noise_std)
        if columns is not None and phase_flip:
            image = apply_in_strips(image, columns, lambda d: np.where(ctf_at(d) >= 0, np.float32(1), np.float32(-1)))
        shifted = bool(np.any(shifts[i] != 0))
        if (phase_flip and columns is None) or shifted:
            spectrum = scipy.fft.rfft2(image)
            if phase_flip and columns is None:
                spectrum *= np.where(ctf >= 0, np.float32(1), np.float32(-1))
            if shifted:
                spectrum *= _shift_phase((ny, nx), shifts[i])
            image = scipy.fft.irfft2(spectrum, s=(ny, nx))
        images[i] = image
    return TiltSeries(
        images=images,
        angles_deg=angles.copy(),
        shifts_yx_px=shifts,
        snr=float(snr),
        voxel_size_ang=float(voxel_size_ang),
        defocus_ang=defoci,
        phase_flipped=bool(phase_flip),
        dose_e_per_ang2=accumulated,
    )


def _normalise_inplace(volume: np.ndarray) -> None:
    """Zero mean, unit standard deviation, slab by slab (no full-size temporary)."""
    mean = np.float32(volume.mean(dtype=np.float64))
    sum_sq = sum(float(np.sum(np.square(slab - mean), dtype=np.float64)) for slab in volume)
    std = np.sqrt(sum_sq / volume.size)
    volume -= mean
    if std > 0:
        volume *= np.float32(1 / std)


def image_tomogram(
    density_zyx: np.ndarray,
    *,
    voxel_size_ang: float,
    defocus_ang: float | Sequence[float] | np.ndarray,
    snr: float,
    rng: np.random.Generator,
    angles_deg: Sequence[float] | np.ndarray | None = None,
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.07,
    misalignment_px: float = 0.0,
    phase_flip: bool = True,
    lowpass_fraction: float = 1.0,
    effects: ImagingEffects | None = None,
    reconstruction: str = "wbp",
    sirt_iterations: int = 10,
    denoise: str = "none",
    denoise_strength: float = 1.0,
    snr_reference_zyx: np.ndarray | None = None,
) -> tuple[np.ndarray, TiltSeries]:
    """Simulate a tilt series of a density volume and reconstruct it (WBP or SIRT).

    Parameters are those of `simulate_tilt_series` (``snr_reference_zyx`` included); ``lowpass_fraction`` goes to
    `reconstruct_wbp`; ``reconstruction``, ``sirt_iterations``, ``denoise`` and
    ``denoise_strength`` to `reconstruct` and `denoise_tomogram`.  The tomogram
    has the shape of ``density_zyx``.

    Returns
    -------
    tomogram_zyx : (nz, ny, nx) float32 array
        Zero mean, unit standard deviation; dense matter is dark (negative).
    tilt_series : TiltSeries
    """
    angles, _ = _check_imaging_inputs(
        density_zyx,
        voxel_size_ang=voxel_size_ang,
        defocus_ang=defocus_ang,
        snr=snr,
        misalignment_px=misalignment_px,
        angles_deg=angles_deg,
        projector=None,
        voltage_kv=voltage_kv,
        cs_mm=cs_mm,
        amplitude_contrast=amplitude_contrast,
    )
    wbp_filter(2, lowpass_fraction=lowpass_fraction)  # validate before the heavy work
    check_reconstruction(reconstruction, sirt_iterations, denoise, denoise_strength)
    nz, _, nx = density_zyx.shape
    projector = TiltProjector((nz, nx), angles)
    series = simulate_tilt_series(
        density_zyx,
        voxel_size_ang=voxel_size_ang,
        defocus_ang=defocus_ang,
        snr=snr,
        rng=rng,
        voltage_kv=voltage_kv,
        cs_mm=cs_mm,
        amplitude_contrast=amplitude_contrast,
        misalignment_px=misalignment_px,
        phase_flip=phase_flip,
        projector=projector,
        effects=effects,
        snr_reference_zyx=snr_reference_zyx,
    )
    tomogram = reconstruct(
        series.images,
        angles,
        thickness_z=nz,
        projector=projector,
        method=reconstruction,
        sirt_iterations=sirt_iterations,
        lowpass_fraction=lowpass_fraction,
    )
    if denoise != "none":
        tomogram = denoise_tomogram(tomogram, denoise, denoise_strength)
    _normalise_inplace(tomogram)
    return tomogram, series
