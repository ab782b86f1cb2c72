"""The :class:`Template` value type and building one from a density or a smooth body.

A template is a density on a cubic, odd-edged box whose centre voxel is the *anchor*. Arrays are
``(z, y, x)``; offsets and extents are in Å. For membrane templates the anchor lies on the
membrane mid-plane and ``+z`` is the outward membrane normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cryomem.simulate._solids import (
    Body,
    body_density,
    centre_of_mass_xyz,
    edge_sigma_ang,
    trim_cube,
)

__all__ = [
    "SUPPORT_LEVEL",
    "Template",
    "TemplateKind",
    "measure_density",
    "template_from_body",
]

TemplateKind = Literal["membrane", "cytosolic", "filament_unit"]

#: Density below this (after normalising the max to 1) is set to 0.
SUPPORT_LEVEL = 1e-3


@dataclass(frozen=True, eq=False)
class Template:
    """A density template on a cubic, odd-edged box whose centre voxel is the anchor.

    Attributes
    ----------
    name : str
        Class name, e.g. ``"atp_synthase"``.
    density_zyx : (n, n, n) float32 array, read-only
        Density, ~1 in the core, 0 outside; ``n`` odd; anchor at index ``(n // 2,) * 3``.
    voxel_size_ang : float
        Isotropic voxel size of ``density_zyx`` in Å.
    radius_ang : float
        Largest distance (Å) from the anchor of a voxel centre with density > ``threshold``.
    inplane_radius_ang : float
        Largest distance (Å) from the template z axis of such a voxel.
    z_extent_ang : (float, float)
        Smallest and largest z (Å, relative to the anchor) of such voxels.
    threshold : float
        Density level that defines the object's mask.
    kind : {"membrane", "cytosolic", "filament_unit"}
        For ``"membrane"`` the anchor is on the membrane mid-plane and +z the outward normal.
    """

    name: str
    density_zyx: np.ndarray
    voxel_size_ang: float
    radius_ang: float
    inplane_radius_ang: float
    z_extent_ang: tuple[float, float]
    threshold: float
    kind: TemplateKind

    def __post_init__(self) -> None:
        density = np.asarray(self.density_zyx)
        if density.ndim != 3 or len(set(density.shape)) != 1 or density.shape[0] % 2 == 0:
            raise ValueError(f"density_zyx must be a cube with an odd edge, got shape {density.shape}")
        if density.dtype != np.float32:
            density = density.astype(np.float32)
        if density.flags.writeable:
            density = density.copy()
            density.flags.writeable = False
        object.__setattr__(self, "density_zyx", density)
        if not self.voxel_size_ang > 0:
            raise ValueError(f"voxel_size_ang must be > 0, got {self.voxel_size_ang}")
        if self.kind not in ("membrane", "cytosolic", "filament_unit"):
            raise ValueError(f"kind must be 'membrane', 'cytosolic' or 'filament_unit', got {self.kind!r}")

    @property
    def anchor_zyx_vox(self) -> tuple[int, int, int]:
        """Index of the anchor voxel (the box centre)."""
        c = self.density_zyx.shape[0] // 2
        return (c, c, c)

    @property
    def mask_zyx(self) -> np.ndarray:
        """Boolean mask ``density_zyx > threshold``."""
        return self.density_zyx > self.threshold


def measure_density(density: np.ndarray, voxel_size_ang: float, threshold: float):
    """radius, in-plane radius and z extent (Å) of voxels above ``threshold``."""
    c = density.shape[0] // 2
    idx = np.argwhere(density > threshold)
    if idx.size == 0:
        raise ValueError(f"template has no voxel above the threshold {threshold:g}; lower threshold_fraction")
    off_zyx = (idx - c) * voxel_size_ang
    radius = float(np.sqrt((off_zyx**2).sum(axis=1)).max())
    inplane = float(np.hypot(off_zyx[:, 1], off_zyx[:, 2]).max())
    z_extent = (float(off_zyx[:, 0].min()), float(off_zyx[:, 0].max()))
    return radius, inplane, z_extent


def template_from_body(
    name: str, body: Body, voxel_size_ang: float, kind: TemplateKind, *, centre_on_com: bool
) -> Template:
    """Rasterise ``body`` (Å, anchor at the origin) at ``voxel_size_ang`` into a Template.

    The mask level is 0.5, the body's surface. With ``centre_on_com`` the box is centred on the
    body's centre of mass instead of the origin.
    """
    if not (isinstance(voxel_size_ang, (int, float)) and math.isfinite(voxel_size_ang)):
        raise ValueError(f"voxel_size_ang must be a finite number, got {voxel_size_ang!r}")
    if not 1.0 <= voxel_size_ang <= 100.0:
        raise ValueError(f"voxel_size_ang must be in [1, 100] Å, got {voxel_size_ang}")
    origin = centre_of_mass_xyz(body) if centre_on_com else np.zeros(3)
    density, _ = body_density(body, voxel_size_ang, edge_sigma_ang(voxel_size_ang), origin)
    density = trim_cube(density, SUPPORT_LEVEL, margin=1).astype(np.float32)
    density[density < SUPPORT_LEVEL] = 0.0  # exact zeros outside: renderers skip them
    threshold = 0.5
    radius, inplane, z_extent = measure_density(density, voxel_size_ang, threshold)
    return Template(
        name=name,
        density_zyx=density,
        voxel_size_ang=float(voxel_size_ang),
        radius_ang=radius,
        inplane_radius_ang=inplane,
        z_extent_ang=z_extent,
        threshold=threshold,
        kind=kind,
    )
