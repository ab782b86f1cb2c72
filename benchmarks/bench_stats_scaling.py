"""How ``cryomem.stats`` scales: geodesic neighbours and Ripley's functions on growing inputs.

Three measurements, each case in a fresh child process (so its peak resident memory is its own,
read with ``os.wait4``):

1. **The anchor's sphere**: an icosphere of radius 500 Å (40,962 vertices) with 300 particles
   uniform on it. Geodesic nearest neighbour (k = 1), Ripley's L with 50 bins (1 nm up to 50 nm)
   without and with 20 CSR envelope simulations. The mean nearest-neighbour distance is compared
   with its closed form for n uniform points on a sphere,
   ``R * integral_0^pi ((1 + cos t) / 2)^(n - 1) dt`` (``P(no other point within angle t)``).
2. **Many membranes**: 1, 3 and 10 spheres (radius 70-100 nm, ~10k vertices each) with 500
   particles each: concentration + neighbours + Ripley (2 nm bins up to 50 nm), time and peak memory.
3. **One large membrane**: planes of 62k, 250k and 1M vertices (a triangular lattice of 10 Å) with 500
   particles: the same three analyses.

For 2 and 3 the growth exponent is the slope of log(time) against log(size) (particles, vertices).
In 3 the particles stay 500 while the plane grows, so they thin out and every neighbourhood (the
strips between neighbours, the balls of Ripley's largest radius) holds more vertices: that, not the
mesh as such, is what grows.

    python benchmarks/bench_stats_scaling.py            # everything (a few minutes on 2 cores)
    python benchmarks/bench_stats_scaling.py --quick    # small inputs, under a minute
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def _sphere_nn_closed_form_ang(radius_ang: float, n: int) -> float:
    theta = np.linspace(0.0, np.pi, 200_001)
    survival = ((1.0 + np.cos(theta)) / 2.0) ** (n - 1)
    return float(radius_ang * np.trapezoid(survival, theta))


def _uniform_on_sphere(n: int, radius_ang: float, rng: np.random.Generator) -> np.ndarray:
    points = rng.normal(size=(n, 3))
    return radius_ang * points / np.linalg.norm(points, axis=1, keepdims=True)


def _membranes(meshes: list[tuple[np.ndarray, np.ndarray]], positions: list[np.ndarray]):
    """MembraneParticles for meshes (vertices Å, faces) and the particle positions on each."""
    import pandas as pd

    from cryomem.stats import assign_particles, membrane_surface

    surfaces, rows = [], []
    for index, ((vertices, faces), xyz) in enumerate(zip(meshes, positions), start=1):
        surfaces.append(membrane_surface("t", index, vertices, faces))
        for x, y, z in xyz:
            rows.append({"tomo_name": "t", "x_ang": x, "y_ang": y, "z_ang": z, "rot_deg": 0.0, "tilt_deg": 0.0,
                         "psi_deg": 0.0, "class_number": 1, "membrane_id": index, "score": 1.0})  # fmt: skip
    return assign_particles(surfaces, pd.DataFrame(rows)).membranes


def _timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def case_sphere(subdivisions: int, n_particles: int, simulations: int) -> dict:
    import trimesh

    from cryomem.stats import nearest_neighbours, ripley

    radius = 500.0
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    rng = np.random.default_rng(7)
    xyz = _uniform_on_sphere(n_particles, radius, rng)
    membranes = _membranes([(np.asarray(sphere.vertices), np.asarray(sphere.faces))], [xyz])
    t_nn, nn = _timed(nearest_neighbours, membranes, k=1)
    t_ripley, _ = _timed(ripley, membranes, bin_size_nm=1.0, max_radius_nm=50.0)
    t_env, _ = _timed(ripley, membranes, bin_size_nm=1.0, max_radius_nm=50.0, n_simulations=simulations, seed=1)
    mean_ang = 10.0 * float(nn.per_particle["nn1_distance_nm"].mean())
    closed = _sphere_nn_closed_form_ang(radius, n_particles)
    return {"vertices": len(sphere.vertices), "particles": n_particles, "nn_s": t_nn, "ripley_s": t_ripley,
            "ripley_envelopes_s": t_env, "simulations": simulations, "nn1_mean_ang": mean_ang,
            "nn1_closed_ang": closed}  # fmt: skip


def _three_analyses(membranes) -> dict:
    from cryomem.stats import concentration, nearest_neighbours, ripley

    t_conc, _ = _timed(concentration, membranes)
    t_nn, _ = _timed(nearest_neighbours, membranes, k=1)
    t_ripley, _ = _timed(ripley, membranes, bin_size_nm=2.0, max_radius_nm=50.0)
    return {"concentration_s": t_conc, "nn_s": t_nn, "ripley_s": t_ripley, "total_s": t_conc + t_nn + t_ripley}


def case_many(n_membranes: int, n_particles: int, subdivisions: int) -> dict:
    import trimesh

    rng = np.random.default_rng(3)
    meshes, positions = [], []
    for index in range(n_membranes):
        radius = float(rng.uniform(700.0, 1000.0))
        sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
        offset = np.array([3000.0 * index, 0.0, 0.0])
        meshes.append((np.asarray(sphere.vertices) + offset, np.asarray(sphere.faces)))
        positions.append(_uniform_on_sphere(n_particles, radius, rng) + offset)
    membranes = _membranes(meshes, positions)
    vertices = sum(len(v) for v, _ in meshes)
    return {"membranes": n_membranes, "particles": n_membranes * n_particles, "vertices": vertices,
            **_three_analyses(membranes)}  # fmt: skip


def _lattice_plane(side: int, spacing_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """A ``side x side`` triangular lattice in z = 0 (equilateral triangles, as isotropic as real meshes)."""
    j, i = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = (i + 0.5 * (j % 2)) * spacing_ang
    y = j * spacing_ang * np.sqrt(3.0) / 2.0
    vertices = np.c_[x.ravel(), y.ravel(), np.zeros(side * side)]
    index = np.arange(side * side).reshape(side, side)
    faces = []
    for row in range(side - 1):
        a, b = index[row, :-1], index[row, 1:]  # this row
        c, d = index[row + 1, :-1], index[row + 1, 1:]  # the next row
        if row % 2 == 0:  # the next row is shifted right by half a spacing
            faces += [np.c_[a, b, c], np.c_[b, d, c]]
        else:
            faces += [np.c_[a, b, d], np.c_[a, d, c]]
    return vertices.astype(np.float64), np.concatenate(faces).astype(np.int64)


def case_plane(side: int, n_particles: int) -> dict:
    spacing = 10.0
    vertices, faces = _lattice_plane(side, spacing)
    rng = np.random.default_rng(5)
    extent = (side - 1) * spacing
    xyz = np.c_[rng.uniform(0.05 * extent, 0.95 * extent, size=(n_particles, 2)), np.zeros(n_particles)]
    membranes = _membranes([(vertices, faces)], [xyz])
    return {"vertices": len(vertices), "particles": n_particles, **_three_analyses(membranes)}


CASES = {"sphere": case_sphere, "many": case_many, "plane": case_plane}


def run_case(name: str, threads: int, **kwargs) -> dict:
    """One case in a fresh child process: its result, wall time and peak resident memory."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--case", json.dumps({"name": name, **kwargs})]
    with tempfile.TemporaryFile(mode="w+") as err:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)  # the child's own peak memory
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            err.seek(0)
            raise RuntimeError(f"case {name} {kwargs} failed:\n{err.read()[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mib"] = usage.ru_maxrss / 1024.0
    return result


