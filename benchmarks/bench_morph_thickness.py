"""Bilayer thickness from simulated tomograms against the simulator's true leaflet separation.

    python benchmarks/bench_morph_thickness.py [--n 2] [--shape 96,256,256] [--patch-nm 5] [--order 3]
                                               [--no-mask-meshes]

Simulates tomograms with vesicles at SNR 0.5 and 10 Å voxels (3 µm underfocus, phase-flipped), and
runs `bilayer_thickness` on the simulator's true mid-surface meshes and on the meshes of the true
membrane mask (`cryomem.geometry.membrane_surfaces`: both sides of each membrane), each with plain
Gaussian leaflets and with CTF-aware leaflets (`LeafletCtf` at the simulated defocus). Prints, pooled
over all membranes: the fraction of vertices fitted and, among them, the fraction within 3 Å of the
membrane's `bilayer.thickness_ang` (issue target >= 90 %), the median and median absolute error, the
median error of vertices whose normal is within 37° of z (the missing wedge's side), and the time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cryomem.geometry import membrane_surfaces, vertex_normals
from cryomem.morph._leaflet_fit import LeafletCtf
from cryomem.morph._thickness import bilayer_thickness
from cryomem.simulate import SimulationConfig, simulate_tomogram


def config(index: int, shape: tuple[int, int, int]) -> SimulationConfig:
    return SimulationConfig.model_validate({
        "seed": 4200 + index, "shape_zyx": list(shape), "voxel_size_ang": 10.0,
        "membranes": {"kinds": {"sphere": 1.0, "small_vesicle": 1.0}},
        "microscope": {"snr": 0.5},
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--shape", default="96,256,256")
    parser.add_argument("--patch-nm", type=float, default=5.0)
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--no-mask-meshes", action="store_true")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    pooled: dict[str, dict[str, list]] = {}
    for index in range(args.n):
        sim = simulate_tomogram(config(index, shape))
        cfg = sim.config
        ctf = LeafletCtf(cfg.microscope.defocus_um, cfg.microscope.voltage_kv, cfg.microscope.cs_mm,
                         cfg.microscope.amplitude_contrast, cfg.microscope.phase_flip)  # fmt: skip
        truth = {m.membrane_id: m.bilayer.thickness_ang for m in sim.phantom.membranes}
        meshes = {"true mid-surface": [
            (m.membrane_id, m.vertices_xyz_ang, m.faces, vertex_normals(m.vertices_xyz_ang, m.faces))
            for m in sim.phantom.membranes]}  # fmt: skip
        if not args.no_mask_meshes:
            surfaces = membrane_surfaces(sim.phantom.membrane_ids_zyx, sim.tomogram_zyx, 10.0, feature_lowpass_ang=0.0)
            meshes["mask boundary"] = [(s.membrane_id, s.vertices_xyz_ang, s.faces, s.normals_xyz) for s in surfaces]
        print(f"tomogram {index}: {len(truth)} membranes, thickness "
              f"{', '.join(f'{t:.1f}' for t in truth.values())} Å", flush=True)  # fmt: skip
        for source, items in meshes.items():
            for name, leaflet in (("plain", None), ("ctf", ctf)):
                row = pooled.setdefault(f"{source:>16} {name:>5}", {"err": [], "fitted": [], "nz": [], "t": []})
                started = time.perf_counter()
                for membrane_id, v, f, n in items:
                    result = bilayer_thickness(sim.tomogram_zyx, 10.0, v, f, n, patch_radius_nm=args.patch_nm,
                                               order=args.order, ctf=leaflet)  # fmt: skip
                    row["err"].append(result.thickness_nm * 10.0 - truth[membrane_id])
                    row["fitted"].append(result.fitted)
                    row["nz"].append(np.abs(n[:, 2]))
                row["t"].append(time.perf_counter() - started)
                print(f"  {source:>16} {name:>5}: {sum(len(x[1]) for x in items)} vertices, "
                      f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    print(f"pooled over {args.n} tomograms of {shape}, patch radius {args.patch_nm} nm, order {args.order}:")
    for key, row in pooled.items():
        err, fitted, nz = (np.concatenate(row[k]) for k in ("err", "fitted", "nz"))
        e = err[fitted]
        steep = fitted & (nz > 0.8)
        print(f"  {key}: vertices {err.size}, fitted {fitted.mean():.3f}, within 3 Å {np.mean(np.abs(e) <= 3):.3f}, "
              f"median error {np.median(e):+.2f} Å, median |error| {np.median(np.abs(e)):.2f} Å, "
              f"median error |n_z|>0.8 {np.median(err[steep]) if steep.any() else np.nan:+.2f} Å, "
              f"time {sum(row['t']):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
