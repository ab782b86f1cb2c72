"""The noise-free phantom: membranes, filaments, membrane proteins and cytosolic proteins.

Structures are inserted by trial and error (as in PolNet): large, rigid ones first (membranes,
filaments), then membrane proteins, then cytosolic proteins. Every insertion is checked voxel by
voxel against what is already there, so objects never overlap. Voxel ``(i_z, i_y, i_x)`` is centred
at ``(i_x, i_y, i_z) · voxel_size_ang`` Å (origin 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from cryomem.io import FractionProgress
from cryomem.simulate._config import MembraneConfig
from cryomem.simulate._membranes import (
    BLOCK,
    Bilayer,
    Membrane,
    band_in_blocks,
    mesh_inside_volume,
    near_blocks,
    random_membrane_group,
    triangle_areas,
)
from cryomem.simulate._render import core_offsets_xyz, rotated_template_box
from cryomem.simulate._shapes import Shape
from cryomem.simulate._templates import Template

LABEL_BACKGROUND, LABEL_MEMBRANE, LABEL_MEMBRANE_PROTEIN, LABEL_CYTOSOLIC, LABEL_FILAMENT = 0, 1, 2, 3, 4
#: gold fiducials, ice contamination, carbon / lamella edges and dense granules
LABEL_HARD_NEGATIVE = 5


class SimulationError(ValueError):
    """A request the simulator cannot satisfy (the message says what to change)."""


@dataclass(frozen=True, eq=False)
class PlacedObject:
    """One inserted protein: where, how rotated, which class, on which membrane."""

    object_id: int
    class_number: int  # 1-based index into the template list of its kind
    center_xyz_ang: np.ndarray
    rotation: np.ndarray  # (3, 3) particle -> tomogram, column 2 = particle z (outward normal)
    membrane_id: int = -1


@dataclass
class Phantom:
    """Noise-free density and exact labels of one tomogram."""

    density_zyx: np.ndarray  # float32, matter > 0
    membrane_ids_zyx: np.ndarray  # uint16, 0 = no membrane
    object_ids_zyx: np.ndarray  # int32, 0 = free; ids of proteins and filaments
    voxel_size_ang: float
    membranes: list[Membrane] = field(default_factory=list)
    membrane_proteins: list[PlacedObject] = field(default_factory=list)
    cytosolic_proteins: list[PlacedObject] = field(default_factory=list)
    filaments: list[dict] = field(default_factory=list)
    hard_negatives: list[dict] = field(default_factory=list)
    object_labels: list[int] = field(default_factory=lambda: [LABEL_BACKGROUND])
    membrane_blocks: np.ndarray | None = None  # bool per BLOCK³ block: holds a membrane voxel

    def __post_init__(self) -> None:
        if self.membrane_blocks is None:
            self.membrane_blocks = np.zeros([-(-n // BLOCK) for n in self.shape_zyx], bool)

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return self.density_zyx.shape

    def semantic_labels(self) -> np.ndarray:
        """uint8 labels: 0 background, 1 membrane, 2 membrane protein, 3 cytosolic protein, 4 filament,
        5 hard negative (gold fiducial, ice contamination, carbon / lamella edge, dense granule)."""
        labels = np.asarray(self.object_labels, dtype=np.uint8)[self.object_ids_zyx]
        labels[self.membrane_ids_zyx > 0] = LABEL_MEMBRANE
        return labels

    def new_object_id(self, label: int) -> int:
        self.object_labels.append(label)
        return len(self.object_labels) - 1

    def try_insert(
        self, template: Template, rotation: np.ndarray, center_xyz_ang: np.ndarray, label: int, membrane_id: int = 0
    ) -> int:
        """Insert a rotated template if it overlaps nothing; returns its object id or 0.

        A membrane protein (``membrane_id > 0``) may overlap only its own membrane.
        """
        if self._core_is_taken(template, rotation, center_xyz_ang, membrane_id):
            return 0
        box = rotated_template_box(
            template, rotation, np.asarray(center_xyz_ang)[::-1] / self.voxel_size_ang, self.shape_zyx
        )
        if box is None:
            return 0
        slices, density, mask = box
        if not mask.any():
            return 0
        owners = self.object_ids_zyx[slices]
        if owners[mask].any():
            return 0
        membranes = self.membrane_ids_zyx[slices][mask]
        if np.any((membranes != 0) & (membranes != membrane_id)):
            return 0
        object_id = self.new_object_id(label)
        owners[mask] = object_id
        target = self.density_zyx[slices]
        np.maximum(target, density, out=target)
        return object_id

    def _core_is_taken(
        self, template: Template, rotation: np.ndarray, center_xyz_ang: np.ndarray, membrane_id: int
    ) -> bool:
        """Exact early rejection (no resampling): a voxel under the template's core is already taken."""
        core = core_offsets_xyz(template)
        if len(core) == 0:
            return False
        centre_zyx = np.asarray(center_xyz_ang, float)[::-1] / self.voxel_size_ang
        points = np.rint(centre_zyx + (core @ np.asarray(rotation, float).T)[:, ::-1]).astype(np.int64)
        points = points[np.all((points >= 0) & (points < np.array(self.shape_zyx)), axis=1)]
        if len(points) == 0:
            return False
        index = tuple(points.T)
        membranes = self.membrane_ids_zyx[index]
        return bool(self.object_ids_zyx[index].any() or np.any((membranes != 0) & (membranes != membrane_id)))


