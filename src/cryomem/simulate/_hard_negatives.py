"""Hard negatives: dense objects that are not membranes, labelled :data:`LABEL_HARD_NEGATIVE`.

- **gold fiducials**: dense balls (5-15 nm, 6-10 x protein); half of them sit at the top or bottom
  surface. Their streaks come from the tilt series and its back-projection, as in real data.
- **ice crystals**: faceted (hexagonal prism with extra cuts) dense contaminants, centred near the
  top or bottom surface of the volume so the surface cuts them.
- **carbon / lamella edges**: a slab (10-30 nm) tilted up to 20° from the xy plane, covering the
  volume on one side of a rough straight edge. It is carved (one voxel clear) around membranes and
  objects already there instead of overlapping them.
- **dense granules**: lumpy, roundish blobs (20-80 nm) anywhere in the volume.

All of them are inserted after the membranes, with the same no-overlap checks as proteins.
Frames: arrays ``(z, y, x)``, points ``(x, y, z)`` in Å.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special
from scipy.spatial import HalfspaceIntersection

from cryomem.simulate._config import HardNegativeConfig
from cryomem.simulate._phantom import LABEL_HARD_NEGATIVE, Phantom, random_rotations
from cryomem.simulate._solids import Ball, Body, SolidEllipsoid, edge_sigma_ang
from cryomem.simulate._template_base import Template, template_from_body

__all__ = ["gold_template", "granule_template", "ice_template", "insert_hard_negatives"]

_CHUNK_Z = 16  # z slices per chunk when drawing the carbon slab


@dataclass(frozen=True, eq=False)
class _Polytope:
    """Convex polytope ``{p : normals @ p <= offsets}`` (origin inside); sdf is the largest plane distance."""

    normals: np.ndarray  # (k, 3) unit
    offsets: np.ndarray  # (k,) Å, > 0

    def sdf(self, p: np.ndarray) -> np.ndarray:
        return (p @ self.normals.T - self.offsets).max(axis=-1)

    def reach(self) -> float:
        halfspaces = np.hstack([self.normals, -self.offsets[:, None]])
        vertices = HalfspaceIntersection(halfspaces, np.zeros(3)).intersections
        return float(np.linalg.norm(vertices, axis=1).max())


def _dense(template: Template, name: str, density: float) -> Template:
    """``template`` with its density (and mask level) multiplied by ``density``."""
    return dataclasses.replace(
        template, name=name, density_zyx=template.density_zyx * density, threshold=template.threshold * density
    )


def gold_template(diameter_nm: float, density: float, voxel_size_ang: float) -> Template:
    """A gold bead: a ball of ``diameter_nm`` at ``density`` x protein."""
    ball = Body(parts=(Ball((0.0, 0.0, 0.0), 5.0 * diameter_nm),))
    return _dense(template_from_body("gold", ball, voxel_size_ang, "cytosolic", centre_on_com=False), "gold", density)


def ice_template(size_nm: float, density: float, voxel_size_ang: float, rng: np.random.Generator) -> Template:
    """A faceted ice crystal about ``size_nm`` across: hexagonal prism plus 0-3 random cuts."""
    apothem = 5.0 * size_nm * rng.uniform(0.7, 1.0)
    phase = rng.uniform(0.0, math.pi / 3.0)
    angles = phase + np.arange(6) * math.pi / 3.0
    normals = [np.array([math.cos(a), math.sin(a), 0.0]) for a in angles]
    offsets = [apothem] * 6
    half_height = apothem * rng.uniform(0.4, 1.1)
    normals += [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])]
    offsets += [half_height, half_height]
    for _ in range(int(rng.integers(0, 4))):
        n = rng.normal(size=3)
        normals.append(n / np.linalg.norm(n))
        offsets.append(apothem * rng.uniform(0.6, 0.95))
    body = Body(parts=(_Polytope(np.array(normals), np.array(offsets)),))
    return _dense(template_from_body("ice", body, voxel_size_ang, "cytosolic", centre_on_com=False), "ice", density)


def granule_template(diameter_nm: float, density: float, voxel_size_ang: float, rng: np.random.Generator) -> Template:
    """A dense, lumpy granule about ``diameter_nm`` across: an ellipsoid with 2-4 bumps."""
    radius = 5.0 * diameter_nm
    parts = [SolidEllipsoid((0.0, 0.0, 0.0), tuple(radius * rng.uniform(0.75, 1.0, 3)))]
    for _ in range(int(rng.integers(2, 5))):
        u = rng.normal(size=3)
        bump = rng.uniform(0.25, 0.45) * radius
        parts.append(Ball(tuple((radius - bump) * 0.9 * u / np.linalg.norm(u)), bump))
    body = Body(parts=tuple(parts))
    return _dense(
        template_from_body("granule", body, voxel_size_ang, "cytosolic", centre_on_com=False), "granule", density
    )


def _draw(r: tuple[float, float], rng: np.random.Generator) -> float:
    return float(rng.uniform(r[0], r[1]))


def insert_hard_negatives(phantom: Phantom, config: HardNegativeConfig, rng: np.random.Generator) -> None:
    """Insert carbon edges, granules, ice crystals and gold beads (in that order) into ``phantom``.

    Each object gets up to ``config.max_failures`` random positions; one that never fits is left
    out (the ground truth lists what was placed).
    """
    s = phantom.voxel_size_ang
    extent_xyz = np.array(phantom.shape_zyx[::-1], float) * s
    for _ in range(config.carbon_edges):
        _insert_carbon_edge(phantom, config, rng)
    plans = (
        ("granule", config.granules, config.granule_diameter_nm, config.granule_density),
        ("ice", config.ice_crystals, config.ice_size_nm, config.ice_density),
        ("gold", config.gold_fiducials, config.gold_diameter_nm, config.gold_density),
    )
    for kind, count, size_range, density_range in plans:
        for _ in range(count):
            size_nm, density = _draw(size_range, rng), _draw(density_range, rng)
            if kind == "gold":
                template = gold_template(size_nm, density, s)
            elif kind == "ice":
                template = ice_template(size_nm, density, s, rng)
            else:
                template = granule_template(size_nm, density, s, rng)
            for _ in range(config.max_failures):
                centre = rng.uniform(0.0, 1.0, 3) * extent_xyz
                at_surface = kind == "ice" or (kind == "gold" and rng.random() < 0.5)
                if at_surface:
                    depth = rng.uniform(-0.3, 0.3) * 10.0 * size_nm if kind == "ice" else template.radius_ang
                    centre[2] = depth if rng.random() < 0.5 else extent_xyz[2] - s - depth
                rotation = random_rotations(1, rng)[0]
                object_id = phantom.try_insert(template, rotation, centre, LABEL_HARD_NEGATIVE)
                if object_id:
                    phantom.hard_negatives.append(
                        {
                            "object_id": object_id,
                            "kind": kind,
                            "center_xyz_ang": centre.round(2).tolist(),
                            "size_nm": round(size_nm, 3),
                            "density": round(density, 4),
                        }
                    )
                    break


def _slab_distance(points_xyz: np.ndarray, slab: dict) -> np.ndarray:
    """Signed distance-like value (Å, < 0 inside) of points to a carbon slab with a rough edge."""
    rel = points_xyz - slab["point"]
    along = rel @ slab["edge_direction"]
    rough = sum(a * np.sin(k * along + p) for a, k, p in slab["roughness"])
    across = rel @ slab["edge_normal"] + rough
    return np.maximum(np.abs(rel @ slab["normal"]) - 0.5 * slab["thickness"], -across)


def _random_slab(config: HardNegativeConfig, extent_xyz: np.ndarray, rng: np.random.Generator) -> dict:
    theta, phi = math.radians(rng.uniform(0.0, 20.0)), rng.uniform(0.0, 2.0 * math.pi)
    normal = np.array([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)])
    heading = rng.uniform(0.0, 2.0 * math.pi)
    edge_normal = np.array([math.cos(heading), math.sin(heading), 0.0])
    edge_normal -= (edge_normal @ normal) * normal
    edge_normal /= np.linalg.norm(edge_normal)
    thickness = 10.0 * _draw(config.carbon_thickness_nm, rng)
    point = extent_xyz * np.array([0.5, 0.5, 0.0])
    point[:2] += edge_normal[:2] * rng.uniform(-0.3, 0.3) * extent_xyz[:2].min()
    point[2] = rng.uniform(0.5 * thickness, max(0.5 * thickness, extent_xyz[2] - 0.5 * thickness))
    span = float(extent_xyz[:2].max())
    roughness = [
        (rng.uniform(0.0, 0.02) * span, 2.0 * math.pi / (rng.uniform(0.1, 0.6) * span), rng.uniform(0, 2 * math.pi))
        for _ in range(3)
    ]
    return {
        "normal": normal,
        "edge_normal": edge_normal,
        "edge_direction": np.cross(normal, edge_normal),
        "point": point,
        "thickness": thickness,
        "roughness": roughness,
        "density": _draw(config.carbon_density, rng),
    }


def _insert_carbon_edge(phantom: Phantom, config: HardNegativeConfig, rng: np.random.Generator) -> None:
    """A slab with an edge; of 20 random poses the one crossing the fewest occupied voxels is kept, then carved."""
    s = phantom.voxel_size_ang
    extent_xyz = np.array(phantom.shape_zyx[::-1], float) * s
    occupied = (phantom.object_ids_zyx != 0) | (phantom.membrane_ids_zyx != 0)
    busy_xyz = np.argwhere(occupied)[:, ::-1] * s
    best, best_overlap = None, np.inf
    for _ in range(min(20, config.max_failures)):
        slab = _random_slab(config, extent_xyz, rng)
        overlap = int((_slab_distance(busy_xyz, slab) < 0).sum()) if len(busy_xyz) else 0
        if overlap < best_overlap:
            best, best_overlap = slab, overlap
        if overlap == 0:
            break
    sigma = edge_sigma_ang(s)
    object_id = phantom.new_object_id(LABEL_HARD_NEGATIVE)
    nz, ny, nx = phantom.shape_zyx
    yy, xx = np.meshgrid(np.arange(ny) * s, np.arange(nx) * s, indexing="ij")
    placed = 0
    for z0 in range(0, nz, _CHUNK_Z):
        z1 = min(nz, z0 + _CHUNK_Z)
        zz = np.arange(z0, z1)[:, None, None] * s
        points = np.stack(np.broadcast_arrays(xx[None], yy[None], zz), axis=-1)
        profile = 0.5 * special.erfc(_slab_distance(points, best) / (math.sqrt(2.0) * sigma))
        if not (profile > 1e-3).any():
            continue
        lo, hi = max(0, z0 - 1), min(nz, z1 + 1)
        forbidden = ndimage.binary_dilation(occupied[lo:hi])[z0 - lo : z0 - lo + (z1 - z0)]
        profile[forbidden] = 0.0
        mask = profile > 0.5
        phantom.object_ids_zyx[z0:z1][mask] = object_id
        target = phantom.density_zyx[z0:z1]
        np.maximum(target, (best["density"] * profile).astype(np.float32), out=target)
        placed += int(mask.sum())
    phantom.hard_negatives.append(
        {
            "object_id": object_id,
            "kind": "carbon_edge",
            "point_xyz_ang": best["point"].round(2).tolist(),
            "normal_xyz": best["normal"].round(5).tolist(),
            "edge_normal_xyz": best["edge_normal"].round(5).tolist(),
            "size_nm": round(best["thickness"] / 10.0, 3),
            "density": round(best["density"], 4),
            "voxels": placed,
            "carved_voxels": best_overlap,
        }
    )
