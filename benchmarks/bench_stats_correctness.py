"""Correctness of ``cryomem.stats`` against exact answers (issue 5, "Correctness and speed").

Prints, each over several seeds:

1. concentration per membrane and pooled against the simulator's ground truth (simulated
   tomograms with membrane proteins, meshes and particles straight from the simulator);
2. geodesic nearest-neighbour distances, heat method (default: refined near-exactly around each
   particle; also plain) against the exact method, on a sphere and on a plane, and both against the
   Euclidean distance on the plane;
3. complete spatial randomness on a plane: the fraction of radius bins where L(r) leaves the
   Monte-Carlo envelope (19 simulations, pointwise min/max: about 10 % is expected by construction);
4. a square lattice with 35 nm spacing (1 nm jitter): the position of the first peak of O(r).

    python benchmarks/bench_stats_correctness.py            # ~2-4 min on 2 cores
    python benchmarks/bench_stats_correctness.py --seeds 2  # quicker
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import trimesh
from scipy.spatial import Delaunay

from cryomem.simulate import CytosolConfig, MembraneConfig, MembraneProteinConfig, SimulationConfig, simulate_to_folder
from cryomem.stats import assign_particles, concentration, load_inputs, membrane_surface, nearest_neighbours, ripley


def plane_mesh(size_ang: float, spacing_ang: float) -> tuple[np.ndarray, np.ndarray]:
    """A flat square sheet at z = 0 of equilateral triangles (a hexagonal lattice of vertices)."""
    row_step = spacing_ang * np.sqrt(3.0) / 2.0
    rows, cols = int(size_ang / row_step) + 1, int(size_ang / spacing_ang) + 1
    j, i = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    xy = np.c_[(i * spacing_ang + (j % 2) * spacing_ang / 2.0).ravel(), (j * row_step).ravel()]
    xy = xy[xy[:, 0] <= size_ang + 1e-9]
    return np.c_[xy, np.zeros(len(xy))], Delaunay(xy).simplices.astype(np.int64)


def particles(xyz_ang: np.ndarray, tomo: str = "t") -> pd.DataFrame:
    n = len(xyz_ang)
    table = pd.DataFrame({"tomo_name": [tomo] * n, "class_number": np.ones(n, dtype=int)})
    table[["x_ang", "y_ang", "z_ang"]] = np.asarray(xyz_ang, dtype=float)
    table[["rot_deg", "tilt_deg", "psi_deg"]] = 0.0
    table["membrane_id"], table["score"] = -1, 1.0
    return table


def on_mesh(vertices, faces, xyz_ang, method="heat"):
    return assign_particles([membrane_surface("t", 1, vertices, faces)], particles(xyz_ang), method=method).membranes


def concentration_errors(seeds: list[int]) -> None:
    print("1. concentration against the simulator's ground truth")
    worst_membrane, pooled = 0.0, []
    for seed in seeds:
        config = SimulationConfig(
            shape_zyx=(64, 128, 128),
            voxel_size_ang=12.0,
            seed=1000 + seed,
            membranes=MembraneConfig(occupancy=0.1, kinds={"sphere": 1, "ellipsoid": 1, "sheet": 1}),
            membrane_proteins=MembraneProteinConfig(concentration_per_um2=3000),
            cytosol=CytosolConfig(occupancy=0.0, microtubules=0, actin_filaments=0),
        )
        with tempfile.TemporaryDirectory() as work:
            folder, files, _ = simulate_to_folder(config, Path(work) / "tomo")
            truth = json.loads((folder / files["ground_truth"]).read_text())
            membranes = load_inputs([folder / files["meshes"]], [folder / files["membrane_proteins"]]).membranes
        result = concentration(membranes)
        all_classes = result[result["class"] == "all"]
        for membrane in truth["membranes"]:
            row = all_classes[
                (all_classes["scope"] == "membrane") & (all_classes["membrane_id"] == membrane["membrane_id"])
            ]
            error = abs(float(row["concentration_per_um2"].iloc[0]) / membrane["concentration_per_um2"] - 1)
            worst_membrane = max(worst_membrane, error)
        ours = float(all_classes.loc[all_classes["scope"] == "all", "concentration_per_um2"].iloc[0])
        pooled.append(ours / truth["concentration_per_um2"] - 1)
        print(
            f"   seed {seed}: {len(truth['membranes'])} membranes, {truth['counts']['membrane_proteins']} proteins, "
            f"pooled {ours:.1f} vs {truth['concentration_per_um2']:.1f} per µm² ({100 * pooled[-1]:+.3f} %)"
        )
    print(f"   largest error: per membrane {100 * worst_membrane:.3f} %, pooled {100 * np.abs(pooled).max():.3f} %")


def neighbour_agreement(seeds: list[int]) -> None:
    print("2. nearest-neighbour distances: heat vs exact (and vs Euclidean on a plane)")
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=800.0)
    plane = plane_mesh(3000.0, 30.0)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        directions = rng.normal(size=(200, 3))
        on_sphere = 800.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
        on_plane = np.c_[rng.uniform(300.0, 2700.0, size=(200, 2)), np.zeros(200)]
        rows = {}
        for name, (vertices, faces), xyz in (
            ("sphere", (np.asarray(sphere.vertices), np.asarray(sphere.faces)), on_sphere),
            ("plane", plane, on_plane),
        ):
            columns = ["nn1_distance_nm", "nn2_distance_nm", "nn3_distance_nm"]
            distances = {
                (method, refine): nearest_neighbours(on_mesh(vertices, faces, xyz, method), k=3, refine=refine)
                .per_particle.set_index("particle_index")
                .sort_index()[columns]
                .to_numpy()
                for method, refine in (("heat", True), ("heat", False), ("exact", True))
            }
            exact = distances["exact", True]
            apart = exact > 0  # particles snapped to one vertex are at 0 nm in both
            rows[f"{name}, heat vs exact"] = np.abs(distances["heat", True][apart] / exact[apart] - 1)
            rows[f"{name}, plain heat vs exact"] = np.abs(distances["heat", False][apart] / exact[apart] - 1)
            if name == "plane":
                snapped = on_mesh(vertices, faces, xyz)[0]
                order = np.argsort(snapped.particles["particle_index"].to_numpy())
                points = vertices[snapped.vertices[order]]
                euclid = np.sort(np.linalg.norm(points[:, None] - points[None], axis=2), axis=1)[:, 1:4] / 10.0
                rows["plane, heat vs Euclidean"] = np.abs(distances["heat", True][apart] / euclid[apart] - 1)
                rows["plane, exact vs Euclidean"] = np.abs(exact[apart] / euclid[apart] - 1)
        print(f"   seed {seed} (k = 1..3, 200 particles; relative difference median / 95th percentile / max):")
        for name, values in rows.items():
            quantiles = 100 * np.quantile(values, [0.5, 0.95, 1.0])
            print(f"      {name:30s} {quantiles[0]:5.2f} / {quantiles[1]:5.2f} / {quantiles[2]:5.2f} %")


def envelope_coverage(seeds: list[int]) -> None:
    print("3. complete spatial randomness on a 300 nm plane: L(r) outside the 19-simulation envelope")
    vertices, faces = plane_mesh(3000.0, 40.0)
    fractions, k_ratios = [], []
    for seed in range(5 * len(seeds)):
        xyz = np.c_[np.random.default_rng(100 + seed).uniform(0, 3000.0, size=(200, 2)), np.zeros(200)]
        table = ripley(
            on_mesh(vertices, faces, xyz), bin_size_nm=5.0, max_radius_nm=80.0, n_simulations=19, seed=seed
        ).table
        outside = (table["L_nm"] < table["L_nm_csr_low"]) | (table["L_nm"] > table["L_nm_csr_high"])
        fractions.append(outside.mean())
        k_ratios.append(table["K_ratio"].to_numpy())
    print(
        f"   {len(fractions)} patterns: {100 * np.mean(fractions):.1f} % of all bins outside (pointwise min/max of 19: "
        f"10 % expected); per pattern {100 * np.min(fractions):.0f}-{100 * np.max(fractions):.0f} %; "
        f"mean K/πr² over patterns and bins {np.mean(k_ratios):.3f} (1 expected)"
    )


def lattice_peak(seeds: list[int]) -> None:
    print("4. square lattice, 35 nm spacing, 1 nm jitter: first peak of O(r) (bins of 2 nm)")
    vertices, faces = plane_mesh(4000.0, 20.0)
    grid = np.stack(np.meshgrid(np.arange(10), np.arange(10)), axis=-1).reshape(-1, 2) * 350.0 + 425.0
    for seed in seeds:
        xy = grid + np.random.default_rng(seed).normal(scale=10.0, size=grid.shape)
        table = ripley(
            on_mesh(vertices, faces, np.c_[xy, np.zeros(len(xy))]), bin_size_nm=2.0, max_radius_nm=45.0
        ).table
        peak = table.loc[table["O_per_um2"].idxmax()]
        print(
            f"   seed {seed}: peak at {(peak['r_lo_nm'] + peak['r_nm']) / 2:.1f} nm "
            f"(O = {peak['O_per_um2']:.0f} per µm²)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="repetitions of each check")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    for check in (concentration_errors, neighbour_agreement, envelope_coverage, lattice_peak):
        started = time.perf_counter()
        check(seeds)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
