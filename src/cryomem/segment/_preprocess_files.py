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

from cryomem.io import Volume, is_mrc_path, read_mrc

__all__ = [
    "check_finite",
    "check_output_path",
    "open_tomogram",
    "radial_frequency_plane",
    "release_pages",
    "ScratchVolume",
    "scratch_volume",
    "write_float_volume",
]

_CHECK_SLAB_VOXELS = 16 * 1024**2


def open_tomogram(path: str | os.PathLike[str], voxel_size_ang: float | None = None) -> Volume:
    """The tomogram at ``path``, memory-mapped (read-only), with its checked voxel size.

    Parameters
    ----------
    path : str or os.PathLike
        MRC file.
    voxel_size_ang : float, optional
        Voxel size in Å overriding the header (needed when the header says 0 or 1 Å).
    """
    return read_mrc(path, voxel_size_ang=voxel_size_ang, mmap=True)


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
    """A float32 ``(nz, ny, nx)`` volume in a file, written by z slabs and read by y rows.

    Plain positioned reads and writes, not a memory map: the page cache holds the data, and the
    process keeps only the block it asked for (a mapping would keep the pages it touched, and
    reading a column block touches pages all over the file).
    """

    def __init__(self, fd: int, shape_zyx: tuple[int, int, int]) -> None:
        self._fd = fd
        self.shape = tuple(int(n) for n in shape_zyx)
        os.ftruncate(fd, 4 * math.prod(self.shape))

    def _offset(self, z: int, y: int) -> int:
        return 4 * (z * self.shape[1] + y) * self.shape[2]

    def write_slab(self, z0: int, slab: np.ndarray) -> None:
        """Store ``slab`` (``(k, ny, nx)``) as planes ``z0 .. z0 + k - 1``."""
        view = memoryview(np.ascontiguousarray(slab, dtype=np.float32)).cast("B")
        offset, done = self._offset(z0, 0), 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done:], offset + done)

    def read_rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0 .. y1 - 1`` of every plane, ``(nz, y1 - y0, nx)`` float32."""
        block = np.empty((self.shape[0], y1 - y0, self.shape[2]), dtype=np.float32)
        for z in range(self.shape[0]):
            view = memoryview(block[z]).cast("B")
            offset, done = self._offset(z, y0), 0
            while done < len(view):
                done += os.preadv(self._fd, [view[done:]], offset + done)
        return block


@contextmanager
def scratch_volume(folder: Path, name: str, shape_zyx: tuple[int, int, int]) -> Iterator[ScratchVolume]:
    """A :class:`ScratchVolume` in a hidden file in ``folder``, removed when the block ends."""
    handle, scratch = tempfile.mkstemp(prefix=f".{name}.scratch-", suffix=".f32", dir=folder)
    try:
        yield ScratchVolume(handle, shape_zyx)
    finally:
        os.close(handle)
        Path(scratch).unlink(missing_ok=True)
