"""Structural units of filament variants: microtubules of 11-16 protofilaments, actin of any
diameter, and smooth intermediate-filament-like rods.

The standard units (13-protofilament microtubule, 7 nm actin) are the catalog's own templates, so
default simulations are unchanged; variants are rasterised from the same smooth solids, scaled.

Frames. Anchor on the filament axis, ``+z`` along the filament; physical vectors ``(x, y, z)`` Å.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from cryomem.simulate._catalog import ACTIN_RISE_ANG, MICROTUBULE_RISE_ANG, actin_unit, microtubule_unit
from cryomem.simulate._solids import Ball, Body, Cylinder, SolidEllipsoid
from cryomem.simulate._template_base import Template, template_from_body

__all__ = [
    "ACTIN_DIAMETER_ANG",
    "INTERMEDIATE_DIAMETER_ANG",
    "INTERMEDIATE_RISE_ANG",
    "MICROTUBULE_PROTOFILAMENTS",
    "actin_unit_variant",
    "intermediate_unit",
    "microtubule_diameter_ang",
    "microtubule_unit_variant",
]

#: Protofilaments of the catalog's microtubule (diameter 25 nm).
MICROTUBULE_PROTOFILAMENTS = 13
_MT_PROTOFILAMENT_RADIUS_ANG = 100.0  # radius of the protofilament circle at 13 protofilaments
_MT_SUBUNIT_RADIUS_ANG = 25.0
_MT_WALL_HALF_ANG = 18.0  # the continuous wall spans the protofilament radius ± this
#: Pitch of one protofilament around the circumference (Å): constant, so the diameter grows with n.
_MT_PROTOFILAMENT_PITCH_ANG = 2.0 * math.pi * _MT_PROTOFILAMENT_RADIUS_ANG / MICROTUBULE_PROTOFILAMENTS
#: Nominal diameter (Å) of the catalog's actin unit (two 22 Å blobs 14 Å off axis: ~7 nm).
ACTIN_DIAMETER_ANG = 70.0
#: Default diameter (Å) and rise (Å) of intermediate-filament-like rods.
INTERMEDIATE_DIAMETER_ANG = 100.0
INTERMEDIATE_RISE_ANG = 45.0


def microtubule_protofilament_radius_ang(protofilaments: int) -> float:
    """Radius (Å) of the circle of protofilament centres: constant pitch around the wall."""
    return protofilaments * _MT_PROTOFILAMENT_PITCH_ANG / (2.0 * math.pi)


def microtubule_diameter_ang(protofilaments: int) -> float:
    """Outer diameter (Å): 219 Å at 11, 250 Å at 13, 296 Å at 16 protofilaments."""
    return 2.0 * (microtubule_protofilament_radius_ang(protofilaments) + _MT_SUBUNIT_RADIUS_ANG)


def _check_voxel(voxel_size_ang: float) -> float:
    if not (isinstance(voxel_size_ang, (int, float)) and 1.0 <= voxel_size_ang <= 100.0):
        raise ValueError(f"voxel_size_ang must be a number in [1, 100] Å, got {voxel_size_ang!r}")
    return float(voxel_size_ang)


@functools.lru_cache(maxsize=32)
def _microtubule_variant(voxel_size_ang: float, protofilaments: int) -> Template:
    radius = microtubule_protofilament_radius_ang(protofilaments)
    angles = 2.0 * np.pi * np.arange(protofilaments) / protofilaments
    subunits = [Ball((radius * math.cos(a), radius * math.sin(a), 0.0), _MT_SUBUNIT_RADIUS_ANG) for a in angles]
    wall_half = 0.5 * MICROTUBULE_RISE_ANG + 6.0
    wall = Cylinder((0.0, 0.0, -wall_half), (0.0, 0.0, wall_half), radius + _MT_WALL_HALF_ANG)
    lumen = Cylinder((0.0, 0.0, -60.0), (0.0, 0.0, 60.0), radius - _MT_WALL_HALF_ANG)
    body = Body(parts=(*subunits, wall), holes=(lumen,))
    name = f"microtubule_{protofilaments}pf_unit"
    return template_from_body(name, body, voxel_size_ang, "filament_unit", centre_on_com=False)


def microtubule_unit_variant(voxel_size_ang: float, protofilaments: int = MICROTUBULE_PROTOFILAMENTS) -> Template:
    """Microtubule ring of ``protofilaments`` subunits (r = 25 Å) at a constant 48 Å pitch.

    13 protofilaments give the catalog's `microtubule_unit` itself; 11-16 give outer diameters
    of 22-30 nm (`microtubule_diameter_ang`). Stack copies every 40 Å along z, without twist.
    """
    if int(protofilaments) != protofilaments or not 8 <= protofilaments <= 20:
        raise ValueError(f"protofilaments must be an integer in [8, 20], got {protofilaments!r}")
    if protofilaments == MICROTUBULE_PROTOFILAMENTS:
        return microtubule_unit(voxel_size_ang)
    return _microtubule_variant(_check_voxel(voxel_size_ang), int(protofilaments))


@functools.lru_cache(maxsize=64)
def _actin_variant(voxel_size_ang: float, diameter_ang: float) -> Template:
    scale = diameter_ang / ACTIN_DIAMETER_ANG
    half_rise = 0.5 * ACTIN_RISE_ANG
    offset, radius = 14.0 * scale, 22.0 * scale
    parts = (
        SolidEllipsoid((offset, 0.0, -0.5 * half_rise), (radius, radius, 28.0)),
        SolidEllipsoid((-offset, 0.0, 0.5 * half_rise), (radius, radius, 28.0)),
    )
    name = f"actin_{diameter_ang / 10.0:.1f}nm_unit"
    return template_from_body(name, Body(parts=parts), voxel_size_ang, "filament_unit", centre_on_com=False)


def actin_unit_variant(voxel_size_ang: float, diameter_ang: float = ACTIN_DIAMETER_ANG) -> Template:
    """Actin unit scaled across the axis to ``diameter_ang`` (rounded to 1 Å); 70 Å is `actin_unit`."""
    if not 30.0 <= diameter_ang <= 150.0:
        raise ValueError(f"diameter_ang must be in [30, 150] Å, got {diameter_ang!r}")
    diameter = float(round(diameter_ang))
    if diameter == ACTIN_DIAMETER_ANG:
        return actin_unit(voxel_size_ang)
    return _actin_variant(_check_voxel(voxel_size_ang), diameter)


@functools.lru_cache(maxsize=64)
def _intermediate(voxel_size_ang: float, diameter_ang: float) -> Template:
    half = 0.5 * INTERMEDIATE_RISE_ANG + 8.0  # consecutive units overlap: a seamless rod
    rod = Cylinder((0.0, 0.0, -half), (0.0, 0.0, half), 0.5 * diameter_ang)
    name = f"intermediate_{diameter_ang / 10.0:.1f}nm_unit"
    return template_from_body(name, Body(parts=(rod,)), voxel_size_ang, "filament_unit", centre_on_com=False)


def intermediate_unit(voxel_size_ang: float, diameter_ang: float = INTERMEDIATE_DIAMETER_ANG) -> Template:
    """Intermediate-filament-like unit: a plain solid rod section, so the filament is smooth.

    Stack copies every :data:`INTERMEDIATE_RISE_ANG` (45 Å) along z; no subunit texture, unlike
    actin and microtubules.
    """
    if not 40.0 <= diameter_ang <= 200.0:
        raise ValueError(f"diameter_ang must be in [40, 200] Å, got {diameter_ang!r}")
    return _intermediate(_check_voxel(voxel_size_ang), float(round(diameter_ang)))
