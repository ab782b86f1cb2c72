"""Two Gaussian leaflets fitted to a membrane's density profile along its normal (one profile or many).

The model is a baseline (constant + slope) plus two Gaussians of the same sign (the head-group
layers), or with :class:`LeafletCtf` the same Gaussians filtered by the microscope's ``|CTF|``. Each
fit starts from a vectorised grid search (centres on a grid, one shared width per pair, baseline and
amplitudes solved linearly for every grid point at once) and is polished by a batched, bounded
Levenberg-Marquardt (all fits at once, in numpy) with free centres, widths and amplitudes. A fit
that fails the tests of :func:`fit_two_leaflets` is marked, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["LeafletCtf", "LeafletFit", "LeafletGrid", "fit_batch", "fit_two_leaflets", "leaflet_shape"]

MIN_SEPARATION_ANG = 20.0
"""Smallest leaflet separation searched, Å (bilayers are 3-5 nm; the simulator draws 3.5-5)."""
MAX_SEPARATION_ANG = 80.0
"""Largest leaflet separation searched, Å."""
SIGMA_BOUNDS_ANG = (2.0, 20.0)
"""Range of each leaflet's Gaussian width, Å."""
_GRID_SIGMAS_ANG = (4.0, 6.0, 9.0, 13.0)  # shared widths tried by the grid search
MIN_QUALITY = 0.5
"""Least R² of an accepted fit."""
MIN_SIGNIFICANCE = 3.0
"""Least amplitude / standard error of each leaflet in an accepted fit."""
MIN_PEAK_RATIO = 0.15
"""Least weaker/stronger leaflet amplitude of an accepted fit (the simulator's asymmetry reaches 0.2)."""
MAX_DIP_FRACTION = 0.8
"""Largest model height midway between the leaflets, as a fraction of the lower leaflet peak (both
above the baseline), of an accepted fit: above it the two Gaussians make one peak, not two."""


@dataclass(frozen=True)
class LeafletCtf:
    """The microscope's CTF, for fitting leaflets as a CTF-corrected tomogram shows them.

    A phase-flipped (or otherwise CTF-corrected by sign) tomogram shows the density filtered by
    ``|H(k)|``, which suppresses the low frequencies and moves the apparent leaflets apart (by
    ~2 Å at 3 µm underfocus and 10 Å voxels, see ``benchmarks/bench_morph_thickness.py``). With it
    the fitted leaflets are Gaussians filtered by the same ``|H|`` along the normal.

    Attributes
    ----------
    defocus_um : float
        Underfocus, µm (positive).
    voltage_kv, cs_mm, amplitude_contrast : float
        Optics, as in :func:`cryomem.simulate.ctf_2d`.
    phase_flipped : bool, default True
        True: filter by ``|H|``; False: by ``H`` (a tomogram with no CTF correction).
    """

    defocus_um: float
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    phase_flipped: bool = True

    def __post_init__(self) -> None:
        if not (np.isfinite(self.defocus_um) and self.defocus_um > 0):
            raise ValueError(f"defocus_um must be a positive underfocus in µm, got {self.defocus_um}; e.g. 3")
        if not (self.voltage_kv > 0 and self.cs_mm >= 0 and 0 <= self.amplitude_contrast < 1):
            raise ValueError(
                f"bad optics: voltage_kv {self.voltage_kv} (> 0), cs_mm {self.cs_mm} (>= 0), "
                f"amplitude_contrast {self.amplitude_contrast} (in [0, 1)); typical 300, 2.7, 0.07"
            )


def leaflet_shape(ctf: LeafletCtf | None, voxel_size_ang: float | None, offsets: np.ndarray):
    if ctf is None:
        return _GaussianLeaflet()
    if voxel_size_ang is None or not voxel_size_ang > 0:
        raise ValueError(f"a CTF-aware fit needs the voxel size in Å, got {voxel_size_ang}")
    return _CtfLeaflet(ctf, voxel_size_ang, float(offsets[-1] - offsets[0]) + 5.0)


