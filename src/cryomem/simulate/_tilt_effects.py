"""Optional imaging effects on each tilt image: defocus gradient, dose and radiation damage,
detector MTF and coloured noise.

All default to off (`ImagingEffects()`), which leaves `simulate_tilt_series` exactly as before.

* **Defocus gradient.** On a tilted specimen the height above focus changes across the tilt
  axis, so the defocus of column ``x`` is ``Δf + (x − cx)·pixel·sin θ`` (positive: more
  underfocus). The CTF (and a phase flip, as IMOD's strip-based ``ctfphaseflip``) is applied in
  strips of columns whose defocus differs by less than `STRIP_DEFOCUS_STEP_ANG`.
* **Dose.** ``total_dose_e_per_ang2`` is split over the tilts (uniformly, or ∝ 1/cos θ) and
  accumulated in acquisition order (dose-symmetric from 0°, or sequential from the lowest
  angle). Each tilt's signal is attenuated by the exposure filter of Grant & Grigorieff (2015),
  ``exp(−D / (2·N_e(k)))`` with ``N_e(k) = 0.245·k^−1.665 + 2.81`` e/Å² (k in 1/Å) and ``D`` the
  dose accumulated up to the middle of that exposure, and its noise variance scales as
  ``1 / dose_i`` around the requested SNR at the mean per-tilt dose.
* **Detector MTF.** ``sinc(νx)·sinc(νy)·exp(−mtf_decay·(ν/ν_Nyquist)²)`` (ν in cycles/pixel): the
  pixel aperture times an exponential falloff, applied to the signal.
* **Coloured noise.** White Gaussian noise filtered to a power spectrum ∝ 1/f^exponent and
  rescaled to the same variance (the same random numbers as white noise are drawn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft

__all__ = [
    "ImagingEffects",
    "STRIP_DEFOCUS_STEP_ANG",
    "accumulated_dose_e_per_ang2",
    "acquisition_rank",
    "apply_in_strips",
    "coloured_noise",
    "column_defoci_ang",
    "detector_mtf_2d",
    "dose_per_tilt_e_per_ang2",
    "exposure_filter_2d",
]

#: Largest defocus difference (Å) within one strip of a defocus-gradient image.
STRIP_DEFOCUS_STEP_ANG = 200.0


@dataclass(frozen=True)
class ImagingEffects:
    """Which optional effects to simulate (see the module docstring); defaults: none."""

    defocus_gradient: bool = False
    total_dose_e_per_ang2: float = 0.0
    dose_split: str = "uniform"
    tilt_scheme: str = "dose_symmetric"
    detector_mtf: bool = False
    mtf_decay: float = 0.5
    noise_exponent: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.total_dose_e_per_ang2 <= 1000.0:
            raise ValueError(f"total_dose_e_per_ang2 must be in [0, 1000] e/Å², got {self.total_dose_e_per_ang2}")
        if self.dose_split not in ("uniform", "inverse_cosine"):
            raise ValueError(f"dose_split must be 'uniform' or 'inverse_cosine', got {self.dose_split!r}")
        if self.tilt_scheme not in ("dose_symmetric", "sequential"):
            raise ValueError(f"tilt_scheme must be 'dose_symmetric' or 'sequential', got {self.tilt_scheme!r}")
        if not 0.0 <= self.mtf_decay <= 10.0:
            raise ValueError(f"mtf_decay must be in [0, 10], got {self.mtf_decay}")
        if not 0.0 <= self.noise_exponent <= 4.0:
            raise ValueError(f"noise_exponent must be in [0, 4] (0 white, 1 pink), got {self.noise_exponent}")

    @property
    def dose(self) -> bool:
        return self.total_dose_e_per_ang2 > 0


def acquisition_rank(angles_deg: np.ndarray, scheme: str) -> np.ndarray:
    """Position of each tilt in the acquisition (0 = first).

    ``dose_symmetric``: from the smallest |θ| outwards, alternating positive then negative;
    ``sequential``: from the lowest angle to the highest.
    """
    angles = np.asarray(angles_deg, float)
    if scheme == "sequential":
        order = np.argsort(angles, kind="stable")
    else:
        order = np.lexsort((angles < 0, np.round(np.abs(angles), 6)))
    rank = np.empty(angles.size, int)
    rank[order] = np.arange(angles.size)
    return rank


def dose_per_tilt_e_per_ang2(angles_deg: np.ndarray, total_e_per_ang2: float, split: str) -> np.ndarray:
    """Exposure of each tilt, e/Å², summing to the total (uniform or ∝ 1/cos θ)."""
    angles = np.asarray(angles_deg, float)
    weights = np.ones(angles.size) if split == "uniform" else 1.0 / np.cos(np.deg2rad(angles))
    return total_e_per_ang2 * weights / weights.sum()


def accumulated_dose_e_per_ang2(angles_deg: np.ndarray, doses: np.ndarray, scheme: str) -> np.ndarray:
    """Dose received before each tilt plus half its own (its mid-exposure dose), e/Å²."""
    rank = acquisition_rank(angles_deg, scheme)
    order = np.argsort(rank)
    before = np.concatenate([[0.0], np.cumsum(doses[order])[:-1]])
    out = np.empty(len(doses))
    out[order] = before + 0.5 * doses[order]
    return out


def _frequencies(shape_yx: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """rfft2-grid frequencies (cycles per pixel) along y (column vector) and x (row vector)."""
    return np.fft.fftfreq(shape_yx[0])[:, None], np.fft.rfftfreq(shape_yx[1])[None, :]


def exposure_filter_2d(shape_yx: tuple[int, int], voxel_size_ang: float, dose_e_per_ang2: float) -> np.ndarray:
    """Grant & Grigorieff amplitude attenuation after ``dose_e_per_ang2`` (rfft2 layout, DC = 1)."""
    ky, kx = _frequencies(shape_yx)
    k = np.hypot(ky, kx) / voxel_size_ang  # 1/Å
    with np.errstate(divide="ignore"):
        critical = 0.245 * np.power(k, -1.665, where=k > 0, out=np.full(k.shape, np.inf)) + 2.81
    return np.exp(-dose_e_per_ang2 / (2.0 * critical)).astype(np.float32)


def detector_mtf_2d(shape_yx: tuple[int, int], decay: float) -> np.ndarray:
    """Detector MTF on the rfft2 grid: pixel-aperture sinc times ``exp(−decay·(ν/0.5)²)``."""
    ky, kx = _frequencies(shape_yx)
    radial = np.hypot(ky, kx) / 0.5
    return (np.sinc(ky) * np.sinc(kx) * np.exp(-decay * radial**2)).astype(np.float32)


def coloured_noise(white_yx: np.ndarray, exponent: float) -> np.ndarray:
    """Filter white noise to a power spectrum ∝ 1/f^exponent (f floored at one cycle per image), unit std."""
    ny, nx = white_yx.shape
    ky, kx = _frequencies((ny, nx))
    f = np.maximum(np.hypot(ky, kx), 1.0 / max(ny, nx))
    spectrum = scipy.fft.rfft2(white_yx)
    spectrum *= (f ** (-0.5 * exponent)).astype(np.float32)
    spectrum[0, 0] = 0.0
    noise = scipy.fft.irfft2(spectrum, s=(ny, nx)).astype(np.float32)
    std = float(noise.std(dtype=np.float64))
    return noise / np.float32(std) if std > 0 else noise


def column_defoci_ang(defocus_ang: float, angle_deg: float, nx: int, voxel_size_ang: float) -> np.ndarray:
    """Defocus of each image column (Å): ``defocus + (x − cx)·voxel·sin θ``."""
    x = (np.arange(nx) - (nx - 1) / 2.0) * voxel_size_ang
    return defocus_ang + x * np.sin(np.deg2rad(angle_deg))


def apply_in_strips(
    image_yx: np.ndarray, column_defoci: np.ndarray, filter_for: Callable[[float], np.ndarray]
) -> np.ndarray:
    """Filter an image with a defocus-dependent Fourier filter, strip by strip of columns.

    Columns are grouped by defocus rounded to `STRIP_DEFOCUS_STEP_ANG`; each group takes its
    columns from the whole image filtered at the group's defocus.
    """
    ny, nx = image_yx.shape
    spectrum = scipy.fft.rfft2(image_yx)
    keys = np.round(column_defoci / STRIP_DEFOCUS_STEP_ANG).astype(int)
    out = np.empty((ny, nx), np.float32)
    for key in np.unique(keys):
        columns = keys == key
        defocus = float(column_defoci[columns].mean())
        out[:, columns] = scipy.fft.irfft2(spectrum * filter_for(defocus), s=(ny, nx))[:, columns]
    return out
