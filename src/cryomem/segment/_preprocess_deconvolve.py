"""Wiener-like deconvolution with the CTF (MemBrain v2 preprint §2.4.3: Warp's "deconv" filter).

With ``f`` the spatial frequency as a fraction of Nyquist (``|k| * 2 * voxel_size_ang``), the
filter of Tegunov & Cramer (2019, Warp) is

    highpass(f) = 1 - cos(π · min(1, f / f_hp))
    SNR(f)      = exp(-100 · F · f / voxel_size_ang) · 10^(3 · strength) · highpass(f)
    W(f)        = H(f) / (H(f)² + 1 / SNR(f))

with the SNR fall-off ``F``, the deconvolution ``strength``, the high-pass edge ``f_hp`` (0.02
of Nyquist) and the CTF ``H`` (:func:`cryomem.io.ctf_1d`; ``|H|`` for tomograms that were phase-flipped).
The SNR decays exponentially with frequency and vanishes at the lowest frequencies, where the
ramp of weighted back-projection leaves little power.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cryomem.io import ctf_1d
from cryomem.segment._preprocess_defaults import DECONVOLUTION_DEFAULTS, DEFAULT_CHUNK_MIB
from cryomem.segment._preprocess_files import check_chunk_mib, check_output_path, open_tomogram
from cryomem.segment._preprocess_radial import RadialFactor, filter_radially, filter_radially_file

__all__ = ["deconvolution_filter", "deconvolve", "deconvolve_file"]


def deconvolution_filter(
    frequency_per_ang: np.ndarray,
    voxel_size_ang: float,
    *,
    defocus_um: float,
    snr_falloff: float = DECONVOLUTION_DEFAULTS["snr_falloff"],  # type: ignore[assignment]
    strength: float = DECONVOLUTION_DEFAULTS["strength"],  # type: ignore[assignment]
    highpass_nyquist: float = DECONVOLUTION_DEFAULTS["highpass_nyquist"],  # type: ignore[assignment]
    phase_flipped: bool = DECONVOLUTION_DEFAULTS["phase_flipped"],  # type: ignore[assignment]
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.07,
) -> np.ndarray:
    """The Wiener-like filter ``W(|k|)`` of the module docstring at ``frequency_per_ang`` (1/Å)."""
    fraction = np.asarray(frequency_per_ang, dtype=np.float64) * 2 * voxel_size_ang
    highpass = 1 - np.cos(np.pi * np.minimum(1.0, fraction / highpass_nyquist))
    snr = np.exp(-100.0 * snr_falloff * fraction / voxel_size_ang) * 10.0 ** (3 * strength) * highpass
    ctf = ctf_1d(
        frequency_per_ang,
        defocus_ang=defocus_um * 1e4,
        voltage_kv=voltage_kv,
        cs_mm=cs_mm,
        amplitude_contrast=amplitude_contrast,
    )
    if phase_flipped:
        ctf = np.abs(ctf)
    return ctf * snr / (ctf**2 * snr + 1.0)


def _checked(defocus_um: float, options: dict) -> dict:
    """``options`` with defaults filled in, or a ``ValueError`` naming the flag, the value and a fix."""
    unknown = sorted(set(options) - set(DECONVOLUTION_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown deconvolution option(s) {unknown}; choose from {sorted(DECONVOLUTION_DEFAULTS)}")
    s = {**DECONVOLUTION_DEFAULTS, **options}
    checks = [
        (0 < defocus_um <= 20, f"--defocus-um must be in (0, 20] µm of underfocus, got {defocus_um}; e.g. 3"),
        (0 < s["snr_falloff"] <= 100, f"--snr-falloff must be in (0, 100], got {s['snr_falloff']}; the default is 1"),
        (0 < s["strength"] <= 5, f"--strength must be in (0, 5], got {s['strength']}; the default is 1"),
        (
            0 < s["highpass_nyquist"] <= 1,
            f"--highpass-nyquist must be in (0, 1], got {s['highpass_nyquist']}; default 0.02",
        ),
        (s["voltage_kv"] > 0, f"--voltage-kv must be > 0 kV, got {s['voltage_kv']}; e.g. 300"),
        (s["cs_mm"] >= 0, f"--cs-mm must be >= 0 mm, got {s['cs_mm']}; e.g. 2.7"),
        (0 <= s["amplitude_contrast"] <= 1, f"--amplitude-contrast must be in [0, 1], got {s['amplitude_contrast']}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    return s


def deconvolve(volume_zyx: np.ndarray, voxel_size_ang: float, *, defocus_um: float, **options: float) -> np.ndarray:
    """Apply :func:`deconvolution_filter` to a volume (keyword ``options`` as there).

    Returns
    -------
    (nz, ny, nx) float32 array
        Dense matter keeps its sign: with ``phase_flipped`` False the signed CTF both restores the
        amplitudes and flips the phases, so dark stays dark. Needs about 2 x the float32 size of
        the volume in memory (its half spectrum, the result), plus the volume unless memory-mapped;
        :func:`deconvolve_file` streams.
    """
    return filter_radially(volume_zyx, voxel_size_ang, _filter(voxel_size_ang, defocus_um, options))


def _filter(voxel_size_ang: float, defocus_um: float, options: dict) -> RadialFactor:
    settings = _checked(defocus_um, options)

    def factor(frequency_per_ang: np.ndarray) -> np.ndarray:
        return deconvolution_filter(frequency_per_ang, voxel_size_ang, defocus_um=defocus_um, **settings)

    return factor


def deconvolve_file(
    tomogram_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    defocus_um: float,
    voxel_size_ang: float | None = None,
    overwrite: bool = False,
    chunk_mib: float = DEFAULT_CHUNK_MIB,
    **options: float,
) -> Path:
    """Deconvolve a tomogram file (see :func:`deconvolve`) and write the result (float32 MRC, atomic).

    Parameters
    ----------
    tomogram_path, out_path : str or os.PathLike
        Input MRC (never modified) and output MRC (the input's voxel size and origin).
    defocus_um : float
        Defocus of the tilt series, µm, positive for underfocus.
    voxel_size_ang : float, optional
        Overrides the header's voxel size, Å.
    overwrite : bool
        Replace an existing ``out_path``.
    chunk_mib : float
        Tomograms larger than this (float32 MiB) stream through a scratch file beside the output,
        with peak memory a few times this (see :mod:`cryomem.segment._preprocess_radial`).
    **options
        ``snr_falloff``, ``strength``, ``highpass_nyquist``, ``phase_flipped``, ``voltage_kv``,
        ``cs_mm``, ``amplitude_contrast`` of :func:`deconvolution_filter`.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    _checked(defocus_um, options)
    check_chunk_mib(chunk_mib)
    volume = open_tomogram(tomogram_path, voxel_size_ang)
    out = check_output_path(out_path, inputs=(tomogram_path,), overwrite=overwrite)
    factor = _filter(volume.voxel_size_ang, defocus_um, options)
    return filter_radially_file(volume, out, factor, name=str(tomogram_path), overwrite=overwrite, chunk_mib=chunk_mib)
