"""Tilt geometry, the sparse tilt projector and weighted back-projection (WBP).

Geometry (all in voxels; the detector pixel equals the voxel):

* the tilt axis is the volume's y axis, so every y-slice is an independent
  2D (z, x) problem and one sparse matrix serves all of them;
* at tilt ``θ`` a voxel centred at ``(z, x)`` lands on the detector coordinate
  ``u = (x - cx)·cos θ + (z - cz)·sin θ + cu`` with ``cx = (nx-1)/2``,
  ``cz = (nz-1)/2`` and ``cu = (nu-1)/2`` (``nu = nx``); its unit mass is split
  between the two nearest detector bins by linear interpolation, so the
  projection is a line integral in units of voxels and conserves mass;
* voxels landing outside the detector are lost, as in a real tilted slab.

Projection is ``A @ V`` and back-projection is exactly ``A.T @ P`` (its adjoint),
with ``V`` the volume as ``(nz·nx, ny)`` columns.  Both run in chunks of y so
the volume is never transposed whole, and chunks run on threads (scipy's
sparse products release the GIL).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft
import scipy.sparse as sp

__all__ = [
    "TiltProjector",
    "reconstruct_wbp",
    "tilt_angles_deg",
    "validate_angles_deg",
    "wbp_filter",
]

_Y_CHUNK = 16  # y columns per sparse product: fastest measured on 2 cores (16-64 tried)


def tilt_angles_deg(min_deg: float = -60.0, max_deg: float = 60.0, step_deg: float = 3.0) -> np.ndarray:
    """Tilt angles of a tilt series about the y axis.

    Parameters
    ----------
    min_deg, max_deg : float
        First and (if it falls on the grid) last tilt angle, degrees; both
        strictly within (-90, 90) and ``min_deg < max_deg``.
    step_deg : float
        Angular increment, degrees, > 0.

    Returns
    -------
    angles_deg : (n_tilts,) float64 array, degrees, ascending
        ``min_deg + step_deg·i`` for every ``i`` with the angle <= ``max_deg``
        (the defaults give 41 tilts, -60 to 60 in 3° steps).
    """
    if not step_deg > 0:
        raise ValueError(f"step_deg must be > 0, got {step_deg}; pass a positive step such as 3")
    for name, value in (("min_deg", min_deg), ("max_deg", max_deg)):
        if not abs(value) < 90:
            raise ValueError(
                f"{name} must lie strictly within (-90, 90) degrees, got {value}; "
                "a projection at ±90° looks along the slab and is not a tilt"
            )
    if not min_deg < max_deg:
        raise ValueError(f"min_deg ({min_deg}) must be smaller than max_deg ({max_deg}); swap them")
    n = int(np.floor((max_deg - min_deg) / step_deg + 1e-9)) + 1
    return min_deg + step_deg * np.arange(n, dtype=np.float64)


def validate_angles_deg(angles_deg: Sequence[float] | np.ndarray) -> np.ndarray:
    """Check tilt angles (1D, non-empty, within (-90, 90)°); return them as float64."""
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.ndim != 1 or angles.size == 0:
        raise ValueError(f"angles_deg must be a non-empty 1D sequence of degrees, got shape {angles.shape}")
    if not np.all(np.abs(angles) < 90):
        raise ValueError(
            f"angles_deg must lie strictly within (-90, 90) degrees, got min {angles.min()} "
            f"and max {angles.max()}; use tilt_angles_deg() to build a valid series"
        )
    return angles


def _default_threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


class TiltProjector:
    """Linear projector for a tilt series about y, built once per (z, x) geometry.

    Parameters
    ----------
    shape_zx : (int, int)
        ``(nz, nx)`` of the volumes to project, voxels; the detector has ``nx``
        pixels across the tilt axis.
    angles_deg : (n_tilts,) array of float, degrees, each within (-90, 90)
        Tilt angles (any order; images come out in this order).
    n_threads : int, optional
        Threads over y chunks (default: min(2, CPU count)).

    Notes
    -----
    The matrix holds about ``2·n_tilts·nz·nx`` float32 weights, stored twice
    (CSR for ``A`` and for ``A.T``): 135 MB for 41 tilts of 200 x 512.
    """

    def __init__(
        self,
        shape_zx: tuple[int, int],
        angles_deg: Sequence[float] | np.ndarray,
        *,
        n_threads: int | None = None,
    ) -> None:
        if len(shape_zx) != 2 or any(int(s) != s or s < 1 for s in shape_zx):
            raise ValueError(f"shape_zx must be two positive ints (nz, nx), got {shape_zx}")
        self.shape_zx = (int(shape_zx[0]), int(shape_zx[1]))
        self.angles_deg = validate_angles_deg(angles_deg)
        self.n_threads = _default_threads() if n_threads is None else int(n_threads)
        if self.n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        self._matrix_t = self._build_transposed()  # A.T as CSR, (nz·nx, n_tilts·nu)
        self._matrix = self._matrix_t.T.tocsr()  # A as CSR, (n_tilts·nu, nz·nx)

    @property
    def n_tilts(self) -> int:
        """Number of tilt images."""
        return int(self.angles_deg.size)

    def _build_transposed(self) -> sp.csr_matrix:
        """Build A.T directly: row = voxel, entries = (tilt, bin) pairs in order."""
        nz, nx = self.shape_zx
        nu, n_ang = nx, self.n_tilts
        theta = np.deg2rad(self.angles_deg)
        z = np.arange(nz, dtype=np.float64) - (nz - 1) / 2
        x = np.arange(nx, dtype=np.float64) - (nx - 1) / 2
        # u[voxel, tilt], voxel = iz·nx + ix
        u = (
            x[None, :, None] * np.cos(theta)[None, None, :]
            + z[:, None, None] * np.sin(theta)[None, None, :]
            + (nu - 1) / 2
        ).reshape(nz * nx, n_ang)
        lower = np.floor(u)
        frac = (u - lower).astype(np.float32)
        lower = lower.astype(np.int32)  # n_tilts·nu < 2**31 for any practical series
        del u
        # columns of A.T: tilt·nu + bin, for the lower and upper bin of each (voxel, tilt)
        bins = np.stack([lower, lower + 1], axis=-1)  # (nvox, n_ang, 2)
        weights = np.stack([1 - frac, frac], axis=-1)
        del lower, frac
        keep = (bins >= 0) & (bins < nu) & (weights > 0)
        cols = (bins + (np.arange(n_ang, dtype=np.int32) * nu)[None, :, None])[keep]
        data = weights[keep]
        counts = keep.reshape(nz * nx, -1).sum(axis=1)
        del bins, weights, keep
        indptr = np.zeros(nz * nx + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        if indptr[-1] < np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        return sp.csr_matrix((data, cols, indptr), shape=(nz * nx, n_ang * nu))

    def _run_chunks(self, work: Callable[[int, int], None], ny: int) -> None:
        """Call ``work(y0, y1)`` on every chunk of y, on ``n_threads`` threads."""
        starts = range(0, ny, _Y_CHUNK)
        if self.n_threads == 1 or ny <= _Y_CHUNK:
            for y0 in starts:
                work(y0, min(y0 + _Y_CHUNK, ny))
            return
        with ThreadPoolExecutor(self.n_threads) as pool:
            # list() re-raises any worker exception here
            list(pool.map(lambda y0: work(y0, min(y0 + _Y_CHUNK, ny)), starts))

    def project(self, volume_zyx: np.ndarray) -> np.ndarray:
        """Project a volume at every tilt angle.

        Parameters
        ----------
        volume_zyx : (nz, ny, nx) array, density per voxel

        Returns
        -------
        tilt_series : (n_tilts, ny, nx) float32 array
            Line integrals (sum of density along the beam, voxel units).
        """
        nz, nx = self.shape_zx
        if volume_zyx.ndim != 3 or (volume_zyx.shape[0], volume_zyx.shape[2]) != (nz, nx):
            raise ValueError(
                f"volume_zyx must have shape ({nz}, ny, {nx}) to match this projector, "
                f"got {volume_zyx.shape}; build a TiltProjector for that shape"
            )
        ny = volume_zyx.shape[1]
        out = np.empty((self.n_tilts, ny, nx), dtype=np.float32)

        def work(y0: int, y1: int) -> None:
            cols = np.ascontiguousarray(volume_zyx[:, y0:y1, :].transpose(0, 2, 1), dtype=np.float32).reshape(
                nz * nx, y1 - y0
            )
            proj = self._matrix @ cols  # (n_tilts·nu, chunk)
            out[:, y0:y1, :] = proj.reshape(self.n_tilts, nx, y1 - y0).transpose(0, 2, 1)

        self._run_chunks(work, ny)
        return out

    def backproject(self, tilt_series: np.ndarray) -> np.ndarray:
        """Smear each image back along its beam direction (the adjoint of `project`).

        Parameters
        ----------
        tilt_series : (n_tilts, ny, nx) array

        Returns
        -------
        volume_zyx : (nz, ny, nx) float32 array
        """
        nz, nx = self.shape_zx
        if tilt_series.ndim != 3 or (tilt_series.shape[0], tilt_series.shape[2]) != (
            self.n_tilts,
            nx,
        ):
            raise ValueError(
                f"tilt_series must have shape ({self.n_tilts}, ny, {nx}) to match this "
                f"projector, got {tilt_series.shape}"
            )
        ny = tilt_series.shape[1]
        out = np.empty((nz, ny, nx), dtype=np.float32)

        def work(y0: int, y1: int) -> None:
            cols = np.ascontiguousarray(tilt_series[:, y0:y1, :].transpose(0, 2, 1), dtype=np.float32).reshape(
                self.n_tilts * nx, y1 - y0
            )
            vol = self._matrix_t @ cols  # (nz·nx, chunk)
            out[:, y0:y1, :] = vol.reshape(nz, nx, y1 - y0).transpose(0, 2, 1)

        self._run_chunks(work, ny)
        return out


def _angular_weights(angles_deg: np.ndarray) -> np.ndarray:
    """Angular interval (radians) each tilt stands for: half the gap to each neighbour."""
    if angles_deg.size == 1:
        return np.ones(1)
    order = np.argsort(angles_deg)
    theta = np.deg2rad(angles_deg[order])
    gaps = np.diff(theta)
    sorted_w = np.empty_like(theta)
    sorted_w[1:-1] = (gaps[:-1] + gaps[1:]) / 2
    sorted_w[0], sorted_w[-1] = gaps[0], gaps[-1]
    weights = np.empty_like(sorted_w)
    weights[order] = sorted_w
    return weights


def wbp_filter(
    n_pixels: int, *, lowpass_fraction: float = 1.0, rolloff_fraction: float = 0.2
) -> tuple[np.ndarray, int]:
    """Apodised ramp filter for rows of ``n_pixels``, in rfft layout of the padded row.

    The ramp is the Fourier transform of the discrete Ram-Lak kernel (which keeps
    a correct non-zero DC term), computed on a row zero-padded to at least twice
    ``n_pixels`` so the filter does not wrap around.  It is multiplied by a raised-
    cosine roll-off that falls from 1 to 0 over ``rolloff_fraction`` of Nyquist,
    ending at ``lowpass_fraction`` of Nyquist.

    Returns
    -------
    filter : (n_pad//2 + 1,) float32 array
    n_pad : int, padded row length
    """
    if not 0 < lowpass_fraction <= 1:
        raise ValueError(f"lowpass_fraction must be in (0, 1], got {lowpass_fraction}")
    if not 0 <= rolloff_fraction <= lowpass_fraction:
        raise ValueError(
            f"rolloff_fraction must be in [0, lowpass_fraction={lowpass_fraction}], got {rolloff_fraction}"
        )
    n_pad = scipy.fft.next_fast_len(2 * n_pixels, real=True)
    n = np.arange(n_pad)
    n = np.minimum(n, n_pad - n)  # circular distance
    kernel = np.zeros(n_pad)
    kernel[0] = 0.25
    odd = n % 2 == 1
    kernel[odd] = -1.0 / (np.pi * n[odd]) ** 2
    ramp = np.abs(np.fft.rfft(kernel))
    f = np.fft.rfftfreq(n_pad) / 0.5  # fraction of Nyquist
    if rolloff_fraction > 0:
        t = np.clip((f - (lowpass_fraction - rolloff_fraction)) / rolloff_fraction, 0, 1)
        window = 0.5 * (1 + np.cos(np.pi * t))
    else:
        window = (f <= lowpass_fraction).astype(np.float64)
    return (ramp * window).astype(np.float32), n_pad


def reconstruct_wbp(
    tilt_series_images: np.ndarray,
    angles_deg: Sequence[float] | np.ndarray,
    *,
    thickness_z: int,
    projector: TiltProjector | None = None,
    lowpass_fraction: float = 1.0,
    rolloff_fraction: float = 0.2,
) -> np.ndarray:
    """Weighted back-projection of a tilt series about y.

    Each image row (along x, across the tilt axis) is ramp-filtered with
    `wbp_filter`, each tilt is weighted by the angular interval it covers, and
    the result is back-projected.  Nothing fills the missing wedge: its
    elongation and streaks come out of the geometry.

    Parameters
    ----------
    tilt_series_images : (n_tilts, ny, nx) array
    angles_deg : (n_tilts,) array of float, degrees
    thickness_z : int
        Number of z slices to reconstruct, voxels.
    projector : TiltProjector, optional
        Reuse one built for ``(thickness_z, nx)`` and these angles.
    lowpass_fraction, rolloff_fraction : float
        Where the filter reaches zero and the width of its cosine roll-off, both
        as fractions of Nyquist (defaults: zero exactly at Nyquist, roll-off from
        0.8 Nyquist).

    Returns
    -------
    volume_zyx : (thickness_z, ny, nx) float32 array
        Density estimate (same units as the projected quantity per voxel).
    """
    images = np.asarray(tilt_series_images)
    if images.ndim != 3:
        raise ValueError(f"tilt_series_images must be 3D (n_tilts, ny, nx), got shape {images.shape}")
    angles = validate_angles_deg(angles_deg)
    if angles.size != images.shape[0]:
        raise ValueError(
            f"angles_deg has {angles.size} angles but tilt_series_images has "
            f"{images.shape[0]} images; pass one angle per image"
        )
    if int(thickness_z) != thickness_z or thickness_z < 1:
        raise ValueError(f"thickness_z must be a positive int (voxels), got {thickness_z}")
    nx = images.shape[2]
    if projector is None:
        projector = TiltProjector((int(thickness_z), nx), angles)
    elif projector.shape_zx != (thickness_z, nx) or not np.allclose(projector.angles_deg, angles):
        raise ValueError(
            f"projector is built for shape_zx={projector.shape_zx} and other angles; "
            f"it must match thickness_z={thickness_z}, nx={nx} and angles_deg"
        )
    ramp, n_pad = wbp_filter(nx, lowpass_fraction=lowpass_fraction, rolloff_fraction=rolloff_fraction)
    weights = _angular_weights(angles)
    filtered = np.empty(images.shape, dtype=np.float32)
    for i in range(images.shape[0]):
        spectrum = scipy.fft.rfft(images[i], n=n_pad, axis=-1, workers=projector.n_threads)
        spectrum *= ramp * np.float32(weights[i])
        filtered[i] = scipy.fft.irfft(spectrum, n=n_pad, axis=-1, workers=projector.n_threads)[:, :nx]
    del spectrum
    return projector.backproject(filtered)
