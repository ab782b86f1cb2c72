"""Inter-membrane distances along normals: accuracy on simulated double membranes and stacks, and speed.

    python benchmarks/bench_morph_distances.py [--n 3] [--shape 100,400,400] [--speed-vertices 300000]

(1) Accuracy. Simulates the membranes of tomograms crowded with stacks and double membranes
(the simulator's membrane stage: ``insert_membranes`` on an empty phantom, the same geometry
``simulate_tomogram`` starts from), takes each membrane's true mid-surface mesh with its analytic
outward normals, and runs `normal_distances`. A group's membranes are created innermost first
(smaller radius / semi-axes), so membrane ``i`` looks outward to ``i + 1`` and inward to ``i - 1``.
The simulated spacing of a pair is the difference of their radii (spherical caps, spheres) or of
their semi-axes (ellipsoids: the outer one is the inner one with ``gap`` added to every axis, which
is not a parallel surface, so along a normal the distance differs from ``gap`` away from the axes;
the analytic ray–ellipsoid distance is printed as well). Counted: vertices whose ray hits the
partner membrane; printed: fraction of those within 1 nm of the spacing and the median error, per
shape, plus how many rays hit something else first (a neighbouring membrane closer than the partner)
or nothing (clipped rims).

(2) Speed. Random icospheres filling a 200 x 512 x 512 volume at 10 Å up to ``--speed-vertices``
vertices, max 50 nm; prints seconds (wall clock, this machine).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import trimesh

from cryomem.morph._distances import normal_distances
from cryomem.simulate import MembraneConfig
from cryomem.simulate._phantom import empty_phantom, insert_membranes
from cryomem.simulate._shapes import Ellipsoid


def simulated_membranes(seed: int, shape: tuple[int, int, int]) -> list:
    config = MembraneConfig.model_validate({"occupancy": 0.08, "kinds": {"stack": 2.0, "double": 2.0, "sphere": 1.0}})
    phantom = empty_phantom(shape, 10.0)
    insert_membranes(phantom, config, np.random.default_rng(seed))
    return phantom.membranes


def size_ang(shape) -> np.ndarray:
    if isinstance(shape, Ellipsoid):
        return np.asarray(shape.semi_axes_ang, float)
    return np.array([shape.radius_ang])


def analytic_hit_ang(target, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """First crossing (t > 1 Å) of the analytic mid-surface ``target`` along each ray (sphere-like shapes)."""
    if isinstance(target, Ellipsoid):
        o = (origins - target.center_xyz_ang) @ target.rotation / target.semi_axes_ang
        d = directions @ target.rotation / target.semi_axes_ang
    else:
        o = (origins - target.center_xyz_ang) / target.radius_ang
        d = directions / target.radius_ang
    a, b, c = (d * d).sum(1), 2 * (o * d).sum(1), (o * o).sum(1) - 1.0
    disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
    roots = np.stack([(-b - disc) / (2 * a), (-b + disc) / (2 * a)], 1)
    roots[roots <= 1.0] = np.inf
    return np.where(b * b - 4 * a * c >= 0, roots.min(1), np.inf)


def accuracy(args: argparse.Namespace, shape: tuple[int, int, int]) -> None:
    errors: dict[str, list[np.ndarray]] = defaultdict(list)
    analytic: dict[str, list[np.ndarray]] = defaultdict(list)
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(3, int))  # partner hit, other hit, nothing
    seconds, vertices = 0.0, 0
    for index in range(args.n):
        membranes = simulated_membranes(7300 + index, shape)
        meshes = [
            (m.membrane_id, m.vertices_xyz_ang, m.faces, m.shape.project(m.vertices_xyz_ang)[1]) for m in membranes
        ]
        started = time.perf_counter()
        result = normal_distances(meshes, max_distance_nm=50.0)
        seconds += time.perf_counter() - started
        vertices += sum(len(m[1]) for m in meshes)
        by_group = defaultdict(list)
        for m in membranes:
            by_group[m.group_id].append(m)
        for group in by_group.values():
            if len(group) < 2:
                continue
            group.sort(key=lambda m: size_ang(m.shape).max())
            for i, m in enumerate(group):
                name = f"{m.kind} {type(m.shape).__name__}"
                normals = m.shape.project(m.vertices_xyz_ang)[1]
                for j, sign in ((i + 1, 1.0), (i - 1, -1.0)):
                    if not 0 <= j < len(group):
                        continue
                    partner = group[j]
                    gap_ang = abs(float(np.mean(size_ang(partner.shape) - size_ang(m.shape))))
                    r = result[m.membrane_id]
                    got, hit = (r.outward_nm, r.outward_membrane) if sign > 0 else (r.inward_nm, r.inward_membrane)
                    on_partner = hit == partner.membrane_id
                    counts[name] += [on_partner.sum(), ((hit >= 0) & ~on_partner).sum(), (hit < 0).sum()]
                    errors[name].append(got[on_partner] - gap_ang / 10.0)
                    exact = analytic_hit_ang(partner.shape, m.vertices_xyz_ang[on_partner], sign * normals[on_partner])
                    analytic[name].append(got[on_partner] - exact / 10.0)
        print(f"tomogram {index}: {len(membranes)} membranes, "
              f"{sum(len(g) > 1 for g in by_group.values())} stacks / double membranes", flush=True)  # fmt: skip
    print(f"\n(1) accuracy over {args.n} simulated tomograms of {shape} at 10 Å (true meshes, analytic normals)")
    print(f"    normal_distances on all membranes: {vertices} vertices in {seconds:.1f} s")
    every = []
    for name in sorted(errors):
        e, a = np.concatenate(errors[name]), np.concatenate(analytic[name])
        every.append(e)
        partner, other, nothing = counts[name]
        total = partner + other + nothing
        print(
            f"  {name:>26}: {partner:7d} rays on the partner ({partner / total:.1%}; other membrane first "
            f"{other / total:.1%}, nothing {nothing / total:.1%}); within 1 nm of the spacing "
            f"{np.mean(np.abs(e) <= 1.0):.1%}, median |error| {np.median(np.abs(e)):.3f} nm, "
            f"95th pct {np.percentile(np.abs(e), 95):.3f} nm; vs analytic ray hit median "
            f"{np.median(np.abs(a)):.3f} nm, max {np.max(np.abs(a)):.3f} nm"
        )
    e = np.concatenate(every)
    print(f"  {'all':>26}: within 1 nm {np.mean(np.abs(e) <= 1.0):.1%}, median |error| {np.median(np.abs(e)):.3f} nm")
    for name in ("stack SphericalCap", "double Sphere", "double SphericalCap"):
        if name in errors:
            e = np.concatenate(errors[name])
            print(f"  {'(parallel surfaces) ' + name:>26}: within 1 nm {np.mean(np.abs(e) <= 1.0):.1%}")


def speed(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(1)
    extent = np.array([5120.0, 5120.0, 2000.0])
    meshes, n = [], 0
    while n < args.speed_vertices:
        radius = float(rng.uniform(250.0, 1000.0))
        ico = trimesh.creation.icosphere(subdivisions=5 if radius > 600 else 4)
        unit = np.asarray(ico.vertices) / np.linalg.norm(ico.vertices, axis=1, keepdims=True)
        meshes.append((len(meshes) + 1, radius * unit + rng.uniform(0, 1, 3) * extent, np.asarray(ico.faces), unit))
        n += len(unit)
    started = time.perf_counter()
    result = normal_distances(meshes, max_distance_nm=50.0)
    seconds = time.perf_counter() - started
    hit = np.mean(np.concatenate([np.isfinite(r.outward_nm) | np.isfinite(r.inward_nm) for r in result.values()]))
    faces = sum(len(m[2]) for m in meshes)
    print(f"\n(2) speed: {len(meshes)} icospheres, {n} vertices, {faces} faces, 2 rays per vertex, max 50 nm: "
          f"{seconds:.1f} s ({hit:.0%} of vertices hit another membrane)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--shape", default="100,400,400")
    parser.add_argument("--speed-vertices", type=int, default=300_000)
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    accuracy(args, shape)
    speed(args)


if __name__ == "__main__":
    main()
