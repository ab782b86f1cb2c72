"""Radially averaged amplitude spectra of tomograms (Welch's method over cubic tiles) and their TSV files.

The estimate averages the power of Hann-windowed, mean-subtracted cubic tiles that overlap by half
(Welch 1967), per radial shell one Fourier voxel wide, and reports the square root normalised by the
window's energy: white noise of standard deviation σ has amplitude σ at every frequency, whatever
the tile size. Memory is a few tiles, whatever the tomogram's size.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import scipy.fft

from cryomem.io import atomic_write_path
from cryomem.segment._preprocess_defaults import DEFAULT_TILE
from cryomem.segment._preprocess_files import check_finite, check_output_path, open_tomogram, release_pages

__all__ = [
    "DEFAULT_REFERENCE_SPECTRUM_PATH",
    "RadialSpectrum",
    "radial_amplitude_spectrum",
    "read_spectrum_tsv",
    "spectrum_file",
    "write_spectrum_tsv",
]

DEFAULT_REFERENCE_SPECTRUM_PATH = Path(__file__).parent / "models" / "reference_spectrum.tsv"
"""Spectrum of the default model's training data (made by ``benchmarks/make_reference_spectrum.py``)."""

_COLUMNS = ("frequency_per_ang", "amplitude")


class RadialSpectrum:
    """A radially averaged amplitude spectrum.

    Attributes
    ----------
    frequency_per_ang : (n,) float array
        Shell centres, 1/Å, increasing from 0.
    amplitude : (n,) float array
        Root-mean-square Fourier amplitude per shell (white noise of s.d. σ gives σ).
    voxel_size_ang : float
        Voxel size of the volume it was measured on, Å.
    """

    def __init__(self, frequency_per_ang: np.ndarray, amplitude: np.ndarray, voxel_size_ang: float) -> None:
        self.frequency_per_ang = np.asarray(frequency_per_ang, dtype=np.float64)
        self.amplitude = np.asarray(amplitude, dtype=np.float64)
        self.voxel_size_ang = float(voxel_size_ang)

    def at(self, frequency_per_ang: np.ndarray) -> np.ndarray:
        """Amplitude linearly interpolated at ``frequency_per_ang`` (shell 0, the mean, left out).

        Below the first shell the first shell's value holds; above the last shell: 0.
        """
        f, a = self.frequency_per_ang[1:], self.amplitude[1:]
        values = np.interp(frequency_per_ang, f, a)
        return np.where(np.asarray(frequency_per_ang) > f[-1] * (1 + 1e-9), 0.0, values)


