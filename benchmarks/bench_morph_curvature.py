"""Accuracy and speed of ``curvature_at_scale`` on analytic and voxelised meshes.

Clean meshes have their vertices on the analytic surface (icosphere, parametric cylinder and torus);
voxelised ones are the mesh (``mesh_from_mask``, both sides of the membrane) of a 40 Å thick shell
rasterised at 10 Å voxels, compared with the closed form at each vertex's own distance from the
centre / axis / tube circle, with the sign of its side (inner side: normals point inwards). Figures:
median and 95th percentile of the per-vertex relative error of H and K (K of the cylinder is 0 and the
torus's crosses 0: there |ΔK| / curvedness², marked ``K*``), and the relative error of the mean H per side.
Then the time of a 1 M-triangle torus.

    OMP_NUM_THREADS=1 python benchmarks/bench_morph_curvature.py
"""

from __future__ import annotations

import time

import numpy as np
import trimesh

from cryomem.geometry import mesh_from_mask
from cryomem.morph._curvature import curvature_at_scale

VOXEL_ANG = 10.0
HALF_THICKNESS_ANG = 20.0


def _grid_faces(nu: int, nv: int, *, wrap_v: bool) -> np.ndarray:
    i, j = np.meshgrid(np.arange(nu), np.arange(nv if wrap_v else nv - 1), indexing="ij")
    p00, p10 = i * nv + j, ((i + 1) % nu) * nv + j
    p01, p11 = i * nv + (j + 1) % nv, ((i + 1) % nu) * nv + (j + 1) % nv
    return np.concatenate(
        [
            np.column_stack([p00.ravel(), p10.ravel(), p11.ravel()]),
            np.column_stack([p00.ravel(), p11.ravel(), p01.ravel()]),
        ]
    )


def _wind(vertices: np.ndarray, faces: np.ndarray, outward_of_points) -> np.ndarray:
    corners = vertices[faces]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    flip = np.einsum("ij,ij->i", normal, outward_of_points(corners.mean(axis=1))) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return faces


def _sphere_truth(points, normals, _):
    distance = np.linalg.norm(points, axis=1)
    side = np.sign(np.einsum("ij,ij->i", normals, points))
    return side * 10 / distance, (10 / distance) ** 2, np.ones(len(points), bool)


def _cylinder_truth(length_ang, scale_nm):
    def truth(points, normals, _):
        radial = points * [1.0, 1.0, 0.0]
        distance = np.linalg.norm(radial, axis=1)
        side = np.sign(np.einsum("ij,ij->i", normals, radial))
        interior = np.abs(points[:, 2]) < length_ang / 2 - 10 * scale_nm - 2 * HALF_THICKNESS_ANG
        return side * 5 / distance, np.zeros(len(points)), interior

    return truth


def _torus_truth(major_ang):
    def truth(points, normals, _):
        ring = np.linalg.norm(points[:, :2], axis=1)
        centre = points * [1.0, 1.0, 0.0] * (major_ang / ring)[:, None]
        offset = points - centre
        a = np.linalg.norm(offset, axis=1) / 10
        cos_v = (ring - major_ang) / 10 / a
        side = np.sign(np.einsum("ij,ij->i", normals, offset))
        big_r = major_ang / 10
        return (
            side * (big_r + 2 * a * cos_v) / (2 * a * (big_r + a * cos_v)),
            cos_v / (a * (big_r + a * cos_v)),
            np.ones(len(points), bool),
        )

    return truth


def _report(name, vertices, faces, truth, scale_nm, normals=None):
    start = time.perf_counter()
    curvature = curvature_at_scale(vertices, faces, scale_nm=scale_nm)
    seconds = time.perf_counter() - start
    if normals is None:
        from cryomem.geometry import vertex_normals

        normals = vertex_normals(vertices, faces)
    h_true, k_true, use = truth(vertices, normals, scale_nm)
    use &= curvature.valid
    h, k = curvature.mean_per_nm[use], curvature.gaussian_per_nm2[use]
    h_true, k_true = h_true[use], k_true[use]
    h_err = np.abs(h / h_true - 1)
    curvedness2 = 2 * h_true**2 - k_true  # (k1² + k2²) / 2
    if np.all(np.abs(k_true) > 0.3 * curvedness2):
        k_err, k_name = np.abs(k / k_true - 1), "K "
    else:
        k_err, k_name = np.abs(k - k_true) / curvedness2, "K*"
    sides = [h_true > 0, h_true < 0]
    mean_err = max(abs(h[s].mean() / h_true[s].mean() - 1) for s in sides if s.any())
    print(
        f"{name:<24} scale {scale_nm:4.1f} nm  n {use.sum():7d}  valid {curvature.valid.mean():6.1%}  "
        f"H med {np.median(h_err):6.2%} p95 {np.percentile(h_err, 95):6.2%}  "
        f"{k_name} med {np.median(k_err):6.2%} p95 {np.percentile(k_err, 95):6.2%}  "
        f"mean-H err {mean_err:6.2%}  {seconds:6.2f} s"
    )


