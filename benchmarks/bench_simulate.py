"""End-to-end simulator benchmark: phantom, tilt series and reconstruction.

Target (issue 2): a 200 x 512 x 512 tomogram at 10 Å with >= 8 membranes, >= 1,500 membrane
proteins and >= 1,000 cytosolic proteins in <= 90 s wall on 2 cores with <= 4 GB peak memory.

    python benchmarks/bench_simulate.py            # the target case
    python benchmarks/bench_simulate.py --sweep    # also: time vs volume size and vs occupancy

Each case runs in its own process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

TARGET = {
    "shape_zyx": [200, 512, 512],
    "voxel_size_ang": 10.0,
    "seed": 1,
    "membranes": {
        "occupancy": 0.1,
        "max_failures": 1000,
        "kinds": {"sphere": 2, "ellipsoid": 1, "torus": 1, "sheet": 2, "stack": 3, "double": 1},
    },
    "membrane_proteins": {"concentration_per_um2": 2000.0},
    "cytosol": {"occupancy": 0.05, "microtubules": 2, "actin_filaments": 6},
}


def run_case(settings: dict) -> dict:
    from cryomem.simulate import SimulationConfig, simulate_tomogram

    config = SimulationConfig.model_validate(settings)
    start = time.perf_counter()
    sim = simulate_tomogram(config)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    phantom = sim.phantom
    area_um2 = sum(m.area_ang2 for m in phantom.membranes) / 1e8
    return {
        "shape_zyx": list(config.shape_zyx),
        "membrane_occupancy": config.membranes.occupancy,
        "protein_concentration_target_per_um2": config.membrane_proteins.concentration_per_um2,
        "protein_occupancy_target": config.membrane_proteins.occupancy,
        "membranes": len(phantom.membranes),
        "membrane_area_um2": round(area_um2, 3),
        "membrane_proteins": len(phantom.membrane_proteins),
        "proteins_per_um2": round(len(phantom.membrane_proteins) / area_um2, 1) if area_um2 else 0.0,
        "cytosolic_proteins": len(phantom.cytosolic_proteins),
        "filaments": len(phantom.filaments),
        "wall_s": round(wall, 2),
        "stages_s": {k: round(v, 2) for k, v in sim.timings_s.items()},
        "peak_memory_mb": round(peak_mb, 1),
    }


def _in_subprocess(settings: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(settings)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _with(settings: dict, **changes) -> dict:
    new = json.loads(json.dumps(settings))
    for key, value in changes.items():
        node = new
        *parents, leaf = key.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also measure scaling with volume size and occupancy")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    result = _in_subprocess(TARGET)
    print("target case:", json.dumps(result, indent=1))
    ok = (
        result["wall_s"] <= 90
        and result["peak_memory_mb"] <= 4096
        and result["membranes"] >= 8
        and result["membrane_proteins"] >= 1500
        and result["cytosolic_proteins"] >= 1000
    )
    print(f"meets the target (<= 90 s, <= 4 GB, >= 8 membranes, >= 1500 + 1000 proteins): {ok}")
    if not args.sweep:
        return
    print("\nvolume size (same occupancies):")
    for shape in ([100, 256, 256], [200, 256, 256], [200, 512, 512], [300, 512, 512]):
        r = result if shape == TARGET["shape_zyx"] else _in_subprocess(_with(TARGET, shape_zyx=shape))
        voxels = shape[0] * shape[1] * shape[2]
        print(
            f"  {'x'.join(map(str, shape)):>12}  {voxels / 1e6:6.1f} Mvox  {r['wall_s']:6.1f} s  "
            f"{r['peak_memory_mb']:7.0f} MB  stages {r['stages_s']}"
        )
    print("\nmembrane-protein concentration (200x512x512):")
    for conc in (250.0, 1000.0, 2000.0, 2500.0):
        r = _in_subprocess(_with(TARGET, membrane_proteins__concentration_per_um2=conc))
        print(
            f"  target {conc:6.0f}/µm²  placed {r['proteins_per_um2']:7.1f}/µm² ({r['membrane_proteins']} proteins)  "
            f"{r['wall_s']:6.1f} s  membrane proteins stage {r['stages_s']['membrane_proteins']} s"
        )
    print("\ncytosolic occupancy (200x512x512):")
    for occ in (0.01, 0.04, 0.08, 0.15):
        r = _in_subprocess(_with(TARGET, cytosol__occupancy=occ))
        print(
            f"  occupancy {occ:4.2f}  {r['cytosolic_proteins']:5d} proteins  {r['wall_s']:6.1f} s  "
            f"cytosol stage {r['stages_s']['cytosolic_proteins']} s"
        )


if __name__ == "__main__":
    main()
