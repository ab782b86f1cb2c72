"""Every per-vertex quantity of every membrane: curvature, bilayer thickness, distances, orientation.

The per-vertex arrays (names carry their units) go unchanged to the VTP point data, the per-vertex
CSV and the per-membrane summaries:

- ``mean_curvature_per_nm``, ``gaussian_curvature_per_nm2``, ``k1_per_nm``, ``k2_per_nm``,
  ``curvedness_per_nm``, ``shape_index``: the surface as given, signs relative to its normals
  (:mod:`cryomem.morph._curvature`); NaN where the fit failed or the membrane is smaller than the
  scale.
- ``bilayer_thickness_nm``, ``thickness_fit_quality`` (with a tomogram): leaflet-to-leaflet
  distance from the density profile (:mod:`cryomem.morph._thickness`); NaN where the fit failed.
- ``distance_out_nm`` / ``membrane_out_id`` and ``distance_in_nm`` / ``membrane_in_id``: the first
  other membrane along / against the normal (:mod:`cryomem.morph._distances`); NaN and -1 for none
  within ``max_distance_nm``, or when the ray crosses the membrane itself first (the far side of a
  vesicle's lumen, or the slab's other face of a ``cryomem surface`` mesh).
- ``self_out_nm`` / ``self_in_nm``: the first crossing of the membrane's own mesh along / against
  the normal. On a ``cryomem surface`` mesh (both faces of the segmented slab, normals away from
  the membrane) ``self_in_nm`` is the segmented slab's thickness and ``self_out_nm`` the distance
  across a fold of the membrane (cristae, a flattened vesicle); on a one-sheet mesh both are
  distances across the membrane's own lumen or fold.
- ``spacing_nm`` (``cryomem surface`` meshes only): mid-surface to mid-surface distance to the next
  membrane, ``distance_out + self_in/2 + (that membrane's median self_in)/2``.
- ``normal_to_z_deg``: the normal against the beam (z) axis, folded to 0..90°; near 0 the
  membrane lies flat in the missing-wedge direction and is poorly resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cryomem.geometry import spline_coefficients
from cryomem.io import FractionProgress, MembraneSurface, Volume
from cryomem.morph._config import MorphConfig
from cryomem.morph._curvature import curvature_at_scale
from cryomem.morph._distances import normal_axis_angles_deg, normal_distances
from cryomem.morph._leaflet_fit import LeafletCtf
from cryomem.morph._thickness import bilayer_thickness

__all__ = ["MembraneMeasures", "measure_membranes"]

_OWN_MIN_NM = 0.3
"""Own-mesh crossings closer than this are the ray's own neighbourhood, not the far face."""


@dataclass(frozen=True, eq=False)
class MembraneMeasures:
    """Per-vertex quantities of one membrane (see the module docstring) and a note on what is missing."""

    values: dict[str, np.ndarray]
    note: str = ""


def _curvature(surface: MembraneSurface, scale_nm: float) -> tuple[dict[str, np.ndarray], str]:
    try:
        c = curvature_at_scale(
            surface.vertices_xyz_ang, surface.faces, scale_nm=scale_nm, normals_xyz=surface.normals_xyz
        )
    except ValueError as exc:
        if "larger than the membrane" not in str(exc):
            raise
        nan = np.full(len(surface.vertices_xyz_ang), np.nan)
        return {name: nan for name in _CURVATURE_NAMES}, f"no curvature: {exc}"
    arrays = (c.mean_per_nm, c.gaussian_per_nm2, c.k1_per_nm, c.k2_per_nm, c.curvedness_per_nm, c.shape_index)
    return dict(zip(_CURVATURE_NAMES, arrays, strict=True)), ""


_CURVATURE_NAMES = (
    "mean_curvature_per_nm",
    "gaussian_curvature_per_nm2",
    "k1_per_nm",
    "k2_per_nm",
    "curvedness_per_nm",
    "shape_index",
)