@dataclass(frozen=True)
class LeafletFit:
    """One profile's two-leaflet fit.

    Attributes
    ----------
    separation_ang : float
        Distance between the two leaflet centres, Å; NaN when ``ok`` is False.
    quality : float
        R² of the fitted model (1 - residual sum of squares / total sum of squares), in [0, 1].
    ok : bool
        Whether the fit passed every test (both leaflets significant and of comparable amplitude,
        resolved as two peaks, centres inside the window, R² >= ``MIN_QUALITY``).
    centres_ang : (float, float)
        Leaflet centres along the offsets, Å, lower first (NaN when no fit ran).
    sigmas_ang : (float, float)
        Leaflet Gaussian widths, Å, same order.
    amplitudes : (float, float)
        Leaflet amplitudes in profile units, positive towards the membrane's contrast (darker when
        ``dark_membrane``), same order.
    reason : str
        Why the fit was refused ("" when ok).
    """

    separation_ang: float
    quality: float
    ok: bool
    centres_ang: tuple[float, float] = (np.nan, np.nan)
    sigmas_ang: tuple[float, float] = (np.nan, np.nan)
    amplitudes: tuple[float, float] = (np.nan, np.nan)
    reason: str = ""


def _gauss(t: np.ndarray, centre: np.ndarray | float, sigma: np.ndarray | float) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / sigma) ** 2)