def _tile_starts(n: int, tile: int) -> list[int]:
    starts = list(range(0, n - tile + 1, max(1, tile // 2)))
    return starts if starts[-1] == n - tile else [*starts, n - tile]


def _shells(tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Shell index of every rfftn bin of a cubic tile, and the bin's weight (2: it stands for its mirror)."""
    f = np.fft.fftfreq(tile)
    fx = np.fft.rfftfreq(tile)
    radius = np.sqrt(f[:, None, None] ** 2 + f[None, :, None] ** 2 + fx[None, None, :] ** 2)
    shell = np.rint(radius * tile).astype(np.int64)
    weight = np.where((fx > 0) & (fx < 0.5), 2.0, 1.0)[None, None, :] * np.ones_like(radius)
    return shell, weight


def radial_amplitude_spectrum(
    volume_zyx: np.ndarray, voxel_size_ang: float, *, tile: int = DEFAULT_TILE
) -> RadialSpectrum:
    """Welch estimate of the radially averaged amplitude spectrum of a volume.

    Parameters
    ----------
    volume_zyx : (nz, ny, nx) array
        Any array, memory-mapped included; read one tile at a time.
    voxel_size_ang : float
        Voxel size, Å.
    tile : int, default 64
        Edge of the cubic tiles, voxels (reduced to the smallest axis when that is shorter).

    Returns
    -------
    RadialSpectrum
        ``tile // 2 + 1`` shells at ``i / (tile * voxel_size_ang)`` 1/Å, i = 0 .. tile / 2.
    """
    size = min(int(tile), *volume_zyx.shape)
    if size < 8:
        raise ValueError(f"a spectrum needs tiles of >= 8 voxels, got a volume of shape {volume_zyx.shape}")
    window1d = np.hanning(size + 2)[1:-1]
    window = (window1d[:, None, None] * window1d[None, :, None] * window1d[None, None, :]).astype(np.float32)
    shell, weight = _shells(size)
    inside = shell <= size // 2
    shell, weight = shell[inside], weight[inside]
    counts = np.bincount(shell, weights=weight, minlength=size // 2 + 1)
    power = np.zeros(size // 2 + 1)
    n_tiles = 0
    for z in _tile_starts(volume_zyx.shape[0], size):
        for y in _tile_starts(volume_zyx.shape[1], size):
            for x in _tile_starts(volume_zyx.shape[2], size):
                block = np.asarray(volume_zyx[z : z + size, y : y + size, x : x + size], dtype=np.float32)
                block = (block - block.mean(dtype=np.float64)) * window
                magnitude = np.abs(scipy.fft.rfftn(block)) ** 2
                power += np.bincount(shell, weights=magnitude[inside] * weight, minlength=size // 2 + 1)
                n_tiles += 1
        release_pages(volume_zyx)
    energy = float(np.square(window, dtype=np.float64).sum())
    amplitude = np.sqrt(power / np.maximum(counts, 1) / n_tiles / energy)
    frequency = np.arange(size // 2 + 1) / (size * voxel_size_ang)
    return RadialSpectrum(frequency, amplitude, voxel_size_ang)


def write_spectrum_tsv(path: str | os.PathLike[str], spectrum: RadialSpectrum, *, note: str = "") -> Path:
    """Write ``spectrum`` as a TSV (atomic): a ``#`` line with the voxel size, then the two columns."""
    lines = [f"# radially averaged amplitude spectrum; voxel_size_ang={spectrum.voxel_size_ang:.6g}"]
    lines += [f"# {line}" for line in note.splitlines() if line.strip()]
    lines.append("\t".join(_COLUMNS))
    lines += [f"{f:.8g}\t{a:.8g}" for f, a in zip(spectrum.frequency_per_ang, spectrum.amplitude)]
    path = Path(path)
    with atomic_write_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def read_spectrum_tsv(path: str | os.PathLike[str]) -> RadialSpectrum:
    """Read a spectrum written by :func:`write_spectrum_tsv` (or any TSV with the same two columns)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"spectrum file not found: {path}")
    voxel = math.nan
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#"):
            for item in line.lstrip("#").split(";"):
                key, _, value = item.strip().partition("=")
                if key == "voxel_size_ang":
                    voxel = float(value)
        elif line.strip() and line.split("\t")[0] != _COLUMNS[0]:
            rows.append(line.split("\t"))
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        values = np.empty((0, 0))
    fix = f"write it with `cryomem preprocess spectrum` (columns {' and '.join(_COLUMNS)})"
    if values.ndim != 2 or values.shape[1:] != (2,) or len(values) < 3:
        raise ValueError(f"{path} is not a spectrum table of >= 3 rows of two numbers; {fix}")
    frequency, amplitude = values[:, 0], values[:, 1]
    if not (np.isfinite(values).all() and (np.diff(frequency) > 0).all() and (amplitude >= 0).all()):
        raise ValueError(f"{path} needs increasing frequencies and finite amplitudes >= 0; {fix}")
    return RadialSpectrum(frequency, amplitude, voxel)


def spectrum_file(
    tomogram_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    voxel_size_ang: float | None = None,
    tile: int = DEFAULT_TILE,
    overwrite: bool = False,
) -> Path:
    """Measure a tomogram's radially averaged amplitude spectrum and write it as a TSV.

    Parameters
    ----------
    tomogram_path : str or os.PathLike
        Input MRC (memory-mapped, never modified).
    out_path : str or os.PathLike
        Output ``.tsv`` (columns ``frequency_per_ang``, ``amplitude``).
    voxel_size_ang : float, optional
        Overrides the header's voxel size, Å.
    tile : int, default 64
        Welch tile edge, voxels.
    overwrite : bool, default False
        Replace an existing ``out_path``.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    if not 8 <= tile <= 1024:
        raise ValueError(f"--tile must be 8..1024 voxels, got {tile}; the default is {DEFAULT_TILE}")
    volume = open_tomogram(tomogram_path, voxel_size_ang)
    out = check_output_path(out_path, inputs=(tomogram_path,), overwrite=overwrite, kind="tsv")
    check_finite(volume.data_zyx, str(tomogram_path))
    spectrum = radial_amplitude_spectrum(volume.data_zyx, volume.voxel_size_ang, tile=tile)
    note = f"Welch average over Hann-windowed {min(tile, *volume.data_zyx.shape)}^3 tiles of {Path(tomogram_path).name}"
    return write_spectrum_tsv(out, spectrum, note=note)
