"""Membrane mid-surfaces as analytic shapes: distance, projection, normals and meshes.

Each shape knows its mid-surface exactly. ``signed_distance_ang`` is exact for spheres, tori and
spherical caps and a first-order approximation for ellipsoids (error second order in distance over
radius of curvature, far below a voxel inside the bilayer band). All points are ``(n, 3)`` xyz in Å.
Outward normals point away from the enclosed volume (for open caps: away from the centre of
curvature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import Delaunay

_EPS = 1e-9


def _norm(v: np.ndarray) -> np.ndarray:
    """Row norms of an (n, 3) array (faster than np.linalg.norm for many short rows)."""
    return np.sqrt(np.einsum("ij,ij->i", v, v))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.sqrt((v * v).sum(axis=-1, keepdims=True)), _EPS)


def _icosphere_level(radius_ang: float, edge_ang: float) -> int:
    """Smallest subdivision level whose mean edge is below ``edge_ang`` (capped at 6)."""
    for level in range(1, 7):
        if 1.1 * radius_ang / 2**level <= edge_ang:
            return level
    return 6


@dataclass(frozen=True)
class Sphere:
    """Closed spherical vesicle."""

    center_xyz_ang: np.ndarray
    radius_ang: float

    def signed_distance_ang(self, points_xyz_ang: np.ndarray) -> np.ndarray:
        return _norm(points_xyz_ang - self.center_xyz_ang) - self.radius_ang

    def project(self, points_xyz_ang: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        normals = _unit(points_xyz_ang - self.center_xyz_ang)
        return self.center_xyz_ang + self.radius_ang * normals, normals

    def bounds_ang(self) -> tuple[np.ndarray, np.ndarray]:
        return self.center_xyz_ang - self.radius_ang, self.center_xyz_ang + self.radius_ang

    def mesh(self, edge_ang: float) -> tuple[np.ndarray, np.ndarray]:
        ico = trimesh.creation.icosphere(subdivisions=_icosphere_level(self.radius_ang, edge_ang))
        return self.center_xyz_ang + self.radius_ang * np.asarray(ico.vertices), np.asarray(ico.faces)


@dataclass(frozen=True)
class Ellipsoid:
    """Closed ellipsoid; ``rotation`` maps local axes to the tomogram (columns = local x, y, z)."""

    center_xyz_ang: np.ndarray
    semi_axes_ang: np.ndarray
    rotation: np.ndarray

    def _local(self, points_xyz_ang: np.ndarray) -> np.ndarray:
        return (points_xyz_ang - self.center_xyz_ang) @ self.rotation

    def _level_and_gradient(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaled = local / self.semi_axes_ang
        rho = np.maximum(_norm(scaled), _EPS)
        grad_local = (local / self.semi_axes_ang**2) / rho[:, None]
        return rho - 1.0, grad_local

    def signed_distance_ang(self, points_xyz_ang: np.ndarray) -> np.ndarray:
        level, grad = self._level_and_gradient(self._local(points_xyz_ang))
        return level / np.maximum(_norm(grad), _EPS)

    def project(self, points_xyz_ang: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = self._local(points_xyz_ang)
        local = local / np.maximum(_norm(local / self.semi_axes_ang), _EPS)[:, None]
        for _ in range(4):  # Newton steps along the gradient towards the exact zero level
            level, grad = self._level_and_gradient(local)
            local = local - (level / np.maximum((grad**2).sum(-1), _EPS))[:, None] * grad
        _, grad = self._level_and_gradient(local)
        return self.center_xyz_ang + local @ self.rotation.T, _unit(grad @ self.rotation.T)

    def bounds_ang(self) -> tuple[np.ndarray, np.ndarray]:
        half = np.sqrt(((self.rotation * self.semi_axes_ang) ** 2).sum(axis=1))
        return self.center_xyz_ang - half, self.center_xyz_ang + half

    def mesh(self, edge_ang: float) -> tuple[np.ndarray, np.ndarray]:
        ico = trimesh.creation.icosphere(subdivisions=_icosphere_level(float(self.semi_axes_ang.max()), edge_ang))
        local = np.asarray(ico.vertices) * self.semi_axes_ang
        return self.center_xyz_ang + local @ self.rotation.T, np.asarray(ico.faces)


@dataclass(frozen=True)
class Torus:
    """Closed torus around the local z axis."""

    center_xyz_ang: np.ndarray
    major_radius_ang: float
    minor_radius_ang: float
    rotation: np.ndarray

    def _tube_offset(self, points_xyz_ang: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        local = (points_xyz_ang - self.center_xyz_ang) @ self.rotation
        radial = np.column_stack([local[:, 0], local[:, 1], np.zeros(len(local))])
        radial[_norm(radial) < _EPS] = (1.0, 0.0, 0.0)  # on the axis every ring point is nearest
        radial = _unit(radial)
        ring = self.major_radius_ang * radial
        return local - ring, ring

    def signed_distance_ang(self, points_xyz_ang: np.ndarray) -> np.ndarray:
        local = (points_xyz_ang - self.center_xyz_ang) @ self.rotation
        rho = np.sqrt(local[:, 0] ** 2 + local[:, 1] ** 2)
        return np.sqrt((rho - self.major_radius_ang) ** 2 + local[:, 2] ** 2) - self.minor_radius_ang

    def project(self, points_xyz_ang: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        offset, ring = self._tube_offset(points_xyz_ang)
        normal_local = _unit(offset)
        on_surface = ring + self.minor_radius_ang * normal_local
        return self.center_xyz_ang + on_surface @ self.rotation.T, normal_local @ self.rotation.T

    def bounds_ang(self) -> tuple[np.ndarray, np.ndarray]:
        axis = self.rotation[:, 2]
        half = self.major_radius_ang * np.sqrt(np.clip(1.0 - axis**2, 0.0, 1.0)) + self.minor_radius_ang
        return self.center_xyz_ang - half, self.center_xyz_ang + half

    def mesh(self, edge_ang: float) -> tuple[np.ndarray, np.ndarray]:
        n_u = max(12, int(np.ceil(2 * np.pi * (self.major_radius_ang + self.minor_radius_ang) / edge_ang)))
        n_v = max(8, int(np.ceil(2 * np.pi * self.minor_radius_ang / edge_ang)))
        u, v = np.meshgrid(np.arange(n_u) * 2 * np.pi / n_u, np.arange(n_v) * 2 * np.pi / n_v, indexing="ij")
        rho = self.major_radius_ang + self.minor_radius_ang * np.cos(v)
        local = np.stack([rho * np.cos(u), rho * np.sin(u), self.minor_radius_ang * np.sin(v)], axis=-1).reshape(-1, 3)
        i, j = np.meshgrid(np.arange(n_u), np.arange(n_v), indexing="ij")
        a = i * n_v + j
        b = ((i + 1) % n_u) * n_v + j
        c = ((i + 1) % n_u) * n_v + (j + 1) % n_v
        d = i * n_v + (j + 1) % n_v
        faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
        return self.center_xyz_ang + local @ self.rotation.T, faces


@dataclass(frozen=True)
class SphericalCap:
    """Open curved sheet: the part of a sphere within ``half_angle_rad`` of ``axis_xyz``.

    Beyond the rim the distance is to the rim circle, so the bilayer closes in a rounded edge.
    """

    center_xyz_ang: np.ndarray
    radius_ang: float
    axis_xyz: np.ndarray
    half_angle_rad: float

    def _frame(self) -> np.ndarray:
        axis = _unit(self.axis_xyz)
        helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = _unit(np.cross(axis, helper))
        return np.column_stack([e1, np.cross(axis, e1), axis])

    def _angle(self, rel: np.ndarray) -> np.ndarray:
        cos = (_unit(rel) @ _unit(self.axis_xyz)).clip(-1.0, 1.0)
        return np.arccos(cos)

    def _rim_point(self, rel: np.ndarray) -> np.ndarray:
        axis = _unit(self.axis_xyz)
        radial = _unit(rel - np.outer(rel @ axis, axis))
        a = self.half_angle_rad
        return self.radius_ang * (np.sin(a) * radial + np.cos(a) * axis)

    def signed_distance_ang(self, points_xyz_ang: np.ndarray) -> np.ndarray:
        rel = points_xyz_ang - self.center_xyz_ang
        r = _norm(rel)
        height = rel @ _unit(self.axis_xyz)
        dist = r - self.radius_ang
        outside = height < r * np.cos(self.half_angle_rad)
        if outside.any():  # beyond the rim: distance to the rim circle
            rho = np.sqrt(np.maximum(r[outside] ** 2 - height[outside] ** 2, 0.0))
            rim_rho = self.radius_ang * np.sin(self.half_angle_rad)
            rim_height = self.radius_ang * np.cos(self.half_angle_rad)
            dist[outside] = np.sqrt((rho - rim_rho) ** 2 + (height[outside] - rim_height) ** 2)
        return dist

    def project(self, points_xyz_ang: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = points_xyz_ang - self.center_xyz_ang
        normals = _unit(rel)
        outside = self._angle(rel) > self.half_angle_rad
        if outside.any():
            normals[outside] = self._rim_point(rel[outside]) / self.radius_ang
        return self.center_xyz_ang + self.radius_ang * normals, normals

    def bounds_ang(self) -> tuple[np.ndarray, np.ndarray]:
        """Extremes lie on the rim or at the sphere's own extremes where those belong to the cap."""
        frame = self._frame()
        phi = np.linspace(0.0, 2 * np.pi, 512, endpoint=False)
        a = self.half_angle_rad
        rim = np.column_stack([np.sin(a) * np.cos(phi), np.sin(a) * np.sin(phi), np.full_like(phi, np.cos(a))])
        extremes = np.concatenate([np.eye(3), -np.eye(3)])
        on_cap = extremes @ frame[:, 2] >= np.cos(a)
        points = self.center_xyz_ang + self.radius_ang * np.concatenate([rim @ frame.T, extremes[on_cap]])
        pad = 1e-4 * self.radius_ang
        return points.min(axis=0) - pad, points.max(axis=0) + pad

    def mesh(self, edge_ang: float) -> tuple[np.ndarray, np.ndarray]:
        """Azimuthal-equidistant disk of arc radius R·α, triangulated in the plane, mapped onto the sphere."""
        arc_ang = self.radius_ang * self.half_angle_rad
        n_rings = max(2, int(np.ceil(arc_ang / edge_ang)))
        points = [np.zeros((1, 2))]
        for k in range(1, n_rings + 1):
            rho = arc_ang * k / n_rings
            n_around = max(6, int(np.ceil(2 * np.pi * rho / edge_ang)))
            phi = (np.arange(n_around) + 0.5 * (k % 2)) * 2 * np.pi / n_around
            points.append(rho * np.column_stack([np.cos(phi), np.sin(phi)]))
        disk = np.concatenate(points)
        faces = Delaunay(disk).simplices
        theta = np.linalg.norm(disk, axis=1) / self.radius_ang
        phi = np.arctan2(disk[:, 1], disk[:, 0])
        local = np.column_stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
        return self.center_xyz_ang + self.radius_ang * local @ self._frame().T, faces


Shape = Sphere | Ellipsoid | Torus | SphericalCap


def oriented_mesh(shape: Shape, edge_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """Mid-surface mesh of ``shape`` with every face wound so its normal is the outward normal.

    Returns
    -------
    vertices_xyz_ang : (n, 3) float array, Å, xyz
    faces : (m, 3) int array
    """
    vertices, faces = shape.mesh(edge_ang)
    tri = vertices[faces]
    winding = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    _, outward = shape.project(tri.mean(axis=1))
    faces = np.array(faces, dtype=np.int64)
    inward = (winding * outward).sum(axis=1) < 0
    faces[inward] = faces[inward][:, ::-1]
    return vertices, faces


def shape_parameters(shape: Shape) -> dict[str, object]:
    """JSON-friendly description of a shape (lengths in Å)."""
    out: dict[str, object] = {"type": type(shape).__name__}
    for name, value in vars(shape).items():
        out[name] = np.asarray(value).round(4).tolist() if isinstance(value, np.ndarray) else round(float(value), 4)
    return out
