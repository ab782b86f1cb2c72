"""Picking-model speed on CPU: operators, seconds per training epoch, prediction per 10,000 vertices.

A simulated vesicle membrane (about 18,000 vertices, both sides of the segmented sheet) is cut into
geodesic patches; the default architecture (``PickTrainConfig()``: width 32, 4 blocks, k = 128,
2,000-vertex patches) is trained for a few epochs and then predicts the whole membrane with and
without the 5-shift test-time augmentation. Peak resident memory is reported at the end.

Budget (2 CPU cores): < 10 s per epoch for 20k vertices, < 5 s per 10k vertices predicted with TTA
(operators cached). On a shared machine two torch threads can be many times slower than one, which
is why training and prediction default to one thread.

    python benchmarks/bench_diffusion_net.py                 # 1 and 2 torch threads
    python benchmarks/bench_diffusion_net.py --threads 1 --epochs 5
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from cryomem.geometry import membrane_surfaces
from cryomem.io import write_membrane_h5
from cryomem.pick import (
    OperatorCache,
    PickTrainConfig,
    load_pick_model,
    predict_distances_ang,
    surface_patches,
    train_pick_model,
)
from cryomem.simulate import SimulationConfig, particles_table, simulate_tomogram


def _membrane(folder: Path):
    """The largest membrane of a small simulated tomogram, written as h5, plus its particles."""
    config = SimulationConfig.model_validate(
        {"shape_zyx": (64, 192, 192), "voxel_size_ang": 10.0, "seed": 1, "membranes": {"max_count": 5}}
    )
    sim = simulate_tomogram(config)
    surfaces = membrane_surfaces(sim.phantom.membrane_ids_zyx, sim.tomogram_zyx, 10.0, tomogram_path="bench.mrc")
    surface = max(surfaces, key=lambda s: len(s.vertices_xyz_ang))
    path = write_membrane_h5(folder / f"bench_mb{surface.membrane_id}.h5", surface)
    return path, surface, particles_table(sim.phantom.membrane_proteins, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="torch thread counts to compare")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per thread count")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, surface, particles = _membrane(folder)
        n = len(surface.vertices_xyz_ang)
        config = PickTrainConfig(validation_fraction=0.0)
        print(f"membrane: {n} vertices, {len(particles)} particles in the tomogram")
        started = time.perf_counter()
        patches = surface_patches(
            surface, patch_vertices=config.patch_vertices, k_eig=config.k_eig, cache=OperatorCache(folder / "cache")
        )
        cold = time.perf_counter() - started
        started = time.perf_counter()
        surface_patches(
            surface, patch_vertices=config.patch_vertices, k_eig=config.k_eig, cache=OperatorCache(folder / "cache")
        )
        warm = time.perf_counter() - started
        sizes = [len(p.vertex_ids) for p in patches]
        print(f"patches: {len(patches)} of {min(sizes)}..{max(sizes)} vertices (overlap {config.patch_overlap})")
        print(f"operators (k={config.k_eig}): {cold:.1f} s computed, {warm:.2f} s from the disk cache")
        for threads in args.threads:
            run = PickTrainConfig(validation_fraction=0.0, epochs=args.epochs, threads=threads)
            model_path = train_pick_model(
                [path], particles, folder / f"train{threads}", run, cache_dir=folder / "cache"
            )
            per_epoch = float(pd.read_csv(folder / f"train{threads}" / "training_log.csv")["seconds"].median())
            rate = per_epoch / n * 1e4
            print(f"training, {threads} thread(s): {per_epoch:.2f} s per epoch ({rate:.2f} s per 10k vertices)")
            model, card = load_pick_model(model_path)
            for shifts in ((0,), (-2, -1, 0, 1, 2)):
                started = time.perf_counter()
                predict_distances_ang(
                    model, card, surface, tta_shifts=shifts, cache_dir=folder / "cache", threads=threads
                )
                elapsed = time.perf_counter() - started
                label = "no TTA" if len(shifts) == 1 else f"TTA x{len(shifts)}"
                print(f"prediction, {threads} thread(s), {label}: {elapsed / n * 1e4:.2f} s per 10k vertices")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
