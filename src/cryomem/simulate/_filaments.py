"""Filament centre-lines as worm-like chains of structural units, and the units' poses.

A filament is a chain of units spaced by the rise ``b`` along its tangent:
``x[i + 1] = x[i] + b * t[i]``. From one unit to the next the tangent is tilted by a random
angle drawn from a von Mises-Fisher distribution whose concentration makes
``E[t[i] . t[i+1]] = exp(-b / p)`` exactly, so ``<t(s) . t(0)> = exp(-s / p)`` (Kratky-Porod
worm-like chain with persistence length ``p``). For small ``b / p`` this is the usual Gaussian
bend with variance ``b / p`` per perpendicular axis (PolNet's persistence-length model, here as
a random walk rather than a helix). The unit frame is carried along by the minimal rotation that
tilts the tangent (parallel transport: no twist); actin units additionally turn by
``ACTIN_TWIST_DEG`` about the tangent at every step. Intermediate-filament-like rods are smooth,
untwisted and more flexible (persistence ~1 µm).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import optimize

from cryomem.simulate._filament_units import (
    ACTIN_DIAMETER_ANG,
    INTERMEDIATE_DIAMETER_ANG,
    INTERMEDIATE_RISE_ANG,
    MICROTUBULE_PROTOFILAMENTS,
    actin_unit_variant,
    intermediate_unit,
    microtubule_unit_variant,
)
from cryomem.simulate._templates import (
    ACTIN_RISE_ANG,
    ACTIN_TWIST_DEG,
    MICROTUBULE_RISE_ANG,
    Template,
)

__all__ = [
    "ACTIN_PERSISTENCE_ANG",
    "FILAMENT_KINDS",
    "FilamentKind",
    "INTERMEDIATE_PERSISTENCE_ANG",
    "MICROTUBULE_PERSISTENCE_ANG",
    "filament_rise_ang",
    "filament_unit_template",
    "filament_units",
]

FilamentKind = Literal["microtubule", "actin", "intermediate"]
FILAMENT_KINDS = ("microtubule", "actin", "intermediate")

#: Default microtubule persistence length (Å): 100 µm. Real microtubules are stiffer (~1-5 mm)
#: but bend visibly in cells; at this value a 5 µm microtubule wanders by ~18° end to end.
MICROTUBULE_PERSISTENCE_ANG = 1.0e6
#: Default actin persistence length (Å): 10 µm, close to measured F-actin values; a 1 µm
#: filament bends by ~25° end to end.
ACTIN_PERSISTENCE_ANG = 1.0e5
#: Default intermediate-filament persistence length (Å): 1 µm (vimentin-like, measured 0.3-2 µm).
INTERMEDIATE_PERSISTENCE_ANG = 1.0e4

_RISE = {"microtubule": MICROTUBULE_RISE_ANG, "actin": ACTIN_RISE_ANG, "intermediate": INTERMEDIATE_RISE_ANG}
_TWIST_DEG = {"microtubule": 0.0, "actin": ACTIN_TWIST_DEG, "intermediate": 0.0}
_PERSISTENCE = {
    "microtubule": MICROTUBULE_PERSISTENCE_ANG,
    "actin": ACTIN_PERSISTENCE_ANG,
    "intermediate": INTERMEDIATE_PERSISTENCE_ANG,
}


def _check_kind(kind: str) -> None:
    if kind not in _RISE:
        raise ValueError(f"kind must be 'microtubule', 'actin' or 'intermediate', got {kind!r}")


def filament_rise_ang(kind: FilamentKind) -> float:
    """Spacing (Å) between consecutive units of a ``kind`` filament."""
    _check_kind(kind)
    return _RISE[kind]


def filament_unit_template(
    kind: FilamentKind,
    voxel_size_ang: float,
    *,
    protofilaments: int = MICROTUBULE_PROTOFILAMENTS,
    diameter_ang: float | None = None,
) -> Template:
    """The structural-unit template to render at every pose from :func:`filament_units`.

    ``protofilaments`` (microtubules, 11-16) sets the microtubule's diameter; ``diameter_ang``
    sets that of actin (default 70 Å) and intermediate filaments (default 100 Å).
    """
    _check_kind(kind)
    if kind == "microtubule":
        return microtubule_unit_variant(voxel_size_ang, protofilaments)
    if kind == "actin":
        return actin_unit_variant(voxel_size_ang, ACTIN_DIAMETER_ANG if diameter_ang is None else diameter_ang)
    return intermediate_unit(voxel_size_ang, INTERMEDIATE_DIAMETER_ANG if diameter_ang is None else diameter_ang)


def _langevin(kappa: float) -> float:
    """Mean cosine ``coth(k) - 1/k`` of a 3D von Mises-Fisher distribution."""
    if kappa < 1e-4:
        return kappa / 3.0 - kappa**3 / 45.0
    return 1.0 / math.tanh(kappa) - 1.0 / kappa


def _vmf_concentration(mean_cos: float) -> float:
    """Concentration ``kappa`` with ``E[cos theta] = mean_cos`` (0 < mean_cos < 1)."""
    if mean_cos >= 1.0 - 1e-12:
        return math.inf
    if mean_cos <= 1e-9:
        return 3.0 * max(mean_cos, 0.0)
    guess = 1.0 / (1.0 - mean_cos)
    if guess > 1e6:  # coth(k) == 1 to double precision; L(k) = 1 - 1/k
        return guess
    return optimize.brentq(lambda k: _langevin(k) - mean_cos, 1e-12, 2.0 * guess + 10.0)


def _sample_vmf_cos(kappa: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` cosines of the angle to the mean direction of a 3D von Mises-Fisher(kappa)."""
    if math.isinf(kappa):
        return np.ones(n)
    u = 1.0 - rng.random(n)  # (0, 1]
    if kappa == 0.0:
        return 2.0 * u - 1.0
    w = 1.0 + np.log(u + (1.0 - u) * math.exp(-2.0 * kappa)) / kappa
    return np.clip(w, -1.0, 1.0)


