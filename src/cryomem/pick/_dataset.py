"""From membrane files to network inputs: feature windows, geodesic patches with operators, targets.

Membranes are split into overlapping geodesic patches (about 2,000 vertices; MemBrain v2, Methods
"Surface partitioning") so the network learns local context rather than global shapes; each patch
gets its own operators (cached on disk). The network sees a window of the stored density samples
along the normal (:func:`window_columns`), normalised per patch to zero mean and unit variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.geometry import FEATURE_LOWPASS_ATTR, geodesic_patches
from cryomem.io import FractionProgress, MembraneSurface, euler_zyz_deg_to_matrix, parse_membrane_stem, read_membrane_h5
from cryomem.pick._operators import OperatorCache, SurfaceOperators
from cryomem.pick._targets import TargetMeasure, TargetSides, assign_particles_to_surfaces, distance_targets_ang

__all__ = [
    "SurfacePatch",
    "TrainingMembrane",
    "check_feature_lowpass",
    "feature_lowpass_ang",
    "load_training_membranes",
    "normalise_window",
    "surface_patches",
    "tomogram_name",
    "window_columns",
]

_OFFSET_TOLERANCE_ANG = 1e-3


def _describe(offsets: np.ndarray) -> str:
    step = float(np.median(np.diff(offsets))) if len(offsets) > 1 else 0.0
    return f"{offsets[0]:g}..{offsets[-1]:g} Å in steps of {step:g} Å ({len(offsets)} samples)"


def feature_lowpass_ang(surface: MembraneSurface) -> float:
    """Gaussian low-pass (sigma, Å) the surface's features were sampled with; 0 for older files."""
    return float(surface.attrs.get(FEATURE_LOWPASS_ATTR, 0.0))


def check_feature_lowpass(surface: MembraneSurface, expected_ang: float, *, where: str) -> None:
    """Refuse features sampled with another low-pass than ``expected_ang`` (a model's training surfaces)."""
    found = feature_lowpass_ang(surface)
    if abs(found - expected_ang) > _OFFSET_TOLERANCE_ANG:
        raise ValueError(
            f"{where} was built with a {found:g} Å feature low-pass but the picking model was trained on "
            f"{expected_ang:g} Å; rebuild it with `cryomem surface --feature-lowpass {expected_ang:g}` "
            f"(run config: surfaces.feature_lowpass_ang: {expected_ang:g})"
        )


def window_columns(
    feature_offsets_ang: Sequence[float] | np.ndarray | None,
    window_offsets_ang: Sequence[float] | np.ndarray,
    *,
    shift_samples: int = 0,
    where: str = "the membrane",
) -> np.ndarray:
    """Columns of a surface's ``features`` that hold the model's window, shifted along the normal.

    Parameters
    ----------
    feature_offsets_ang : (k,) floats or None
        Offsets at which the surface's features were sampled, Å.
    window_offsets_ang : (w,) floats
        Offsets the model expects, Å, evenly spaced.
    shift_samples : int, default 0
        Shift of the window along the normal in whole window steps (test-time augmentation).
    where : str
        Name of the membrane for the error message.

    Returns
    -------
    (w,) int64 array
        Column indices into ``features``.

    Raises
    ------
    ValueError
        The surface has no features, or they were sampled at offsets that do not contain the
        (shifted) window (e.g. another step size): the message names both samplings.
    """
    window = np.asarray(window_offsets_ang, dtype=np.float64)
    if feature_offsets_ang is None:
        raise ValueError(f"{where} has no features sampled along its normals; build it with `cryomem surface`")
    offsets = np.asarray(feature_offsets_ang, dtype=np.float64)
    step = float(window[1] - window[0]) if len(window) > 1 else 0.0
    wanted = window + shift_samples * step
    columns = np.searchsorted(offsets, wanted).clip(0, len(offsets) - 1)
    below = (columns - 1).clip(0, len(offsets) - 1)
    columns = np.where(np.abs(offsets[below] - wanted) < np.abs(offsets[columns] - wanted), below, columns)
    if len(offsets) == 0 or np.any(np.abs(offsets[columns] - wanted) > _OFFSET_TOLERANCE_ANG):
        shifted = f" shifted by {shift_samples} samples" if shift_samples else ""
        have = _describe(offsets) if len(offsets) else "no offsets"
        raise ValueError(
            f"{where} has features at {have}, but the model needs {_describe(wanted)}{shifted}; "
            "rebuild the membrane features at the model's sampling (model card 'window_offsets_ang', "
            "plus the test-time shifts) or train a model at this sampling"
        )
    return columns.astype(np.int64)


