"""Train the shipped demo picking model (``src/cryomem/pick/models/demo_pick.pt``).

Simulates tomograms with the demo's recipe (:func:`cryomem.pipeline.demo_simulation_config`, seeds
880101... for training and 880201... for calibration, none of which the demo uses), runs them
through ``cryomem run`` without a pick model (segmentation with the shipped model, instances,
surfaces: the very features the demo sees), trains a picking model on the simulated membrane
proteins with ``configs/demo_pick_train.yaml``, then calibrates the mean-shift bandwidth and seed
threshold on the calibration tomograms (:func:`cryomem.pick.calibrate_mean_shift`; stored in the
model card, which the pipeline reads) and, with ``--install``,
writes the model with its card into the package.

    python benchmarks/train_demo_pick_model.py --install            # ~30-40 min on 2 CPU cores
    python benchmarks/train_demo_pick_model.py --reuse --install    # recalibrate/install WORK/model/model.pt
    python benchmarks/train_demo_pick_model.py --n-tomograms 2 --epochs 2 --work /tmp/dp  # smoke test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED_BASE = 880101
CALIBRATION_SEED_BASE = 880201
ROOT = Path(__file__).resolve().parents[1]


def simulate(work: Path, names_seeds: list[tuple[str, int]], shape) -> tuple[list[Path], list[Path]]:
    from cryomem.pipeline import demo_simulation_config
    from cryomem.simulate import simulate_to_folder

    (work / "data").mkdir(parents=True, exist_ok=True)
    tomograms, truths = [], []
    for name, seed in names_seeds:
        folder = work / "data" / name
        if not (folder / f"{name}.mrc").is_file():
            simulate_to_folder(demo_simulation_config(seed, shape), folder, name=name, overwrite=True)
        tomograms.append(folder / f"{name}.mrc")
        truths.append(folder / f"{name}_membrane_proteins.star")
    return tomograms, truths


def calibrate(model_path: Path, membranes: list[Path], truths: list[Path], work: Path) -> dict:
    """Mean-shift bandwidth and seed threshold calibrated on the calibration tomograms (TTA predictions)."""
    from cryomem.io import read_membrane_h5, read_particles_star
    from cryomem.pick import (
        assign_particles_to_surfaces,
        calibrate_mean_shift,
        load_pick_model,
        predict_distances_ang,
        tomogram_name,
    )

    model, card = load_pick_model(model_path)
    max_distance = card.max_distance_ang
    surfaces = [read_membrane_h5(p) for p in membranes]
    names = [tomogram_name(s, p) for s, p in zip(surfaces, membranes)]
    owned = [np.zeros((0, 3))] * len(surfaces)
    for truth in truths:  # each true protein belongs to the nearest membrane of its tomogram
        table = read_particles_star(truth)
        xyz = table[["x_ang", "y_ang", "z_ang"]].to_numpy()
        mine = [i for i, n in enumerate(names) if n == str(table["tomo_name"].iloc[0])]
        owner = assign_particles_to_surfaces(xyz, [surfaces[i] for i in mine], max_distance_ang=max_distance)
        for local, index in enumerate(mine):
            owned[index] = xyz[owner == local]
    cache = work / "operator-cache"
    predicted = [predict_distances_ang(model, card, s, cache_dir=cache) for s in surfaces]
    result = calibrate_mean_shift(surfaces, predicted, names, owned, max_distance_ang=max_distance)
    for row in result["sweep"]:
        print(
            f"  bandwidth {row['bandwidth_ang']:5.1f} Å, seed threshold {row['seed_threshold_ang']:5.1f} Å: "
            f"F1 {row['f1']:.3f}, one-to-one {row['f1_one_to_one']:.3f} (P {row['precision']:.3f}, "
            f"R {row['recall']:.3f}, {row['n_picked']} picked)"
        )
    result["data"] = (
        f"{len(truths)} simulated tomograms (demo recipe, seeds {CALIBRATION_SEED_BASE}..), predicted with TTA"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("demo_pick_work"), help="data folder (reused)")
    parser.add_argument("--n-tomograms", type=int, default=5, help="training tomograms")
    parser.add_argument("--n-calibration", type=int, default=2, help="calibration tomograms")
    parser.add_argument("--shape", default=None, help="z,y,x (default: the demo's shape)")
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo_pick_train.yaml")
    parser.add_argument("--install", action="store_true", help="write the model into the package")
    parser.add_argument("--reuse", action="store_true", help="use WORK/model/model.pt trained earlier")
    args = parser.parse_args()

    import yaml
    from distributed import Client, LocalCluster

    from cryomem.io import read_particles_star
    from cryomem.pick import PickTrainConfig, load_pick_model, save_pick_model, train_pick_model
    from cryomem.pipeline import (
        DEMO_PICK_MODEL_PATH,
        DEMO_SHAPE_ZYX,
        RunConfig,
        SegmentSettings,
        TomogramFolders,
        run_pipeline,
    )

    shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else DEMO_SHAPE_ZYX
    work = args.work.resolve()
    train = [(f"dp{i}", SEED_BASE + i) for i in range(args.n_tomograms)]
    held = [(f"dpc{i}", CALIBRATION_SEED_BASE + i) for i in range(args.n_calibration)]
    tomograms, truths = simulate(work, train, shape)
    cal_tomograms, cal_truths = simulate(work, held, shape)
    started = time.perf_counter()
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        run = run_pipeline(tomograms + cal_tomograms, work / "run", RunConfig(segment=SegmentSettings(tta=False)),
                           client=client, write_report=False)  # fmt: skip
    print(f"surfaces in {time.perf_counter() - started:.0f} s; failures: {run.failures}", flush=True)

    def membranes_of(paths: list[Path]) -> list[Path]:
        return [m for t in paths for m in TomogramFolders(work / "run" / "tomograms" / t.stem, t.stem).membrane_files()]

    membranes = membranes_of(tomograms)
    particles = pd.concat([read_particles_star(t) for t in truths], ignore_index=True)
    settings = yaml.safe_load(args.config.read_text())
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    config = PickTrainConfig.model_validate(settings)
    started = time.perf_counter()
    if args.reuse:
        model_path = work / "model" / "model.pt"
    else:
        model_path = train_pick_model(membranes, particles, work / "model", config, cache_dir=work / "operator-cache")
    log = pd.read_csv(work / "model" / "training_log.csv")
    seconds = float(log["seconds"].sum()) if args.reuse else time.perf_counter() - started
    print(log.tail(5).to_string(index=False))
    print(f"trained on {len(membranes)} membranes, {len(particles)} particles in {seconds:.0f} s", flush=True)
    calibration = calibrate(model_path, membranes_of(cal_tomograms), cal_truths, work)
    print(
        f"calibrated: bandwidth {calibration['bandwidth_ang']:g} Å, seed threshold "
        f"{calibration['seed_threshold_ang']:g} Å: F1 {calibration['f1']:.3f}, one-to-one "
        f"{calibration['f1_one_to_one']:.3f} ({calibration['n_true']} true proteins)"
    )
    if args.install:
        model, card = load_pick_model(model_path)
        card = {
            **card.to_dict(),
            "name": "cryomem-demo-pick-v1",
            "note": (
                "Demo model for `cryomem demo`: trained on simulated tomograms of the demo recipe "
                f"(cryomem.pipeline.demo_simulation_config, seeds {SEED_BASE}..{SEED_BASE + args.n_tomograms - 1}, "
                f"shape {list(shape)} at 10 Å) segmented by the shipped segmentation model without TTA, with "
                "the simulator's membrane-protein positions as labels; trained by "
                "benchmarks/train_demo_pick_model.py with configs/demo_pick_train.yaml on 2 CPU cores. Not meant "
                "for real data: train your own with `cryomem pick train`."
            ),
            "training_seconds_2_cpu_cores": round(seconds),
            "calibration": calibration,
        }
        for key in ("architecture", "parameter_count", "units"):
            card.pop(key, None)
        save_pick_model(DEMO_PICK_MODEL_PATH, model, card)
        print(f"installed {DEMO_PICK_MODEL_PATH} ({DEMO_PICK_MODEL_PATH.stat().st_size / 1e6:.2f} MB)")
        print(json.dumps(card.get("validation", {}), indent=1))


if __name__ == "__main__":
    main()
