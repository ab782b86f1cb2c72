"""Placing one filament's units in a phantom: variant draws, unit boxes, free runs, writing.

The shared steps of :mod:`._filament_insert` (single filaments and bundles) and
:mod:`._filament_network` (branched networks): a filament's units are cut into boxes, the longest
run of consecutive units that stays inside the volume and touches nothing is kept (PolNet's trial
and error) and written with the filament label.
"""

from __future__ import annotations

import numpy as np

from cryomem.simulate._config import CytosolConfig
from cryomem.simulate._filament_units import microtubule_diameter_ang
from cryomem.simulate._filaments import filament_unit_template
from cryomem.simulate._phantom import LABEL_FILAMENT, Phantom
from cryomem.simulate._render import rotated_template_box
from cryomem.simulate._templates import Template

__all__ = [
    "Boxes",
    "draw_in_range",
    "draw_variant",
    "free_units",
    "insert_longest_run",
    "longest_run",
    "random_crossing",
    "unit_boxes",
    "write_units",
]

Boxes = list  # per unit: (slices, density, mask) or None


def draw_in_range(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Uniform draw that consumes no randomness when both ends are equal."""
    return float(bounds[0]) if bounds[0] == bounds[1] else float(rng.uniform(bounds[0], bounds[1]))


def draw_variant(
    kind: str, config: CytosolConfig, units: dict[str, Template], voxel_size_ang: float, rng: np.random.Generator
) -> tuple[Template, dict]:
    """Draw one filament's unit template and the parameters to record with it."""
    if kind == "microtubule":
        lo, hi = config.microtubule_protofilaments
        n = lo if lo == hi else int(rng.integers(lo, hi + 1))
        template = units.get(kind) if n == 13 and kind in units else None
        template = template or filament_unit_template(kind, voxel_size_ang, protofilaments=n)
        return template, {"protofilaments": n, "diameter_nm": round(microtubule_diameter_ang(n) / 10.0, 2)}
    bounds = config.actin_diameter_nm if kind == "actin" else config.intermediate_diameter_nm
    diameter_ang = round(draw_in_range(rng, bounds) * 10.0)
    template = units[kind] if kind == "actin" and diameter_ang == 70 and kind in units else None
    template = template or filament_unit_template(kind, voxel_size_ang, diameter_ang=diameter_ang)
    return template, {"diameter_nm": diameter_ang / 10.0}


def unit_boxes(phantom: Phantom, template: Template, centers: np.ndarray, rotations: np.ndarray) -> Boxes:
    return [
        rotated_template_box(template, r, c[::-1] / phantom.voxel_size_ang, phantom.shape_zyx)
        for c, r in zip(centers, rotations)
    ]


def free_units(phantom: Phantom, boxes: Boxes, allowed_ids: np.ndarray | None = None) -> np.ndarray:
    """Per unit: inside the volume and touching no membrane and no object except ``allowed_ids``."""
    free = np.zeros(len(boxes), bool)
    for i, box in enumerate(boxes):
        if box is not None and box[2].any():
            slices, _, mask = box
            owners = phantom.object_ids_zyx[slices][mask]
            if allowed_ids is not None:
                owners = owners[~np.isin(owners, allowed_ids)]
            free[i] = not (owners.any() or phantom.membrane_ids_zyx[slices][mask].any())
    return free


def longest_run(free: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True."""
    best_start, best_len, run_start = 0, 0, None
    for i, ok in enumerate(np.append(free, False)):
        if ok and run_start is None:
            run_start = i
        elif not ok and run_start is not None:
            if i - run_start > best_len:
                best_start, best_len = run_start, i - run_start
            run_start = None
    return best_start, best_len


def write_units(
    phantom: Phantom, boxes: Boxes, start: int, length: int, kind: str, centers: np.ndarray, extra: dict
) -> int:
    """Render units ``start .. start+length-1`` as one new filament; voxels already owned keep their owner."""
    object_id = phantom.new_object_id(LABEL_FILAMENT)
    for i in range(start, start + length):
        slices, density, mask = boxes[i]
        owners = phantom.object_ids_zyx[slices]
        owners[mask & (owners == 0)] = object_id
        target = phantom.density_zyx[slices]
        np.maximum(target, density, out=target)
    step = float(np.linalg.norm(centers[1] - centers[0])) if len(centers) > 1 else 0.0
    phantom.filaments.append(
        {
            "object_id": object_id,
            "kind": kind,
            "units": length,
            "length_nm": round(length * step / 10.0, 2),
            "start_xyz_ang": centers[start].round(2).tolist(),
            "end_xyz_ang": centers[start + length - 1].round(2).tolist(),
            **extra,
        }
    )
    return object_id


def insert_longest_run(
    phantom: Phantom,
    template: Template,
    kind: str,
    centers: np.ndarray,
    rotations: np.ndarray,
    min_length_ang: float,
    extra: dict | None = None,
) -> bool:
    boxes = unit_boxes(phantom, template, centers, rotations)
    start, length = longest_run(free_units(phantom, boxes))
    step = float(np.linalg.norm(centers[1] - centers[0])) if len(centers) > 1 else 0.0
    if length * step < min_length_ang:
        return False
    write_units(phantom, boxes, start, length, kind, centers, extra or {})
    return True


def random_crossing(
    extent_xyz_ang: np.ndarray, length_ang: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Start and direction of a line of ``length_ang`` centred on a random point of the volume."""
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    return rng.uniform(0.0, 1.0, 3) * extent_xyz_ang - 0.5 * length_ang * direction, direction
