"""What the preprocessing steps share: checked inputs and outputs, and the radial frequency grid."""

from __future__ import annotations

import math
import mmap
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from cryomem.io import Volume, is_mrc_path, is_zarr_path, read_volume

__all__ = [
    "check_chunk_mib",
    "check_finite",
    "check_output_path",
    "open_tomogram",
    "radial_frequency_plane",
    "release_pages",
    "ScratchVolume",
    "scratch_volume",
    "StreamedMrc",
    "streamed_float_mrc",
    "write_float_volume",
]

_CHECK_SLAB_VOXELS = 16 * 1024**2


def open_tomogram(path: str | os.PathLike[str], voxel_size_ang: float | None = None) -> Volume:
    """The tomogram at ``path``, memory-mapped (read-only), with its checked voxel size.

    Parameters
    ----------
    path : str or os.PathLike
        MRC file, or OME-Zarr image (level 0, read lazily: a dask array read slab by slab).
    voxel_size_ang : float, optional
        Voxel size in Å overriding the header (needed when the header says 0 or 1 Å).
    """
    return read_volume(path, voxel_size_ang=voxel_size_ang, mmap=True, level=0 if is_zarr_path(path) else None)


def check_output_path(
    out_path: str | os.PathLike[str],
    *,
    inputs: tuple[str | os.PathLike[str], ...],
    overwrite: bool,
    kind: str = "mrc",
) -> Path:
    """``out_path`` as a Path, or a one-line error: wrong suffix, missing folder, an input, or exists.

    Parameters
    ----------
    out_path : str or os.PathLike
        Where the result goes.
    inputs : tuple of paths
        Files read by the step; the output may not be one of them (inputs are never modified).
    overwrite : bool
        Whether an existing ``out_path`` may be replaced.
    kind : {"mrc", "tsv"}
        Expected format of ``out_path``.
    """
    out = Path(out_path)
    if kind == "mrc" and not is_mrc_path(out):
        raise ValueError(f"output {out} is not an MRC file name; name it <something>.mrc")
    if kind == "tsv" and out.suffix.lower() != ".tsv":
        raise ValueError(f"output {out} is not a TSV file name; name it <something>.tsv")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"output folder {out.parent} does not exist; create it first or choose another")
    for source in inputs:
        if Path(source).exists() and out.exists() and out.resolve() == Path(source).resolve():
            raise ValueError(f"output {out} is also an input; inputs are never modified: choose another output name")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite (overwrite=True) to replace it")
    return out


def check_chunk_mib(chunk_mib: float) -> None:
    """Raise ``ValueError`` unless the streaming block size ``chunk_mib`` is a positive number of MiB."""
    from cryomem.segment._preprocess_defaults import DEFAULT_CHUNK_MIB

    if not (isinstance(chunk_mib, int | float) and math.isfinite(chunk_mib) and chunk_mib > 0):
        raise ValueError(f"--chunk-mib must be > 0 MiB, got {chunk_mib}; the default is {DEFAULT_CHUNK_MIB:g}")


