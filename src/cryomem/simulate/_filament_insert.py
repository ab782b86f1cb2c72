"""Insertion of filaments into a phantom: single filaments, intermediate rods and parallel bundles.

Each filament follows a worm-like chain (`filament_units`) through a random point of the volume;
the longest run of consecutive units that stays inside the volume and touches nothing is kept
(PolNet's trial and error). Variants (protofilament number, diameter) are drawn per filament from
`CytosolConfig`; a range whose two ends are equal draws no randomness, so the default settings
reproduce older seeds exactly. Branched networks live in :mod:`._filament_network`.
"""

from __future__ import annotations

import numpy as np

from cryomem.simulate._config import CytosolConfig
from cryomem.simulate._filament_units import microtubule_diameter_ang
from cryomem.simulate._filaments import _PERSISTENCE, ACTIN_PERSISTENCE_ANG, filament_unit_template, filament_units
from cryomem.simulate._phantom import LABEL_FILAMENT, Phantom
from cryomem.simulate._render import rotated_template_box
from cryomem.simulate._solids import rot_z
from cryomem.simulate._templates import Template

__all__ = ["Boxes", "draw_variant", "insert_filaments", "unit_boxes", "write_units"]

Boxes = list  # per unit: (slices, density, mask) or None


def _draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
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
    diameter_ang = round(_draw(rng, bounds) * 10.0)
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


def insert_filaments(
    phantom: Phantom,
    units: dict[str, Template],
    config: CytosolConfig,
    rng: np.random.Generator,
    min_length_ang: float = 500.0,
    max_tries: int = 50,
) -> None:
    """Insert microtubules, actin filaments, intermediate rods, bundles and branched networks."""
    from cryomem.simulate._filament_network import insert_actin_networks

    extent = np.array(phantom.shape_zyx[::-1], float) * phantom.voxel_size_ang
    length = float(np.linalg.norm(extent))
    kinds = (
        ("microtubule", config.microtubules),
        ("actin", config.actin_filaments),
        ("intermediate", config.intermediate_filaments),
    )
    for kind, count in kinds:
        for _ in range(count):
            template, extra = draw_variant(kind, config, units, phantom.voxel_size_ang, rng)
            extra["persistence_length_nm"] = _PERSISTENCE[kind] / 10.0
            for _ in range(max_tries):
                start, direction = random_crossing(extent, length, rng)
                centers, rotations = filament_units(kind, start, direction, length, rng=rng)
                if insert_longest_run(phantom, template, kind, centers, rotations, min_length_ang, extra):
                    break
    for bundle_id in range(1, config.filament_bundles + 1):
        _insert_bundle(phantom, units, config, rng, bundle_id, length, min_length_ang, max_tries)
    insert_actin_networks(phantom, units, config, rng, min_length_ang=min_length_ang, max_tries=max_tries)


def hexagonal_offsets_xy(n: int, spacing_ang: float) -> np.ndarray:
    """(n, 2) positions of a hexagonally packed bundle cross-section, nearest to the axis first."""
    ij = np.array([(i, j) for i in range(-3, 4) for j in range(-3, 4)], float)
    xy = np.column_stack((ij[:, 0] + 0.5 * ij[:, 1], ij[:, 1] * np.sqrt(3.0) / 2.0)) * spacing_ang
    order = np.lexsort((np.arctan2(xy[:, 1], xy[:, 0]), np.round(np.hypot(xy[:, 0], xy[:, 1]), 6)))
    return xy[order[:n]]


def _insert_bundle(
    phantom: Phantom,
    units: dict[str, Template],
    config: CytosolConfig,
    rng: np.random.Generator,
    bundle_id: int,
    length_ang: float,
    min_length_ang: float,
    max_tries: int,
) -> None:
    """Parallel actin filaments around one stiff centre-line; members are kept independently."""
    extent = np.array(phantom.shape_zyx[::-1], float) * phantom.voxel_size_ang
    template, extra = draw_variant("actin", config, units, phantom.voxel_size_ang, rng)
    lo, hi = config.bundle_size
    n = int(rng.integers(lo, hi + 1))
    spacing = max(_draw(rng, config.bundle_spacing_nm) * 10.0, extra["diameter_nm"] * 10.0 + 10.0)
    offsets = hexagonal_offsets_xy(n, spacing)
    extra = {**extra, "bundle_id": bundle_id, "bundle_spacing_nm": round(spacing / 10.0, 2)}
    extra["persistence_length_nm"] = ACTIN_PERSISTENCE_ANG * n / 10.0  # cross-linked: stiffer
    for _ in range(max_tries):
        start, direction = random_crossing(extent, length_ang, rng)
        axis, frames = filament_units(
            "actin", start, direction, length_ang, persistence_length_ang=ACTIN_PERSISTENCE_ANG * n, rng=rng
        )
        placed = 0
        for offset in offsets:
            lateral = frames[:, :, 0] * offset[0] + frames[:, :, 1] * offset[1]
            roll = rot_z(float(rng.uniform(0.0, 360.0)))
            placed += insert_longest_run(
                phantom, template, "actin", axis + lateral, frames @ roll, min_length_ang, extra
            )
        if placed:
            return
