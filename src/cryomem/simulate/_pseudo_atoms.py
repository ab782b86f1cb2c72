"""Point-based ("pseudo-atomic") densities: folded bead chains and their rendering as templates.

A bead is a Gaussian of weight ``w`` residues; a compact protein holds one residue per
:data:`RESIDUE_VOLUME_ANG3` Å³, and densities are scaled so that such a protein's interior is ~1
(the simulator's protein density). Large models are coarse-grained: each bead stands for several
residues, so the bead count stays bounded whatever the size.

Frames. Points are ``(n, 3)`` xyz in Å; arrays are ``(z, y, x)``; a template's anchor (the centre
voxel of its odd, cubic box) sits at the requested centre.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal

from cryomem.simulate._solids import trim_cube
from cryomem.simulate._template_base import SUPPORT_LEVEL, Template, TemplateKind, measure_density

__all__ = [
    "CA_STEP_ANG",
    "MAX_BEADS",
    "RESIDUE_VOLUME_ANG3",
    "bead_sigma_ang",
    "folded_chain",
    "render_points",
    "residues_in_ball",
    "template_from_points",
]

#: Volume (Å³) of one residue in a compact protein (~1.35 g/cm³, 110 Da per residue).
RESIDUE_VOLUME_ANG3 = 130.0
#: Distance (Å) between consecutive Cα atoms.
CA_STEP_ANG = 3.8
#: Most beads of one generated model; beyond it beads stand for several residues.
MAX_BEADS = 20_000
_TRANSPORT_STEPS = 30


def residues_in_ball(radius_ang: float) -> int:
    """Residues of a compact protein filling a ball of ``radius_ang``."""
    return max(1, int(4.0 / 3.0 * math.pi * radius_ang**3 / RESIDUE_VOLUME_ANG3))


def _domain_walk(n: int, radius_ang: float, step_ang: float, rng: np.random.Generator) -> np.ndarray:
    """A bead chain of ``n`` steps collapsed into a ball of ``radius_ang`` around the origin, (n, 3).

    Directions are persistent (strand-like runs) and the walk is pulled back to the centre (an
    Ornstein-Uhlenbeck recurrence, solved with ``lfilter``). The collapsed walk is then spread to
    a uniform density by a sliced optimal-transport flow: along random directions its sorted
    projections are moved onto those of a uniform ball, which removes clumps while keeping
    neighbours near each other. Finally the ball is squashed into a random ellipsoid of the same
    volume.
    """
    persistence = rng.uniform(0.0, 0.8)
    directions = signal.lfilter([1.0], [1.0, -persistence], rng.normal(size=(n, 3)), axis=0)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True) + 1e-12
    pull = min(0.5, 1.5 * step_ang**2 / max(radius_ang, step_ang) ** 2)
    walk = signal.lfilter([1.0], [1.0, -(1.0 - pull)], step_ang * directions, axis=0)
    walk -= walk.mean(axis=0)
    # projections of a uniform ball have the CDF (2 + 3s - s³) / 4 on s in [-1, 1]; its inverse:
    u = (np.arange(n) + 0.5) / n
    ball_quantiles = radius_ang * 2.0 * np.cos((np.arccos(1.0 - 2.0 * u) + 4.0 * np.pi) / 3.0)
    target = np.empty(n)
    for _ in range(_TRANSPORT_STEPS):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        projection = walk @ axis
        target[np.argsort(projection)] = ball_quantiles
        walk += (target - projection)[:, None] * axis
    axes = np.exp(rng.normal(0.0, 0.2, 3))
    axes /= np.prod(axes) ** (1.0 / 3.0)
    frame = _random_rotation(rng)
    return ((walk @ frame) * axes) @ frame.T


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1.0
    return q


def folded_chain(
    n_residues: int, rng: np.random.Generator, *, n_domains: int = 1, max_beads: int = MAX_BEADS
) -> tuple[np.ndarray, np.ndarray, float]:
    """A random-walk backbone folded into ``n_domains`` compact, touching domains.

    Returns
    -------
    points_xyz_ang : (n, 3) float array
        Bead positions, centred on their mass centre.
    weights : (n,) float array
        Residues per bead.
    spacing_ang : float
        Step between consecutive beads (3.8 Å unless coarse-grained).
    """
    n_residues = max(4 * n_domains, int(n_residues))
    per_bead = max(1.0, n_residues / max_beads)
    step = CA_STEP_ANG * per_bead ** (1.0 / 3.0)
    n_beads = max(n_domains, int(round(n_residues / per_bead)))
    shares = rng.dirichlet(np.full(n_domains, 3.0)) if n_domains > 1 else np.ones(1)
    counts = np.maximum(2, np.round(shares * n_beads).astype(int))
    radii = (3.0 * counts * per_bead * RESIDUE_VOLUME_ANG3 / (4.0 * math.pi)) ** (1.0 / 3.0)
    centres = [np.zeros(3)]
    for d in range(1, n_domains):
        best, best_score = None, -np.inf
        for _ in range(8):
            j = int(rng.integers(d))
            u = rng.normal(size=3)
            candidate = centres[j] + 0.85 * (radii[j] + radii[d]) * u / np.linalg.norm(u)
            score = min(np.linalg.norm(candidate - c) - (radii[i] + radii[d]) for i, c in enumerate(centres))
            if score > best_score:
                best, best_score = candidate, score
        centres.append(best)
    pieces = []
    for d in range(n_domains):
        domain = _domain_walk(int(counts[d]), float(radii[d]), step, rng) + centres[d]
        if pieces:  # straight linker from the previous domain's last bead
            gap = domain[0] - pieces[-1][-1]
            k = int(np.linalg.norm(gap) // step)
            if k > 1:
                pieces.append(pieces[-1][-1] + gap * (np.arange(1, k) / k)[:, None])
        pieces.append(domain)
    points = np.concatenate(pieces)
    weights = np.full(len(points), per_bead)
    points -= np.average(points, axis=0, weights=weights)
    return points, weights, step


def bead_sigma_ang(spacing_ang: float, voxel_size_ang: float) -> float:
    """Gaussian width (Å) of a bead: about half the bead spacing, widened at coarse voxels."""
    return math.hypot(0.6 * spacing_ang, 0.4 * voxel_size_ang)


def render_points(
    points_xyz_ang: np.ndarray, weights: np.ndarray, voxel_size_ang: float, sigma_ang: float
) -> np.ndarray:
    """Sum of Gaussians (width ``sigma_ang``) at the points, on a cube centred on the origin.

    Points are splatted trilinearly onto the grid and the grid is Gaussian-filtered, so the cost
    does not grow with points times voxels. The result is in residues per residue volume (a
    compact protein's interior is ~1 when ``weights`` count residues).

    Returns
    -------
    (n, n, n) float64 array, ``n`` odd; the origin is the centre voxel.
    """
    p_zyx = np.asarray(points_xyz_ang, float)[:, ::-1] / voxel_size_ang
    sigma_vox = sigma_ang / voxel_size_ang
    half = int(math.ceil(np.abs(p_zyx).max(initial=0.0) + 4.0 * sigma_vox)) + 2
    n = 2 * half + 1
    q = p_zyx + half
    base = np.floor(q).astype(np.int64)
    frac = q - base
    grid = np.zeros(n**3)
    for corner in np.ndindex(2, 2, 2):
        c = np.array(corner)
        w = weights * np.prod(np.where(c == 1, frac, 1.0 - frac), axis=1)
        flat = np.ravel_multi_index((base + c).T, (n, n, n), mode="clip")
        grid += np.bincount(flat, weights=w, minlength=n**3)
    grid = grid.reshape(n, n, n)
    # trilinear splatting already blurs by a variance of 1/6 voxel² per axis
    ndimage.gaussian_filter(grid, math.sqrt(max(sigma_vox**2 - 1.0 / 6.0, 0.05)), output=grid, truncate=4.0)
    return grid * (RESIDUE_VOLUME_ANG3 / voxel_size_ang**3)


def template_from_points(
    name: str,
    points_xyz_ang: np.ndarray,
    weights: np.ndarray,
    voxel_size_ang: float,
    *,
    sigma_ang: float,
    kind: TemplateKind = "cytosolic",
    centre_xyz_ang: np.ndarray | None = None,
    threshold: float = 0.5,
) -> Template:
    """Render weighted points as a Template anchored at ``centre_xyz_ang`` (default: mass centre).

    The mask level is ``threshold`` (0.5: half a compact protein's density), lowered to half the
    peak for models too thin or too small to reach it at this voxel size.
    """
    points = np.asarray(points_xyz_ang, float)
    weights = np.asarray(weights, float)
    if len(points) == 0 or weights.sum() <= 0:
        raise ValueError(f"template {name!r} has no atoms with positive weight")
    centre = np.average(points, axis=0, weights=weights) if centre_xyz_ang is None else centre_xyz_ang
    density = render_points(points - centre, weights, voxel_size_ang, sigma_ang)
    density = trim_cube(density, SUPPORT_LEVEL, margin=1).astype(np.float32)
    density[density < SUPPORT_LEVEL] = 0.0
    threshold = min(threshold, 0.5 * float(density.max()))
    radius, inplane, z_extent = measure_density(density, voxel_size_ang, threshold)
    return Template(name, density, float(voxel_size_ang), radius, inplane, z_extent, threshold, kind)
