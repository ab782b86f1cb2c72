"""Bilayer thickness per vertex: two Gaussian leaflets fitted to the density profile along the normal.

The tomogram is sampled along each vertex normal (``-half_width .. +half_width`` every ``step``),
the profiles are averaged over the vertex's surface neighbourhood (radius ``patch_radius``: the SNR
step), and two leaflets are fitted (:mod:`cryomem.morph._leaflet_fit`); the thickness is the distance
between the two centres, the leaflet centre-to-centre distance of the simulator's ``Bilayer``.

Speed: the fits run at an even subset of vertices, about one per patch (a greedy cover: a vertex
not yet within ``FIT_SPACING_PATCHES · patch_radius`` of a fitted vertex becomes one); every other
vertex takes the value of the nearest fitted vertex within ``FIT_SPACING_PATCHES · patch_radius``
(else within ``patch_radius``; else it stays NaN). A vertex whose fit failed is marked, not guessed: NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from cryomem.geometry import sample_along_normals, vertex_components
from cryomem.io import xyz_ang_to_zyx_index
from cryomem.morph._leaflet_fit import MIN_SEPARATION_ANG, LeafletCtf, LeafletGrid, fit_batch, leaflet_shape
from cryomem.morph._neighbourhoods import NeighbourhoodSearch, sheet_ball

__all__ = ["Thickness", "bilayer_thickness", "check_mesh_inside"]

_MEAN_CHUNK = 512
"""Fitted vertices whose patch profiles are averaged at once."""

FIT_SPACING_PATCHES = 1.0
"""Distance between fitted vertices, in patch radii (1: about one fit per patch)."""


@dataclass(frozen=True, eq=False)
class Thickness:
    """Bilayer thickness of every vertex of a membrane mesh.

    Attributes
    ----------
    thickness_nm : (n,) float64 array
        Leaflet centre-to-centre distance, nm; NaN where the fit failed.
    fit_quality : (n,) float64 array
        R² of the fit that gave the vertex its value (NaN where no fit ran).
    fitted : (n,) bool array
        Whether the vertex has a thickness (its fit passed every test).
    patch_radius_nm : float
        Radius of the neighbourhood the profiles were averaged over, nm.
    fit_vertices : (m,) int64 array
        The vertices at which fits ran; every other vertex took a fitted vertex's value.
    """

    thickness_nm: np.ndarray
    fit_quality: np.ndarray
    fitted: np.ndarray
    patch_radius_nm: float
    fit_vertices: np.ndarray


def _cover(
    vertices: np.ndarray,
    normals: np.ndarray,
    component: np.ndarray,
    usable: np.ndarray,
    radius_ang: float,
    max_fits: int | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Greedy cover: visit vertices in random order; fit each one not yet covered, and cover every vertex
    within ``radius_ang`` of it on the same sheet (component, normals within 90°)."""
    tree = cKDTree(vertices)
    covered = ~usable
    chosen = []
    for v in rng.permutation(len(vertices)):
        if covered[v]:
            continue
        chosen.append(v)
        covered[sheet_ball(tree, vertices, normals, component, v, radius_ang)] = True
        covered[v] = True
    chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    if max_fits is not None and chosen.size > max_fits:
        chosen = np.sort(rng.choice(chosen, size=max_fits, replace=False))
    return chosen