def exponent(sizes: list[float], seconds: list[float]) -> float:
    """Slope of log(seconds) against log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (under a minute)")
    parser.add_argument("--threads", type=int, default=2, help="threads of numpy/scipy in each child")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        spec = json.loads(args.case)
        print(json.dumps(CASES[spec.pop("name")](**spec)))
        return
    q = args.quick
    sphere = run_case("sphere", args.threads, subdivisions=4 if q else 6, n_particles=80 if q else 300,
                      simulations=5 if q else 20)  # fmt: skip
    error = 100.0 * (sphere["nn1_mean_ang"] - sphere["nn1_closed_ang"]) / sphere["nn1_closed_ang"]
    print(f"sphere R 500 Å, {sphere['vertices']:,} vertices, {sphere['particles']} particles "
          f"({args.threads} threads, peak {sphere['peak_mib']:.0f} MiB):")  # fmt: skip
    print(f"  nearest neighbour k=1: {sphere['nn_s']:.2f} s; NN1 mean {sphere['nn1_mean_ang']:.2f} Å vs closed form "
          f"{sphere['nn1_closed_ang']:.2f} Å ({error:+.2f} %)")  # fmt: skip
    print(f"  Ripley L, 50 bins: {sphere['ripley_s']:.2f} s; with {sphere['simulations']} CSR simulations: "
          f"{sphere['ripley_envelopes_s']:.2f} s")  # fmt: skip
    many = [run_case("many", args.threads, n_membranes=n, n_particles=100 if q else 500, subdivisions=3 if q else 5)
            for n in ((1, 2) if q else (1, 3, 10))]  # fmt: skip
    print("many membranes (concentration + neighbours + Ripley 2 nm bins to 50 nm):")
    for r in many:
        print(f"  {r['membranes']:>3} membranes, {r['particles']:>5} particles, {r['vertices']:>9,} vertices: "
              f"{r['total_s']:6.2f} s (conc {r['concentration_s']:.2f}, NN {r['nn_s']:.2f}, Ripley "
              f"{r['ripley_s']:.2f}), peak {r['peak_mib']:.0f} MiB")  # fmt: skip
    print(f"  time ~ particles^{exponent([r['particles'] for r in many], [r['total_s'] for r in many]):.2f}")
    planes = [run_case("plane", args.threads, side=side, n_particles=100 if q else 500)
              for side in ((60, 120) if q else (250, 500, 1000))]  # fmt: skip
    print("one plane membrane, same analyses:")
    for r in planes:
        print(f"  {r['vertices']:>9,} vertices, {r['particles']} particles: {r['total_s']:6.2f} s (conc "
              f"{r['concentration_s']:.2f}, NN {r['nn_s']:.2f}, Ripley {r['ripley_s']:.2f}), peak "
              f"{r['peak_mib']:.0f} MiB")  # fmt: skip
    print(f"  time ~ vertices^{exponent([r['vertices'] for r in planes], [r['total_s'] for r in planes]):.2f}")


if __name__ == "__main__":
    main()