def empty_phantom(shape_zyx: tuple[int, int, int], voxel_size_ang: float) -> Phantom:
    return Phantom(
        density_zyx=np.zeros(shape_zyx, np.float32),
        membrane_ids_zyx=np.zeros(shape_zyx, np.uint16),
        object_ids_zyx=np.zeros(shape_zyx, np.int32),
        voxel_size_ang=voxel_size_ang,
    )


def insert_membranes(
    phantom: Phantom, config: MembraneConfig, rng: np.random.Generator, progress: FractionProgress | None = None
) -> None:
    """Add random membranes until the target occupancy (fraction of voxels labelled membrane) is reached."""
    kinds = [k for k, w in config.kinds.items() if w > 0]
    if config.occupancy <= 0 or config.max_count == 0 or not kinds:
        return
    weights = np.array([config.kinds[k] for k in kinds], float)
    shape, s = phantom.shape_zyx, phantom.voxel_size_ang
    extent = np.array(shape[::-1], float) * s
    n_voxels = float(np.prod(shape))
    labelled, failures = 0, 0
    while labelled / n_voxels < config.occupancy and len(phantom.membranes) < config.max_count:
        if failures >= config.max_failures:
            raise SimulationError(
                f"membrane occupancy {config.occupancy:g} could not be reached (got {labelled / n_voxels:.4f} "
                f"with {len(phantom.membranes)} membranes after {failures} failed insertions); lower the membrane "
                "occupancy, use smaller membrane radii or enlarge the volume"
            )
        kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
        added = add_membrane_group(phantom, random_membrane_group(kind, config, extent, rng), kind, config)
        failures = 0 if added else failures + 1
        labelled += added
        if progress:
            progress("membranes", min(1.0, labelled / n_voxels / config.occupancy))


def add_membrane_group(phantom: Phantom, group: list[tuple[Shape, Bilayer]], kind: str, config: MembraneConfig) -> int:
    """Insert membranes that go together (one, a stack, a double membrane) if they all fit.

    Each must keep ``config.min_gap_nm`` from every existing membrane and have at least a 15 nm
    disc of area inside the volume. Returns the number of voxels labelled (0 if rejected).
    """
    shape_zyx, s = phantom.shape_zyx, phantom.voxel_size_ang
    min_area_ang2 = np.pi * 150.0**2
    candidates = []
    for surface, bilayer in group:
        band = bilayer.half_label_ang + config.min_gap_nm * 10.0
        corners = near_blocks(surface, band, shape_zyx, s)
        busy = phantom.membrane_blocks[tuple((corners // BLOCK).T)]
        if _touches_membrane(phantom, surface, band, corners[busy]):
            return 0
        vertices, faces = mesh_inside_volume(surface, shape_zyx, s)
        if len(faces) == 0 or triangle_areas(vertices, faces).sum() < min_area_ang2:
            return 0
        flat, dist = band_in_blocks(surface, band, corners, shape_zyx, s)
        candidates.append((surface, bilayer, flat, dist, vertices, faces))
    group_id = 1 + max((m.group_id for m in phantom.membranes), default=0)
    labelled = 0
    for surface, bilayer, flat, dist, vertices, faces in candidates:
        membrane_id = len(phantom.membranes) + 1
        inside = bilayer.in_label(dist)
        phantom.membrane_ids_zyx.flat[flat[inside]] = membrane_id
        blocks = np.array(np.unravel_index(flat[inside], shape_zyx)) // BLOCK
        phantom.membrane_blocks[tuple(blocks)] = True
        labelled += int(inside.sum())
        profile = config.density * bilayer.density_factor * bilayer.profile(dist)
        phantom.density_zyx.flat[flat] = np.maximum(phantom.density_zyx.flat[flat], profile)
        phantom.membranes.append(Membrane(membrane_id, kind, group_id, surface, bilayer, vertices, faces))
    return labelled


def _touches_membrane(phantom: Phantom, surface: Shape, band_ang: float, busy_corners: np.ndarray) -> bool:
    """Whether the band reaches an existing membrane voxel; looks in small batches, stops at the first."""
    for chunk in np.array_split(busy_corners, max(1, len(busy_corners) // 256)):
        flat, _ = band_in_blocks(surface, band_ang, chunk, phantom.shape_zyx, phantom.voxel_size_ang)
        if phantom.membrane_ids_zyx.flat[flat].any():
            return True
    return False


def check_reached(what: str, achieved: float, target: float, advice: str) -> None:
    """Raise when less than half of a requested occupancy could be placed."""
    if target > 0 and achieved < 0.5 * target:
        raise SimulationError(
            f"{what} target {target:g} cannot fit (placed {achieved:.4g} before insertions kept failing); {advice}"
        )


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) rotations uniform on SO(3)."""
    return Rotation.random(n, random_state=rng).as_matrix().reshape(n, 3, 3)
