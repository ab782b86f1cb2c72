"""Procedural protein templates: membrane proteins, cytosolic complexes, filament units.

Every template is a union of smooth solids (:mod:`cryomem.simulate._solids`) described in Å
around an *anchor* at the origin and rasterised at the requested voxel size, so its 0.5 level (the
object's mask) sits at the same place in Å whatever the voxel size. Results are cached per voxel
size.

Frames. Physical vectors are ``(x, y, z)`` in Å; arrays are ``(z, y, x)``. The anchor is the
centre voxel of an odd, cubic box. For membrane proteins the anchor lies on the membrane mid-plane
and ``+z`` is the outward membrane normal; the transmembrane part spans about ±27 Å around
``z = 0``. Cytosolic templates are anchored at their centre of mass; filament units at the
filament axis with ``+z`` along the filament.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from cryomem.simulate._solids import Ball, Body, Capsule, Cylinder, SolidEllipsoid, rot_y, rot_z
from cryomem.simulate._template_base import Template, template_from_body

__all__ = [
    "ACTIN_RISE_ANG",
    "ACTIN_TWIST_DEG",
    "MICROTUBULE_RISE_ANG",
    "actin_unit",
    "cytosolic_templates",
    "membrane_protein_templates",
    "microtubule_unit",
]

#: Axial spacing (Å) of consecutive microtubule units (one tubulin monomer per protofilament).
MICROTUBULE_RISE_ANG = 40.0
#: Axial spacing (Å) of consecutive actin units (one subunit on each long-pitch strand).
ACTIN_RISE_ANG = 55.0
#: Rotation (degrees, right-hand rule about the filament tangent) from one actin unit to the next.
#: Two steps of the -166.6° genetic helix give +26.8°: the right-handed long-pitch strands cross
#: over every 180 / 26.8 * 55 Å ≈ 37 nm.
ACTIN_TWIST_DEG = 26.8


# --------------------------------------------------------------------------------------------
# Membrane proteins (anchor on the mid-plane, +z = outward normal, TM part ~ -27..+27 Å)
# --------------------------------------------------------------------------------------------

_TM_HALF_ANG = 27.0


def _channel_body() -> Body:
    """Small channel, ~6 nm wide, ~9 nm tall: TM barrel with a 7 Å-radius pore, caps both sides."""
    return Body(
        parts=(
            Cylinder((0, 0, -_TM_HALF_ANG), (0, 0, _TM_HALF_ANG), 28.0, rounding=4.0),
            SolidEllipsoid((0, 0, 34.0), (30.0, 30.0, 12.0)),
            SolidEllipsoid((0, 0, -33.0), (25.0, 25.0, 10.0)),
        ),
        holes=(Cylinder((0, 0, -60.0), (0, 0, 60.0), 7.0),),
    )


def _psii_dimer_body() -> Body:
    """PSII-like dimer: TM footprint ~20 x 10 nm along x, extrinsic (lumenal) domains on -z."""
    parts = []
    for sx in (-1.0, 1.0):
        parts += [
            Cylinder((sx * 48.0, 0, -_TM_HALF_ANG), (sx * 48.0, 0, _TM_HALF_ANG), 50.0, 6.0),
            # small stromal (+z) protrusion
            SolidEllipsoid((sx * 40.0, 0.0, 30.0), (30.0, 26.0, 9.0)),
            # lumenal oxygen-evolving-complex-like extrinsic subunits (-z)
            SolidEllipsoid((sx * 58.0, 12.0 * sx, -44.0), (26.0, 22.0, 18.0)),
            SolidEllipsoid((sx * 22.0, -16.0 * sx, -40.0), (20.0, 18.0, 15.0)),
        ]
    return Body(parts=tuple(parts))


def _atp_synthase_body() -> Body:
    """ATP-synthase-like: c-ring + a-subunit in the membrane, stalks, ~10 nm F1 head at +z."""
    return Body(
        parts=(
            Cylinder((0, 0, -_TM_HALF_ANG), (0, 0, _TM_HALF_ANG), 30.0, rounding=4.0),
            Capsule((36.0, 0, -16.0), (36.0, 0, 16.0), 14.0),
            Capsule((0, 0, 20.0), (0, 0, 118.0), 13.0),
            SolidEllipsoid((0, 0, 155.0), (52.0, 52.0, 44.0)),
            Capsule((44.0, 0, 18.0), (58.0, 0, 182.0), 9.0),
        )
    )


def _receptor_body() -> Body:
    """Receptor-like: TM helix bundle, small -z cap, large asymmetric two-lobed +z domain."""
    return Body(
        parts=(
            Cylinder((0, 0, -_TM_HALF_ANG), (0, 0, _TM_HALF_ANG), 20.0, rounding=4.0),
            SolidEllipsoid((0, 0, -36.0), (18.0, 18.0, 10.0)),
            Capsule((0, 0, 20.0), (12.0, 0, 50.0), 10.0),
            SolidEllipsoid((22.0, 0, 82.0), (45.0, 32.0, 34.0), axes=rot_y(-20.0)),
            Ball((-22.0, 14.0, 112.0), 24.0),
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
        template_from_body(name, make(), voxel_size_ang, "membrane", centre_on_com=False)
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


def _globular_body() -> Body:
    return Body(parts=(Ball((0, 0, 0), 24.0), Ball((14.0, 10.0, 12.0), 15.0)))


def _dumbbell_body() -> Body:
    return Body(
        parts=(
            Ball((-26.0, 0, 0), 28.0),
            Ball((28.0, 0, 0), 24.0),
            Capsule((-26.0, 0, 0), (28.0, 0, 0), 12.0),
        )
    )


def _trimer_body() -> Body:
    parts: list = [Ball((0, 0, 0), 26.0)]
    for k in range(3):
        # lobe elongated along z, tilted 12° outward, 40 Å from the 3-fold axis
        rot = rot_z(120.0 * k) @ rot_y(12.0)
        centre = rot_z(120.0 * k) @ np.array([40.0, 0.0, 0.0])
        parts.append(SolidEllipsoid(tuple(centre), (24.0, 22.0, 70.0), axes=rot))
    return Body(parts=tuple(parts))


def _ribosome_body() -> Body:
    return Body(
        parts=(
            # large subunit ~22 nm
            SolidEllipsoid((0, 0, -20.0), (108.0, 98.0, 84.0)),
            Ball((-62.0, -10.0, 48.0), 30.0),  # central-protuberance-like bump
            # small subunit ~15 nm, flattened, offset and tilted; a cleft opens between them
            SolidEllipsoid((18.0, 0, 88.0), (76.0, 56.0, 30.0), axes=rot_y(12.0)),
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
        template_from_body(name, make(), voxel_size_ang, "cytosolic", centre_on_com=True)
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
    protofilaments = [Ball((100.0 * math.cos(a), 100.0 * math.sin(a), 0.0), 25.0) for a in angles]
    # Neighbouring spheres barely touch (48 Å apart), which would leave holes in the wall at
    # every protofilament seam: a thinner continuous wall (r 82..118 Å, overlapping the next
    # unit along z) keeps the tube closed while the spheres still show as ridges.
    wall_half = 0.5 * MICROTUBULE_RISE_ANG + 6.0
    wall = Cylinder((0.0, 0.0, -wall_half), (0.0, 0.0, wall_half), 118.0)
    lumen = Cylinder((0.0, 0.0, -60.0), (0.0, 0.0, 60.0), 82.0)
    body = Body(parts=(*protofilaments, wall), holes=(lumen,))
    return template_from_body("microtubule_unit", body, voxel_size_ang, "filament_unit", centre_on_com=False)


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
        SolidEllipsoid((14.0, 0.0, -0.5 * half_rise), (22.0, 22.0, 28.0)),
        SolidEllipsoid((-14.0, 0.0, 0.5 * half_rise), (22.0, 22.0, 28.0)),
    )
    return template_from_body("actin_unit", Body(parts=parts), voxel_size_ang, "filament_unit", centre_on_com=False)


def actin_unit(voxel_size_ang: float) -> Template:
    """Actin unit: one subunit per long-pitch strand, centres at x = ±14 Å.

    Each subunit is a blob of radius 22 Å across the filament, slightly elongated along it
    (28 Å) so consecutive units overlap instead of leaving gaps; the two subunits are staggered
    by half a rise (±13.75 Å in z) as in F-actin. Filament diameter ~7 nm. Stack copies every
    :data:`ACTIN_RISE_ANG` (55 Å), each turned by :data:`ACTIN_TWIST_DEG` about the axis.
    """
    return _actin_cached(float(voxel_size_ang))
