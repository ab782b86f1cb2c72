"""Radially symmetric Fourier filters of tomograms of any size: ``F(k) *= factor(|k|)``.

Spectrum matching and deconvolution both multiply the 3D spectrum by a function of ``|k|`` alone.
A volume that fits in ``chunk_mib`` is filtered in memory. A larger one streams through the
separable 3D transform in three passes over a complex64 scratch file beside the output (about
the size of the float32 volume): the 2D ``rfft`` of each slab of z planes; along z, the 1D
transform, the filter and its inverse, one block of y rows at a time; the inverse 2D transform
of each z slab straight into the output file. Both paths compute the same discrete transform,
so their results agree to float rounding, and peak memory stays a few times ``chunk_mib``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.fft

from cryomem.io import Volume
from cryomem.segment._preprocess_defaults import DEFAULT_CHUNK_MIB
from cryomem.segment._preprocess_files import (
    check_chunk_mib,
    check_finite,
    radial_frequency_plane,
    release_pages,
    scratch_volume,
    streamed_float_mrc,
    write_float_volume,
)

__all__ = ["RadialFactor", "filter_radially", "filter_radially_file", "radial_frequency_rows"]

RadialFactor = Callable[[np.ndarray], np.ndarray]
"""Maps an array of ``|k|`` (1/Å) to the real factor that multiplies the spectrum there."""

_COMPLEX_BYTES = 8


def radial_frequency_rows(
    shape_zyx: tuple[int, int, int], voxel_size_ang: float, iz: int, y0: int, y1: int
) -> np.ndarray:
    """``|k|`` in 1/Å on rows ``y0 .. y1 - 1`` of plane ``iz`` of the ``rfftn`` grid of a ``shape_zyx`` volume.

    Returns
    -------
    (y1 - y0, nx // 2 + 1) float64 array
    """
    nz, ny, nx = shape_zyx
    kz = np.fft.fftfreq(nz, d=voxel_size_ang)[iz]
    ky = np.fft.fftfreq(ny, d=voxel_size_ang)[y0:y1]
    kx = np.fft.rfftfreq(nx, d=voxel_size_ang)
    return np.sqrt(kz**2 + ky[:, None] ** 2 + kx[None, :] ** 2)


def filter_radially(volume_zyx: np.ndarray, voxel_size_ang: float, factor: RadialFactor) -> np.ndarray:
    """``volume_zyx`` with its spectrum multiplied by ``factor(|k|)``, in memory.

    Returns
    -------
    (nz, ny, nx) float32 array
        Needs about 2 x the float32 size of the volume (its half spectrum, the result), plus the
        volume itself unless it is memory-mapped.
    """
    shape = tuple(volume_zyx.shape)
    spectrum = scipy.fft.rfftn(np.asarray(volume_zyx, dtype=np.float32))
    release_pages(volume_zyx)
    for iz in range(shape[0]):
        spectrum[iz] *= factor(radial_frequency_plane(shape, voxel_size_ang, iz)).astype(np.float32)
    return scipy.fft.irfftn(spectrum, s=shape, overwrite_x=True).astype(np.float32, copy=False)


def _count(total_bytes_per_unit: int, chunk_mib: float) -> int:
    return max(1, int(chunk_mib * 1024**2 // max(1, total_bytes_per_unit)))


def filter_radially_file(
    source: Volume,
    out: Path,
    factor: RadialFactor,
    *,
    name: str,
    overwrite: bool,
    chunk_mib: float = DEFAULT_CHUNK_MIB,
) -> Path:
    """Filter ``source`` (see :func:`filter_radially`) into a float32 MRC at ``out`` with its placement.

    Parameters
    ----------
    source : Volume
        Memory-mapped input; checked for NaN and infinity as it is read.
    out : pathlib.Path
        Output MRC, written atomically with ``source``'s voxel size, origin and start.
    factor : RadialFactor
        The filter.
    name : str
        What to call the input in an error (its path).
    overwrite : bool
        Replace an existing ``out``.
    chunk_mib : float
        A volume of at most this many MiB (float32) is filtered in memory; a larger one streams
        in blocks of about this size (see the module docstring).
    """
    check_chunk_mib(chunk_mib)
    data = source.data_zyx
    if data.size * 4 <= chunk_mib * 1024**2:
        check_finite(data, name)
        result = filter_radially(data, source.voxel_size_ang, factor)
        return write_float_volume(out, result, source, overwrite=overwrite)
    shape = tuple(int(n) for n in data.shape)
    nz, ny, nx = shape
    half = (nz, ny, nx // 2 + 1)
    with scratch_volume(out.parent, out.name, half, np.complex64) as stage:
        planes = _count(_COMPLEX_BYTES * ny * half[2], chunk_mib)
        for z0 in range(0, nz, planes):
            slab = np.asarray(data[z0 : z0 + planes], dtype=np.float32)
            check_finite(slab, f"{name} (z {z0}..)")
            stage.write_slab(z0, scipy.fft.rfftn(slab, axes=(1, 2)))
            release_pages(data)
        rows = _count(_COMPLEX_BYTES * nz * half[2], chunk_mib)
        for y0 in range(0, ny, rows):
            y1 = min(ny, y0 + rows)
            block = scipy.fft.fft(stage.read_rows(y0, y1), axis=0, overwrite_x=True)
            for iz in range(nz):  # plane by plane: the filter's float64 temporaries stay small
                block[iz] *= factor(radial_frequency_rows(shape, source.voxel_size_ang, iz, y0, y1)).astype(np.float32)
            stage.write_rows(y0, scipy.fft.ifft(block, axis=0, overwrite_x=True).astype(np.complex64, copy=False))
        with streamed_float_mrc(out, shape, source.placement, overwrite=overwrite) as output:
            for z0 in range(0, nz, planes):
                z1 = min(nz, z0 + planes)
                slab = scipy.fft.irfftn(stage.read_slab(z0, z1), s=(ny, nx), axes=(1, 2))
                output.write((slice(z0, z1),), slab.astype(np.float32, copy=False))
    return out