def normalise_window(features: np.ndarray) -> np.ndarray:
    """Zero mean and unit standard deviation over all values of one patch window, float32."""
    features = np.asarray(features, dtype=np.float64)
    std = float(features.std())
    return ((features - features.mean()) / (std if std > 1e-12 else 1.0)).astype(np.float32)


def tomogram_name(surface: MembraneSurface, path: str | Path | None = None) -> str:
    """The tomogram a membrane belongs to, as STAR files name it (``rlnTomoName``).

    The surface's stored ``tomo_name``, else the stem of its ``tomogram_path``; without either, the
    membrane file's stem with its ``_mb<N>`` suffix removed.
    """
    if surface.tomo_name is not None or surface.tomogram_path:
        return surface.tomogram_name
    if path is None:
        raise ValueError("the membrane has no tomogram_path and no file name to derive its tomogram from")
    parsed = parse_membrane_stem(Path(path).stem)
    return Path(path).stem if parsed is None else parsed[0]


@dataclass(frozen=True, eq=False)
class SurfacePatch:
    """One geodesic patch of a membrane with its operators.

    Attributes
    ----------
    vertex_ids : (p,) int64 array
        Indices of the patch's vertices in the membrane.
    faces : (f, 3) int64 array
        The patch's triangles, indexing ``vertex_ids``.
    distance_to_centre_ang : (p,) float64 array
        Geodesic distance of each vertex from the patch centre, Å.
    operators : SurfaceOperators
        Mass, eigenbasis and gradient operator of the patch mesh.
    """

    vertex_ids: np.ndarray
    faces: np.ndarray
    distance_to_centre_ang: np.ndarray
    operators: SurfaceOperators


