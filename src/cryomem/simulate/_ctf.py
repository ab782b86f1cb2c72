"""Contrast transfer function (CTF) of a transmission electron microscope.

Conventions
-----------
* ``defocus_ang`` > 0 is **underfocus** (the usual imaging condition).
* Phase shift ``χ(k) = π·λ·Δf·k² − (π/2)·Cs·λ³·k⁴`` (positive at low
  frequency for underfocus) and ``H(k) = sqrt(1 − A²)·sin χ + A·cos χ``,
  so ``H > 0`` at low frequency.
* The image contrast is ``−H ⊛ projected density``: dense matter is dark.
  Phase flipping multiplies by ``sign(H)``, leaving ``−|H|``: dense matter
  stays dark at every frequency.
"""

from __future__ import annotations

import numpy as np

from cryomem.io import ctf_1d

__all__ = ["ctf_2d"]


def ctf_2d(
    shape_yx: tuple[int, int],
    *,
    voxel_size_ang: float,
    defocus_ang: float,
    voltage_kv: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.07,
) -> np.ndarray:
    """CTF ``H`` sampled on the rfft2 grid of an image (no envelope, no astigmatism).

    Parameters
    ----------
    shape_yx : (int, int)
        Image shape ``(ny, nx)``, pixels.
    voxel_size_ang : float
        Pixel size, Å, > 0.
    defocus_ang : float
        Defocus, Å; positive is underfocus (e.g. 30000 for 3 µm).
    voltage_kv : float
        Acceleration voltage, kV, > 0.
    cs_mm : float
        Spherical aberration, mm, >= 0.
    amplitude_contrast : float
        Fraction of amplitude contrast ``A`` in [0, 1].

    Returns
    -------
    ctf : (ny, nx//2 + 1) float32 array
        ``H`` at the frequencies of ``numpy.fft.rfft2`` of an ``(ny, nx)`` image.
    """
    if len(shape_yx) != 2 or any(int(s) != s or s < 1 for s in shape_yx):
        raise ValueError(f"shape_yx must be two positive ints (ny, nx), got {shape_yx}")
    if not voxel_size_ang > 0:
        raise ValueError(f"voxel_size_ang must be > 0 Å, got {voxel_size_ang}")
    if not np.isfinite(defocus_ang):
        raise ValueError(f"defocus_ang must be a finite number of Å, got {defocus_ang}")
    if not cs_mm >= 0:
        raise ValueError(f"cs_mm must be >= 0 mm, got {cs_mm}; typical is 2.7")
    if not 0 <= amplitude_contrast <= 1:
        raise ValueError(f"amplitude_contrast must be in [0, 1], got {amplitude_contrast}; typical is 0.07")
    ny, nx = int(shape_yx[0]), int(shape_yx[1])
    ky = np.fft.fftfreq(ny, d=voxel_size_ang)  # 1/Å
    kx = np.fft.rfftfreq(nx, d=voxel_size_ang)
    k = np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
    ctf = ctf_1d(k, defocus_ang=defocus_ang, voltage_kv=voltage_kv, cs_mm=cs_mm, amplitude_contrast=amplitude_contrast)
    return ctf.astype(np.float32)