def bilayer_thickness(
    volume_zyx: np.ndarray,
    voxel_size_ang: float,
    vertices_xyz_ang: ArrayLike,
    faces: ArrayLike,
    normals_xyz: ArrayLike,
    *,
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    patch_radius_nm: float = 5.0,
    half_width_nm: float = 8.0,
    step_ang: float = 2.0,
    dark_membrane: bool = True,
    order: int = 3,
    ctf: LeafletCtf | None = None,
    max_vertices: int | None = 20_000,
    seed: int = 0,
    prefiltered: bool = False,
) -> Thickness:
    """Bilayer thickness (leaflet centre-to-centre distance) at every vertex, from the tomogram.

    Parameters
    ----------
    volume_zyx : (nz, ny, nx) array
        The tomogram the mesh came from.
    voxel_size_ang : float
        Voxel size, Å.
    vertices_xyz_ang : (n, 3) float array
        Vertex positions, Å, xyz (physical, origin included). A mid-surface or either side of a
        segmentation's boundary: the window reaches ``half_width_nm`` both ways and the leaflet
        centres are free.
    faces : (m, 3) int array
        Triangles.
    normals_xyz : (n, 3) float array
        Unit normals.
    origin_xyz_ang : (3,) floats, default (0, 0, 0)
        Physical position of voxel ``(0, 0, 0)``, Å.
    patch_radius_nm : float, default 5
        Radius of the surface neighbourhood whose profiles are averaged before fitting, nm.
    half_width_nm : float, default 8
        The profile reaches this far along the normal on both sides, nm (8 nm holds a 5 nm bilayer
        seen from the boundary of its segmentation).
    step_ang : float, default 2
        Distance between profile samples, Å.
    dark_membrane : bool, default True
        Dense matter is dark (raw tomograms, the simulator's); False for inverted contrast.
    order : {1, 3}, default 3
        Interpolation of the samples: 1 trilinear, 3 cubic B-spline.
    ctf : LeafletCtf, optional
        The CTF the tomogram was imaged with: fit leaflets as it shows them (recommended when the
        defocus is known); None: plain Gaussians, which read up to ~2 Å too thick at 3 µm defocus.
    max_vertices : int or None, default 20000
        Most fits per mesh (a random subset of the cover when it holds more); None: no limit.
    seed : int, default 0
        Seed of the cover's visiting order and of the subset.
    prefiltered : bool, default False
        ``volume_zyx`` holds cubic-spline coefficients already (:func:`cryomem.geometry.spline_coefficients`,
        order 3 only): several meshes of one tomogram then share one prefilter of the volume.

    Returns
    -------
    Thickness
    """
    vertices = np.asarray(vertices_xyz_ang, dtype=np.float64)
    normals = np.asarray(normals_xyz, dtype=np.float64)
    volume = np.asarray(volume_zyx)
    if not (np.isfinite(patch_radius_nm) and patch_radius_nm > 0):
        raise ValueError(f"patch_radius_nm must be a positive number of nm, got {patch_radius_nm}; try 5")
    if not (np.isfinite(half_width_nm) and 10.0 * half_width_nm >= 0.5 * (MIN_SEPARATION_ANG + 8.0)):
        raise ValueError(f"half_width_nm must be >= 1.4 nm to hold two leaflets, got {half_width_nm}; try 8")
    if not (np.isfinite(step_ang) and 0 < step_ang <= 5.0):
        raise ValueError(f"step_ang must be in (0, 5] Å, got {step_ang}; try 2")
    if max_vertices is not None and max_vertices < 1:
        raise ValueError(f"max_vertices must be >= 1 or None, got {max_vertices}")
    if volume.ndim != 3:
        raise ValueError(f"volume_zyx must be 3-D (z, y, x), got shape {volume.shape}")
    if vertices.ndim != 2 or vertices.shape[1] != 3 or normals.shape != vertices.shape:
        raise ValueError(f"vertices and normals must have shape (n, 3), got {vertices.shape} and {normals.shape}")
    n = len(vertices)
    check_mesh_inside(volume.shape, voxel_size_ang, vertices, origin_xyz_ang)
    half = 10.0 * half_width_nm
    offsets = np.arange(-half, half + 1e-9, step_ang)
    usable = _window_inside(volume.shape, voxel_size_ang, vertices, normals, half, origin_xyz_ang)
    if not usable.any():
        raise ValueError(
            "no vertex has its whole profile inside the tomogram; check the voxel size "
            f"({voxel_size_ang} Å) and that the mesh is in Å, or lower half_width_nm ({half_width_nm})"
        )
    radius_ang = 10.0 * patch_radius_nm
    _, component = vertex_components(n, np.asarray(faces, dtype=np.int64))
    rng = np.random.default_rng(seed)
    fit_at = _cover(vertices, normals, component, usable, FIT_SPACING_PATCHES * radius_ang, max_vertices, rng)
    rows = NeighbourhoodSearch(vertices, faces, normals, radius_ang).of(fit_at).indices
    needed = np.unique(rows[rows >= 0])  # only the profiles the fitted patches average
    profiles = sample_along_normals(
        volume, voxel_size_ang, vertices[needed], normals[needed], offsets, origin_xyz_ang=origin_xyz_ang,
        order=order, prefiltered=prefiltered,
    ).astype(np.float64)  # fmt: skip
    good = usable[needed] & np.all(np.isfinite(profiles), axis=1)
    position = np.searchsorted(needed, np.where(rows >= 0, rows, needed[0]))
    weights = ((rows >= 0) & good[position]).astype(np.float64)
    means = np.empty((len(fit_at), len(offsets)))
    for start in range(0, len(fit_at), _MEAN_CHUNK):  # bounded memory: (chunk, neighbours, offsets)
        part = slice(start, start + _MEAN_CHUNK)
        total = np.einsum("fk,fko->fo", weights[part], profiles[position[part]])
        means[part] = total / np.maximum(weights[part].sum(axis=1), 1.0)[:, None]
    signed = -means if dark_membrane else means
    fit = fit_batch(offsets, signed, LeafletGrid(offsets, leaflet_shape(ctf, voxel_size_ang, offsets)))
    separation, quality = fit.separation_ang, fit.quality

    source = _nearest_fitted(vertices, normals, component, fit_at, radius_ang)
    thickness_nm = np.where(source >= 0, separation[np.maximum(source, 0)] / 10.0, np.nan)
    fit_quality = np.where(source >= 0, quality[np.maximum(source, 0)], np.nan)
    return Thickness(thickness_nm, fit_quality, np.isfinite(thickness_nm), float(patch_radius_nm), fit_at)


