"""Branched actin networks (PolNet's model, Arp2/3-like geometry).

A network starts with a mother filament crossing the volume. Each further filament branches
from a random unit of a filament already in the network: its initial tangent makes the branch
angle (~70°, drawn from ``CytosolConfig.branch_angle_deg``) with the mother's local tangent,
pointing forward (towards the mother's growing end), at a random azimuth around it. A daughter
starts on the mother's axis and grows as a worm-like chain; it may overlap only its mother, and
only where it leaves the mother's body, and it is cut at the first unit that leaves the volume
or touches anything else.
"""

from __future__ import annotations

import math

import numpy as np

from cryomem.simulate._config import CytosolConfig
from cryomem.simulate._filament_placement import (
    draw_in_range,
    draw_variant,
    free_units,
    longest_run,
    random_crossing,
    unit_boxes,
    write_units,
)
from cryomem.simulate._filaments import filament_rise_ang, filament_units
from cryomem.simulate._phantom import Phantom
from cryomem.simulate._templates import Template

__all__ = ["branch_direction", "insert_actin_networks"]


def branch_direction(tangent_xyz: np.ndarray, angle_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vector at ``angle_deg`` from ``tangent_xyz``, at a uniformly random azimuth around it."""
    t = np.asarray(tangent_xyz, float) / np.linalg.norm(tangent_xyz)
    while True:
        v = rng.normal(size=3)
        v -= (v @ t) * t
        norm = float(np.linalg.norm(v))
        if norm > 1e-6:
            break
    a = math.radians(angle_deg)
    return math.cos(a) * t + math.sin(a) * v / norm


def insert_actin_networks(
    phantom: Phantom,
    units: dict[str, Template],
    config: CytosolConfig,
    rng: np.random.Generator,
    *,
    min_length_ang: float = 500.0,
    max_tries: int = 50,
) -> None:
    """Insert ``config.actin_networks`` branched networks; each filament is recorded with its network."""
    extent = np.array(phantom.shape_zyx[::-1], float) * phantom.voxel_size_ang
    length = float(np.linalg.norm(extent))
    for network_id in range(1, config.actin_networks + 1):
        template, extra = draw_variant("actin", config, units, phantom.voxel_size_ang, rng)
        extra = {**extra, "network_id": network_id}
        mother = None
        for _ in range(max_tries):
            start, direction = random_crossing(extent, length, rng)
            centers, rotations = filament_units("actin", start, direction, length, rng=rng)
            boxes = unit_boxes(phantom, template, centers, rotations)
            first, n = longest_run(free_units(phantom, boxes))
            if n * filament_rise_ang("actin") >= min_length_ang:
                oid = write_units(phantom, boxes, first, n, "actin", centers, {**extra, "parent_object_id": 0})
                mother = (oid, centers[first : first + n], rotations[first : first + n])
                break
        if mother is None:
            continue
        lo, hi = config.network_branches
        _grow_branches(phantom, template, config, rng, extra, [mother], int(rng.integers(lo, hi + 1)), max_tries)


def _grow_branches(
    phantom: Phantom,
    template: Template,
    config: CytosolConfig,
    rng: np.random.Generator,
    extra: dict,
    members: list[tuple[int, np.ndarray, np.ndarray]],
    n_branches: int,
    max_tries: int,
) -> None:
    rise = filament_rise_ang("actin")
    radius = template.inplane_radius_ang
    for _ in range(n_branches):
        for _ in range(max_tries):
            parent_id, p_centers, p_rotations = members[int(rng.integers(len(members)))]
            i = int(rng.integers(len(p_centers)))
            angle = draw_in_range(rng, config.branch_angle_deg)
            tangent = p_rotations[i][:, 2]
            direction = branch_direction(tangent, angle, rng)
            length = draw_in_range(rng, config.branch_length_nm) * 10.0
            centers, rotations = filament_units("actin", p_centers[i], direction, length, rng=rng)
            boxes = unit_boxes(phantom, template, centers, rotations)
            # units still inside the mother's body may overlap it; beyond, nothing may be touched
            leaving = int(np.ceil((2.0 * radius + phantom.voxel_size_ang) / max(np.sin(np.radians(angle)), 0.2) / rise))
            free = free_units(phantom, boxes)
            free[:leaving] = free_units(phantom, boxes[:leaving], np.array([parent_id]))
            n = len(free) if free.all() else int(np.argmin(free))
            if n <= leaving or n * rise < min(length, 300.0):
                continue
            record = {
                **extra,
                "parent_object_id": parent_id,
                "branch_angle_deg": round(float(np.degrees(np.arccos(np.clip(tangent @ direction, -1, 1)))), 3),
                "branch_point_xyz_ang": p_centers[i].round(2).tolist(),
                "parent_tangent_xyz": tangent.round(6).tolist(),
                "start_tangent_xyz": rotations[0][:, 2].round(6).tolist(),
            }
            oid = write_units(phantom, boxes, 0, n, "actin", centers, record)
            members.append((oid, centers[:n], rotations[:n]))
            break
