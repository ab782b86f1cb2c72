"""Segmentation on factors the model never trained on: leave-one-factor-out test sets from our simulator.

The default model v3 is trained on ``configs/default_segmentation_dataset_v3.yaml``, which holds out
whole factors. Each test set below turns one of them on (strongly), on tomograms whose other settings
are drawn like the training data but from disjoint seeds:

- ``in-distribution``: nothing held out (the reference row);
- ``cage-ring-distractors``: hollow cages and rings as the only procedural distractors, crowded;
- ``actin-networks-intermediate``: branched actin networks and intermediate filaments, no other filaments;
- ``sirt``: SIRT-like iterative reconstruction instead of weighted back-projection;
- ``coloured-noise``: 1/f noise instead of white noise;
- ``ice``: ice-crystal contamination.

Per set it prints, pooled over its tomograms, for the raw thresholded segmentation and after the sheet
filter: Dice, Surface-Dice, skeleton precision and recall (labels: the simulator's bilayer, no ignore
shell), and the membrane thickness in nm, predicted against true, both measured the same way near the
true membranes (voxels / mid-surface voxels x voxel size).

    python benchmarks/bench_segment_generalization.py [--model M] [--compare M2] [--n 2] [--tta] [--sets a,b]
    python benchmarks/bench_segment_generalization.py --compare-cubic-windows   # per-axis vs cubic windows
    python benchmarks/bench_segment_generalization.py --compare-overlap 0.125  # the default overlap vs another
    python benchmarks/bench_segment_generalization.py --compare-window-volume 1.0  # windows of at most 1 cube
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import ndimage

from cryomem.segment import Segmenter, _windows, filter_sheets
from cryomem.segment._metrics import dice_counts, surface_dice_counts
from cryomem.segment._skeleton import skeletonize_membranes
from cryomem.simulate import SimulationConfig, simulate_tomogram
from cryomem.simulate._config import MembraneConfig

SETS: dict[str, dict] = {
    "in-distribution": {},
    "cage-ring-distractors": {
        "cytosol": {"procedural_kinds": {"cage": 1.0, "ring": 1.0}, "procedural_classes": 8, "occupancy": 0.15}
    },
    "actin-networks-intermediate": {
        "cytosol": {"microtubules": 0, "actin_filaments": 0, "actin_networks": 3, "intermediate_filaments": 5}
    },
    "sirt": {"microscope": {"reconstruction": "sirt"}},
    "coloured-noise": {"microscope": {"noise_exponent": 1.0}},
    "ice": {"hard_negatives": {"ice_crystals": 3}},
}


def _merge(base: dict, extra: dict) -> dict:
    out = {**base}
    for key, value in extra.items():
        out[key] = _merge(base.get(key, {}), value) if isinstance(value, dict) and key != "procedural_kinds" else value
    return out


def test_config(set_name: str, index: int, shape: tuple[int, int, int]) -> SimulationConfig:
    """Tomogram ``index`` of a test set: training-like draws from seeds no training set uses, plus the factor."""
    rng = np.random.default_rng([31337, list(SETS).index(set_name), index])
    tilt = float(rng.uniform(45.0, 65.0))
    base = {
        "shape_zyx": shape,
        "seed": 500_000 + 100 * list(SETS).index(set_name) + index,
        "voxel_size_ang": float(rng.uniform(8.0, 16.0)),
        "membranes": {
            "occupancy": float(rng.uniform(0.02, 0.05)),
            "kinds": {**MembraneConfig().kinds, "small_vesicle": 1.5},  # the default kinds and small vesicles
            "thickness_nm": (3.0, 5.0),
        },  # fmt: skip
        "membrane_proteins": {"occupancy": float(rng.uniform(0.0, 0.4))},
        "cytosol": {
            "occupancy": float(rng.uniform(0.05, 0.12)),
            "procedural_kinds": {"pseudo_atomic": 3.0, "symmetric": 2.0, "rod": 1.0},
            "microtubules": int(rng.integers(0, 3)),
            "actin_filaments": int(rng.integers(2, 10)),
        },
        "microscope": {
            "snr": float(rng.uniform(0.3, 1.0)),
            "tilt_min_deg": -tilt,
            "tilt_max_deg": tilt,
            "defocus_um": float(rng.uniform(2.0, 5.0)),
        },
    }
    return SimulationConfig.model_validate(_merge(base, SETS[set_name]))


def thickness_nm(mask: np.ndarray, near: np.ndarray, voxel_size_ang: float) -> float:
    """Mean thickness of ``mask`` inside ``near``: voxels / mid-surface voxels x voxel size."""
    sheet = skeletonize_membranes(mask & near)
    n_sheet = np.count_nonzero(sheet)
    return float("nan") if n_sheet == 0 else np.count_nonzero(mask & near) / n_sheet * voxel_size_ang / 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
    parser.add_argument("--compare", default=None, help="a second model scored on the same tomograms")
    parser.add_argument("--n", type=int, default=2, help="tomograms per set")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the network")
    parser.add_argument("--shape", default="80,160,160", help="tomogram shape z,y,x")
    parser.add_argument("--tta", action="store_true", help="8-fold flip TTA (8x slower)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated test sets")
    parser.add_argument(
        "--compare-cubic-windows", action="store_true", help="also score the model with cubic sliding windows"
    )
    parser.add_argument(
        "--compare-overlap", type=float, default=None, help="also score the model with this window overlap"
    )
    parser.add_argument(
        "--compare-window-volume",
        type=float,
        default=None,
        help="also score the model with adaptive windows of at most this many window cubes",
    )
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    torch.set_num_threads(args.threads)
    models = {"model": Segmenter.load(args.model, "cpu")}
    if args.compare:
        models["compare"] = Segmenter.load(args.compare, "cpu")
    if args.compare_cubic_windows:
        models["cubic"] = models["model"]  # the same network, windows as before issue 23
    if args.compare_overlap is not None:
        models["overlap"] = models["model"]  # the same network, another overlap
    if args.compare_window_volume is not None:
        models["volume"] = models["model"]  # the same network, another bound on the window volume
    for set_name in args.sets.split(","):
        if set_name not in SETS:
            raise SystemExit(f"unknown set {set_name!r}; choose from {', '.join(SETS)}")
        totals: dict = {}
        for index in range(args.n):
            config = test_config(set_name, index, shape)
            sim = simulate_tomogram(config)
            truth = sim.phantom.membrane_ids_zyx > 0
            near = ndimage.binary_dilation(truth, iterations=max(1, round(30.0 / config.voxel_size_ang)))
            for key, segmenter in models.items():
                start = time.perf_counter()
                windows = {"adaptive_windows": key != "cubic"}
                if key == "overlap":
                    windows["overlap"] = args.compare_overlap
                default_volume = _windows.MAX_WINDOW_VOLUME_FACTOR
                if key == "volume":
                    _windows.MAX_WINDOW_VOLUME_FACTOR = args.compare_window_volume
                try:
                    probabilities = segmenter.probabilities(
                        sim.tomogram_zyx, config.voxel_size_ang, tta=args.tta, batch_size=2, **windows
                    )
                finally:
                    _windows.MAX_WINDOW_VOLUME_FACTOR = default_volume
                seconds = time.perf_counter() - start
                raw = probabilities > 0.5
                filtered = filter_sheets(raw, probabilities, config.voxel_size_ang)[0] != 0
                for variant, seg in (("raw", raw), ("filtered", filtered)):
                    entry = totals.setdefault((key, variant), {"d": None, "s": None, "t": [], "true": [], "sec": 0.0})
                    d, s = dice_counts(seg, truth.astype(np.uint8)), surface_dice_counts(seg, truth.astype(np.uint8))
                    entry["d"] = d if entry["d"] is None else entry["d"] + d
                    entry["s"] = s if entry["s"] is None else entry["s"] + s
                    entry["t"].append(thickness_nm(seg, near, config.voxel_size_ang))
                    entry["true"].append(thickness_nm(truth, near, config.voxel_size_ang))
                    entry["sec"] += seconds
        for (key, variant), e in totals.items():
            names = {"model": args.model or "shipped", "compare": args.compare, "cubic": "cubic-win"}
            if key == "overlap":
                names[key] = f"overlap {args.compare_overlap:g}"
            if key == "volume":
                names[key] = f"{args.compare_window_volume:g} cubes"
            name = names[key]
            print(
                f"{set_name:<28} {name:<12.12} {variant:<8} Dice {e['d'].value:.3f}  Surface-Dice "
                f"{e['s'].value:.3f}  skeleton P {e['s'].precision:.3f} R {e['s'].recall:.3f}  thickness "
                f"{np.nanmean(e['t']):.2f} nm (true {np.nanmean(e['true']):.2f} nm)",
                flush=True,
            )


if __name__ == "__main__":
    main()