def _nearest_fitted(
    vertices: np.ndarray, normals: np.ndarray, component: np.ndarray, fit_at: np.ndarray, radius_ang: float
) -> np.ndarray:
    """For every vertex, the position in ``fit_at`` of the nearest fitted vertex within ``radius_ang`` on
    the same sheet (component, normals within 90°); -1 where there is none."""
    n = len(vertices)
    if fit_at.size == 0:
        return np.full(n, -1, dtype=np.int64)
    k = min(16, fit_at.size)
    distance, slot = cKDTree(vertices[fit_at]).query(vertices, k=k, distance_upper_bound=radius_ang)
    distance, slot = distance.reshape(n, k), slot.reshape(n, k)
    found = slot < fit_at.size
    target = fit_at[np.where(found, slot, 0)]
    found &= component[target] == component[:, None]
    found &= np.einsum("nkj,nj->nk", normals[target], normals) > 0
    first = np.argmax(found, axis=1)
    return np.where(found[np.arange(n), first], slot[np.arange(n), first], -1)


def _window_inside(
    shape_zyx: tuple[int, ...],
    voxel_size_ang: float,
    vertices: np.ndarray,
    normals: np.ndarray,
    half_ang: float,
    origin_xyz_ang: Sequence[float],
) -> np.ndarray:
    """Whether both ends of each vertex's profile lie inside the grid of voxel centres."""
    inside = np.ones(len(vertices), dtype=bool)
    upper = np.asarray(shape_zyx, dtype=np.float64) - 1.0
    for sign in (-1.0, 1.0):
        index = xyz_ang_to_zyx_index(vertices + sign * half_ang * normals, voxel_size_ang, origin_xyz_ang)
        inside &= np.all((index >= 0.0) & (index <= upper), axis=1)
    return inside


def check_mesh_inside(
    shape_zyx: tuple[int, ...], voxel_size_ang: float, vertices: np.ndarray, origin_xyz_ang: Sequence[float]
) -> None:
    """Refuse a mesh whose vertices mostly lie outside the tomogram (wrong units or voxel size)."""
    if not (np.isfinite(voxel_size_ang) and voxel_size_ang > 0):
        raise ValueError(f"voxel_size_ang must be finite and > 0, got {voxel_size_ang}")
    if len(vertices) == 0:
        raise ValueError("the mesh has no vertices; pass a membrane mesh")
    index = xyz_ang_to_zyx_index(vertices, voxel_size_ang, origin_xyz_ang)
    upper = np.asarray(shape_zyx, dtype=np.float64) - 0.5
    inside = np.all((index >= -0.5) & (index <= upper), axis=1)
    if inside.mean() < 0.5:
        origin = np.asarray(origin_xyz_ang, dtype=np.float64)
        lo, hi = vertices.min(axis=0), vertices.max(axis=0)
        extent = origin + (np.asarray(shape_zyx[::-1], dtype=np.float64) - 1.0) * voxel_size_ang
        span = " ".join(f"{a:.0f}..{b:.0f}" for a, b in zip(lo, hi, strict=True))
        tomo = " ".join(f"{a:.0f}..{b:.0f}" for a, b in zip(origin, extent, strict=True))
        raise ValueError(
            f"the mesh does not lie inside the tomogram (vertices span x y z {span} Å, the tomogram {tomo} Å): "
            "is the mesh in Å and the voxel size right?"
        )