def _distances(group: Sequence[MembraneSurface], max_distance_nm: float) -> list[dict[str, np.ndarray]]:
    """Distance columns of the membranes of one tomogram."""
    meshes = [(s.membrane_id, s.vertices_xyz_ang, s.faces, s.normals_xyz) for s in group]
    found = normal_distances(meshes, max_distance_nm=max_distance_nm, min_self_distance_nm=_OWN_MIN_NM)
    columns = []
    for surface in group:
        d = found[surface.membrane_id]
        self_out = d.self_outward_nm
        out_blocked = self_out < d.outward_nm  # the ray crosses the membrane itself first
        in_blocked = d.self_nm < d.inward_nm
        columns.append(
            {
                "distance_out_nm": np.where(out_blocked, np.nan, d.outward_nm),
                "membrane_out_id": np.where(out_blocked, -1, d.outward_membrane).astype(np.int64),
                "distance_in_nm": np.where(in_blocked, np.nan, d.inward_nm),
                "membrane_in_id": np.where(in_blocked, -1, d.inward_membrane).astype(np.int64),
                "self_out_nm": self_out,
                "self_in_nm": d.self_nm,
            }
        )
    slab = {s.membrane_id: _median(c["self_in_nm"]) if _two_faced(s) else np.nan for s, c in zip(group, columns)}
    for surface, c in zip(group, columns):
        if _two_faced(surface):
            other = np.array([slab.get(int(m), np.nan) if m >= 0 else np.nan for m in c["membrane_out_id"]])
            c["spacing_nm"] = c["distance_out_nm"] + 0.5 * c["self_in_nm"] + 0.5 * other
    return columns


def _two_faced(surface: MembraneSurface) -> bool:
    """A ``cryomem surface`` mesh (h5 with density samples): both faces of the segmented slab."""
    return surface.features is not None


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else np.nan


def measure_membranes(
    surfaces: Sequence[MembraneSurface],
    config: MorphConfig,
    *,
    volume: Volume | None = None,
    progress: FractionProgress | None = None,
) -> list[MembraneMeasures]:
    """Every quantity of the module docstring for every membrane, in the order given.

    Parameters
    ----------
    surfaces : sequence of MembraneSurface
        Membranes in Å, of one or more tomograms (distances are measured within each tomogram).
    config : MorphConfig
        Settings.
    volume : Volume, optional
        The tomogram of the membranes (one tomogram only), for the bilayer thickness.
    progress : callable, optional
        ``progress(stage, fraction)``.

    Raises
    ------
    ValueError
        The curvature scale is larger than every membrane, or a mesh does not lie in the tomogram.
    """
    report = progress or (lambda stage, fraction: None)
    values: list[dict[str, np.ndarray]] = [{} for _ in surfaces]
    notes = [""] * len(surfaces)
    for i, surface in enumerate(surfaces):
        report("curvature", i / len(surfaces))
        values[i], notes[i] = _curvature(surface, config.curvature_scale_nm)
    if all(notes):
        raise ValueError(
            f"--curvature-scale-nm {config.curvature_scale_nm:g} nm is larger than every membrane; choose a "
            f"smaller scale ({notes[0]})"
        )
    if volume is not None:
        if len({s.tomogram_name for s in surfaces}) > 1:
            raise ValueError("one --tomogram serves the membranes of one tomogram; run morph once per tomogram")
        ctf = None if config.defocus_um is None else LeafletCtf(config.defocus_um, phase_flipped=config.phase_flipped)
        report("bilayer thickness", 0.0)
        coefficients = spline_coefficients(volume.data_zyx)  # one cubic prefilter for every membrane
        for i, surface in enumerate(surfaces):
            report("bilayer thickness", i / len(surfaces))
            t = bilayer_thickness(
                coefficients, volume.voxel_size_ang, surface.vertices_xyz_ang, surface.faces, surface.normals_xyz,
                origin_xyz_ang=volume.origin_xyz_ang, patch_radius_nm=config.thickness_patch_radius_nm,
                dark_membrane=config.dark_membrane, ctf=ctf, seed=config.seed, prefiltered=True,
            )  # fmt: skip
            values[i]["bilayer_thickness_nm"] = t.thickness_nm
            values[i]["thickness_fit_quality"] = t.fit_quality
    report("distances", 0.0)
    for tomo in dict.fromkeys(s.tomogram_name for s in surfaces):
        members = [i for i, s in enumerate(surfaces) if s.tomogram_name == tomo]
        for i, columns in zip(members, _distances([surfaces[i] for i in members], config.max_distance_nm)):
            values[i].update(columns)
    for i, surface in enumerate(surfaces):
        values[i]["normal_to_z_deg"] = normal_axis_angles_deg(surface.normals_xyz)
    report("distances", 1.0)
    return [MembraneMeasures(v, n) for v, n in zip(values, notes)]
