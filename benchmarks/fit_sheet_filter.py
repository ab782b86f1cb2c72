"""Choose the sheet filter's thresholds on simulated tomograms, and print how much it helps.

Tomograms are drawn like the default model's training data (``--dataset-config``, different seeds),
segmented with the model under test (no TTA), and every connected piece of each segmentation is
called membrane when most of its skeleton lies within 2 voxels of a simulated membrane. A grid
search picks the rules (:class:`cryomem.segment.SheetFilterRules`) that maximise the area-weighted
F1 of the kept pieces on the first half of the tomograms (of equally good rules, the
one that keeps the most area); the second half reports held-out
figures: skeleton precision / recall / Surface-Dice of the segmentation without and with the filter.
Only our own simulator is used.

    python benchmarks/fit_sheet_filter.py --work /tmp/sheetfit [--n 16] [--model M] [--write]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from cryomem.segment import Segmenter, SheetFilterRules
from cryomem.segment._metrics import surface_dice_counts
from cryomem.segment._sheet_filter import DEFAULT_SHEET_FILTER_PATH, component_features
from cryomem.segment._skeleton import skeletonize_membranes
from cryomem.simulate import simulate_tomogram
from cryomem.simulate._dataset import DatasetConfig, tomogram_config

GRID = {
    "min_area_nm2": [0.0, 100.0, 200.0, 300.0, 500.0, 800.0],
    "max_thickness_nm": [10.0, 15.0, 20.0, 30.0, 1e9],
    "min_tubularity": [0.4, 0.5, 0.6, 0.7],
    "max_tube_radius_nm": [0.0, 12.0, 14.0, 17.0],  # 0: no tube rule; membrane tubules are wider than 15 nm
    "min_mean_probability": [0.5, 0.55, 0.6, 0.65],
}


def simulate_and_segment(work: Path, config: DatasetConfig, index: int, segmenter: Segmenter) -> Path:
    path = work / f"tomo{index:03d}.npz"
    if path.exists():
        return path
    sim_config = tomogram_config(config, index)
    sim = simulate_tomogram(sim_config)
    probabilities = segmenter.probabilities(sim.tomogram_zyx, sim_config.voxel_size_ang, tta=False, batch_size=2)
    np.savez_compressed(
        path, probabilities=probabilities.astype(np.float16), membrane=sim.phantom.membrane_ids_zyx > 0,
        voxel_size_ang=sim_config.voxel_size_ang,
    )  # fmt: skip
    return path


def component_table(path: Path) -> tuple[pd.DataFrame, dict]:
    data = np.load(path)
    probabilities = data["probabilities"].astype(np.float32)
    seg, membrane = probabilities > 0.5, data["membrane"]
    labels, table = component_features(seg, probabilities, float(data["voxel_size_ang"]))
    skeleton = skeletonize_membranes(seg) != 0
    near = ndimage.binary_dilation(membrane, iterations=2)
    on_skeleton = np.bincount(labels[skeleton], minlength=len(table) + 1)[1:]
    on_truth = np.bincount(labels[skeleton & near], minlength=len(table) + 1)[1:]
    table["is_membrane"] = on_truth >= 0.5 * np.maximum(on_skeleton, 1)
    table["weight"] = np.maximum(on_skeleton, 1)
    table["tomogram"] = path.stem
    return table, {"labels": labels, "seg": seg, "membrane": membrane}


def area_f1(table: pd.DataFrame, rules: SheetFilterRules) -> float:
    kept = rules.reasons(table) == ""
    w, truth = table["weight"].to_numpy(float), table["is_membrane"].to_numpy(bool)
    tp = w[kept & truth].sum()
    precision, recall = tp / max(w[kept].sum(), 1.0), tp / max(w[truth].sum(), 1.0)
    return 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)


def best_rules(table: pd.DataFrame, fitted_on: str, tolerance: float = 0.0) -> SheetFilterRules:
    """The rules that keep the most area among those within ``tolerance`` of the best area-weighted F1.

    Dropping a piece of a real membrane is the costlier mistake on tomograms unlike ours, so among
    nearly equal rules the least aggressive wins.
    """
    scored = []
    for values in itertools.product(*GRID.values()):
        rules = SheetFilterRules(**dict(zip(GRID, values)), fitted_on=fitted_on)
        kept_area = float(table["weight"][rules.reasons(table) == ""].sum())
        scored.append((area_f1(table, rules), kept_area, rules))
    best = max(score for score, _, _ in scored)
    return max((item for item in scored if item[0] >= best - tolerance), key=lambda item: item[1])[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="cache folder for simulated, segmented tomograms")
    parser.add_argument("--n", type=int, default=16, help="tomograms (half to fit, half held out)")
    parser.add_argument("--model", default=None, help="segmentation model (default: the shipped one)")
    parser.add_argument("--dataset-config", type=Path, default=Path("configs/default_segmentation_dataset_v3.yaml"))
    parser.add_argument("--shape", default="96,160,160")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the network")
    parser.add_argument("--write", action="store_true", help=f"write the fitted rules to {DEFAULT_SHEET_FILTER_PATH}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import yaml

    data = yaml.safe_load(args.dataset_config.read_text())
    data.update(seed=int(data.get("seed", 0)) + 777, shape_zyx=[int(v) for v in args.shape.split(",")])
    config = DatasetConfig.model_validate(data)
    segmenter = Segmenter.load(args.model, "cpu")
    args.work.mkdir(parents=True, exist_ok=True)
    paths = [simulate_and_segment(args.work, config, i, segmenter) for i in range(args.n)]
    tables = [component_table(p) for p in paths]
    half = args.n // 2
    fit = pd.concat([t for t, _ in tables[:half]], ignore_index=True)
    fitted_on = f"{half} tomograms of {args.dataset_config.name} (seed +777), model {segmenter.card.name or ''}"
    rules = best_rules(fit, fitted_on)
    print("chosen rules:", {k: v for k, v in vars(rules).items() if k != "fitted_on"})
    keep_all = SheetFilterRules(0.0, 1e9, 0.5, 0.0, 0.0)
    print(f"area-weighted F1 on the fitting half: {area_f1(fit, rules):.3f} (keep all: {area_f1(fit, keep_all):.3f})")
    for name, part in (("fitting half", tables[:half]), ("held-out half", tables[half:])):
        totals = {False: None, True: None}
        for table, arrays in part:
            kept = rules.reasons(table) == ""
            lut = np.zeros(len(table) + 1, bool)
            lut[table["component"].to_numpy()[kept]] = True
            for use in (False, True):
                seg = lut[arrays["labels"]] if use else arrays["seg"]
                counts = surface_dice_counts(seg, arrays["membrane"].astype(np.uint8))
                totals[use] = counts if totals[use] is None else totals[use] + counts
        for use in (False, True):
            c = totals[use]
            print(f"{name}: {'with' if use else 'without'} sheet filter: Surface-Dice {c.value:.4f} "
                  f"(skeleton precision {c.precision:.3f}, recall {c.recall:.3f})")  # fmt: skip
    if args.write:
        rules.save(DEFAULT_SHEET_FILTER_PATH)
        print(f"wrote {DEFAULT_SHEET_FILTER_PATH}")


if __name__ == "__main__":
    main()