class _GaussianLeaflet:
    """The leaflet as the density has it: a Gaussian (value, d/dτ, d/dσ at offset τ from its centre)."""

    def __call__(self, tau: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = _gauss(tau, 0.0, sigma)
        return g, -g * tau / sigma**2, g * tau**2 / sigma**3


class _CtfLeaflet:
    """The leaflet as a CTF-corrected tomogram shows it: a Gaussian filtered by ``|H(k)|`` along the normal.

    Tabulated over τ (0.25 Å) and σ (0.25 Å); values, derivatives bilinear from the table. Each
    width's curve is scaled to peak at 1, so amplitudes stay comparable with plain Gaussians.
    """

    def __init__(self, ctf: LeafletCtf, voxel_size_ang: float, reach_ang: float) -> None:
        from cryomem.io import ctf_1d

        self.taus = np.arange(-reach_ang, reach_ang + 1e-9, 0.25)
        self.sigmas = np.arange(SIGMA_BOUNDS_ANG[0] - 0.5, SIGMA_BOUNDS_ANG[1] + 0.75, 0.25)
        k = np.linspace(0.0, 0.5 / voxel_size_ang, 1500)
        h = ctf_1d(
            k, defocus_ang=ctf.defocus_um * 1e4, voltage_kv=ctf.voltage_kv, cs_mm=ctf.cs_mm,
            amplitude_contrast=ctf.amplitude_contrast,
        )  # fmt: skip
        h = np.abs(h) if ctf.phase_flipped else h
        weights = h[:, None] * np.exp(-2.0 * np.pi**2 * self.sigmas[None, :] ** 2 * k[:, None] ** 2)
        table = np.cos(2.0 * np.pi * np.outer(self.taus, k)) @ weights  # (taus, sigmas)
        table /= np.abs(table).max(axis=0, keepdims=True)
        self.table = table
        self.d_tau = np.gradient(table, self.taus, axis=0)
        self.d_sigma = np.gradient(table, self.sigmas, axis=1)

    def __call__(self, tau: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tau, sigma = np.broadcast_arrays(tau, sigma)
        x = np.clip((tau - self.taus[0]) / 0.25, 0.0, self.taus.size - 1.000001)
        y = np.clip((sigma - self.sigmas[0]) / 0.25, 0.0, self.sigmas.size - 1.000001)
        i, j = x.astype(np.int64), y.astype(np.int64)
        fx, fy = x - i, y - j
        out = []
        for table in (self.table, self.d_tau, self.d_sigma):
            top = table[i, j] * (1 - fx) + table[i + 1, j] * fx
            bottom = table[i, j + 1] * (1 - fx) + table[i + 1, j + 1] * fx
            out.append(top * (1 - fy) + bottom * fy)
        return out[0], out[1], out[2]


class LeafletGrid:
    """The grid search of one offsets vector: every (c1 < c2, shared sigma) with its 4x4 normal-matrix inverse."""

    def __init__(self, offsets_ang: np.ndarray, leaflet: _GaussianLeaflet | _CtfLeaflet) -> None:
        t = offsets_ang
        self.leaflet = leaflet
        lo, hi = float(t[0]), float(t[-1])
        step = max(2.0, float(np.median(np.diff(t))))
        centres = np.arange(lo + 4.0, hi - 4.0 + 1e-9, step)
        self.t = t
        self.t0 = 0.5 * (lo + hi)
        self.centres = centres
        self.sigmas = np.asarray(_GRID_SIGMAS_ANG)
        # basis: [1, t - t0, then one Gaussian per (sigma, centre)]
        gaussians = leaflet(t[None, None, :] - centres[None, :, None], self.sigmas[:, None, None])[0]
        self.basis = np.concatenate([np.ones((1, t.size)), (t - self.t0)[None], gaussians.reshape(-1, t.size)])
        pairs = []
        for si, sigma in enumerate(self.sigmas):
            i, j = np.triu_indices(centres.size, k=1)
            sep = centres[j] - centres[i]
            keep = (sep >= MIN_SEPARATION_ANG) & (sep <= MAX_SEPARATION_ANG) & (sep >= 2.5 * sigma)
            keep &= (centres[i] - sigma >= lo) & (centres[j] + sigma <= hi)
            pairs.append(np.stack([np.full(keep.sum(), si), i[keep], j[keep]], axis=1))
        self.pairs = np.concatenate(pairs)  # (g, 3): sigma index, centre i, centre j
        n_c = centres.size
        self.columns = np.stack(
            [
                np.zeros(len(self.pairs), np.int64),
                np.ones(len(self.pairs), np.int64),
                2 + self.pairs[:, 0] * n_c + self.pairs[:, 1],
                2 + self.pairs[:, 0] * n_c + self.pairs[:, 2],
            ],
            axis=1,
        )
        gram = self.basis @ self.basis.T
        normal = gram[self.columns[:, :, None], self.columns[:, None, :]]
        self.inverse = np.linalg.pinv(normal).astype(np.float64)  # (g, 4, 4)

    def starts(self, profiles: np.ndarray, chunk: int = 256) -> np.ndarray:
        """(n, 8) start parameters: the grid point of least residual with both amplitudes > 0."""
        out = np.full((len(profiles), 8), np.nan)
        for start in range(0, len(profiles), chunk):
            y = profiles[start : start + chunk]
            u = (y @ self.basis.T)[:, self.columns]  # (c, g, 4) projections X_g^T y
            beta = np.einsum("gij,cgj->cgi", self.inverse, u)
            explained = np.einsum("cgi,cgi->cg", beta, u)
            explained[(beta[..., 2] <= 0) | (beta[..., 3] <= 0)] = -np.inf
            best = np.argmax(explained, axis=1)
            good = np.isfinite(explained[np.arange(len(y)), best])
            b = beta[np.arange(len(y)), best]
            si, i, j = self.pairs[best].T
            sigma = self.sigmas[si]
            params = np.stack([b[:, 0], b[:, 1], b[:, 2], self.centres[i], sigma, b[:, 3], self.centres[j], sigma], 1)
            params[~good] = np.nan
            out[start : start + chunk] = params
        return out


def _levenberg_marquardt(
    t: np.ndarray, y: np.ndarray, params: np.ndarray, grid: LeafletGrid, iterations: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched, bounded Levenberg-Marquardt of `_model` on every row of ``y`` at once.

    Steps that leave the bounds are clipped back (projected LM); a step is kept only where it
    lowers the residual, with the damping of each row adapted on its own.

    Returns
    -------
    params : (n, 8), rss : (n,), jacobian : (n, k, 8) at the returned parameters
    """
    lo_t, hi_t = float(t[0]), float(t[-1])
    s_lo, s_hi = SIGMA_BOUNDS_ANG
    lower = np.array([-np.inf, -np.inf, 0.0, lo_t, s_lo, 0.0, lo_t, s_lo])
    upper = np.array([np.inf, np.inf, np.inf, hi_t, s_hi, np.inf, hi_t, s_hi])
    p = np.clip(params, lower, upper)
    damping = np.full(len(y), 1e-3)
    rss = np.sum((_model_batch(p, t, grid) - y) ** 2, axis=1)
    eye = np.eye(8)
    for _ in range(iterations):
        jac = _jacobian_batch(p, t, grid)
        residual = _model_batch(p, t, grid) - y
        jac_t = jac.transpose(0, 2, 1)
        jtj = jac_t @ jac
        gradient = (jac_t @ residual[..., None])[..., 0]
        diag = np.einsum("nii->ni", jtj)
        system = jtj + damping[:, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        try:
            step = np.linalg.solve(system, -gradient[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(a, -b, rcond=None)[0] for a, b in zip(system, gradient, strict=True)])
        trial = np.clip(p + step, lower, upper)
        trial_rss = np.sum((_model_batch(trial, t, grid) - y) ** 2, axis=1)
        better = trial_rss < rss
        p = np.where(better[:, None], trial, p)
        converged = better & (rss - trial_rss <= 1e-7 * rss)
        rss = np.where(better, trial_rss, rss)
        damping = np.clip(np.where(better, damping / 3.0, damping * 4.0), 1e-9, 1e9)
        if np.all(converged | (damping >= 1e9)):
            break
    return p, rss, _jacobian_batch(p, t, grid)


def _model_batch(p: np.ndarray, t: np.ndarray, grid: LeafletGrid) -> np.ndarray:
    c0, slope, a1, c1, s1, a2, c2, s2 = (p[:, i : i + 1] for i in range(8))
    f1, f2 = grid.leaflet(t - c1, s1)[0], grid.leaflet(t - c2, s2)[0]
    return c0 + slope * (t - grid.t0) + a1 * f1 + a2 * f2


def _jacobian_batch(p: np.ndarray, t: np.ndarray, grid: LeafletGrid) -> np.ndarray:
    _, _, a1, c1, s1, a2, c2, s2 = (p[:, i : i + 1] for i in range(8))
    f1, dt1, ds1 = grid.leaflet(t - c1, s1)
    f2, dt2, ds2 = grid.leaflet(t - c2, s2)
    ones = np.ones_like(f1)
    columns = [ones, ones * (t - grid.t0), f1, -a1 * dt1, a1 * ds1, f2, -a2 * dt2, a2 * ds2]
    return np.stack(columns, axis=2)


@dataclass(frozen=True, eq=False)
class _BatchFit:
    separation_ang: np.ndarray
    quality: np.ndarray
    ok: np.ndarray
    params: np.ndarray
    reasons: list[str]


def fit_batch(t: np.ndarray, y: np.ndarray, grid: LeafletGrid, chunk: int = 2048) -> _BatchFit:
    """Fit every row of ``y`` (leaflets positive) and apply the acceptance tests of `fit_two_leaflets`."""
    parts = []
    for start in range(0, len(y), chunk):
        rows = y[start : start + chunk]
        x0 = grid.starts(rows)
        no_start = ~np.all(np.isfinite(x0), axis=1)
        x0[no_start] = [0.0, 0.0, 1e-6, -10.0, 5.0, 1e-6, 10.0, 5.0]
        p, rss, jac = _levenberg_marquardt(t, rows, x0, grid)
        rss[no_start] = np.nan
        parts.append((p, rss, jac))
    p = np.concatenate([a for a, _, _ in parts]) if parts else np.empty((0, 8))
    rss = np.concatenate([b for _, b, _ in parts]) if parts else np.empty(0)
    jac = np.concatenate([c for _, _, c in parts]) if parts else np.empty((0, t.size, 8))
    total = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        quality = np.clip(np.where(total > 0, 1.0 - rss / total, 0.0), 0.0, 1.0)
        quality = np.where(np.isfinite(rss), quality, 0.0)
        first = p[:, 3] <= p[:, 6]  # order the leaflets by centre
        a1, c1, s1 = (np.where(first, p[:, i], p[:, i + 3]) for i in (2, 3, 4))
        a2, c2, s2 = (np.where(first, p[:, i + 3], p[:, i]) for i in (2, 3, 4))
        jtj = jac.transpose(0, 2, 1) @ jac + 1e-12 * np.eye(8)
        variance = np.einsum("nii->ni", np.linalg.pinv(jtj)) * (rss / max(1, t.size - 8))[:, None]
        errors = np.sqrt(np.clip(variance, 0.0, None))
        e1 = np.where(first, errors[:, 2], errors[:, 5])
        e2 = np.where(first, errors[:, 5], errors[:, 2])
        significance = np.minimum(a1 / e1, a2 / e2)
        significance = np.where(np.isfinite(significance), significance, 0.0)
        mid = 0.5 * (c1 + c2)
        dip = a1 * _gauss(mid, c1, s1) + a2 * _gauss(mid, c2, s2)
        peaks = np.minimum(a1 + a2 * _gauss(c1, c2, s2), a2 + a1 * _gauss(c2, c1, s1))
        ratio = np.minimum(a1, a2) / np.maximum(a1, a2)
    separation = c2 - c1
    tests = [
        (quality >= MIN_QUALITY, "R² below MIN_QUALITY"),
        (significance >= MIN_SIGNIFICANCE, "a leaflet is not significant (amplitude < MIN_SIGNIFICANCE errors)"),
        (ratio >= MIN_PEAK_RATIO, "one leaflet is weaker than MIN_PEAK_RATIO of the other"),
        (dip <= MAX_DIP_FRACTION * peaks, "the two Gaussians form a single peak"),
        ((c1 - s1 >= t[0]) & (c2 + s2 <= t[-1]), "a leaflet lies at the edge of the sampled window"),
        ((separation >= MIN_SEPARATION_ANG) & (separation <= MAX_SEPARATION_ANG), "separation out of range"),
    ]
    ok = np.isfinite(rss)
    reasons = ["" if f else "no grid point with two positive leaflets" for f in ok]
    for passed, why in tests:
        for i in np.flatnonzero(ok & ~passed):
            reasons[i] = why
        ok &= passed
    ordered = np.stack([p[:, 0], p[:, 1], a1, c1, s1, a2, c2, s2], axis=1)
    return _BatchFit(np.where(ok, separation, np.nan), quality, ok, ordered, reasons)


def _check_profiles(offsets_ang: ArrayLike, profile: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(offsets_ang, dtype=np.float64).ravel()
    y = np.asarray(profile, dtype=np.float64)
    if y.shape[-1] != t.size:
        raise ValueError(f"profile has {y.shape[-1]} samples but offsets_ang has {t.size}; sample at the offsets")
    if t.size < 12 or np.any(np.diff(t) <= 0):
        raise ValueError(f"offsets_ang must increase strictly and hold >= 12 samples, got {t.size}")
    if t[-1] - t[0] < MIN_SEPARATION_ANG + 8.0:
        raise ValueError(f"offsets_ang span {t[-1] - t[0]:g} Å, too short for two leaflets; sample >= 30 Å")
    return t, y


def fit_two_leaflets(
    offsets_ang: ArrayLike,
    profile: ArrayLike,
    *,
    dark_membrane: bool = True,
    ctf: LeafletCtf | None = None,
    voxel_size_ang: float | None = None,
) -> LeafletFit:
    """Fit a baseline (constant + slope) plus two Gaussian leaflets of the same sign to one profile.

    Parameters
    ----------
    offsets_ang : (k,) float array
        Increasing sample positions along the normal, Å.
    profile : (k,) float array
        Density at those positions.
    dark_membrane : bool, default True
        Leaflets are minima (dense matter dark, as in the simulator's and most raw tomograms);
        False: maxima (inverted contrast).
    ctf : LeafletCtf, optional
        Fit Gaussians filtered by the CTF (see :class:`LeafletCtf`); None: plain Gaussians.
    voxel_size_ang : float, optional
        The tomogram's voxel size, Å (the band limit of the CTF filter); needed with ``ctf``.

    Returns
    -------
    LeafletFit
        ``ok`` only when both leaflets are significant (amplitude >= ``MIN_SIGNIFICANCE`` standard
        errors) and comparable (ratio >= ``MIN_PEAK_RATIO``), resolved as two peaks (model midway
        <= ``MAX_DIP_FRACTION`` of the lower peak), inside the window (centre ± width), separated by
        ``MIN_SEPARATION_ANG``-``MAX_SEPARATION_ANG`` and R² >= ``MIN_QUALITY``; otherwise the
        separation is NaN and ``reason`` says why.
    """
    t, y = _check_profiles(offsets_ang, profile)
    if y.ndim != 1:
        raise ValueError(f"profile must be 1-D, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        return LeafletFit(np.nan, 0.0, False, reason="profile holds non-finite values")
    y = -y if dark_membrane else y
    fit = fit_batch(t, y[None], LeafletGrid(t, leaflet_shape(ctf, voxel_size_ang, t)))
    p = fit.params[0]
    return LeafletFit(
        float(fit.separation_ang[0]),
        float(fit.quality[0]),
        bool(fit.ok[0]),
        centres_ang=(float(p[3]), float(p[6])),
        sigmas_ang=(float(p[4]), float(p[7])),
        amplitudes=(float(p[2]), float(p[5])),
        reason=fit.reasons[0],
    )
