"""Fourier amplitude matching (MemBrain v2 preprint §2.4.2, after DeePiCt): give a tomogram a reference spectrum.

Every Fourier coefficient is multiplied by ``reference(|k|) / own(|k|)``, both radially averaged
amplitude spectra (:func:`radial_amplitude_spectrum`) linearly interpolated at ``|k|``: the
amplitudes are rescaled shell by shell, the phases are untouched. The mean (``k = 0``) is kept.
Beyond the reference's last shell the factor is 0: the reference has no power there, so the
output is band-limited (isotropically) at the reference's highest frequency; below its first
non-zero shell the first shell's factor holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cryomem.io import is_mrc_path
from cryomem.segment._preprocess_defaults import DEFAULT_CHUNK_MIB
from cryomem.segment._preprocess_files import check_chunk_mib, check_finite, check_output_path, open_tomogram
from cryomem.segment._preprocess_radial import RadialFactor, filter_radially, filter_radially_file
from cryomem.segment._preprocess_spectrum import (
    DEFAULT_REFERENCE_SPECTRUM_PATH,
    DEFAULT_TILE,
    RadialSpectrum,
    radial_amplitude_spectrum,
    read_spectrum_tsv,
)

__all__ = ["load_reference_spectrum", "match_spectrum", "match_spectrum_file", "matching_factor"]


def load_reference_spectrum(
    reference: str | os.PathLike[str] | None = None,
    *,
    voxel_size_ang: float | None = None,
    tile: int = DEFAULT_TILE,
) -> RadialSpectrum:
    """A reference spectrum from a TSV, from an MRC volume, or (``None``) the shipped default.

    Parameters
    ----------
    reference : str or os.PathLike, optional
        ``.tsv`` written by ``cryomem preprocess spectrum``, or an MRC tomogram whose spectrum is
        measured. None: the spectrum of the default model's training data.
    voxel_size_ang : float, optional
        Voxel size of an MRC reference, Å, overriding its header.
    tile : int
        Welch tile edge for an MRC reference, voxels.
    """
    path = DEFAULT_REFERENCE_SPECTRUM_PATH if reference is None else Path(reference)
    if not path.is_file():
        raise FileNotFoundError(f"reference not found: {path}; pass a spectrum .tsv or an MRC tomogram")
    if path.suffix.lower() in (".tsv", ".txt"):
        return read_spectrum_tsv(path)
    if not is_mrc_path(path):
        raise ValueError(f"reference {path} is neither a spectrum .tsv nor an MRC tomogram (.mrc, .rec, .map)")
    volume = open_tomogram(path, voxel_size_ang)
    check_finite(volume.data_zyx, str(path))
    return radial_amplitude_spectrum(volume.data_zyx, volume.voxel_size_ang, tile=tile)


def matching_factor(own: RadialSpectrum, reference: RadialSpectrum) -> RadialFactor:
    """``reference(|k|) / own(|k|)``, 1 at ``k = 0`` (the mean is kept), 0 where ``own`` has no power."""

    def factor(frequency_per_ang: np.ndarray) -> np.ndarray:
        have = np.interp(frequency_per_ang, own.frequency_per_ang[1:], own.amplitude[1:])
        ratio = np.divide(reference.at(frequency_per_ang), have, out=np.zeros_like(have), where=have > 0)
        return np.where(frequency_per_ang == 0, 1.0, ratio)

    return factor


def match_spectrum(
    volume_zyx: np.ndarray, voxel_size_ang: float, reference: RadialSpectrum, *, tile: int = DEFAULT_TILE
) -> np.ndarray:
    """The volume with its radially averaged amplitude spectrum rescaled to ``reference``'s, in memory.

    Parameters
    ----------
    volume_zyx : (nz, ny, nx) array
    voxel_size_ang : float
        Voxel size of ``volume_zyx``, Å.
    reference : RadialSpectrum
        Target spectrum (any voxel size: it is read at the volume's frequencies in 1/Å).
    tile : int
        Welch tile edge used to measure the volume's own spectrum, voxels.

    Returns
    -------
    (nz, ny, nx) float32 array
        See :func:`filter_radially` for the memory it needs; :func:`match_spectrum_file` streams.
    """
    own = radial_amplitude_spectrum(volume_zyx, voxel_size_ang, tile=tile)
    return filter_radially(volume_zyx, voxel_size_ang, matching_factor(own, reference))


def match_spectrum_file(
    tomogram_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    reference: str | os.PathLike[str] | RadialSpectrum | None = None,
    voxel_size_ang: float | None = None,
    reference_voxel_size_ang: float | None = None,
    tile: int = DEFAULT_TILE,
    overwrite: bool = False,
    chunk_mib: float = DEFAULT_CHUNK_MIB,
) -> Path:
    """Match a tomogram file's amplitude spectrum to a reference and write the result (float32 MRC).

    Parameters
    ----------
    tomogram_path, out_path : str or os.PathLike
        Input MRC (never modified) and output MRC (atomic; the input's voxel size and origin).
    reference : path, RadialSpectrum or None
        See :func:`load_reference_spectrum`; None: the default model's training data.
    voxel_size_ang, reference_voxel_size_ang : float, optional
        Voxel sizes in Å overriding the headers of the tomogram and of an MRC reference.
    tile : int
        Welch tile edge, voxels.
    overwrite : bool
        Replace an existing ``out_path``.
    chunk_mib : float
        Tomograms larger than this (float32 MiB) stream through a scratch file beside the output,
        with peak memory a few times this (see :mod:`cryomem.segment._preprocess_radial`).

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    if not 8 <= tile <= 1024:
        raise ValueError(f"--tile must be 8..1024 voxels, got {tile}; the default is {DEFAULT_TILE}")
    check_chunk_mib(chunk_mib)
    inputs = (tomogram_path,) if isinstance(reference, RadialSpectrum | None) else (tomogram_path, reference)
    volume = open_tomogram(tomogram_path, voxel_size_ang)
    out = check_output_path(out_path, inputs=inputs, overwrite=overwrite)
    if not isinstance(reference, RadialSpectrum):
        reference = load_reference_spectrum(reference, voxel_size_ang=reference_voxel_size_ang, tile=tile)
    own = radial_amplitude_spectrum(volume.data_zyx, volume.voxel_size_ang, tile=tile)
    factor = matching_factor(own, reference)
    return filter_radially_file(volume, out, factor, name=str(tomogram_path), overwrite=overwrite, chunk_mib=chunk_mib)