def _initial_frame(tangent: np.ndarray, angle: float) -> np.ndarray:
    """Rotation with z column ``tangent`` and x column at ``angle`` about it."""
    helper = np.eye(3)[int(np.argmin(np.abs(tangent)))]
    e1 = np.cross(helper, tangent)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(tangent, e1)
    x = math.cos(angle) * e1 + math.sin(angle) * e2
    y = np.cross(tangent, x)
    return np.column_stack((x, y, tangent))


def filament_units(
    kind: FilamentKind,
    start_xyz_ang: np.ndarray,
    direction_xyz: np.ndarray,
    length_ang: float,
    *,
    persistence_length_ang: float | None = None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Poses of the structural units along one worm-like-chain filament.

    Parameters
    ----------
    kind : {"microtubule", "actin", "intermediate"}
        Filament type: sets the rise (:func:`filament_rise_ang`), the twist (actin only) and the
        default persistence length.
    start_xyz_ang : (3,) float array
        Centre of the first unit, Å, xyz.
    direction_xyz : (3,) float array
        Initial tangent (any non-zero length).
    length_ang : float
        Filament length, Å; the chain has ``max(1, round(length_ang / rise))`` units, each
        standing for one rise of filament.
    persistence_length_ang : float, optional
        Persistence length, Å (``inf`` for a straight filament). Defaults to
        :data:`MICROTUBULE_PERSISTENCE_ANG` or :data:`ACTIN_PERSISTENCE_ANG`.
    rng : numpy.random.Generator
        Source of the bends and of the initial roll about the tangent.

    Returns
    -------
    centers_xyz_ang : (n, 3) float array
        Unit centres, Å, xyz; consecutive centres are exactly one rise apart.
    rotations_xyz : (n, 3, 3) float array
        Unit -> tomogram rotations; column 2 is the local tangent (unit z axis).
    """
    _check_kind(kind)
    start = np.asarray(start_xyz_ang, dtype=np.float64)
    direction = np.asarray(direction_xyz, dtype=np.float64)
    if start.shape != (3,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start_xyz_ang must be 3 finite numbers, got {start_xyz_ang!r}")
    norm = float(np.linalg.norm(direction)) if direction.shape == (3,) else 0.0
    if not (norm > 0 and math.isfinite(norm)):
        raise ValueError(f"direction_xyz must be a finite non-zero 3-vector, got {direction_xyz!r}")
    if not (length_ang > 0 and math.isfinite(length_ang)):
        raise ValueError(f"length_ang must be a finite positive number, got {length_ang}")
    persistence = _PERSISTENCE[kind] if persistence_length_ang is None else persistence_length_ang
    if not persistence > 0:
        raise ValueError(f"persistence_length_ang must be > 0, got {persistence_length_ang}")

    rise = _RISE[kind]
    n = max(1, int(round(length_ang / rise)))
    kappa = _vmf_concentration(math.exp(-rise / persistence))

    # Bend of each step in the unit's own frame: tilt theta towards azimuth phi, i.e. a rotation
    # by theta about the local axis (-sin phi, cos phi, 0); then the twist about local z.
    cos_t = _sample_vmf_cos(kappa, n - 1, rng)
    phi = rng.uniform(0.0, 2.0 * np.pi, n - 1)
    sin_t = np.sqrt(1.0 - cos_t**2)
    ax, ay = -np.sin(phi), np.cos(phi)
    one_c = 1.0 - cos_t
    bends = np.empty((n - 1, 3, 3))
    bends[:, 0, 0] = cos_t + ax * ax * one_c
    bends[:, 0, 1] = ax * ay * one_c
    bends[:, 0, 2] = ay * sin_t
    bends[:, 1, 0] = ax * ay * one_c
    bends[:, 1, 1] = cos_t + ay * ay * one_c
    bends[:, 1, 2] = -ax * sin_t
    bends[:, 2, 0] = -ay * sin_t
    bends[:, 2, 1] = ax * sin_t
    bends[:, 2, 2] = cos_t
    twist = math.radians(_TWIST_DEG[kind])
    if twist != 0.0:
        c, s = math.cos(twist), math.sin(twist)
        bends = bends @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    rotations = np.empty((n, 3, 3))
    rotations[0] = _initial_frame(direction / norm, rng.uniform(0.0, 2.0 * np.pi))
    for i in range(n - 1):
        rotations[i + 1] = rotations[i] @ bends[i]
    # Re-orthonormalise the accumulated products (drift is ~1e-13 but costs nothing to remove).
    u, _, vt = np.linalg.svd(rotations)
    rotations = u @ vt

    tangents = rotations[:, :, 2]
    centres = np.empty((n, 3))
    centres[0] = start
    centres[1:] = start + rise * np.cumsum(tangents[:-1], axis=0)
    return centres, rotations
