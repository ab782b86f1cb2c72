"""Insertion of membrane proteins, cytosolic proteins and filaments into a phantom.

Random positions or self-avoiding worm-like chain (SAWLC) clusters, as in PolNet: each protein of a
cluster is placed at a random point at a fixed-ish distance from the previous one, on the membrane
mid-surface for membrane proteins, in the cytosol for soluble ones.
"""

from __future__ import annotations

import numpy as np

from cryomem.io import FractionProgress, euler_zyz_deg_to_matrix, normals_to_euler_zyz_deg
from cryomem.simulate._config import CytosolConfig, MembraneProteinConfig
from cryomem.simulate._filament_insert import insert_filaments
from cryomem.simulate._membranes import ANG2_PER_UM2, Membrane, triangle_areas
from cryomem.simulate._phantom import (
    LABEL_CYTOSOLIC,
    LABEL_MEMBRANE_PROTEIN,
    Phantom,
    PlacedObject,
    check_reached,
    random_rotations,
)
from cryomem.simulate._templates import Template


def _membrane_pose(
    membrane: Membrane, cdf: np.ndarray, rng: np.random.Generator, near: tuple[np.ndarray, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A random point on the mid-surface (uniform by area, or at ``near=(point, distance)``) and its normal."""
    if near is None:
        face = membrane.faces[min(int(np.searchsorted(cdf, rng.random())), len(cdf) - 1)]
        u, v = rng.random(2)
        if u + v > 1.0:
            u, v = 1.0 - u, 1.0 - v
        tri = membrane.vertices_xyz_ang[face]
        guess = tri[0] + u * (tri[1] - tri[0]) + v * (tri[2] - tri[0])
    else:
        previous, distance = near
        _, normal = membrane.shape.project(previous[None])
        tangent = rng.normal(size=3)
        tangent -= (tangent @ normal[0]) * normal[0]
        guess = previous + distance * tangent / np.linalg.norm(tangent)
    point, normal = membrane.shape.project(guess[None])
    return point[0], normal[0]


def _inside(point_xyz_ang: np.ndarray, phantom: Phantom) -> bool:
    hi = (np.array(phantom.shape_zyx[::-1]) - 1) * phantom.voxel_size_ang
    return bool(np.all(point_xyz_ang >= 0) and np.all(point_xyz_ang <= hi))


def _cluster_probability(fraction: float, sizes: tuple[int, int]) -> float:
    """Probability that an insertion starts a cluster so that ``fraction`` of proteins end up clustered."""
    mean_size = 0.5 * (sizes[0] + sizes[1])
    return fraction / (fraction + (1.0 - fraction) * mean_size) if fraction > 0 else 0.0


def insert_membrane_proteins(
    phantom: Phantom,
    templates: list[Template],
    config: MembraneProteinConfig,
    rng: np.random.Generator,
    progress: FractionProgress | None = None,
) -> None:
    """Place proteins on every membrane up to the target area occupancy (or concentration)."""
    if not templates or not phantom.membranes:
        return
    if config.concentration_per_um2 is None and config.occupancy <= 0:
        return
    footprints = np.array([np.pi * t.inplane_radius_ang**2 for t in templates])
    p_cluster = _cluster_probability(config.clustered_fraction, config.cluster_size)
    achieved, wanted = [], []
    for index, membrane in enumerate(phantom.membranes):
        areas = triangle_areas(membrane.vertices_xyz_ang, membrane.faces)
        area = float(areas.sum())
        cdf = np.cumsum(areas) / area
        if config.concentration_per_um2 is not None:
            target, per_protein = float(round(config.concentration_per_um2 * area / ANG2_PER_UM2)), None
        else:
            target, per_protein = config.occupancy * area, footprints
        placed, failures = 0.0, 0
        while placed < target and failures < config.max_failures:
            chain = (
                int(rng.integers(config.cluster_size[0], config.cluster_size[1] + 1)) if rng.random() < p_cluster else 1
            )
            previous: PlacedObject | None = None
            for _ in range(chain):
                if placed >= target:
                    break
                k = int(rng.integers(len(templates)))
                new = _try_membrane_protein(phantom, membrane, cdf, templates, k, previous, rng)
                if new is None:
                    failures += 1
                    if previous is None:
                        break
                    continue
                failures = 0
                placed += 1.0 if per_protein is None else per_protein[k]
                previous = new
        achieved.append(placed / area)
        wanted.append(target / area)
        if progress:
            progress("membrane proteins", (index + 1) / len(phantom.membranes))
    total_area = sum(m.area_ang2 for m in phantom.membranes)
    mean_achieved = sum(a * m.area_ang2 for a, m in zip(achieved, phantom.membranes)) / total_area
    mean_wanted = sum(w * m.area_ang2 for w, m in zip(wanted, phantom.membranes)) / total_area
    unit = "proteins per µm²" if config.concentration_per_um2 is not None else "area occupancy"
    scale = ANG2_PER_UM2 if config.concentration_per_um2 is not None else 1.0
    check_reached(
        f"membrane protein {unit}",
        mean_achieved * scale,
        mean_wanted * scale,
        "lower the membrane-protein occupancy/concentration or use smaller templates",
    )


def _try_membrane_protein(
    phantom: Phantom,
    membrane: Membrane,
    cdf: np.ndarray,
    templates: list[Template],
    k: int,
    previous: PlacedObject | None,
    rng: np.random.Generator,
) -> PlacedObject | None:
    template = templates[k]
    near = None
    if previous is not None:
        prev_template = templates[previous.class_number - 1]
        step = (prev_template.inplane_radius_ang + template.inplane_radius_ang) * rng.uniform(0.8, 1.1)
        near = (previous.center_xyz_ang, step)
    point, normal = _membrane_pose(membrane, cdf, rng, near)
    if not _inside(point, phantom):
        return None
    angles = normals_to_euler_zyz_deg(normal[None], rng.uniform(0.0, 360.0, 1))
    rotation = euler_zyz_deg_to_matrix(angles)[0]
    object_id = phantom.try_insert(template, rotation, point, LABEL_MEMBRANE_PROTEIN, membrane.membrane_id)
    if not object_id:
        return None
    placed = PlacedObject(object_id, k + 1, point, rotation, membrane.membrane_id)
    phantom.membrane_proteins.append(placed)
    return placed


def insert_cytosolic_proteins(
    phantom: Phantom,
    templates: list[Template],
    config: CytosolConfig,
    rng: np.random.Generator,
    progress: FractionProgress | None = None,
) -> None:
    """Fill the cytosol up to the target volume occupancy.

    Ribosome-like classes come in polysome-like SAWLC clusters; other classes form same-class
    clusters for a ``config.cluster_fraction`` of their copies (no random draw when it is 0).
    """
    if not templates or config.occupancy <= 0:
        return
    n_voxels = float(np.prod(phantom.shape_zyx))
    volumes = np.array([(t.density_zyx > t.threshold).sum() for t in templates], float)
    clustered = np.array(["ribosome" in t.name for t in templates])
    extent = np.array(phantom.shape_zyx[::-1], float) * phantom.voxel_size_ang
    p_cluster = _cluster_probability(config.cluster_fraction, config.cluster_size)
    occupied, failures = 0.0, 0
    while occupied / n_voxels < config.occupancy and failures < config.max_failures:
        k = int(rng.integers(len(templates)))
        if clustered[k]:
            chain = int(rng.integers(config.ribosome_cluster_size[0], config.ribosome_cluster_size[1] + 1))
        elif p_cluster > 0 and rng.random() < p_cluster:
            chain = int(rng.integers(config.cluster_size[0], config.cluster_size[1] + 1))
        else:
            chain = 1
        previous = None
        for _ in range(chain):
            placed = _try_cytosolic(phantom, templates[k], previous, extent, rng)
            if placed is None:
                break
            phantom.cytosolic_proteins.append(PlacedObject(placed[0], k + 1, placed[1], placed[2]))
            occupied += volumes[k]
            previous = placed[1]
        placed_any = previous is not None
        failures = 0 if placed_any else failures + 1
        if progress:
            progress("cytosolic proteins", min(1.0, occupied / n_voxels / config.occupancy))
    check_reached(
        "cytosolic protein occupancy",
        occupied / n_voxels,
        config.occupancy,
        "lower the cytosolic occupancy or the membrane occupancy",
    )


def _try_cytosolic(
    phantom: Phantom,
    template: Template,
    previous: np.ndarray | None,
    extent_xyz_ang: np.ndarray,
    rng: np.random.Generator,
) -> tuple[int, np.ndarray, np.ndarray] | None:
    """Place one cytosolic protein anywhere, or (SAWLC) about one diameter from ``previous``.

    Returns (object id, centre xyz Å, rotation) or None when it did not fit.
    """
    for _ in range(1 if previous is None else 8):
        if previous is None:
            candidate = rng.uniform(0.0, 1.0, 3) * extent_xyz_ang
        else:
            direction = rng.normal(size=3)
            step = 2 * template.radius_ang * rng.uniform(0.75, 0.95)
            candidate = previous + step * direction / np.linalg.norm(direction)
        rotation = random_rotations(1, rng)[0]
        object_id = phantom.try_insert(template, rotation, candidate, LABEL_CYTOSOLIC)
        if object_id:
            return object_id, candidate, rotation
    return None


__all__ = ["insert_cytosolic_proteins", "insert_filaments", "insert_membrane_proteins"]
