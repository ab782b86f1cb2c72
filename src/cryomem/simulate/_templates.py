"""Procedural density templates: membrane proteins, cytosolic complexes, filament units.

Every template is a union of smooth solids (spheres, ellipsoids, capsules, cylinders) described
in Å around an *anchor* at the origin and rasterised at the requested voxel size. The density is
``0.5 * erfc(d / (sqrt(2) * sigma))`` of the signed distance ``d`` to the union's surface, so it is
~1 inside, exactly 0.5 on the surface and falls smoothly to 0 outside, whatever the voxel size:
the 0.5 level (the object's mask) sits at the same place in Å at 8 Å and at 20 Å voxels.

Frames. Physical vectors are ``(x, y, z)`` in Å; arrays are ``(z, y, x)``. The anchor is the
centre voxel of an odd, cubic box. For membrane proteins the anchor lies on the membrane mid-plane
and ``+z`` is the outward membrane normal; the transmembrane part spans about ±27 Å around
``z = 0``. Cytosolic templates are anchored at their centre of mass; filament units at the
filament axis with ``+z`` along the filament.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mrcfile
import numpy as np
from scipy import ndimage, special

__all__ = [
    "ACTIN_RISE_ANG",
    "ACTIN_TWIST_DEG",
    "EDGE_SIGMA_ANG",
    "MICROTUBULE_RISE_ANG",
    "Template",
    "TemplateKind",
    "actin_unit",
    "cytosolic_templates",
    "load_template_mrc",
    "membrane_protein_templates",
    "microtubule_unit",
]

TemplateKind = Literal["membrane", "cytosolic", "filament_unit"]

#: Physical width (Gaussian sigma, Å) of the smooth edge of procedural templates. At coarse voxel
#: sizes it is widened to ``hypot(EDGE_SIGMA_ANG, 0.4 * voxel_size_ang)`` to limit aliasing; the
#: 0.5 iso-surface does not move.
EDGE_SIGMA_ANG = 4.0
#: Axial spacing (Å) of consecutive microtubule units (one tubulin monomer per protofilament).
MICROTUBULE_RISE_ANG = 40.0
#: Axial spacing (Å) of consecutive actin units (one subunit on each long-pitch strand).
ACTIN_RISE_ANG = 55.0
#: Rotation (degrees, right-hand rule about the filament tangent) from one actin unit to the next.
#: Two steps of the -166.6° genetic helix give +26.8°: the right-handed long-pitch strands cross
#: over every 180 / 26.8 * 55 Å ≈ 37 nm.
ACTIN_TWIST_DEG = 26.8

_SUPPORT_LEVEL = 1e-3  # density below this (after normalising the max to 1) is set to 0
_COM_SAMPLING_ANG = 4.0  # grid spacing used to find a cytosolic template's centre of mass


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
            raise ValueError(
                f"density_zyx must be a cube with an odd edge, got shape {density.shape}"
            )
        if density.dtype != np.float32:
            density = density.astype(np.float32)
        if density.flags.writeable:
            density = density.copy()
            density.flags.writeable = False
        object.__setattr__(self, "density_zyx", density)
        if not self.voxel_size_ang > 0:
            raise ValueError(f"voxel_size_ang must be > 0, got {self.voxel_size_ang}")
        if self.kind not in ("membrane", "cytosolic", "filament_unit"):
            raise ValueError(
                f"kind must be 'membrane', 'cytosolic' or 'filament_unit', got {self.kind!r}"
            )

    @property
    def anchor_zyx_vox(self) -> tuple[int, int, int]:
        """Index of the anchor voxel (the box centre)."""
        c = self.density_zyx.shape[0] // 2
        return (c, c, c)

    @property
    def mask_zyx(self) -> np.ndarray:
        """Boolean mask ``density_zyx > threshold``."""
        return self.density_zyx > self.threshold


# --------------------------------------------------------------------------------------------
# Smooth solids (signed distance in Å, negative inside)
# --------------------------------------------------------------------------------------------


def _as_vec(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).reshape(3)


@dataclass(frozen=True, eq=False)
class _Sphere:
    center: tuple[float, float, float]
    radius: float

    def sdf(self, p: np.ndarray) -> np.ndarray:
        return np.linalg.norm(p - _as_vec(self.center), axis=-1) - self.radius

    def reach(self) -> float:
        return float(np.linalg.norm(self.center)) + self.radius


@dataclass(frozen=True, eq=False)
class _Ellipsoid:
    """Ellipsoid with semi-axes ``radii`` along the columns of ``axes`` (default x, y, z)."""

    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    axes: np.ndarray | None = None

    def sdf(self, p: np.ndarray) -> np.ndarray:
        q = p - _as_vec(self.center)
        if self.axes is not None:
            q = q @ np.asarray(self.axes, dtype=np.float64)
        r = _as_vec(self.radii)
        k0 = np.linalg.norm(q / r, axis=-1)
        k1 = np.linalg.norm(q / (r * r), axis=-1)
        # Quilez' bound: exact on the surface, a good approximation near it.
        with np.errstate(invalid="ignore", divide="ignore"):
            d = k0 * (k0 - 1.0) / k1
        return np.where(k1 > 0, d, -r.min())

    def reach(self) -> float:
        return float(np.linalg.norm(self.center)) + max(self.radii)


@dataclass(frozen=True, eq=False)
class _Capsule:
    """Segment ``a``-``b`` swept by a sphere of ``radius``."""

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    radius: float

    def sdf(self, p: np.ndarray) -> np.ndarray:
        a, b = _as_vec(self.a), _as_vec(self.b)
        ab = b - a
        h = np.clip(((p - a) @ ab) / float(ab @ ab), 0.0, 1.0)
        return np.linalg.norm(p - a - h[..., None] * ab, axis=-1) - self.radius

    def reach(self) -> float:
        return max(np.linalg.norm(self.a), np.linalg.norm(self.b)) + self.radius


@dataclass(frozen=True, eq=False)
class _Cylinder:
    """Flat-capped cylinder on the segment ``a``-``b``; edges rounded by ``rounding`` Å."""

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    radius: float
    rounding: float = 0.0

    def sdf(self, p: np.ndarray) -> np.ndarray:
        a, b = _as_vec(self.a), _as_vec(self.b)
        axis = b - a
        half_len = 0.5 * float(np.linalg.norm(axis))
        u = axis / (2.0 * half_len)
        q = p - 0.5 * (a + b)
        t = q @ u
        rho = np.linalg.norm(q - t[..., None] * u, axis=-1)
        dr = rho - (self.radius - self.rounding)
        dz = np.abs(t) - (half_len - self.rounding)
        inside = np.minimum(np.maximum(dr, dz), 0.0)
        outside = np.hypot(np.maximum(dr, 0.0), np.maximum(dz, 0.0))
        return inside + outside - self.rounding

    def reach(self) -> float:
        half_len = 0.5 * float(np.linalg.norm(_as_vec(self.b) - _as_vec(self.a)))
        mid = 0.5 * (_as_vec(self.a) + _as_vec(self.b))
        return float(np.linalg.norm(mid)) + math.hypot(half_len, self.radius)


@dataclass(frozen=True, eq=False)
class _Body:
    """Union of ``parts`` minus the union of ``holes``."""

    parts: tuple
    holes: tuple = ()

    def sdf(self, p: np.ndarray) -> np.ndarray:
        d = functools.reduce(np.minimum, (s.sdf(p) for s in self.parts))
        for hole in self.holes:
            d = np.maximum(d, -hole.sdf(p))
        return d

    def reach(self) -> float:
        return max(s.reach() for s in self.parts)


def _edge_sigma_ang(voxel_size_ang: float) -> float:
    return math.hypot(EDGE_SIGMA_ANG, 0.4 * voxel_size_ang)


def _grid_points_xyz(half: int, spacing: float) -> np.ndarray:
    """Voxel centres (xyz, Å) of a ``(2 half + 1)^3`` cube centred on the origin, (z, y, x, 3)."""
    ax = np.arange(-half, half + 1, dtype=np.float64) * spacing
    z, y, x = np.meshgrid(ax, ax, ax, indexing="ij")
    return np.stack((x, y, z), axis=-1)


def _body_density(body: _Body, spacing: float, sigma: float, origin_xyz: np.ndarray):
    """Density of ``body`` on a cube grid centred on ``origin_xyz``; returns (density, half)."""
    reach = body.reach() + float(np.linalg.norm(origin_xyz)) + 4.0 * sigma
    half = int(math.ceil(reach / spacing)) + 1
    points = _grid_points_xyz(half, spacing) + origin_xyz
    d = body.sdf(points)
    return 0.5 * special.erfc(d / (math.sqrt(2.0) * sigma)), half


def _centre_of_mass_xyz(body: _Body) -> np.ndarray:
    density, half = _body_density(
        body, _COM_SAMPLING_ANG, _edge_sigma_ang(_COM_SAMPLING_ANG), np.zeros(3)
    )
    com_zyx = np.array(ndimage.center_of_mass(density)) - half
    return com_zyx[::-1] * _COM_SAMPLING_ANG


def _trim_cube(density: np.ndarray, level: float, margin: int) -> np.ndarray:
    """Crop a cube symmetrically about its centre to the voxels above ``level`` plus ``margin``."""
    n = density.shape[0]
    c = n // 2
    idx = np.argwhere(density > level)
    if idx.size == 0:
        return density
    keep = int(np.abs(idx - c).max()) + margin
    keep = min(keep, c)
    return density[c - keep : c + keep + 1, c - keep : c + keep + 1, c - keep : c + keep + 1]


def _measure(density: np.ndarray, voxel_size_ang: float, threshold: float):
    """radius, in-plane radius and z extent (Å) of voxels above ``threshold``."""
    c = density.shape[0] // 2
    idx = np.argwhere(density > threshold)
    if idx.size == 0:
        raise ValueError(
            f"template has no voxel above the threshold {threshold:g}; lower threshold_fraction"
        )
    off_zyx = (idx - c) * voxel_size_ang
    radius = float(np.sqrt((off_zyx**2).sum(axis=1)).max())
    inplane = float(np.hypot(off_zyx[:, 1], off_zyx[:, 2]).max())
    z_extent = (float(off_zyx[:, 0].min()), float(off_zyx[:, 0].max()))
    return radius, inplane, z_extent


def _rasterise(
    name: str, body: _Body, voxel_size_ang: float, kind: TemplateKind, *, centre_on_com: bool
) -> Template:
    if not (isinstance(voxel_size_ang, (int, float)) and math.isfinite(voxel_size_ang)):
        raise ValueError(f"voxel_size_ang must be a finite number, got {voxel_size_ang!r}")
    if not 1.0 <= voxel_size_ang <= 100.0:
        raise ValueError(f"voxel_size_ang must be in [1, 100] Å, got {voxel_size_ang}")
    origin = _centre_of_mass_xyz(body) if centre_on_com else np.zeros(3)
    density, _ = _body_density(body, voxel_size_ang, _edge_sigma_ang(voxel_size_ang), origin)
    density = _trim_cube(density, _SUPPORT_LEVEL, margin=1).astype(np.float32)
    density[density < _SUPPORT_LEVEL] = 0.0  # exact zeros outside: renderers skip them
    threshold = 0.5
    radius, inplane, z_extent = _measure(density, voxel_size_ang, threshold)
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


def _rot_y(deg: float) -> np.ndarray:
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(deg: float) -> np.ndarray:
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------------------------
# Membrane proteins (anchor on the mid-plane, +z = outward normal, TM part ~ -27..+27 Å)
# --------------------------------------------------------------------------------------------

_TM_HALF_ANG = 27.0


def _channel_body() -> _Body:
    """Small channel, ~6 nm wide, ~9 nm tall: TM barrel with a 7 Å-radius pore, caps both sides."""
    return _Body(
        parts=(
            _Cylinder((0, 0, -_TM_HALF_ANG), (0, 0, _TM_HALF_ANG), 28.0, rounding=4.0),
            _Ellipsoid((0, 0, 34.0), (30.0, 30.0, 12.0)),
            _Ellipsoid((0, 0, -33.0), (25.0, 25.0, 10.0)),
        ),
        holes=(_Cylinder((0, 0, -60.0), (0, 0, 60.0), 7.0),),
    )


def _psii_dimer_body() -> _Body:
    """PSII-like dimer: TM footprint ~20 x 10 nm along x, extrinsic (lumenal) domains on -z."""
    parts = []
    for sx in (-1.0, 1.0):
        parts += [
            _Cylinder((sx * 48.0, 0, -_TM_HALF_ANG), (sx * 48.0, 0, _TM_HALF_ANG), 50.0, 6.0),
            # small stromal (+z) protrusion
            _Ellipsoid((sx * 40.0, 0.0, 30.0), (30.0, 26.0, 9.0)),
            # lumenal oxygen-evolving-complex-like extrinsic subunits (-z)
            _Ellipsoid((sx * 58.0, 12.0 * sx, -44.0), (26.0, 22.0, 18.0)),
            _Ellipsoid((sx * 22.0, -16.0 * sx, -40.0), (20.0, 18.0, 15.0)),
        ]
    return _Body(parts=tuple(parts))


def _atp_synthase_body() -> _Body:
    """ATP-synthase-like: c-ring + a-subunit in the membrane, stalks, ~10 nm F1 head at +z."""
    return _Body(
        parts=(
            _Cylinder((0, 0, -_TM_HALF_ANG), (0, 0, _TM_HALF_ANG), 30.0, rounding=4.0),
            _Capsule((36.0, 0, -16.0), (36.0, 0, 16.0), 14.0),
            _Capsule((0, 0, 20.0), (0, 0, 118.0), 13.0),
            _Ellipsoid((0, 0, 155.0), (52.0, 52.0, 44.0)),
            _Capsule((44.0, 0, 18.0), (58.0, 0, 182.0), 9.0),
        )
    )


def _receptor_body() -> _Body:
    """Receptor-like: TM helix bundle, small -z cap, large asymmetric two-lobed +z domain."""
    return _Body(
        parts=(
            _Cylinder((0, 0, -_TM_HALF_ANG), (0, 0, _TM_HALF_ANG), 20.0, rounding=4.0),
            _Ellipsoid((0, 0, -36.0), (18.0, 18.0, 10.0)),
            _Capsule((0, 0, 20.0), (12.0, 0, 50.0), 10.0),
            _Ellipsoid((22.0, 0, 82.0), (45.0, 32.0, 34.0), axes=_rot_y(-20.0)),
            _Sphere((-22.0, 14.0, 112.0), 24.0),
        )
    )


_MEMBRANE_BODIES = {
    "channel_small": _channel_body,
    "psii_dimer": _psii_dimer_body,
    "atp_synthase": _atp_synthase_body,
    "receptor_ecd": _receptor_body,
}


@functools.lru_cache(maxsize=16)
def _membrane_templates_cached(voxel_size_ang: float) -> tuple[Template, ...]:
    return tuple(
        _rasterise(name, make(), voxel_size_ang, "membrane", centre_on_com=False)
        for name, make in _MEMBRANE_BODIES.items()
    )


def membrane_protein_templates(voxel_size_ang: float) -> list[Template]:
    """Procedural membrane-protein templates (deterministic).

    The anchor is on the membrane mid-plane and the template z axis is the outward membrane
    normal. Every class has a transmembrane part spanning about ±27 Å around ``z = 0``.

    - ``channel_small``: ~6 nm wide channel (TM barrel with a 14 Å pore) with short caps on
      both sides, z ≈ -43..+46 Å.
    - ``psii_dimer``: PSII-like dimer, TM footprint ~20 x 10 nm (long axis = x), a flat +z side
      and lumenal extrinsic domains on -z down to ≈ -62 Å; in-plane radius ≈ 10 nm.
    - ``atp_synthase``: ATP-synthase-like; 6 nm TM ring plus a-subunit, central and peripheral
      stalks, ~10 nm F1 head centred at z ≈ +155 Å (≈ +11..+20 nm).
    - ``receptor_ecd``: receptor-like; thin TM bundle, small -z cap and a large asymmetric
      two-lobed extracellular domain on +z up to ≈ +136 Å.

    Parameters
    ----------
    voxel_size_ang : float
        Voxel size (Å) of the returned densities.

    Returns
    -------
    list of Template, ``kind == "membrane"``
    """
    return list(_membrane_templates_cached(float(voxel_size_ang)))


# --------------------------------------------------------------------------------------------
# Cytosolic complexes (anchor at the centre of mass)
# --------------------------------------------------------------------------------------------


def _globular_body() -> _Body:
    return _Body(parts=(_Sphere((0, 0, 0), 24.0), _Sphere((14.0, 10.0, 12.0), 15.0)))


def _dumbbell_body() -> _Body:
    return _Body(
        parts=(
            _Sphere((-26.0, 0, 0), 28.0),
            _Sphere((28.0, 0, 0), 24.0),
            _Capsule((-26.0, 0, 0), (28.0, 0, 0), 12.0),
        )
    )


def _trimer_body() -> _Body:
    parts: list = [_Sphere((0, 0, 0), 26.0)]
    for k in range(3):
        # lobe elongated along z, tilted 12° outward, 40 Å from the 3-fold axis
        rot = _rot_z(120.0 * k) @ _rot_y(12.0)
        centre = _rot_z(120.0 * k) @ np.array([40.0, 0.0, 0.0])
        parts.append(_Ellipsoid(tuple(centre), (24.0, 22.0, 70.0), axes=rot))
    return _Body(parts=tuple(parts))


def _ribosome_body() -> _Body:
    return _Body(
        parts=(
            # large subunit ~22 nm
            _Ellipsoid((0, 0, -20.0), (108.0, 98.0, 84.0)),
            _Sphere((-62.0, -10.0, 48.0), 30.0),  # central-protuberance-like bump
            # small subunit ~15 nm, flattened, offset and tilted; a cleft opens between them
            _Ellipsoid((18.0, 0, 88.0), (76.0, 56.0, 30.0), axes=_rot_y(12.0)),
        )
    )


_CYTOSOLIC_BODIES = {
    "globular_5nm": _globular_body,
    "dumbbell_10nm": _dumbbell_body,
    "trimer_15nm": _trimer_body,
    "ribosome_25nm": _ribosome_body,
}


@functools.lru_cache(maxsize=16)
def _cytosolic_templates_cached(voxel_size_ang: float) -> tuple[Template, ...]:
    return tuple(
        _rasterise(name, make(), voxel_size_ang, "cytosolic", centre_on_com=True)
        for name, make in _CYTOSOLIC_BODIES.items()
    )


def cytosolic_templates(voxel_size_ang: float) -> list[Template]:
    """Procedural cytosolic templates (deterministic), anchored at their centre of mass.

    - ``globular_5nm``: ~6 nm lumpy globule.
    - ``dumbbell_10nm``: two unequal lobes joined by a neck, ~10.6 nm long (x).
    - ``trimer_15nm``: three elongated lobes around a 3-fold z axis, ~15 nm.
    - ``ribosome_25nm``: ~22 nm large subunit plus a flattened ~15 nm small subunit offset
      along +z with a cleft between them, ~23 nm overall.

    Parameters
    ----------
    voxel_size_ang : float
        Voxel size (Å) of the returned densities.

    Returns
    -------
    list of Template, ``kind == "cytosolic"``
    """
    return list(_cytosolic_templates_cached(float(voxel_size_ang)))


# --------------------------------------------------------------------------------------------
# Filament structural units (anchor on the filament axis, +z along the filament)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _microtubule_cached(voxel_size_ang: float) -> Template:
    angles = 2.0 * np.pi * np.arange(13) / 13.0
    protofilaments = [
        _Sphere((100.0 * math.cos(a), 100.0 * math.sin(a), 0.0), 25.0) for a in angles
    ]
    # Neighbouring spheres barely touch (48 Å apart), which would leave holes in the wall at
    # every protofilament seam: a thinner continuous wall (r 82..118 Å, overlapping the next
    # unit along z) keeps the tube closed while the spheres still show as ridges.
    wall_half = 0.5 * MICROTUBULE_RISE_ANG + 6.0
    wall = _Cylinder((0.0, 0.0, -wall_half), (0.0, 0.0, wall_half), 118.0)
    lumen = _Cylinder((0.0, 0.0, -60.0), (0.0, 0.0, 60.0), 82.0)
    body = _Body(parts=(*protofilaments, wall), holes=(lumen,))
    return _rasterise(
        "microtubule_unit", body, voxel_size_ang, "filament_unit", centre_on_com=False
    )


def microtubule_unit(voxel_size_ang: float) -> Template:
    """Microtubule ring: 13 spheres (r = 25 Å) on a circle of radius 100 Å in the xy plane.

    The spheres (protofilament subunits) sit on a continuous wall (radii 82-118 Å, 52 Å tall)
    so the tube has no holes at the protofilament seams. Outer diameter 25 nm, lumen diameter
    ~16 nm. Stack copies every :data:`MICROTUBULE_RISE_ANG` (40 Å) along the unit's z axis,
    without twist.
    """
    return _microtubule_cached(float(voxel_size_ang))


@functools.lru_cache(maxsize=16)
def _actin_cached(voxel_size_ang: float) -> Template:
    half_rise = 0.5 * ACTIN_RISE_ANG
    parts = (
        _Ellipsoid((14.0, 0.0, -0.5 * half_rise), (22.0, 22.0, 28.0)),
        _Ellipsoid((-14.0, 0.0, 0.5 * half_rise), (22.0, 22.0, 28.0)),
    )
    return _rasterise(
        "actin_unit", _Body(parts=parts), voxel_size_ang, "filament_unit", centre_on_com=False
    )


def actin_unit(voxel_size_ang: float) -> Template:
    """Actin unit: one subunit per long-pitch strand, centres at x = ±14 Å.

    Each subunit is a blob of radius 22 Å across the filament, slightly elongated along it
    (28 Å) so consecutive units overlap instead of leaving gaps; the two subunits are staggered
    by half a rise (±13.75 Å in z) as in F-actin. Filament diameter ~7 nm. Stack copies every
    :data:`ACTIN_RISE_ANG` (55 Å), each turned by :data:`ACTIN_TWIST_DEG` about the axis.
    """
    return _actin_cached(float(voxel_size_ang))


# --------------------------------------------------------------------------------------------
# Templates from MRC maps
# --------------------------------------------------------------------------------------------


def load_template_mrc(
    path: str | Path,
    voxel_size_ang: float,
    *,
    kind: TemplateKind = "membrane",
    threshold_fraction: float = 0.5,
    map_voxel_size_ang: float | None = None,
    invert: bool = False,
    name: str | None = None,
) -> Template:
    """Read a density map (MRC) as a template at ``voxel_size_ang``.

    The centre of the input box (index ``(n - 1) / 2`` on each axis) is the anchor; for membrane
    templates the map's z axis must be the outward membrane normal. The map is low-pass filtered
    when it is downsampled, resampled (trilinear) onto a cubic odd grid centred on the anchor,
    negative values are clipped to 0 and the maximum is scaled to 1.

    Parameters
    ----------
    path : str or Path
        MRC file holding a 3D map.
    voxel_size_ang : float
        Voxel size (Å) of the returned template.
    kind : {"membrane", "cytosolic", "filament_unit"}
        What the template is.
    threshold_fraction : float
        Mask level as a fraction of the (normalised) maximum, in (0, 1).
    map_voxel_size_ang : float, optional
        Voxel size of the map; overrides the header (required when the header says 0 or 1 Å).
    invert : bool
        Set when matter is dark (negative) in the map.
    name : str, optional
        Template name; defaults to the file stem.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a readable 3D MRC, its voxel size is missing (0 or 1 Å) without an
        override, or a parameter is out of range.
    """
    path = Path(path)
    if not voxel_size_ang > 0:
        raise ValueError(f"voxel_size_ang must be > 0, got {voxel_size_ang}")
    if not 0.0 < threshold_fraction < 1.0:
        raise ValueError(f"threshold_fraction must be in (0, 1), got {threshold_fraction}")
    if kind not in ("membrane", "cytosolic", "filament_unit"):
        raise ValueError(f"kind must be 'membrane', 'cytosolic' or 'filament_unit', got {kind!r}")
    if not path.is_file():
        raise FileNotFoundError(f"template map not found: {path}")
    try:
        with mrcfile.open(path, mode="r") as mrc:
            data = np.asarray(mrc.data, dtype=np.float64)
            vs = mrc.voxel_size
            header_vs_xyz = np.array([float(vs.x), float(vs.y), float(vs.z)])
    except ValueError as exc:
        raise ValueError(f"{path} is not a readable MRC file: {exc}") from exc
    if data.ndim != 3 or min(data.shape) < 2:
        raise ValueError(f"{path} must hold a 3D map, got data of shape {data.shape}")
    if map_voxel_size_ang is not None:
        if not map_voxel_size_ang > 0:
            raise ValueError(f"map_voxel_size_ang must be > 0, got {map_voxel_size_ang}")
        map_vs_zyx = np.full(3, float(map_voxel_size_ang))
    else:
        if np.any(header_vs_xyz <= 0) or np.allclose(header_vs_xyz, 1.0):
            raise ValueError(
                f"{path} has voxel size {tuple(header_vs_xyz)} Å in its header, which looks "
                "unset; pass map_voxel_size_ang= with the map's real voxel size"
            )
        map_vs_zyx = header_vs_xyz[::-1]
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path} contains NaN or infinite values")
    if invert:
        data = -data

    # Anti-alias before downsampling (sigma in input voxels, as in skimage.transform.rescale).
    factor = voxel_size_ang / map_vs_zyx
    sigma = np.maximum(0.0, (factor - 1.0) / 2.0)
    if np.any(sigma > 0):
        data = ndimage.gaussian_filter(data, sigma=sigma, mode="constant", cval=0.0)

    centre_in = (np.array(data.shape) - 1) / 2.0
    half_ang = (centre_in * map_vs_zyx).max()
    half = int(math.floor(half_ang / voxel_size_ang + 1e-9))
    ax = np.arange(-half, half + 1, dtype=np.float64) * voxel_size_ang
    coords = [centre_in[i] + ax / map_vs_zyx[i] for i in range(3)]
    grid = np.meshgrid(*coords, indexing="ij")
    density = ndimage.map_coordinates(data, grid, order=1, mode="constant", cval=0.0)
    np.clip(density, 0.0, None, out=density)
    peak = density.max()
    if not peak > 0:
        raise ValueError(
            f"{path} has no positive density after resampling; pass invert=True if matter is dark"
        )
    density /= peak
    density = _trim_cube(density, 0.05 * threshold_fraction, margin=2).astype(np.float32)
    density[density < _SUPPORT_LEVEL] = 0.0
    threshold = float(threshold_fraction)
    radius, inplane, z_extent = _measure(density, voxel_size_ang, threshold)
    return Template(
        name=name if name is not None else path.stem,
        density_zyx=density,
        voxel_size_ang=float(voxel_size_ang),
        radius_ang=radius,
        inplane_radius_ang=inplane,
        z_extent_ang=z_extent,
        threshold=threshold,
        kind=kind,
    )
