"""Mean-shift settings chosen on tuning tomograms that no benchmark scores (issue 4).

Simulates tuning tomograms like ``bench_pick.py``'s but from other seeds (indices 10, 11, 12 by
default: seeds 770111-770113; the benchmark trains on index 0 and scores on 1-3), segments them
with the shipped model, builds surfaces, predicts with one or more picking models (with TTA; the
distances of several models are averaged) and prints pooled F1 at 6.3 nm (the paper's, and
one-to-one: each protein matched at most once, so duplicate picks count against a setting) over
bandwidths, seed thresholds, seed-merge radii and two-face coincidence radii, all as fractions of
the model's maximum distance. ``DEFAULT_BANDWIDTH_FACTOR``, ``DEFAULT_MERGE_FACTOR`` and
``DEFAULT_COINCIDE_FACTOR`` in ``cryomem.pick`` come from this table (best one-to-one F1).

    python benchmarks/bench_pick.py --work W --epochs 60 --sizes 5 \\
        --train-setting learning_rate=0.003 --train-setting augment=false   # trains the 5-membrane model
    python benchmarks/tune_pick_mean_shift.py --work W --model W/z96y256x256_snr0.5/model_..._5mb_.../model.pt
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pandas as pd
from bench_pick import data_folder, prepare

from cryomem.geometry import DEFAULT_FEATURE_LOWPASS_ANG


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("bench_pick_work"), help="bench_pick.py's data folder")
    parser.add_argument("--model", type=Path, action="append", required=True, help="picking model (repeat: average)")
    parser.add_argument("--tomograms", default="10,11,12", help="tuning tomogram indices (bench_pick uses 0-3)")
    parser.add_argument("--shape", default="96,256,256", help="tomogram shape z,y,x (voxels of 10 Å)")
    parser.add_argument("--snr", type=float, default=0.5)
    parser.add_argument("--bandwidths", default="0.4,0.5,0.6,0.75", help="fractions of the max distance")
    parser.add_argument("--thresholds", default="0.45,0.5,0.55", help="fractions of the max distance")
    parser.add_argument("--merges", default="0.2,0.3,0.4", help="seed-merge radii, fractions of the max distance")
    parser.add_argument("--coincides", default="0.4,0.5,0.6", help="two-face radii, fractions of the max distance")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    import torch

    from cryomem.io import read_membrane_h5, read_particles_star
    from cryomem.pick import (
        PREDICTED_DISTANCE_KEY,
        Picker,
        predict_membranes,
        predicted_membrane_path,
        read_pick_model_card,
        score_pick_settings,
        tomogram_name,
    )

    torch.set_num_threads(args.threads)
    shape = tuple(int(v) for v in args.shape.split(","))
    work = data_folder(args.work, shape, args.snr)
    indices = [int(v) for v in args.tomograms.split(",")]
    data = [prepare(work, i, shape, args.snr, "model", DEFAULT_FEATURE_LOWPASS_ANG) for i in indices]
    paths = [p for _, membranes, _ in data for p in sorted(membranes.glob("*.h5"))]
    truth = pd.concat([read_particles_star(t) for _, _, t in data], ignore_index=True)
    max_distance = read_pick_model_card(args.model[0]).max_distance_ang
    summed = [0.0] * len(paths)
    predicted_folder = work / "tuning_particles"
    for model in args.model:  # predictions go to copies of the membrane files there; collect each model's
        picker = Picker.load(model)
        predict_membranes(picker, paths, predicted_folder, overwrite=True, cache_dir=work / "operator_cache")
        summed = [
            total + read_membrane_h5(predicted_membrane_path(predicted_folder, path)).point_data[PREDICTED_DISTANCE_KEY]
            for total, path in zip(summed, paths, strict=True)
        ]
    surfaces = [read_membrane_h5(p) for p in paths]
    names = [tomogram_name(surface, p) for surface, p in zip(surfaces, paths, strict=True)]
    distances = [total / len(args.model) for total in summed]
    print(f"{len(paths)} tuning membranes, {len(truth)} proteins, {len(args.model)} model(s) averaged, with TTA")
    print(f"{'bandwidth Å':>12} {'threshold Å':>12} {'merge Å':>8} {'coincide Å':>10} {'n':>6} {'P':>6} {'R':>6} "
          f"{'F1':>6} {'F1 1:1':>7}")  # fmt: skip
    best = (0.0, "")
    fractions = [[float(f) * max_distance for f in text.split(",")] for text in
                 (args.bandwidths, args.thresholds, args.merges, args.coincides)]  # fmt: skip
    for bandwidth, threshold, merge, coincide in itertools.product(*fractions):
        row, one = score_pick_settings(
            surfaces,
            distances,
            names,
            truth,
            max_distance_ang=max_distance,
            bandwidth_ang=bandwidth,
            seed_threshold_ang=threshold,
            merge_eps_ang=merge,
            coincide_ang=coincide,
        )
        line = (
            f"{bandwidth:12.0f} {threshold:12.0f} {merge:8.0f} {coincide:10.0f} {int(row.n_predicted):6d} "
            f"{row.precision:6.3f} {row.recall:6.3f} {row.f1:6.3f} {one.f1:7.3f}"
        )
        print(line, flush=True)
        best = max(best, (float(one.f1), line))
    print(f"best one-to-one F1:\n{best[1]}")


if __name__ == "__main__":
    main()
