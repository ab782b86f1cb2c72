"""Touching membranes as separate instances: instance counts against the simulator's true membranes.

    python benchmarks/bench_instance_split.py [--n 4] [--shape 64,160,160] [--model-seg]

Simulates tomograms crowded with membranes that touch — stacks (thylakoid-like), double membranes and
packed small vesicles (high membrane occupancy) — and compares, for the true membrane mask (geometry
alone) and, with --model-seg, for the default model's segmentation (no TTA, sheet filter on):
connected components (`cryomem segment instances --no-split`) against the split (`--split`, the
default). For each it prints the number of instances, the number of true membranes (with at least
--min-voxels voxels), how many true membranes are "recovered" (one instance holds at least half of the
membrane's voxels and at least half of that instance is this membrane) and how many instances hold
voxels of more than one true membrane (merges, majority below 90 %).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cryomem.segment import Segmenter, connected_instances, segmentation_from_probabilities, split_instances
from cryomem.simulate import SimulationConfig, simulate_tomogram


def crowded_config(index: int, shape: tuple[int, int, int]) -> SimulationConfig:
    return SimulationConfig.model_validate({
        "seed": 9100 + index, "shape_zyx": list(shape), "voxel_size_ang": 10.0,
        "membranes": {"occupancy": 0.12, "kinds": {"stack": 2.0, "double": 1.0, "small_vesicle": 3.0, "sphere": 1.0}},
        "microscope": {"snr": 1.0},
    })  # fmt: skip


def scores(labels: np.ndarray, truth_ids: np.ndarray, min_voxels: int) -> dict[str, int]:
    true_ids, true_sizes = np.unique(truth_ids[truth_ids > 0], return_counts=True)
    true_ids = true_ids[true_sizes >= min_voxels]
    pairs = np.stack([labels.reshape(-1), truth_ids.reshape(-1)], axis=1)
    pairs = pairs[(pairs[:, 0] > 0) & (pairs[:, 1] > 0)]
    table, counts = np.unique(pairs, axis=0, return_counts=True)
    per_instance = np.bincount(pairs[:, 0], minlength=int(labels.max()) + 1)
    per_truth = dict(zip(*np.unique(truth_ids[truth_ids > 0], return_counts=True), strict=True))
    recovered = sum(
        1 for (inst, tid), c in zip(table.tolist(), counts.tolist(), strict=True)
        if tid in true_ids and c >= 0.5 * per_truth[tid] and c >= 0.5 * per_instance[inst]
    )  # fmt: skip
    merged = sum(1 for inst in range(1, int(labels.max()) + 1)
                 if per_instance[inst] and counts[table[:, 0] == inst].max() < 0.9 * per_instance[inst])  # fmt: skip
    return {"instances": int(labels.max()), "true": len(true_ids), "recovered": recovered, "merged": merged}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--shape", default="64,160,160")
    parser.add_argument("--min-voxels", type=int, default=1000)
    parser.add_argument("--model-seg", action="store_true", help="also on the default model's segmentation")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    segmenter = Segmenter.load(None, "cpu") if args.model_seg else None
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for index in range(args.n):
        sim = simulate_tomogram(crowded_config(index, shape))
        truth_ids = sim.phantom.membrane_ids_zyx
        masks = {"truth mask": truth_ids > 0}
        if segmenter is not None:
            p = segmenter.probabilities(sim.tomogram_zyx, 10.0, tta=False)
            masks["model segmentation"] = segmentation_from_probabilities(p, 10.0, 0.5)[0] != 0
        for source, mask in masks.items():
            started = time.perf_counter()
            for method, labels in (("connected", connected_instances(mask, args.min_voxels)),
                                   ("split", split_instances(mask, args.min_voxels))):  # fmt: skip
                row = scores(labels, truth_ids, args.min_voxels)
                total = totals.setdefault((source, method), dict.fromkeys(row, 0))
                for key, value in row.items():
                    total[key] += value
                print(f"tomo {index} {source:>18} {method:>9}: {row}", flush=True)
            print(f"  ({time.perf_counter() - started:.1f} s)")
    print(f"pooled over {args.n} tomograms of {shape} (min {args.min_voxels} voxels):")
    for (source, method), total in totals.items():
        print(f"  {source:>18} {method:>9}: {total['instances']} instances for {total['true']} true membranes, "
              f"{total['recovered']} recovered, {total['merged']} merged instances")  # fmt: skip


if __name__ == "__main__":
    main()
