"""Quality and CPU speed of a segmentation model on simulated tomograms it never saw.

Tomograms come from seeds never used in training, with voxel size, SNR, tilt range and defocus
drawn wider than the training ranges (configs/default_segmentation_dataset.yaml). Dice and
Surface-Dice are computed against the simulator's membrane labels (a 1-voxel shell around each
membrane is ignored, as in training), pooled over tomograms, with and without 8-fold TTA.

    python benchmarks/bench_segment_quality.py [--model M] [--n 5] [--shape 96,192,192] [--no-tta-only | --tta-only]
    python benchmarks/bench_segment_quality.py --no-tta-only --cubic-windows   # the windows before issue 23
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cryomem.segment import Segmenter
from cryomem.segment._metrics import dice_counts, surface_dice_counts
from cryomem.simulate import SimulationConfig, simulate_tomogram
from cryomem.simulate._dataset import training_labels

WIDER = {
    "voxel_size_ang": (7.0, 22.0),
    "snr": (0.1, 2.0),
    "tilt_max_deg": (35.0, 75.0),
    "defocus_um": (1.0, 7.0),
}


def test_config(index: int, shape: tuple[int, int, int]) -> SimulationConfig:
    rng = np.random.default_rng([987654, index])  # seeds disjoint from the training dataset's

    def draw(key: str) -> float:
        lo, hi = WIDER[key]
        return float(rng.uniform(lo, hi))

    return SimulationConfig.model_validate(
        {
            "shape_zyx": shape,
            "seed": 10_000 + index,
            "voxel_size_ang": draw("voxel_size_ang"),
            "membranes": {"occupancy": float(rng.uniform(0.02, 0.06))},
            "membrane_proteins": {"occupancy": float(rng.uniform(0.0, 0.4))},
            "microscope": {
                "snr": draw("snr"),
                "tilt_min_deg": -draw("tilt_max_deg"),
                "tilt_max_deg": draw("tilt_max_deg"),
                "defocus_um": draw("defocus_um"),
            },
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
    parser.add_argument("--n", type=int, default=5, help="number of test tomograms")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the network")
    parser.add_argument("--shape", default="96,192,192", help="tomogram shape z,y,x")
    parser.add_argument("--no-tta-only", action="store_true", help="skip the slower TTA pass")
    parser.add_argument("--tta-only", action="store_true", help="skip the pass without TTA")
    parser.add_argument(
        "--cubic-windows", action="store_true", help="cubic sliding windows instead of per-axis (adaptive) ones"
    )
    parser.add_argument("--overlap", type=float, default=None, help="sliding-window overlap (default: the setting's)")
    parser.add_argument(
        "--compare-membrain-size",
        action="store_true",
        help="also time an (untrained) U-Net of MemBrain-seg's size on the first tomogram, same settings",
    )
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    torch.set_num_threads(args.threads)
    segmenter = Segmenter.load(args.model, "cpu")
    card = segmenter.card
    print(f"model: {card.parameter_count:,} parameters, {card.voxel_size_ang} Å, window {card.inference_window}")
    modes = [False] if args.no_tta_only else [True] if args.tta_only else [False, True]
    totals = {tta: [None, None, 0.0, 0] for tta in modes}
    for index in range(args.n):
        config = test_config(index, shape)
        sim = simulate_tomogram(config)
        labels = training_labels(sim.phantom.membrane_ids_zyx > 0, 1)
        micro = config.microscope
        line = (
            f"tomo {index}: {config.voxel_size_ang:5.1f} Å, SNR {micro.snr:4.2f}, "
            f"tilts {micro.tilt_min_deg:+.0f}..{micro.tilt_max_deg:+.0f}, defocus {micro.defocus_um:.1f} µm |"
        )
        for tta in modes:
            start = time.perf_counter()
            probabilities = segmenter.probabilities(
                sim.tomogram_zyx,
                config.voxel_size_ang,
                tta=tta,
                batch_size=2,
                adaptive_windows=not args.cubic_windows,
                **({} if args.overlap is None else {"overlap": args.overlap}),
            )
            seconds = time.perf_counter() - start
            prediction = probabilities > 0.5
            d, s = dice_counts(prediction, labels), surface_dice_counts(prediction, labels)
            total = totals[tta]
            total[0] = d if total[0] is None else total[0] + d
            total[1] = s if total[1] is None else total[1] + s
            total[2] += seconds
            total[3] += sim.tomogram_zyx.size
            line += f" {'TTA' if tta else 'no TTA'}: Dice {d.value:.3f} Surface-Dice {s.value:.3f} ({seconds:.1f} s) |"
        print(line, flush=True)
    if args.compare_membrain_size:
        _compare_speed(segmenter, test_config(0, shape), modes)
    for tta, (d, s, seconds, voxels) in totals.items():
        print(
            f"pooled {'with' if tta else 'without'} TTA: Dice {d.value:.4f}, Surface-Dice {s.value:.4f}, "
            f"{voxels / seconds / 1e3:.1f} kvoxel/s on {torch.get_num_threads()} CPU threads"
        )


def _compare_speed(segmenter: Segmenter, config: SimulationConfig, modes: list[bool]) -> None:
    """Sliding-window time of our model vs a MemBrain-seg-sized U-Net (32 base channels, 6 levels)."""
    from cryomem.segment import UNet3D, UNetConfig, parameter_count

    big = UNet3D(UNetConfig(base_channels=32, max_channels=320, depth=6, deep_supervision_levels=3)).eval()
    tomogram = simulate_tomogram(config).tomogram_zyx
    for tta in modes:
        times = []
        for net in (segmenter.network, big):
            start = time.perf_counter()
            Segmenter(net, segmenter.card).probabilities(tomogram, config.voxel_size_ang, tta=tta, batch_size=2)
            times.append(time.perf_counter() - start)
        print(
            f"{'TTA' if tta else 'no TTA'}: ours {parameter_count(segmenter.network):,} parameters {times[0]:.1f} s, "
            f"MemBrain-seg-sized {parameter_count(big):,} parameters {times[1]:.1f} s, ratio {times[1] / times[0]:.1f}x"
        )


if __name__ == "__main__":
    main()
