"""Random membranes: shapes, bilayer profiles, voxel bands and mid-surface meshes.

A membrane is an analytic mid-surface (``_shapes``) plus a bilayer: two Gaussian leaflets at
±thickness/2 along the normal, each with its own width and peak. Its label is the bilayer itself:
every voxel between the outer edges (half maximum) of the two leaflets (``Bilayer.in_label``).
Only voxels near the surface are ever evaluated (coarse blocks first, then voxels in the blocks
the surface can reach), so cost grows with membrane area, not with the volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from cryomem.simulate._config import MembraneConfig
from cryomem.simulate._shapes import Ellipsoid, Shape, Sphere, SphericalCap, Torus, oriented_mesh

ANG2_PER_UM2 = 1e8  # one µm² in Å²
BLOCK = 4  # voxels per block edge of the finest block level
HALF_MAXIMUM_SIGMAS = float(np.sqrt(2.0 * np.log(2.0)))  # a Gaussian's half width at half maximum, in σ


@dataclass(frozen=True)
class Bilayer:
    """Lipid bilayer profile along the normal, possibly asymmetric.

    The inner leaflet sits at ``-thickness/2`` (towards the enclosed side, against the outward
    normal), the outer one at ``+thickness/2``. Each is a Gaussian with its own width and peak.
    """

    thickness_ang: float  # leaflet centre-to-centre distance
    leaflet_sigma_ang: float  # inner leaflet (both when ``outer_sigma_ang`` is None)
    outer_sigma_ang: float | None = None
    inner_peak: float = 1.0
    outer_peak: float = 1.0
    density_factor: float = 1.0  # per-membrane contrast, multiplies the profile in the phantom

    @property
    def sigmas_ang(self) -> tuple[float, float]:
        """(inner, outer) leaflet Gaussian widths, Å."""
        outer = self.leaflet_sigma_ang if self.outer_sigma_ang is None else self.outer_sigma_ang
        return self.leaflet_sigma_ang, outer

    @property
    def label_extent_ang(self) -> tuple[float, float]:
        """How far the label reaches (inner side, outer side) from the mid-surface, Å.

        Each side ends at its leaflet's outer half-maximum edge: a Gaussian of width σ falls to
        half its peak at ``sqrt(2 ln 2)·σ`` from its centre, so the label spans
        ``thickness + 1.177·(σ_inner + σ_outer)`` — the bilayer, not a wider band around it.
        """
        half = 0.5 * self.thickness_ang
        inner, outer = self.sigmas_ang
        return half + HALF_MAXIMUM_SIGMAS * inner, half + HALF_MAXIMUM_SIGMAS * outer

    @property
    def half_label_ang(self) -> float:
        """The larger of the two sides of `label_extent_ang` (the half-thickness when symmetric)."""
        return max(self.label_extent_ang)

    def in_label(self, distance_ang: np.ndarray) -> np.ndarray:
        """Whether a signed distance (Å, + outward) lies inside the labelled bilayer."""
        inner, outer = self.label_extent_ang
        return (distance_ang >= -inner) & (distance_ang <= outer)

    def profile(self, distance_ang: np.ndarray) -> np.ndarray:
        """Density at signed distance from the mid-surface: two Gaussian leaflets.

        Peaks are ``inner_peak`` and ``outer_peak`` (1 for a symmetric bilayer), without
        ``density_factor``.
        """
        half = 0.5 * self.thickness_ang
        inner, outer = self.sigmas_ang
        outer_g = np.exp(-((distance_ang - half) ** 2) / (2.0 * outer**2))
        inner_g = np.exp(-((distance_ang + half) ** 2) / (2.0 * inner**2))
        if self.outer_peak != 1.0:
            outer_g = self.outer_peak * outer_g
        if self.inner_peak != 1.0:
            inner_g = self.inner_peak * inner_g
        return (outer_g + inner_g).astype(np.float32)


@dataclass
class Membrane:
    """One bilayer in the tomogram with its clipped mid-surface mesh."""

    membrane_id: int
    kind: str
    group_id: int
    shape: Shape
    bilayer: Bilayer
    vertices_xyz_ang: np.ndarray = field(repr=False)
    faces: np.ndarray = field(repr=False)

    @property
    def area_ang2(self) -> float:
        """Area of the mid-surface inside the volume, Å²."""
        return float(triangle_areas(self.vertices_xyz_ang, self.faces).sum())

    @property
    def area_um2(self) -> float:
        return self.area_ang2 / ANG2_PER_UM2


def triangle_areas(vertices_xyz_ang: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices_xyz_ang[faces]
    return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)


def clip_mesh_to_box(
    vertices_xyz_ang: np.ndarray, faces: np.ndarray, lo_xyz_ang: np.ndarray, hi_xyz_ang: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep faces whose centroid lies inside the box; drop unused vertices."""
    centroids = vertices_xyz_ang[faces].mean(axis=1)
    keep = np.all((centroids >= lo_xyz_ang) & (centroids <= hi_xyz_ang), axis=1)
    faces = faces[keep]
    used = np.unique(faces)
    remap = np.full(len(vertices_xyz_ang), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return vertices_xyz_ang[used], remap[faces]


def _offsets(n: int, step: int) -> np.ndarray:
    """(n³, 3) corner offsets of the n³ sub-blocks of edge ``step``."""
    return np.stack(np.meshgrid(*[np.arange(n) * step] * 3, indexing="ij"), -1).reshape(-1, 3)


def _lipschitz(shape: Shape) -> float:
    """Safety factor on distances: 1 where they are exact, more for the ellipsoid's approximation."""
    return 1.5 if isinstance(shape, Ellipsoid) else 1.0


def near_blocks(shape: Shape, band_ang: float, shape_zyx: tuple[int, int, int], voxel_size_ang: float) -> np.ndarray:
    """Corners (zyx voxels) of the ``BLOCK``³ blocks that may hold voxels within ``band_ang``.

    The volume is searched coarse to fine (16³ blocks, then their 4³ sub-blocks), each level
    keeping only the blocks the surface can reach, so the cost follows the membrane's area.
    """
    lo, hi = shape.bounds_ang()
    coarse = 4 * BLOCK
    lo_zyx = np.maximum(np.floor((lo[::-1] - band_ang) / voxel_size_ang).astype(int), 0) // coarse * coarse
    hi_zyx = np.minimum(np.ceil((hi[::-1] + band_ang) / voxel_size_ang).astype(int) + 1, shape_zyx)
    if np.any(hi_zyx <= lo_zyx):
        return np.empty((0, 3), np.int64)
    n_blocks = -(-(hi_zyx - lo_zyx) // coarse)
    corners = lo_zyx + np.stack(np.meshgrid(*[np.arange(n) * coarse for n in n_blocks], indexing="ij"), -1).reshape(
        -1, 3
    )
    corners = _refine(shape, band_ang, corners, coarse, voxel_size_ang)
    corners = (corners[:, None, :] + _offsets(4, BLOCK)[None]).reshape(-1, 3)
    corners = corners[np.all(corners < shape_zyx, axis=1)]
    return _refine(shape, band_ang, corners, BLOCK, voxel_size_ang)


def _refine(shape: Shape, band_ang: float, corners: np.ndarray, size: int, voxel_size_ang: float) -> np.ndarray:
    """Keep the blocks of edge ``size`` whose centre is close enough to the surface to hold band voxels."""
    if len(corners) == 0:
        return corners
    centres = (corners + (size - 1) / 2.0)[:, ::-1] * voxel_size_ang
    reach = _lipschitz(shape) * (band_ang + np.sqrt(3) * size * voxel_size_ang / 2.0)
    return corners[np.abs(shape.signed_distance_ang(centres)) < reach]


def band_in_blocks(
    shape: Shape, band_ang: float, corners: np.ndarray, shape_zyx: tuple[int, int, int], voxel_size_ang: float
) -> tuple[np.ndarray, np.ndarray]:
    """Voxels within ``band_ang`` of the mid-surface inside the given ``BLOCK``³ blocks.

    Returns
    -------
    flat_indices : (k,) int64 indices into the raveled (z, y, x) volume
    distance_ang : (k,) float32 signed distance to the mid-surface, Å
    """
    flat_parts, dist_parts = [np.empty(0, np.int64)], [np.empty(0, np.float32)]
    offsets = _offsets(BLOCK, 1)
    for chunk in np.array_split(corners, max(1, len(corners) // 8192 + 1)):
        voxels = (chunk[:, None, :] + offsets[None]).reshape(-1, 3)
        voxels = voxels[np.all(voxels < shape_zyx, axis=1)]
        dist = shape.signed_distance_ang(voxels[:, ::-1] * voxel_size_ang)
        keep = np.abs(dist) < band_ang
        flat_parts.append(np.ravel_multi_index(voxels[keep].T, shape_zyx))
        dist_parts.append(dist[keep].astype(np.float32))
    return np.concatenate(flat_parts), np.concatenate(dist_parts)


def membrane_band(
    shape: Shape, band_ang: float, shape_zyx: tuple[int, int, int], voxel_size_ang: float
) -> tuple[np.ndarray, np.ndarray]:
    """Voxels within ``band_ang`` of the mid-surface (flat indices, signed distances in Å)."""
    corners = near_blocks(shape, band_ang, shape_zyx, voxel_size_ang)
    return band_in_blocks(shape, band_ang, corners, shape_zyx, voxel_size_ang)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    return Rotation.random(random_state=rng).as_matrix()


def _draw_varied(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Uniform draw that consumes no randomness for a fixed value (keeps old seeds reproducible)."""
    return float(bounds[0]) if bounds[0] == bounds[1] else _uniform(rng, bounds)


def random_bilayer(config: MembraneConfig, rng: np.random.Generator) -> Bilayer:
    """Draw a bilayer: thickness and inner σ, then (only where ranges are set) asymmetry and contrast."""
    nm = 10.0
    thickness, sigma = _uniform(rng, config.thickness_nm) * nm, _uniform(rng, config.leaflet_sigma_nm) * nm
    sigma_ratio = _draw_varied(rng, config.leaflet_sigma_ratio)
    peak_ratio = _draw_varied(rng, config.leaflet_peak_ratio)
    factor = _draw_varied(rng, config.density_factor)
    strongest = max(1.0, peak_ratio)
    return Bilayer(
        thickness,
        sigma,
        outer_sigma_ang=None if sigma_ratio == 1.0 else sigma * sigma_ratio,
        inner_peak=1.0 / strongest,
        outer_peak=peak_ratio / strongest,
        density_factor=factor,
    )


def _spacings_ang(spacings_ang: list[float], bilayer: Bilayer) -> np.ndarray:
    """Mid-surface spacings raised so neighbouring labels keep >= 1 nm of free space between them."""
    inner, outer = bilayer.label_extent_ang
    return np.maximum(np.asarray(spacings_ang, float), inner + outer + 10.0)


def random_membrane_group(
    kind: str, config: MembraneConfig, extent_xyz_ang: np.ndarray, rng: np.random.Generator
) -> list[tuple[Shape, Bilayer]]:
    """Draw one membrane object: a single bilayer, or a stack / double membrane of several.

    Parameters
    ----------
    kind : one of ``MEMBRANE_KINDS``
    extent_xyz_ang : (3,) physical size of the volume, Å, xyz
    """
    nm = 10.0
    bilayer = random_bilayer(config, rng)
    center = rng.uniform(0.0, 1.0, 3) * extent_xyz_ang
    radius = _uniform(rng, config.radius_nm) * nm
    if kind == "small_vesicle":
        return [(Sphere(center, _uniform(rng, config.small_vesicle_radius_nm) * nm), bilayer)]
    if kind == "sphere":
        return [(Sphere(center, radius), bilayer)]
    if kind == "ellipsoid":
        axes = np.array([_uniform(rng, config.radius_nm) * nm for _ in range(3)])
        return [(Ellipsoid(center, axes, _random_rotation(rng)), bilayer)]
    if kind == "torus":
        minor = max(radius * rng.uniform(0.25, 0.5), 12.0 * nm)
        return [(Torus(center, radius + minor, minor, _random_rotation(rng)), bilayer)]
    normal = Rotation.random(random_state=rng).apply([0.0, 0.0, 1.0])
    sheet_radius = _uniform(rng, config.sheet_radius_nm) * nm
    half_angle = min(_uniform(rng, config.sheet_extent_nm) * nm / sheet_radius, 0.6 * np.pi)
    if kind == "sheet":
        return [(SphericalCap(center - sheet_radius * normal, sheet_radius, normal, half_angle), bilayer)]
    if kind == "stack":
        n = int(rng.integers(config.stack_count[0], config.stack_count[1] + 1))
        gaps = _spacings_ang([_uniform(rng, config.stack_spacing_nm) * nm for _ in range(n - 1)], bilayer)
        radii = sheet_radius + np.cumsum(np.concatenate([[0.0], gaps]))
        return [(SphericalCap(center - sheet_radius * normal, float(r), normal, half_angle), bilayer) for r in radii]
    if kind == "double":
        gap = float(_spacings_ang([_uniform(rng, config.double_spacing_nm) * nm], bilayer)[0])
        choice = rng.integers(3)
        if choice == 0:
            return [(Sphere(center, radius), bilayer), (Sphere(center, radius + gap), bilayer)]
        if choice == 1:
            axes = np.array([_uniform(rng, config.radius_nm) * nm for _ in range(3)])
            rot = _random_rotation(rng)
            return [(Ellipsoid(center, axes, rot), bilayer), (Ellipsoid(center, axes + gap, rot), bilayer)]
        origin = center - sheet_radius * normal
        return [(SphericalCap(origin, r, normal, half_angle), bilayer) for r in (sheet_radius, sheet_radius + gap)]
    raise ValueError(f"unknown membrane kind {kind!r}")


def mesh_inside_volume(
    shape: Shape, shape_zyx: tuple[int, int, int], voxel_size_ang: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mid-surface mesh (outward-wound) clipped to the span of voxel centres, edges ~1.5 voxels (>= 12 Å)."""
    vertices, faces = oriented_mesh(shape, edge_ang=max(1.5 * voxel_size_ang, 12.0))
    hi = (np.array(shape_zyx[::-1]) - 1) * voxel_size_ang
    return clip_mesh_to_box(vertices, faces, np.zeros(3), hi)
