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
from cryomem.simulate._filament_network import insert_actin_networks
from cryomem.simulate._filament_placement import draw_in_range, draw_variant, insert_longest_run, random_crossing
from cryomem.simulate._filaments import _PERSISTENCE, ACTIN_PERSISTENCE_ANG, filament_units
from cryomem.simulate._phantom import Phantom
from cryomem.simulate._solids import rot_z
from cryomem.simulate._templates import Template

__all__ = ["hexagonal_offsets_xy", "insert_filaments"]


def insert_filaments(
    phantom: Phantom,
    units: dict[str, Template],
    config: CytosolConfig,
    rng: np.random.Generator,
    min_length_ang: float = 500.0,
    max_tries: int = 50,
) -> None:
    """Insert microtubules, actin filaments, intermediate rods, bundles and branched networks."""
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
    spacing = max(draw_in_range(rng, config.bundle_spacing_nm) * 10.0, extra["diameter_nm"] * 10.0 + 10.0)
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
