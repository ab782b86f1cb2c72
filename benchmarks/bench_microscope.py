"""Microscope benchmark: tilt projection, CTF + noise, and weighted back-projection.

Budget (issue 2): the whole simulator makes a 200 x 512 x 512 tomogram at 10 Å in <= 90 s on
2 cores and <= 4 GB; the microscope's share is about 25 s.

    python benchmarks/bench_microscope.py                 # 200 x 512 x 512, -60..60 step 3
    python benchmarks/bench_microscope.py --shape 100 256 256

The end-to-end `image_tomogram` call runs in its own process so its peak memory (ru_maxrss)
is its own; the stages are then timed one after another in this process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _density(shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """Random spheres of density 1 (the content does not change the timings)."""
    rng = np.random.default_rng(0)
    density = np.zeros(shape_zyx, dtype=np.float32)
    for _ in range(200):
        centre = rng.uniform(0, shape_zyx)
        radius = rng.uniform(3, 12)
        lo = np.maximum((centre - radius).astype(int), 0)
        hi = np.minimum((centre + radius).astype(int) + 1, shape_zyx)
        zz, yy, xx = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        inside = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 < radius**2
        density[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][inside] = 1.0
    return density


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


OPTICS = dict(voxel_size_ang=10.0, defocus_ang=30000.0, snr=0.5, misalignment_px=1.0)


def stages(shape_zyx: tuple[int, int, int]) -> dict:
    from cryomem.simulate._microscope import simulate_tilt_series
    from cryomem.simulate._projection import TiltProjector, reconstruct_wbp, tilt_angles_deg

    density = _density(shape_zyx)
    angles = tilt_angles_deg()
    figures: dict = {"n_tilts": int(angles.size)}
    t = time.perf_counter()
    projector = TiltProjector((shape_zyx[0], shape_zyx[2]), angles)
    figures["build_projector_s"] = time.perf_counter() - t
    t = time.perf_counter()
    projector.project(density)
    figures["project_s"] = time.perf_counter() - t
    t = time.perf_counter()
    series = simulate_tilt_series(density, rng=np.random.default_rng(0), projector=projector, **OPTICS)
    figures["project_ctf_noise_s"] = time.perf_counter() - t
    figures["ctf_noise_s"] = figures["project_ctf_noise_s"] - figures["project_s"]
    t = time.perf_counter()
    reconstruct_wbp(series.images, angles, thickness_z=shape_zyx[0], projector=projector)
    figures["wbp_s"] = time.perf_counter() - t
    figures["stages_peak_rss_mb"] = _peak_rss_mb()
    return figures


def end_to_end(shape_zyx: tuple[int, int, int]) -> dict:
    from cryomem.simulate._microscope import image_tomogram

    density = _density(shape_zyx)
    before = _peak_rss_mb()
    t = time.perf_counter()
    image_tomogram(density, rng=np.random.default_rng(0), **OPTICS)
    return {
        "image_tomogram_s": time.perf_counter() - t,
        "peak_rss_mb": _peak_rss_mb(),
        "peak_rss_before_call_mb": before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[200, 512, 512], metavar=("Z", "Y", "X"))
    parser.add_argument("--end-to-end-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = tuple(args.shape)
    if args.end_to_end_only:
        print(json.dumps(end_to_end(shape)))
        return
    print(f"shape_zyx={shape} at 10 Å, tilts -60..60 step 3")
    # the child runs first: a process started by a big parent inherits its ru_maxrss
    child = subprocess.run(
        [sys.executable, __file__, "--end-to-end-only", "--shape", *map(str, shape)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures.update(stages(shape))
    for name, value in figures.items():
        print(f"  {name:24s} {value:9.2f}")


if __name__ == "__main__":
    main()