def check_finite(data_zyx: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``data_zyx`` holds NaN or infinity (checked slab by slab)."""
    plane = max(1, int(np.prod(data_zyx.shape[1:])))
    step = max(1, _CHECK_SLAB_VOXELS // plane)
    for z0 in range(0, data_zyx.shape[0], step):
        if not np.isfinite(data_zyx[z0 : z0 + step]).all():
            raise ValueError(
                f"{name} holds NaN or infinite values (first in z slices {z0}..{z0 + step - 1}); "
                "Fourier filtering would spread them everywhere: replace them (e.g. by the mean) first"
            )
        release_pages(data_zyx)


def radial_frequency_plane(shape_zyx: tuple[int, int, int], voxel_size_ang: float, iz: int) -> np.ndarray:
    """``|k|`` in 1/Å on plane ``iz`` of the ``rfftn`` grid of a ``shape_zyx`` volume.

    Returns
    -------
    (ny, nx // 2 + 1) float64 array
    """
    nz, ny, nx = shape_zyx
    kz = np.fft.fftfreq(nz, d=voxel_size_ang)[iz]
    ky = np.fft.fftfreq(ny, d=voxel_size_ang)
    kx = np.fft.rfftfreq(nx, d=voxel_size_ang)
    return np.sqrt(kz**2 + ky[:, None] ** 2 + kx[None, :] ** 2)


def write_float_volume(path: Path, data_zyx: np.ndarray, source: Volume, *, overwrite: bool) -> Path:
    """Write ``data_zyx`` as float32 with the placement of ``source`` (atomic)."""
    from cryomem.io import write_mrc

    return write_mrc(path, data_zyx.astype(np.float32, copy=False), **source.placement, overwrite=overwrite)


def release_pages(array: np.ndarray) -> None:
    """Drop the resident pages of the file mapping behind ``array`` (no-op for an in-memory array).

    The data stay in the file (written-back pages of a shared mapping included); the next access
    reads them again. Keeps the resident size of a streamed pass bounded by its slabs.
    """
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if base is not None and advice is not None and not base.closed:
        base.madvise(advice)


class ScratchVolume:
    """A ``(nz, ny, nx)`` volume in a file, written and read by z slabs or by y rows.

    Plain positioned reads and writes, not a memory map: the page cache holds the data, and the
    process keeps only the block it asked for (a mapping would keep the pages it touched, and
    reading a column block touches pages all over the file).
    """

    def __init__(self, fd: int, shape_zyx: tuple[int, int, int], dtype: np.dtype | type = np.float32) -> None:
        self._fd = fd
        self.shape = tuple(int(n) for n in shape_zyx)
        self.dtype = np.dtype(dtype)
        os.ftruncate(fd, self.dtype.itemsize * math.prod(self.shape))

    def _offset(self, z: int, y: int) -> int:
        return self.dtype.itemsize * (z * self.shape[1] + y) * self.shape[2]

    def _write(self, array: np.ndarray, offset: int) -> None:
        view = memoryview(np.ascontiguousarray(array, dtype=self.dtype)).cast("B")
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], offset + done)

    def _read(self, out: np.ndarray, offset: int) -> None:
        view = memoryview(out).cast("B")
        done = 0
        while done < len(view):
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got == 0:
                raise OSError(f"scratch file ended early at byte {offset + done}")
            done += got

    def write_slab(self, z0: int, slab: np.ndarray) -> None:
        """Store ``slab`` (``(k, ny, nx)``) as planes ``z0 .. z0 + k - 1``."""
        self._write(slab, self._offset(z0, 0))

    def read_slab(self, z0: int, z1: int) -> np.ndarray:
        """Planes ``z0 .. z1 - 1``, ``(z1 - z0, ny, nx)``."""
        block = np.empty((z1 - z0, *self.shape[1:]), dtype=self.dtype)
        self._read(block, self._offset(z0, 0))
        return block

    def read_rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0 .. y1 - 1`` of every plane, ``(nz, y1 - y0, nx)``."""
        block = np.empty((self.shape[0], y1 - y0, self.shape[2]), dtype=self.dtype)
        for z in range(self.shape[0]):
            self._read(block[z], self._offset(z, y0))
        return block

    def write_rows(self, y0: int, block: np.ndarray) -> None:
        """Store ``block`` (``(nz, k, nx)``) as rows ``y0 .. y0 + k - 1`` of every plane."""
        for z in range(self.shape[0]):
            self._write(block[z], self._offset(z, y0))


@contextmanager
def scratch_volume(
    folder: Path, name: str, shape_zyx: tuple[int, int, int], dtype: np.dtype | type = np.float32
) -> Iterator[ScratchVolume]:
    """A :class:`ScratchVolume` in a hidden file in ``folder``, removed when the block ends."""
    handle, scratch = tempfile.mkstemp(prefix=f".{name}.scratch-", suffix=".bin", dir=folder)
    try:
        yield ScratchVolume(handle, shape_zyx, dtype)
    finally:
        os.close(handle)
        Path(scratch).unlink(missing_ok=True)


class StreamedMrc:
    """A float32 MRC being written block by block; it keeps the running statistics of its header."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self._minimum, self._maximum, self._sum, self._sum_squares = math.inf, -math.inf, 0.0, 0.0

    def write(self, index: tuple[slice, ...], block: np.ndarray) -> None:
        """Store ``block`` at ``data[index]``; every voxel must be written exactly once."""
        self.data[index] = block
        release_pages(self.data)
        self._minimum = min(self._minimum, float(block.min()))
        self._maximum = max(self._maximum, float(block.max()))
        self._sum += float(block.sum(dtype=np.float64))
        self._sum_squares += float(np.square(block, dtype=np.float64).sum())

    def fill_header(self, header) -> None:
        n = self.data.size
        mean = self._sum / n
        header.dmin, header.dmax, header.dmean = self._minimum, self._maximum, mean
        header.rms = math.sqrt(max(0.0, self._sum_squares / n - mean**2))


@contextmanager
def streamed_float_mrc(
    out: Path, shape_zyx: tuple[int, int, int], placement: dict, *, overwrite: bool
) -> Iterator[StreamedMrc]:
    """A float32 MRC at ``out`` written block by block through :meth:`StreamedMrc.write`.

    The file appears (atomically, with ``placement``'s voxel size, origin and start and the data
    statistics in its header) only when the block ends without an error.
    """
    import mrcfile

    from cryomem.io import atomic_write_path

    with atomic_write_path(out, overwrite=overwrite) as tmp, mrcfile.new_mmap(tmp, shape_zyx, mrc_mode=2) as mrc:
        stream = StreamedMrc(mrc.data)
        yield stream
        mrc.voxel_size = placement["voxel_size_ang"]
        mrc.header.origin.x, mrc.header.origin.y, mrc.header.origin.z = placement["origin_xyz_ang"]
        mrc.header.nxstart, mrc.header.nystart, mrc.header.nzstart = placement["start_xyz_vox"]
        stream.fill_header(mrc.header)
