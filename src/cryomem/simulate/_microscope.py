"""Image a density volume in a simulated microscope and reconstruct a tomogram.

One tilt image is made as a real one is: the projected density is convolved
with ``−H`` (the CTF, see `ctf_2d`; dense matter comes out dark), white
Gaussian noise is added to reach the requested SNR, the image is displaced by
a random misalignment and, if asked, phase-flipped like a CTF correction.
The tomogram is the weighted back-projection of those images with the nominal
geometry, so the missing wedge, its streaks and the misalignment blur all come
from the physics rather than a filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft

from cryomem.simulate._ctf import ctf_2d
from cryomem.simulate._projection import (
    TiltProjector,
    reconstruct_wbp,
    tilt_angles_deg,
    validate_angles_deg,
    wbp_filter,
)

# tilt_angles_deg is re-exported: callers build the angles next to image_tomogram
__all__ = [
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
    """

    images: np.ndarray
    angles_deg: np.ndarray
    shifts_yx_px: np.ndarray
    snr: float
    voxel_size_ang: float
    defocus_ang: np.ndarray
    phase_flipped: bool


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
    for i in range(angles.size):
        ctf = ctfs[float(defoci[i])]
        spectrum = scipy.fft.rfft2(images[i])
        spectrum *= -ctf
        image = scipy.fft.irfft2(spectrum, s=(ny, nx))
        noise_std = np.sqrt(image.var(dtype=np.float64) / snr)
        image += rng.standard_normal((ny, nx), dtype=np.float32) * np.float32(noise_std)
        shifted = bool(np.any(shifts[i] != 0))
        if phase_flip or shifted:
            spectrum = scipy.fft.rfft2(image)
            if phase_flip:
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
) -> tuple[np.ndarray, TiltSeries]:
    """Simulate a tilt series of a density volume and reconstruct it by WBP.

    Parameters are those of `simulate_tilt_series`; ``lowpass_fraction`` goes to
    `reconstruct_wbp`.  The tomogram has the shape of ``density_zyx``.

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
    )
    tomogram = reconstruct_wbp(
        series.images,
        angles,
        thickness_z=nz,
        projector=projector,
        lowpass_fraction=lowpass_fraction,
    )
    _normalise_inplace(tomogram)
    return tomogram, series