def _submesh(faces: np.ndarray, vertex_ids: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces inside the vertex set, reindexed, and the (sorted) vertices they use."""
    inside = np.zeros(n_vertices, dtype=bool)
    inside[vertex_ids] = True
    kept_faces = faces[inside[faces].all(axis=1)]
    used = np.unique(kept_faces)
    remap = np.full(n_vertices, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return used, remap[kept_faces]


def surface_patches(
    surface: MembraneSurface,
    *,
    patch_vertices: int = 2000,
    overlap: float = 0.3,
    k_eig: int = 128,
    seed: int = 0,
    cache: OperatorCache | None = None,
) -> list[SurfacePatch]:
    """Split a membrane into overlapping geodesic patches and compute (or load) their operators.

    Parameters
    ----------
    surface : MembraneSurface
        The membrane.
    patch_vertices : int, default 2000
        Target vertices per patch.
    overlap : float, default 0.3
        Overlap between neighbouring patches (as :func:`cryomem.geometry.geodesic_patches`).
    k_eig : int, default 128
        Laplacian eigenpairs per patch.
    seed : int, default 0
        Seed of the patch centres.
    cache : OperatorCache, optional
        Operator cache; default one in :func:`cryomem.pick.default_operator_cache_dir`.

    Returns
    -------
    list of SurfacePatch
        Patches with at least 3 vertices in triangles (tiny fragments are skipped).
    """
    cache = cache if cache is not None else OperatorCache()
    vertices, faces, normals = surface.vertices_xyz_ang, surface.faces, surface.normals_xyz
    patches = []
    for patch in geodesic_patches(vertices, faces, patch_vertices=patch_vertices, overlap=overlap, seed=seed):
        ids = np.asarray(patch.vertex_ids, dtype=np.int64)
        used, local_faces = _submesh(faces, ids, len(vertices))
        if len(used) < 3:
            continue
        distance_full = np.zeros(len(vertices))
        distance_full[ids] = np.asarray(patch.distance_to_centre_ang, dtype=np.float64)
        distances = distance_full[used]
        operators = cache.get(vertices[used], local_faces, k_eig=k_eig, normals_xyz=normals[used])
        patches.append(SurfacePatch(used, local_faces, distances, operators))
    return patches


def _check_finite(path: Path, surface: MembraneSurface, window_offsets_ang: Sequence[float], max_shift: int) -> None:
    """Refuse NaN/inf in what training reads: vertices, normals and the features of every window used."""
    bad = ~(np.isfinite(surface.vertices_xyz_ang).all(axis=1) & np.isfinite(surface.normals_xyz).all(axis=1))
    if bad.any():
        raise ValueError(
            f"membrane file {path} has {int(bad.sum())} vertices with NaN or infinite coordinates or normals; "
            "rebuild it with `cryomem surface`"
        )
    used = np.unique(
        np.concatenate(
            [
                window_columns(surface.feature_offsets_ang, window_offsets_ang, shift_samples=shift)
                for shift in range(-max_shift, max_shift + 1)
                if _provides(surface.feature_offsets_ang, window_offsets_ang, shift)
            ]
        )
    )
    bad = ~np.isfinite(np.asarray(surface.features)[:, used]).all(axis=1)
    if bad.any():
        raise ValueError(
            f"membrane file {path} has NaN or infinite features at {int(bad.sum())} of {len(bad)} vertices; rebuild "
            "it with `cryomem surface` from a tomogram without NaN voxels"
        )


def _provides(feature_offsets_ang: np.ndarray | None, window_offsets_ang: Sequence[float], shift: int) -> bool:
    try:
        window_columns(feature_offsets_ang, window_offsets_ang, shift_samples=shift)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class TrainingMembrane:
    """A membrane ready for training: surface, per-vertex targets, patches and window columns.

    ``columns`` holds the model window; ``shifted_columns`` the windows shifted along the normal by
    every whole number of samples up to the requested maximum that the stored offsets provide
    (always including the unshifted one), for the normal-shift training augmentation.
    """

    path: Path
    surface: MembraneSurface
    targets_ang: np.ndarray
    particles_xyz_ang: np.ndarray
    patches: list[SurfacePatch]
    columns: np.ndarray
    shifted_columns: tuple[np.ndarray, ...] = ()

    @property
    def n_particles(self) -> int:
        return len(self.particles_xyz_ang)

    @property
    def tomo_name(self) -> str:
        return tomogram_name(self.surface, self.path)


def _particle_normals(table: pd.DataFrame, use_angles: bool) -> np.ndarray | None:
    angles = table[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy(dtype=np.float64)
    if not use_angles or not np.any(angles):
        return None  # no orientations (all zero): each particle takes its nearest vertex's normal
    return euler_zyz_deg_to_matrix(angles)[:, :, 2]


def _particles_per_surface(
    surfaces: list[MembraneSurface],
    names: list[str],
    particles: pd.DataFrame,
    *,
    max_distance_ang: float,
    use_angles: bool,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Each surface's particles (xyz Å, normals or None): same tomogram, nearest membrane."""
    table = particles.copy()
    for column in ("rot_deg", "tilt_deg", "psi_deg"):
        if column not in table.columns:
            table[column] = 0.0
    owned: list[tuple[np.ndarray, np.ndarray | None]] = [(np.zeros((0, 3)), None)] * len(surfaces)
    for name in sorted(set(names)):
        members = [i for i, n in enumerate(names) if n == name]
        rows = table[table["tomo_name"].astype(str) == name]
        xyz = rows[["x_ang", "y_ang", "z_ang"]].to_numpy(dtype=np.float64)
        normals = _particle_normals(rows, use_angles)
        owner = assign_particles_to_surfaces(xyz, [surfaces[i] for i in members], max_distance_ang=max_distance_ang)
        for local, index in enumerate(members):
            mine = owner == local
            owned[index] = (xyz[mine], None if normals is None else normals[mine])
    if sum(len(xyz) for xyz, _ in owned) == 0:
        known = sorted(set(table["tomo_name"].astype(str)))[:5]
        raise ValueError(
            f"none of the {len(table)} particles lies within {max_distance_ang:g} Å of a membrane of "
            f"tomogram(s) {sorted(set(names))[:5]} (particle tomo_name values: {known}); check that the STAR "
            "file belongs to these tomograms and that its coordinates match their voxel size"
        )
    return owned


def load_training_membranes(
    membrane_paths: Sequence[str | Path],
    particles: pd.DataFrame,
    *,
    window_offsets_ang: Sequence[float],
    max_distance_ang: float,
    use_particle_angles: bool = True,
    target_sides: TargetSides = "both",
    target_measure: TargetMeasure = "in_plane",
    patch_vertices: int = 2000,
    patch_overlap: float = 0.3,
    k_eig: int = 128,
    seed: int = 0,
    max_shift_samples: int = 0,
    cache: OperatorCache | None = None,
    progress: FractionProgress | None = None,
) -> list[TrainingMembrane]:
    """Read membranes, match their particles, compute targets, patches and operators.

    Particles are matched to membranes by ``tomo_name`` == :func:`tomogram_name`; within a
    tomogram each particle belongs to the membrane with the nearest vertex (if within
    ``max_distance_ang``). Targets: :func:`cryomem.pick.distance_targets_ang` with
    ``target_sides`` and ``target_measure``. Everything cheap is checked before any operator is
    computed.

    Raises
    ------
    FileNotFoundError
        A membrane file is missing.
    ValueError
        No membranes, a membrane without features or at another feature sampling, particles
        without coordinates, or no particle near any membrane.
    """
    paths = [Path(p) for p in membrane_paths]
    if not paths:
        raise ValueError("no membrane files given; pass the .h5 files written by `cryomem surface`")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"membrane file {path} does not exist; pass .h5 files from `cryomem surface`")
    missing = [c for c in ("tomo_name", "x_ang", "y_ang", "z_ang") if c not in particles.columns]
    if missing:
        raise ValueError(f"particles lacks column(s) {missing}; read them with cryomem.io.read_particles_star")
    coordinates = particles[["x_ang", "y_ang", "z_ang"]].to_numpy(dtype=np.float64)
    bad_rows = int(np.count_nonzero(~np.isfinite(coordinates).all(axis=1)))
    if bad_rows:
        raise ValueError(
            f"{bad_rows} of {len(particles)} particles have NaN or infinite coordinates; fix or drop those rows"
        )
    surfaces = [read_membrane_h5(p) for p in paths]
    for path, surface in zip(paths, surfaces):
        check_feature_lowpass(
            surface, feature_lowpass_ang(surfaces[0]), where=f"membrane file {path} (unlike {paths[0].name})"
        )
    columns = [window_columns(s.feature_offsets_ang, window_offsets_ang, where=str(p)) for p, s in zip(paths, surfaces)]
    for path, surface in zip(paths, surfaces):
        _check_finite(path, surface, window_offsets_ang, max_shift_samples)
    names = [tomogram_name(s, p) for s, p in zip(surfaces, paths)]
    owned = _particles_per_surface(
        surfaces, names, particles, max_distance_ang=max_distance_ang, use_angles=use_particle_angles
    )
    cache = cache if cache is not None else OperatorCache()
    membranes = []
    for index, (path, surface) in enumerate(zip(paths, surfaces)):
        xyz, normals = owned[index]
        targets = distance_targets_ang(
            surface,
            xyz,
            particle_normals_xyz=normals,
            max_distance_ang=max_distance_ang,
            sides=target_sides,
            measure=target_measure,
        )
        patches = surface_patches(
            surface, patch_vertices=patch_vertices, overlap=patch_overlap, k_eig=k_eig, seed=seed, cache=cache
        )
        shifted = tuple(
            window_columns(surface.feature_offsets_ang, window_offsets_ang, shift_samples=shift)
            for shift in range(-max_shift_samples, max_shift_samples + 1)
            if _provides(surface.feature_offsets_ang, window_offsets_ang, shift)
        )
        membranes.append(TrainingMembrane(path, surface, targets, xyz, patches, columns[index], shifted))
        if progress:
            progress("operators", (index + 1) / len(paths))
    return membranes
