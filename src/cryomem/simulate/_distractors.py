"""Random protein-like distractor templates: folded chains, symmetric assemblies, cages, rings, rods.

Every template is a cloud of Gaussian beads (:mod:`cryomem.simulate._pseudo_atoms`) rendered at
the requested voxel size and anchored at its mass centre (on the symmetry axis for assemblies).
Its *size* is the diameter of the anchor-centred sphere that holds its mask, ``2 * radius_ang``;
it is drawn log-uniformly from a range in nm, so small proteins are more common than large ones.

Kinds
-----
``pseudo_atomic``
    one chain folded into 1-4 compact, touching domains.
``symmetric``
    a folded subunit repeated with Cn (n = 2..8) or Dn (n = 2..7) point symmetry about z.
``cage``
    a hollow icosahedral capsid of 60 subunits (pentamers, trimers or dimers) or a spherical
    shell with round holes.
``ring``
    6-16 subunits on a circle about z, one or two stacked rings.
``rod``
    subunits on a helix along z (rise and twist drawn at random), 12-30 % as wide as long.

Frames. Points are xyz in Å; arrays are ``(z, y, x)``.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
from scipy.spatial.transform import Rotation

from cryomem.simulate._config import DistractorKind
from cryomem.simulate._pseudo_atoms import (
    MAX_BEADS,
    RESIDUE_VOLUME_ANG3,
    _random_rotation,
    bead_sigma_ang,
    folded_chain,
    residues_in_ball,
    template_from_points,
)
from cryomem.simulate._template_base import Template

__all__ = ["DISTRACTOR_KINDS", "DistractorKind", "distractor_template", "random_distractor_templates"]

DISTRACTOR_KINDS: tuple[str, ...] = ("pseudo_atomic", "symmetric", "cage", "ring", "rod")
#: Smallest size (nm) at which a kind still shows its architecture; smaller requests are raised to
#: it when the range allows.
_MIN_SIZE_NM = {"pseudo_atomic": 0.0, "symmetric": 5.0, "cage": 12.0, "ring": 7.0, "rod": 8.0}

Model = tuple[np.ndarray, np.ndarray, float, str]  # points xyz Å, weights, bead spacing Å, label


def _rot_z(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _copies(subunit: np.ndarray, rotations: np.ndarray, shifts_xyz_ang: np.ndarray) -> np.ndarray:
    """``rotations[k] @ subunit + shifts[k]`` for every copy, stacked, (k * n, 3)."""
    return (np.einsum("kij,nj->kni", rotations, subunit) + shifts_xyz_ang[:, None, :]).reshape(-1, 3)


def _subunit(radius_ang: float, copies: int, rng: np.random.Generator, max_domains: int = 2):
    points, weights, spacing = folded_chain(
        max(12, residues_in_ball(radius_ang)),
        rng,
        n_domains=int(rng.integers(1, max_domains + 1)),
        max_beads=max(50, MAX_BEADS // copies),
    )
    return points @ _random_rotation(rng).T, weights, spacing


def _pseudo_atomic(size_ang: float, rng: np.random.Generator) -> Model:
    n_domains = int(rng.integers(1, 5))
    radius = 0.5 * size_ang * (1.0 if n_domains == 1 else 0.7)
    points, weights, spacing = folded_chain(residues_in_ball(radius), rng, n_domains=n_domains)
    return points, weights, spacing, f"pseudo_atomic_{n_domains}dom"


def _symmetric(size_ang: float, rng: np.random.Generator, symmetry: str | None = None) -> Model:
    if symmetry is None:
        dihedral = rng.random() < 0.4
        n = int(rng.integers(2, 8 if dihedral else 9))
    else:
        dihedral, n = symmetry[0].upper() == "D", int(symmetry[1:])
    spread = 0.9 / math.sin(math.pi / n) if n > 2 else 0.9  # ring radius / subunit radius (touching)
    r_sub = 0.5 * size_ang / (1.0 + spread)
    sub, weights, spacing = _subunit(r_sub, 2 * n if dihedral else n, rng)
    sub = sub + np.array([spread * r_sub, 0.0, 0.9 * r_sub if dihedral else 0.0])
    rotations = np.array([_rot_z(2.0 * math.pi * k / n) for k in range(n)])
    if dihedral:
        rotations = np.concatenate([rotations, np.diag([1.0, -1.0, -1.0]) @ rotations])
    points = _copies(sub, rotations, np.zeros((len(rotations), 3)))
    return points, np.tile(weights, len(rotations)), spacing, f"assembly_{'D' if dihedral else 'C'}{n}"


def _icosahedral_axis(group: Rotation, fold: int) -> np.ndarray:
    rotvecs = group.as_rotvec()
    angles = np.linalg.norm(rotvecs, axis=1)
    k = int(np.argmin(np.abs(angles - 2.0 * math.pi / fold)))
    return rotvecs[k] / angles[k]


def _cage(size_ang: float, rng: np.random.Generator) -> Model:
    if rng.random() < 0.6:
        group = Rotation.create_group("I")
        fold = int(rng.choice([5, 3, 2]))
        direction = _icosahedral_axis(group, fold) + rng.normal(0.0, 0.12, 3)
        direction /= np.linalg.norm(direction)
        r_sub = 0.5 * size_ang * rng.uniform(0.14, 0.2)
        shell = 0.5 * size_ang - r_sub
        sub, weights, spacing = _subunit(r_sub, 60, rng, max_domains=1)
        points = _copies(sub + shell * direction, group.as_matrix(), np.zeros((60, 3)))
        oligomer = {5: "pentamers", 3: "trimers", 2: "dimers"}[fold]
        return points, np.tile(weights, 60), spacing, f"cage_capsid_{oligomer}"
    outer = 0.5 * size_ang
    thickness = max(15.0, outer * rng.uniform(0.1, 0.25))
    volume = 4.0 / 3.0 * math.pi * (outer**3 - max(outer - thickness, 0.0) ** 3)
    spacing = max(3.8, (volume / MAX_BEADS) ** (1.0 / 3.0))
    axis = np.arange(-outer, outer + spacing, spacing)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    grid += rng.uniform(-0.3, 0.3, grid.shape) * spacing
    r = np.linalg.norm(grid, axis=1)
    keep = (r <= outer) & (r >= outer - thickness)
    n_holes = int(rng.integers(3, 21))
    holes = rng.normal(size=(n_holes, 3))
    holes /= np.linalg.norm(holes, axis=1, keepdims=True)
    cos_hole = math.cos(math.sqrt(rng.uniform(0.2, 0.4) * 4.0 / n_holes))  # holes cover 20-40 % of the area
    unit = grid / np.maximum(r, 1e-9)[:, None]
    keep &= ~np.any(unit @ holes.T > cos_hole, axis=1)
    points = grid[keep]
    return points, np.full(len(points), spacing**3 / RESIDUE_VOLUME_ANG3), spacing, f"cage_shell{n_holes}holes"


def _ring(size_ang: float, rng: np.random.Generator) -> Model:
    n = int(rng.integers(6, 17))
    layers = int(rng.integers(1, 3))
    r_sub = 0.5 * size_ang / (1.0 + 1.0 / math.sin(math.pi / n))
    sub, weights, spacing = _subunit(r_sub, n * layers, rng, max_domains=1)
    rotations, shifts = [], []
    for layer in range(layers):
        twist = math.pi / n * layer * rng.integers(0, 2)
        for k in range(n):
            rotation = _rot_z(2.0 * math.pi * k / n + twist)
            rotations.append(rotation)
            shifts.append(rotation @ np.array([0.95 * r_sub / math.sin(math.pi / n), 0.0, 1.8 * r_sub * layer]))
    points = _copies(sub, np.array(rotations), np.array(shifts))
    return points, np.tile(weights, n * layers), spacing, f"ring_{n}mer{'x2' if layers == 2 else ''}"


def _rod(size_ang: float, rng: np.random.Generator) -> Model:
    width = max(30.0, size_ang * rng.uniform(0.12, 0.3))
    r_sub = 0.5 * width * rng.uniform(0.45, 0.6)
    radius = 0.5 * width - r_sub
    rise = r_sub * rng.uniform(0.5, 1.2)
    twist = math.radians(rng.uniform(20.0, 170.0))
    n_units = max(2, int(math.ceil((size_ang - 2.0 * r_sub) / rise)) + 1)
    sub, weights, spacing = _subunit(r_sub, n_units, rng, max_domains=1)
    rotations = np.array([_rot_z(k * twist) for k in range(n_units)])
    shifts = np.array([[0.0, 0.0, k * rise] for k in range(n_units)])
    points = _copies(sub + np.array([radius, 0.0, 0.0]), rotations, shifts)
    return points, np.tile(weights, n_units), spacing, "rod_helical"


_BUILDERS = {"pseudo_atomic": _pseudo_atomic, "symmetric": _symmetric, "cage": _cage, "ring": _ring, "rod": _rod}


def distractor_template(
    kind: str,
    size_nm: float,
    voxel_size_ang: float,
    rng: np.random.Generator,
    *,
    name: str | None = None,
    symmetry: str | None = None,
) -> Template:
    """One random template of ``kind`` whose size (``2 * radius_ang``) is about ``size_nm``.

    ``symmetry`` (``"C2"``-``"C8"``, ``"D2"``-``"D7"``) fixes the point group of a ``symmetric``
    kind instead of drawing it.

    Raises
    ------
    ValueError
        Unknown kind or symmetry, or a size that is not positive.
    """
    if kind not in _BUILDERS:
        raise ValueError(f"unknown distractor kind {kind!r}; choose from {', '.join(DISTRACTOR_KINDS)}")
    if not size_nm > 0:
        raise ValueError(f"size_nm must be > 0, got {size_nm}")
    size_ang = 10.0 * size_nm
    if symmetry is not None:
        if kind != "symmetric" or not re.fullmatch(r"C[2-8]|D[2-7]", symmetry):
            raise ValueError(f"symmetry must be C2..C8 or D2..D7 with kind 'symmetric', got {symmetry!r} for {kind!r}")
        points, weights, spacing, label = _symmetric(size_ang, rng, symmetry)
    else:
        points, weights, spacing, label = _BUILDERS[kind](size_ang, rng)
    axial = kind in ("symmetric", "cage", "ring")  # keep the anchor on the symmetry axis
    template, best = None, None
    for _ in range(5):  # scale the bead cloud until the rendered mask has the requested size
        centre = np.average(points, axis=0, weights=weights)
        if axial:
            centre[:2] = 0.0
        if template is None:
            r = np.linalg.norm(points - centre, axis=1)
            factor = size_ang / (2.0 * float(np.quantile(r, 0.995)) + 1e-9)
        else:
            factor = size_ang / max(2.0 * template.radius_ang, voxel_size_ang)
            if best is None or abs(2.0 * template.radius_ang - size_ang) < abs(2.0 * best.radius_ang - size_ang):
                best = template
            if abs(factor - 1.0) < 0.04:
                break
        points = centre + (points - centre) * factor
        weights, spacing = weights * factor**3, spacing * factor
        template = template_from_points(
            name or f"{label}_{size_nm:.0f}nm",
            points,
            weights,
            voxel_size_ang,
            sigma_ang=bead_sigma_ang(spacing, voxel_size_ang),
            centre_xyz_ang=np.array([0.0, 0.0, centre[2]]) if axial else centre,
        )
    if abs(2.0 * template.radius_ang - size_ang) < abs(2.0 * best.radius_ang - size_ang):
        best = template
    return best


def random_distractor_templates(
    n: int,
    voxel_size_ang: float,
    rng: np.random.Generator,
    *,
    size_range_nm: tuple[float, float] = (3.0, 40.0),
    kinds: dict[str, float] | None = None,
) -> list[Template]:
    """``n`` random cytosolic distractor templates, kinds drawn by weight, sizes log-uniform in nm.

    Names are ``d{i}_{architecture}_{size}nm``, unique within the list.
    """
    kinds = kinds if kinds is not None else {k: 1.0 for k in DISTRACTOR_KINDS}
    names = [k for k, w in kinds.items() if w > 0]
    if n <= 0 or not names:
        return []
    p = np.array([kinds[k] for k in names], float)
    lo, hi = size_range_nm
    templates = []
    for i in range(n):
        kind = names[int(rng.choice(len(names), p=p / p.sum()))]
        size_nm = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
        size_nm = min(max(size_nm, _MIN_SIZE_NM[kind]), hi)
        template = distractor_template(kind, size_nm, voxel_size_ang, rng)
        templates.append(dataclasses.replace(template, name=f"d{i + 1}_{template.name}"))
    return templates
