"""Speed and agreement of ``cryomem.stats`` against the ``membrain-stats`` package on identical inputs.

Inputs: N spherical membranes (icosphere meshes, radius 70-100 nm, ~10k vertices each) with P particles
each (60 % uniform, 40 % in clusters; classes 1 and 2), written as OBJ + STAR. Timed on both sides:
concentration + geodesic nearest neighbours + Ripley (ours: K, L and O in one call; theirs: one
Ripley type per call). ``membrain-stats`` runs in a subprocess with the python of a throw-away
virtual environment (``--membrain-python``, default /tmp/msvenv/bin/python); it is never a dependency.

    python benchmarks/bench_stats.py                      # 10 membranes x 500 particles
    python benchmarks/bench_stats.py --membranes 2 --particles 200 --envelopes 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import trimesh

from cryomem.io import Mesh, normals_to_euler_zyz_deg, write_mesh, write_particles_star
from cryomem.stats import concentration, load_inputs, nearest_neighbours, ripley

THEIRS = textwrap.dedent(
    """
    import glob, json, os, sys, time
    import starfile
    from membrain_stats.protein_concentration import protein_concentration_folder
    from membrain_stats.geodesic_distances import geodesic_nearest_neighbors_folder as nn_folder
    from membrain_stats.geodesic_distances import geodesic_ripleys_folder as ripley_folder
    folder, out = sys.argv[1], sys.argv[2]
    both = dict(start_classes=[1, 2], target_classes=[1, 2], bin_size=20.0)
    times = {}
    t = time.perf_counter()
    protein_concentration_folder(folder, out + "/conc")
    times["concentration"] = time.perf_counter() - t
    t = time.perf_counter()
    nn_folder(folder, out + "/nn", num_neighbors=1, start_classes=[1], target_classes=[1])
    times["neighbours"] = time.perf_counter() - t
    t = time.perf_counter()
    ripley_folder(folder, out + "/ripley", ripley_type="O", **both)
    times["ripley_one_type"] = time.perf_counter() - t
    ripley_folder(folder, out + "/ripleyK", ripley_type="K", **both)
    nn_folder(folder, out + "/cross", num_neighbors=1, start_classes=[1], target_classes=[2])
    columns = ["start_positionX", "start_positionY", "start_positionZ", "nn0_distance"]

    def table(sub):
        files = sorted(glob.glob(out + sub + "/*_nearest_neighbors.star"))
        return {os.path.basename(f): starfile.read(f)[columns].values.tolist() for f in files}

    conc = starfile.read(out + "/conc/protein_concentration.star")
    rip_o, rip_k = starfile.read(out + "/ripley/ripleysO.star"), starfile.read(out + "/ripleyK/ripleysK.star")
    result = {
        "times": times,
        "concentration_per_nm2": conc["protein_concentration"].tolist(),
        "nn": table("/nn"),
        "cross": table("/cross"),
        "O": [rip_o["x_values"].tolist(), rip_o["y_values"].tolist()],
        "K": [rip_k["x_values"].tolist(), rip_k["y_values"].tolist()],
    }
    json.dump(result, open(out + "/result.json", "w"))
    """
)


def make_inputs(folder: Path, n_membranes: int, n_particles: int, subdivisions: int, seed: int) -> None:
    """Spherical membranes (OBJ, Å) with clustered + random particles; STAR files for us and for MemBrain-stats."""
    import starfile

    rng = np.random.default_rng(seed)
    tables = []
    for i in range(1, n_membranes + 1):
        radius = rng.uniform(700.0, 1000.0)
        centre = np.array([3000.0 * i, 0.0, 0.0])
        sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
        write_mesh(folder / f"bench_mb{i:03d}.obj", Mesh(np.asarray(sphere.vertices) + centre, sphere.faces))
        n_random = int(0.6 * n_particles)
        seeds = rng.normal(size=(20, 3))
        around = seeds[rng.integers(0, 20, n_particles - n_random)] + rng.normal(
            scale=0.06, size=(n_particles - n_random, 3)
        )
        normals = np.vstack([rng.normal(size=(n_random, 3)), around])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        xyz = centre + radius * normals
        angles = normals_to_euler_zyz_deg(normals, rng.uniform(0, 360, n_particles))
        classes = np.where(rng.random(n_particles) < 0.7, 1, 2)
        star = pd.DataFrame({"rlnCoordinateX": xyz[:, 0], "rlnCoordinateY": xyz[:, 1], "rlnCoordinateZ": xyz[:, 2]})
        star["rlnClassNumber"] = classes
        star["rlnAngleRot"], star["rlnAngleTilt"], star["rlnAnglePsi"] = angles.T
        starfile.write(star, folder / f"bench_mb{i:03d}_clusters.star")
        tables.append(
            pd.DataFrame(
                {
                    "tomo_name": "bench",
                    **{f"{a}_ang": xyz[:, j] for j, a in enumerate("xyz")},
                    **{f"{a}_deg": angles[:, j] for j, a in enumerate(("rot", "tilt", "psi"))},
                    "class_number": classes,
                    "membrane_id": i,
                }
            )
        )
    shape = (64, 64, int(3000 * (n_membranes + 2) / 10))
    write_particles_star(folder / "particles.star", pd.concat(tables), voxel_size_ang=10.0, shape_zyx=shape)


def run_ours(folder: Path) -> dict:
    times, t = {}, time.perf_counter()
    assignment = load_inputs([folder], [folder / "particles.star"])
    times["load_and_snap"] = time.perf_counter() - t
    membranes = assignment.membranes
    t = time.perf_counter()
    conc = concentration(membranes)
    times["concentration"] = time.perf_counter() - t
    t = time.perf_counter()
    nn = nearest_neighbours(membranes, start_classes=[1], target_classes=[1])
    times["neighbours"] = time.perf_counter() - t
    t = time.perf_counter()
    rip = ripley(membranes, bin_size_nm=2.0, max_radius_nm=50.0)
    times["ripley_K_L_O"] = time.perf_counter() - t
    cross = nearest_neighbours(membranes, start_classes=[1], target_classes=[2])
    return {"times": times, "membranes": membranes, "concentration": conc, "nn": nn, "cross": cross, "ripley": rip}


def run_theirs(python: str, folder: Path, out: Path) -> dict | None:
    script = out / "membrain_stats_run.py"
    script.write_text(THEIRS)
    t = time.perf_counter()
    done = subprocess.run([python, str(script), str(folder), str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        print("membrain-stats failed:\n" + done.stderr[-3000:])
        return None
    result = json.loads((out / "result.json").read_text())
    result["wall_s"] = wall
    return result


def compare(ours: dict, theirs: dict) -> None:
    conc = ours["concentration"]
    mine = conc[(conc["scope"] == "membrane") & (conc["class"] == "all")]["concentration_per_um2"].to_numpy()
    other = np.array(theirs["concentration_per_nm2"]) * 1e6
    print(f"concentration: max relative difference {np.max(np.abs(mine - other) / mine):.2e} (per membrane, /µm²)")
    for key, label in (("nn", "same class 1->1"), ("cross", "class 1->2")):
        table = ours[key].per_particle
        diffs = []
        for name, rows in theirs[key].items():
            rows = np.array(rows)
            membrane_id = int(name.split("_mb")[1][:3])
            part = table[table["membrane_id"] == membrane_id]
            order = np.lexsort(part[["z_ang", "y_ang", "x_ang"]].to_numpy().T)
            their_order = np.lexsort(rows[:, 2::-1].T)
            diffs.append(rows[their_order, 3] / 10.0 - part["nn1_distance_nm"].to_numpy()[order])
        d = np.concatenate(diffs)
        negative = sum(int((np.array(rows)[:, 3] < 0).sum()) for rows in theirs[key].values())
        print(
            f"nearest neighbour ({label}): median |theirs - ours| {np.median(np.abs(d)):.3f} nm, "
            f"|diff| < 0.01 nm for {np.mean(np.abs(d) < 0.01):.1%}, theirs longer for {np.mean(d > 0.05):.1%} "
            f"(mean excess {d.mean():.2f} nm); negative distances in theirs: {negative}"
        )
    table = ours["ripley"].table
    x, g_theirs = np.array(theirs["O"][0]) / 10.0, np.array(theirs["O"][1])
    xk, k_theirs = np.array(theirs["K"][0]) / 10.0, np.array(theirs["K"][1])
    print("theirs* = theirs with its one-bin area shift undone (areas of the bin the counts fall in)")
    print("r (nm)      g ours  g theirs  g theirs*   K/pi r^2 ours  K theirs  K theirs*")
    for r_lo, r_hi, g, k in table[["r_lo_nm", "r_nm", "g", "K_ratio"]].to_numpy()[:15]:
        i, j = np.argmin(np.abs(x - r_lo)), np.argmin(np.abs(xk - r_lo))
        width = r_hi - r_lo
        ring_shift = (r_lo**2 - max(r_lo - width, 0.0) ** 2) / (r_hi**2 - r_lo**2)
        with np.errstate(divide="ignore", invalid="ignore"):
            g_fixed, k_fixed = g_theirs[i] * ring_shift, k_theirs[j] * (r_lo / r_hi) ** 2
        print(
            f"{r_lo:4.0f}-{r_hi:<4.0f} {g:9.3f} {g_theirs[i]:9.3f} {g_fixed:9.3f} "
            f"{k:14.3f} {k_theirs[j]:9.3f} {k_fixed:9.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--membranes", type=int, default=10)
    parser.add_argument("--particles", type=int, default=500)
    parser.add_argument("--subdivisions", type=int, default=5, help="icosphere subdivisions (5: 10242 vertices)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--envelopes", type=int, default=0, help="also time N CSR simulations (ours only)")
    parser.add_argument("--membrain-python", default="/tmp/msvenv/bin/python")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "inputs"
        folder.mkdir()
        make_inputs(folder, args.membranes, args.particles, args.subdivisions, args.seed)
        print(f"{args.membranes} membranes x {args.particles} particles, icosphere subdivisions {args.subdivisions}")
        t = time.perf_counter()
        ours = run_ours(folder)
        ours_total = sum(v for k, v in ours["times"].items())
        print(f"ours:   {ours['times']}  total {ours_total:.1f} s (wall {time.perf_counter() - t:.1f} s incl. extras)")
        if args.envelopes:
            t = time.perf_counter()
            ripley(ours["membranes"], bin_size_nm=2.0, max_radius_nm=50.0, n_simulations=args.envelopes)
            print(f"ours:   Ripley with {args.envelopes} CSR simulations {time.perf_counter() - t:.1f} s")
        if not Path(args.membrain_python).is_file():
            print(
                f"membrain-stats not run: {args.membrain_python} does not exist (see docs/stats_vs_membrain_stats.md)"
            )
            return
        out = Path(tmp) / "theirs"
        out.mkdir()
        theirs = run_theirs(args.membrain_python, folder, out)
        if theirs is None:
            return
        their_total = sum(theirs["times"].values())
        print(f"theirs: { {k: round(v, 2) for k, v in theirs['times'].items()} }  total {their_total:.1f} s")
        print(f"time ratio theirs/ours (concentration + NN + Ripley): {their_total / ours_total:.2f}")
        all_three = their_total + 2 * theirs["times"]["ripley_one_type"]
        print(f"  (theirs needs one Ripley call per K, L or O; with all three: {all_three / ours_total:.2f})")
        compare(ours, theirs)


if __name__ == "__main__":
    main()