def _voxelised(distance_ang_of_xyz, low_xyz, high_xyz):
    axes = [np.arange(lo, hi + VOXEL_ANG, VOXEL_ANG) for lo, hi in zip(low_xyz, high_xyz)]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    mask = np.abs(distance_ang_of_xyz(x, y, z)) <= HALF_THICKNESS_ANG
    mesh = mesh_from_mask(mask, VOXEL_ANG, origin_xyz_ang=(axes[0][0], axes[1][0], axes[2][0]))
    return mesh.vertices_xyz_ang, mesh.faces, mesh.normals_xyz


def _torus(major, minor, nu, nv):
    phi, v = np.meshgrid(np.arange(nu) * 2 * np.pi / nu, np.arange(nv) * 2 * np.pi / nv, indexing="ij")
    ring = major + minor * np.cos(v)
    vertices = np.column_stack(
        [(ring * np.cos(phi)).ravel(), (ring * np.sin(phi)).ravel(), (minor * np.sin(v)).ravel()]
    )

    def outward(p):
        return p - p * [1.0, 1.0, 0.0] * (major / np.linalg.norm(p[:, :2], axis=1))[:, None]

    return vertices, _wind(vertices, _grid_faces(nu, nv, wrap_v=True), outward)


def main() -> None:
    print("clean meshes (vertices on the surface, ~15 Å edges)")
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=300.0)
    for scale in (5.0, 10.0):
        _report("sphere R 30 nm", np.asarray(sphere.vertices), np.asarray(sphere.faces), _sphere_truth, scale)
    radius, length = 200.0, 1200.0
    theta, z = np.meshgrid(np.arange(84) * 2 * np.pi / 84, np.linspace(-length / 2, length / 2, 81), indexing="ij")
    cyl_v = np.column_stack([radius * np.cos(theta).ravel(), radius * np.sin(theta).ravel(), z.ravel()])
    cyl_f = _wind(cyl_v, _grid_faces(84, 81, wrap_v=False), lambda p: p * [1.0, 1.0, 0.0])
    for scale in (5.0, 10.0):
        _report("cylinder R 20 nm", cyl_v, cyl_f, _cylinder_truth(length, scale), scale)
    tor_v, tor_f = _torus(600.0, 200.0, 250, 84)
    for scale in (5.0, 10.0):
        _report("torus 60/20 nm", tor_v, tor_f, _torus_truth(600.0), scale)

    print(f"voxelised shells ({2 * HALF_THICKNESS_ANG:.0f} Å thick, {VOXEL_ANG:.0f} Å voxels, mesh_from_mask)")
    v, f, n = _voxelised(lambda x, y, z: np.sqrt(x**2 + y**2 + z**2) - 300.0, (-360,) * 3, (360,) * 3)
    for scale in (6.0, 8.0, 10.0, 15.0):
        _report("sphere R 30 nm", v, f, _sphere_truth, scale, n)
    v, f, n = _voxelised(
        lambda x, y, z: np.where(np.abs(z) <= length / 2, np.sqrt(x**2 + y**2) - radius, 1e9),
        (-260, -260, -length / 2 - 20),
        (260, 260, length / 2 + 20),
    )
    for scale in (6.0, 8.0, 10.0, 15.0):
        _report("cylinder R 20 nm", v, f, _cylinder_truth(length, scale), scale, n)
    v, f, n = _voxelised(
        lambda x, y, z: np.sqrt((np.sqrt(x**2 + y**2) - 600.0) ** 2 + z**2) - 200.0,
        (-860, -860, -260),
        (860, 860, 260),
    )
    for scale in (6.0, 8.0, 10.0, 15.0):
        _report("torus 60/20 nm", v, f, _torus_truth(600.0), scale, n)

    print("speed: 1 M-triangle torus (R 250 nm, a 100 nm, 1000 x 500 grid, 13-22 Å edges)")
    big_v, big_f = _torus(2500.0, 1000.0, 1000, 500)
    print(f"  {len(big_v)} vertices, {len(big_f)} triangles")
    for scale in (5.0, 10.0):
        _report("torus 250/100 nm", big_v, big_f, _torus_truth(2500.0), scale)


if __name__ == "__main__":
    main()
