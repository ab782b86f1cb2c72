"""Templates from atomic models (PDB / mmCIF files, read with gemmi; nothing is downloaded).

Each atom contributes a Gaussian weighted by its electron scattering factor at zero angle, ``f(0)``
= the sum of the ``a`` coefficients of gemmi's ``c4322`` table (International Tables vol. C,
4.3.2.2; C 2.51, N 2.21, O 1.98, S 5.16 Å). Elements without that table fall back to a weight
proportional to the atomic number (``Z / 6 * f_C``). The density is scaled so that a compact
protein of typical composition (heavy atoms only) is ~1, like the procedural templates. Waters are
dropped; only the first model is used.

The template is anchored at the model's mass centre (atomic masses). For membrane templates the
model's z axis must be the outward membrane normal and its mass centre sits on the membrane
mid-plane (shift the model first when it does not).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cryomem.simulate._pseudo_atoms import template_from_points
from cryomem.simulate._template_base import Template, TemplateKind

__all__ = ["electron_weight", "read_atomic_model", "template_from_atomic_model"]

#: Summed f(0) of the heavy atoms of an average residue (C5 N1.35 O1.5 S0.05).
_RESIDUE_WEIGHT = 5.0 * 2.5088 + 1.35 * 2.2135 + 1.5 * 1.9834 + 0.05 * 5.1604
#: Gaussian width (Å) of one atom before the voxel-size term.
ATOM_SIGMA_ANG = 1.5


def electron_weight(element_symbol: str) -> float:
    """Electron scattering factor at zero angle (Å) of an element, from gemmi's c4322 table."""
    import gemmi

    element = gemmi.Element(element_symbol)
    weight = float(sum(element.c4322.get_coefs()[:5]))
    if weight <= 0:
        weight = element.atomic_number / 6.0 * 2.5088
    return weight


def read_atomic_model(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Atoms of the first model of a PDB or mmCIF file.

    Returns
    -------
    points_xyz_ang : (n, 3) float array
    weights : (n,) float array, electron f(0) per atom (times occupancy)
    masses_da : (n,) float array

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        gemmi cannot read it, or it holds no atoms.
    """
    import gemmi

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"atomic model {path} does not exist; pass an existing PDB or mmCIF file")
    try:
        structure = gemmi.read_structure(str(path))
    except (RuntimeError, ValueError, OSError) as err:
        problem = " ".join(str(err).split())
        raise ValueError(
            f"atomic model {path} cannot be read as PDB or mmCIF ({problem}); check the file format"
        ) from None
    structure.remove_waters()
    if len(structure) == 0:
        raise ValueError(f"atomic model {path} holds no atoms; pass a PDB or mmCIF file with ATOM/HETATM records")
    points, weights, masses, cache = [], [], [], {}
    for chain in structure[0]:
        for residue in chain:
            for atom in residue:
                symbol = atom.element.name
                if symbol not in cache:
                    cache[symbol] = (electron_weight(symbol), atom.element.weight)
                points.append(atom.pos.tolist())
                weights.append(cache[symbol][0] * atom.occ)
                masses.append(cache[symbol][1] * atom.occ)
    if not points or sum(weights) <= 0:
        raise ValueError(f"atomic model {path} holds no atoms; pass a PDB or mmCIF file with ATOM/HETATM records")
    return np.array(points, float), np.array(weights, float), np.array(masses, float)


def template_from_atomic_model(
    path: str | Path, voxel_size_ang: float, *, kind: TemplateKind = "cytosolic", name: str | None = None
) -> Template:
    """Density of an atomic model at ``voxel_size_ang``, anchored at its mass centre.

    Atoms are Gaussians of width ``hypot(1.5 Å, 0.4 voxel)`` (splatted and filtered, not looped);
    the mask level is half a compact protein's density.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_atomic_model`; also a voxel size outside (0, 100] Å.
    """
    if not 0.0 < voxel_size_ang <= 100.0:
        raise ValueError(f"voxel_size_ang must be in (0, 100] Å, got {voxel_size_ang}")
    points, weights, masses = read_atomic_model(path)
    centre = np.average(points, axis=0, weights=masses)
    return template_from_points(
        name if name is not None else Path(path).stem,
        points,
        weights / _RESIDUE_WEIGHT,  # in residues, so a compact protein renders at ~1
        voxel_size_ang,
        sigma_ang=math.hypot(ATOM_SIGMA_ANG, 0.4 * voxel_size_ang),
        kind=kind,
        centre_xyz_ang=centre,
    )
