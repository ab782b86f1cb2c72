"""Can a post-processing step thin the segmentation to the bilayer? Thresholds and a relative-maximum rule.

The v3 segmentation is about 1 nm thicker than the simulator's bilayer labels. This script scores,
on tuning tomograms of the generalization benchmark's in-distribution recipe (indices 10.., disjoint
from its test tomograms 0 and 1), with the sheet filter applied after each rule: a higher probability
threshold (``thr``), and keeping a voxel only where its probability is at least ``a`` times the
largest within ``r`` voxels (``rel<a>_r<r>``: the half-maximum idea applied to the network's profile
across the membrane). It prints pooled Dice, Surface-Dice, skeleton precision / recall and the
thickness against the truth, measured as in ``bench_segment_generalization.py``.

    python benchmarks/tune_thinning.py [--n 4] [--threads 2]      # ~15 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
import torch
from bench_segment_generalization import test_config, thickness_nm
from scipy import ndimage

from cryomem.segment import Segmenter, filter_sheets
from cryomem.segment._metrics import dice_counts, surface_dice_counts
from cryomem.simulate import simulate_tomogram


def above(p: np.ndarray, threshold: float) -> np.ndarray:
    return p > threshold


def relative_maximum(p: np.ndarray, a: float, r: int) -> np.ndarray:
    """Above 0.5 and at least ``a`` times the largest probability within ``r`` voxels."""
    return (p > 0.5) & (p >= a * ndimage.maximum_filter(p, size=2 * r + 1))


def rules() -> dict:
    out = {f"thr{t}": functools.partial(above, threshold=t) for t in (0.5, 0.6, 0.7)}
    for a in (0.6, 0.7, 0.8):
        for r in (1, 2):
            out[f"rel{a}_r{r}"] = functools.partial(relative_maximum, a=a, r=r)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4, help="tuning tomograms")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segmenter = Segmenter.load(None, "cpu")
    totals: dict = {}
    for index in range(10, 10 + args.n):
        config = test_config("in-distribution", index, (80, 160, 160))
        sim = simulate_tomogram(config)
        truth = sim.phantom.membrane_ids_zyx > 0
        near = ndimage.binary_dilation(truth, iterations=max(1, round(30.0 / config.voxel_size_ang)))
        p = segmenter.probabilities(sim.tomogram_zyx, config.voxel_size_ang, tta=False, batch_size=2)
        for name, rule in rules().items():
            seg = filter_sheets(rule(p), p, config.voxel_size_ang)[0] != 0
            e = totals.setdefault(name, {"d": None, "s": None, "t": [], "true": []})
            d, s = dice_counts(seg, truth.astype(np.uint8)), surface_dice_counts(seg, truth.astype(np.uint8))
            e["d"] = d if e["d"] is None else e["d"] + d
            e["s"] = s if e["s"] is None else e["s"] + s
            e["t"].append(thickness_nm(seg, near, config.voxel_size_ang))
            e["true"].append(thickness_nm(truth, near, config.voxel_size_ang))
    for name, e in totals.items():
        print(
            f"{name:<12} Dice {e['d'].value:.3f}  Surface-Dice {e['s'].value:.3f}  skeleton P {e['s'].precision:.3f} "
            f"R {e['s'].recall:.3f}  thickness {np.nanmean(e['t']):.2f} nm (true {np.nanmean(e['true']):.2f} nm)"
        )


if __name__ == "__main__":
    main()
