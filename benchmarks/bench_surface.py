"""Time and peak memory of the surface stage (``membrane_surfaces``) on a simulated membrane mask.

The ground-truth membrane mask of a simulated phantom (membranes only, default occupancy) is meshed
and the phantom density plus Gaussian noise is sampled along the normals. The stage runs in a fresh
subprocess so that its peak resident memory (VmHWM) is its own; the resident memory after imports
and loading the inputs (labels bool + tomogram float32, 5 bytes per voxel) is reported separately.

    python benchmarks/bench_surface.py                      # 200 x 512 x 512, 10 Å voxels
    python benchmarks/bench_surface.py --shape 96,256,256   # smaller
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _memory_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MiB.

    Linux ``/proc/self/status`` (VmRSS, VmHWM); ``ru_maxrss`` is not used there because it survives
    ``exec`` and would report the parent's peak (the simulation) in the worker.
    """
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return float(fields["VmRSS"].split()[0]) / 1024.0, float(fields["VmHWM"].split()[0]) / 1024.0
    except (OSError, KeyError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return peak, peak


def make_inputs(shape_zyx: tuple[int, int, int], seed: int, folder: Path) -> dict:
    """Simulate the membranes of a phantom; save labels and a noisy density as .npy."""
    from cryomem.simulate import MembraneConfig
    from cryomem.simulate._phantom import empty_phantom, insert_membranes

    start = time.perf_counter()
    phantom = empty_phantom(shape_zyx, 10.0)
    insert_membranes(phantom, MembraneConfig(), np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    tomogram = phantom.density_zyx + rng.normal(0.0, 1.0, size=shape_zyx).astype(np.float32)
    np.save(folder / "labels.npy", phantom.membrane_ids_zyx > 0)  # binary: the stage finds the components
    np.save(folder / "tomogram.npy", tomogram)
    return {
        "simulate_s": time.perf_counter() - start,
        "membranes": len(phantom.membranes),
        "membrane_voxels": int((phantom.membrane_ids_zyx > 0).sum()),
    }


def worker(folder: Path, min_voxels: int) -> None:
    """Run the stage once on the saved inputs and print a JSON line with the figures."""
    from cryomem.geometry import face_areas, membrane_surfaces

    labels = np.load(folder / "labels.npy")
    tomogram = np.load(folder / "tomogram.npy")
    baseline, _ = _memory_mib()
    start = time.perf_counter()
    surfaces = membrane_surfaces(labels, tomogram, 10.0, min_voxels=min_voxels)
    seconds = time.perf_counter() - start
    vertices = sum(len(s.vertices_xyz_ang) for s in surfaces)
    area_um2 = sum(face_areas(s.vertices_xyz_ang, s.faces).sum() for s in surfaces) / 1e8
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mib": _memory_mib()[1],
                "rss_after_loading_mib": baseline,
                "surfaces": len(surfaces),
                "vertices": vertices,
                "area_um2": float(area_um2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="200,512,512", help="z,y,x voxels (default 200,512,512)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-voxels", type=int, default=1000)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.min_voxels)
        return
    shape = tuple(int(v) for v in args.shape.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        info = make_inputs(shape, args.seed, Path(tmp))
        command = [sys.executable, __file__, "--worker", tmp, "--min-voxels", str(args.min_voxels)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    voxels = int(np.prod(shape))
    print(f"shape {shape} (z, y, x), 10 Å voxels, {voxels / 1e6:.1f} M voxels; simulated in {info['simulate_s']:.1f} s")
    print(f"ground truth: {info['membranes']} membranes, {info['membrane_voxels']} membrane voxels")
    print(
        f"membrane_surfaces: {figures['seconds']:.1f} s, {figures['surfaces']} surfaces, "
        f"{figures['vertices']} vertices ({figures['area_um2']:.3f} µm², both sides), "
        f"{figures['vertices'] / figures['seconds']:.0f} vertices/s"
    )
    print(
        f"peak RSS {figures['peak_rss_mib']:.0f} MiB (inputs loaded: {figures['rss_after_loading_mib']:.0f} MiB; "
        f"stage adds {figures['peak_rss_mib'] - figures['rss_after_loading_mib']:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
