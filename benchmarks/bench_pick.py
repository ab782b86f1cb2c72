"""End-to-end picking quality and CPU cost on simulated tomograms (issue 4, "Quality and speed").

Simulates tomograms with membrane proteins (seeds 770101... used nowhere else), segments them with
the shipped default model (or uses the simulator's membrane labels with ``--segmentation truth``),
builds membrane surfaces, trains a picking model on the membranes of ONE tomogram (the <= 5 with
the most proteins) with the simulator's protein positions, predicts on the other tomograms, and
prints pooled precision / recall / F1 at 6.3 nm against the simulator's proteins, F1 against the
number of training membranes (as Fig. 3D of the MemBrain v2 paper), training time and peak memory
per epoch, and prediction time and peak memory per 10,000 vertices, with torch on ``--threads``
CPU threads. Training and prediction run in child processes so each peak memory is its own.

    python benchmarks/bench_pick.py                       # full: 4 x 96x256x256 at 10 Å, ~15-25 min
    python benchmarks/bench_pick.py --quick               # 4 x 64x160x160, fewer epochs, ~5 min
    python benchmarks/bench_pick.py --work /tmp/bp --sweep  # reuse data; F1 over mean-shift settings
    python benchmarks/bench_pick.py --snr 5 --epochs 10 --sizes 1,2   # an easier task, a shorter run
    python benchmarks/bench_pick.py --ensemble 2          # 2 models per size (seeds 0, 1), distances averaged
    python benchmarks/bench_pick.py --work W --reuse-models --ensemble 2   # models trained before, same settings
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.geometry import DEFAULT_FEATURE_LOWPASS_ANG, DEFAULT_FEATURE_OFFSETS_ANG

SEED_BASE = 770101
SAMPLING_TAG = f"_pm{DEFAULT_FEATURE_OFFSETS_ANG[-1]:g}"  # surfaces sampled at -X..+X Å (folder names)


def simulation_config(index: int, shape: tuple[int, int, int], snr: float):
    from cryomem.simulate import SimulationConfig

    return SimulationConfig.model_validate(
        {
            "shape_zyx": shape,
            "voxel_size_ang": 10.0,
            "seed": SEED_BASE + index,
            "membranes": {
                "occupancy": 0.12,
                "max_count": 12,
                "radius_nm": (20.0, 45.0),
                "kinds": {"sphere": 2.0, "ellipsoid": 2.0, "sheet": 1.0},
            },
            "membrane_proteins": {"occupancy": 0.3},
            "cytosol": {"procedural_classes": 0, "cluster_fraction": 0.0},  # the recipe of earlier figures
            "microscope": {"snr": snr},
        }
    )


def data_folder(work: Path, shape: tuple[int, int, int], snr: float) -> Path:
    """The folder under ``work`` that holds one shape's and SNR's tomograms, surfaces and models."""
    return work.resolve() / f"z{shape[0]}y{shape[1]}x{shape[2]}_snr{snr:g}"


def prepare(
    work: Path, index: int, shape: tuple[int, int, int], snr: float, segmentation: str, lowpass_ang: float
) -> tuple[str, Path, Path]:
    """Simulated tomogram ``bp<index>`` with its membranes folder; reuses what is already in ``work``."""
    from cryomem.geometry import surfaces_from_files
    from cryomem.simulate import simulate_to_folder

    name = f"bp{index}"
    folder = work / name
    if not (folder / f"{name}.mrc").is_file():
        started = time.perf_counter()
        simulate_to_folder(simulation_config(index, shape, snr), folder, name=name, overwrite=True)
        print(f"  simulated {name} in {time.perf_counter() - started:.0f} s", flush=True)
    if segmentation == "truth":
        labels = folder / f"{name}_membranes.mrc"
    else:
        labels = folder / f"{name}_seg.mrc"
        if not labels.is_file():
            from cryomem.segment import Segmenter, SegmentSettings, segment_file

            started = time.perf_counter()
            segmenter = Segmenter.load(None, "cpu")
            segment_file(folder / f"{name}.mrc", segmenter, folder, settings=SegmentSettings(tta=False))
            print(f"  segmented {name} in {time.perf_counter() - started:.0f} s", flush=True)
    membranes = folder / f"membranes_{segmentation}_lowpass{lowpass_ang:g}{SAMPLING_TAG}"
    if not membranes.is_dir():
        started = time.perf_counter()
        surfaces_from_files(labels, folder / f"{name}.mrc", membranes, feature_lowpass_ang=lowpass_ang)
        print(f"  surfaces of {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return name, membranes, folder / f"{name}_membrane_proteins.star"


def training_membranes(membranes: Path, truth_star: Path, limit: int) -> list[Path]:
    """The ``limit`` membranes with the most simulated proteins (at least one each)."""
    from cryomem.io import read_membrane_h5, read_particles_star
    from cryomem.pick import assign_particles_to_surfaces

    paths = sorted(membranes.glob("*.h5"))
    surfaces = [read_membrane_h5(p) for p in paths]
    truth = read_particles_star(truth_star)
    owner = assign_particles_to_surfaces(
        truth[["x_ang", "y_ang", "z_ang"]].to_numpy(), surfaces, max_distance_ang=100.0
    )
    counts = np.bincount(owner[owner >= 0], minlength=len(paths))
    order = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    return [paths[i] for i in order[:limit]]


def _peak_mib() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's at spawn)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train_job(paths: list[str], truth_star: str, out_dir: str, settings: dict, threads: int, cache: str) -> dict:
    import torch

    from cryomem.io import read_particles_star
    from cryomem.pick import PickTrainConfig, train_pick_model

    torch.set_num_threads(threads)
    config = PickTrainConfig(**settings, threads=threads)
    started = time.perf_counter()
    model = train_pick_model(paths, read_particles_star(truth_star), out_dir, config, cache_dir=cache)
    log = pd.read_csv(Path(out_dir) / "training_log.csv")
    return {
        "model": str(model),
        "seconds": time.perf_counter() - started,
        "epoch_seconds": float(log["seconds"].median()),
        "final_train_loss": float(log["train_loss"].iloc[-1]),
        "peak_mib": _peak_mib(),
    }


def reuse_or_train(reuse: bool, paths: list[str], truth_star: str, out_dir: str, settings: dict, *rest) -> dict:
    """Train in a child process, or (``reuse``) read a model trained earlier with these exact settings."""
    config_file = Path(out_dir) / "train_config.json"
    if reuse and (Path(out_dir) / "model.pt").is_file() and config_file.is_file():
        saved = json.loads(config_file.read_text())
        if all(saved.get(k) == v for k, v in settings.items()):
            log = pd.read_csv(Path(out_dir) / "training_log.csv")
            print(f"  reusing {out_dir}/model.pt (same settings)", flush=True)
            return {
                "model": str(Path(out_dir) / "model.pt"),
                "seconds": float(log["seconds"].sum()),
                "epoch_seconds": float(log["seconds"].median()),
                "final_train_loss": float(log["train_loss"].iloc[-1]),
                "peak_mib": float("nan"),
            }
    return run_in_child(train_job, paths, truth_star, out_dir, settings, *rest)


def predict_job(model: list[str], paths: list[str], out_dir: str, tta: bool, threads: int, cache: str) -> dict:
    import torch

    from cryomem.io import read_membrane_h5
    from cryomem.pick import (
        PREDICTED_DISTANCE_KEY,
        Picker,
        PickSettings,
        pick_surface,
        predict_membranes,
        predicted_membrane_path,
    )

    torch.set_num_threads(threads)
    cached_before = sum(1 for _ in Path(cache).rglob("*")) if Path(cache).is_dir() else 0
    started = time.perf_counter()
    picker = Picker.load(model)
    stars = predict_membranes(picker, paths, out_dir, settings=PickSettings(tta=tta), overwrite=True, cache_dir=cache)
    seconds = time.perf_counter() - started
    surfaces = [read_membrane_h5(predicted_membrane_path(out_dir, p)) for p in paths]  # copies with predictions
    max_distance = picker.max_distance_ang
    started = time.perf_counter()
    for surface in surfaces:
        pick_surface(surface, surface.point_data[PREDICTED_DISTANCE_KEY], max_distance_ang=max_distance)
    return {
        "stars": [str(s) for s in stars],
        "seconds": seconds,
        "picking_seconds": time.perf_counter() - started,
        "operators_computed": sum(1 for _ in Path(cache).rglob("*")) > cached_before,
        "vertices": sum(len(s.vertices_xyz_ang) for s in surfaces),
        "peak_mib": _peak_mib(),
    }


def run_in_child(function, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def pooled_scores(stars: list[str], truths: list[Path]) -> pd.Series:
    """Pooled scores at 6.3 nm (paper definition) plus the one-to-one F1 as ``f1_one_to_one``."""
    from cryomem.io import read_particles_star
    from cryomem.pick import evaluate_picks

    predicted = pd.concat([read_particles_star(s) for s in stars], ignore_index=True)
    truth = pd.concat([read_particles_star(t) for t in truths], ignore_index=True)
    row = evaluate_picks(predicted, truth, radius_nm=6.3).iloc[-1].copy()
    row["f1_one_to_one"] = evaluate_picks(predicted, truth, radius_nm=6.3, matching="one_to_one").iloc[-1].f1
    return row


def sweep(test_paths: list[Path], truths: list[Path], max_distance_ang: float) -> None:
    """F1 for several mean-shift settings, from the predicted distances in the h5 files ``test_paths``."""
    from cryomem.io import read_membrane_h5, read_particles_star
    from cryomem.pick import PREDICTED_DISTANCE_KEY, evaluate_picks, pick_surface, tomogram_name

    truth = pd.concat([read_particles_star(t) for t in truths], ignore_index=True)
    surfaces = [(read_membrane_h5(p), p) for p in test_paths]
    print("\nmean-shift settings (pooled F1 at 6.3 nm):")
    header = ("bandwidth Å", 12), ("threshold Å", 12), ("min seeds", 10), ("n", 6), ("P", 6), ("R", 6), ("F1", 6)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'F1 1:1':>7}")
    for bandwidth in (0.4 * max_distance_ang, 0.5 * max_distance_ang, 0.75 * max_distance_ang, max_distance_ang):
        for threshold in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            for min_seeds in (1, 3):
                tables = [
                    pick_surface(
                        s,
                        s.point_data[PREDICTED_DISTANCE_KEY],
                        max_distance_ang=max_distance_ang,
                        bandwidth_ang=bandwidth,
                        seed_threshold_ang=threshold * max_distance_ang,
                        min_seeds=min_seeds,
                        tomo_name=tomogram_name(s, p),
                    )
                    for s, p in surfaces
                ]
                picked = pd.concat(tables, ignore_index=True)
                row = evaluate_picks(picked, truth).iloc[-1]
                one = evaluate_picks(picked, truth, matching="one_to_one").iloc[-1]
                print(
                    f"{bandwidth:12.0f} {threshold * max_distance_ang:12.0f} {min_seeds:10d} {len(picked):6d} "
                    f"{row.precision:6.3f} {row.recall:6.3f} {row.f1:6.3f} {one.f1:7.3f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("bench_pick_work"), help="data folder (reused)")
    parser.add_argument("--shape", default="96,256,256", help="tomogram shape z,y,x (voxels of 10 Å)")
    parser.add_argument("--n-test", type=int, default=3, help="tomograms to predict on")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--sizes", default="1,2,5", help="numbers of training membranes")
    parser.add_argument("--segmentation", choices=("model", "truth"), default="model")
    parser.add_argument("--snr", type=float, default=0.5, help="SNR of the simulated tilt images (simulator default)")
    parser.add_argument(
        "--feature-lowpass",
        type=float,
        default=DEFAULT_FEATURE_LOWPASS_ANG,
        help="Gaussian sigma, Å, of the tomogram low-pass before sampling features (0: raw densities)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--train-setting", action="append", default=[], metavar="KEY=VALUE", help="PickTrainConfig override"
    )
    parser.add_argument("--no-tta-timing", action="store_true", help="skip the timing without TTA")
    parser.add_argument("--sweep", action="store_true", help="also print F1 over mean-shift settings")
    parser.add_argument(
        "--ensemble", type=int, default=1, help="models trained per size (seeds 0..N-1), predictions averaged"
    )
    parser.add_argument(
        "--reuse-models", action="store_true", help="skip training where a model with the same settings exists"
    )
    parser.add_argument("--quick", action="store_true", help="64x192x192 tomograms, 12 epochs, sizes 1,2")
    args = parser.parse_args()
    shape = (64, 192, 192) if args.quick else tuple(int(v) for v in args.shape.split(","))
    epochs = 12 if args.quick else args.epochs
    sizes = [1, 2] if args.quick else [int(v) for v in args.sizes.split(",")]
    work = data_folder(args.work, shape, args.snr)
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"data in {work}: {1 + args.n_test} tomograms {shape} at 10 Å, SNR {args.snr:g}, segmentation: "
        f"{args.segmentation}, torch threads {args.threads}",
        flush=True,
    )
    data = [prepare(work, i, shape, args.snr, args.segmentation, args.feature_lowpass) for i in range(1 + args.n_test)]
    train_name, train_dir, train_truth = data[0]
    chosen = training_membranes(train_dir, train_truth, max(sizes))
    test_paths = [p for _, folder, _ in data[1:] for p in sorted(folder.glob("*.h5"))]
    truths = [t for _, _, t in data[1:]]
    print(f"training tomogram {train_name}: {len(chosen)} membranes with proteins; test: {len(test_paths)} membranes")
    import yaml

    settings = {"epochs": epochs, "validation_fraction": 0.0, "seed": 0}
    for item in args.train_setting:
        key, _, value = item.partition("=")
        settings[key.strip()] = yaml.safe_load(value)
    defaults = {"validation_fraction": 0.0}
    tag = "".join(
        f"_{k}{v}" for k, v in sorted(settings.items()) if k not in ("epochs", "seed") and defaults.get(k) != v
    )
    cache = work / "operator_cache"  # keyed by content: shared by all models
    results = []
    if max(sizes) > len(chosen):
        print(f"  only {len(chosen)} training membranes have proteins: sizes above {len(chosen)} use all of them")
        sizes = sorted({min(size, len(chosen)) for size in sizes})
    for size in sizes:
        paths = [str(p) for p in chosen[:size]]
        out = work / f"model_{args.segmentation}_lowpass{args.feature_lowpass:g}{SAMPLING_TAG}_{size}mb_{epochs}ep{tag}"
        members = [
            reuse_or_train(
                args.reuse_models,
                paths,
                str(train_truth),
                str(out if seed == 0 else out.with_name(f"{out.name}_seed{seed}")),
                {**settings, "seed": seed},
                args.threads,
                str(cache),
            )  # fmt: skip
            for seed in range(args.ensemble)
        ]
        trained = {**members[0], "models": [m["model"] for m in members]}
        particles = out / ("particles" if args.ensemble == 1 else f"particles_ensemble{args.ensemble}")
        predicted = run_in_child(
            predict_job, trained["models"], [str(p) for p in test_paths], str(particles), True, args.threads,
            str(cache),
        )  # fmt: skip
        scores = pooled_scores(predicted["stars"], truths)
        from cryomem.io import read_membrane_h5

        train_vertices = sum(len(read_membrane_h5(p).vertices_xyz_ang) for p in paths)
        results.append({"size": size, "trained": trained, "predicted": predicted, "scores": scores})
        per_10k = 1e4 / predicted["vertices"]
        print(
            f"  {size} membrane(s), {train_vertices} vertices: F1 {scores.f1:.3f} (P {scores.precision:.3f}, "
            f"R {scores.recall:.3f}; {scores.n_predicted} picked, {scores.n_ground_truth} true; one-to-one F1 "
            f"{scores.f1_one_to_one:.3f})\n    training {trained['epoch_seconds']:.1f} s/epoch "
            f"({1e4 * trained['epoch_seconds'] / train_vertices:.2f} s per 10k vertices), peak "
            f"{trained['peak_mib']:.0f} MiB\n    prediction ({args.ensemble} model(s)) with TTA on "
            f"{predicted['vertices']} vertices: "
            f"{per_10k * predicted['seconds']:.2f} s per 10k vertices "
            f"({'operators computed' if predicted['operators_computed'] else 'operators from the cache'}; "
            f"mean shift + DBSCAN {per_10k * predicted['picking_seconds']:.3f} s of it), peak "
            f"{predicted['peak_mib']:.0f} MiB",
            flush=True,
        )
    if not results:
        return
    best = results[-1]
    if args.sweep:
        from cryomem.pick import predicted_membrane_path, read_pick_model_card

        # the copies of the test membranes with the predictions of the largest training set's model (with TTA)
        predicted_folder = Path(best["predicted"]["stars"][0]).parent
        predicted_paths = [predicted_membrane_path(predicted_folder, p) for p in test_paths]
        sweep(predicted_paths, truths, read_pick_model_card(best["trained"]["model"]).max_distance_ang)
    if not args.no_tta_timing:
        plain = run_in_child(
            predict_job, best["trained"]["models"], [str(p) for p in test_paths], str(work / "particles_no_tta"), False,
            args.threads, str(cache),
        )  # fmt: skip
        plain_scores = pooled_scores(plain["stars"], truths)
        print(
            f"  without TTA ({best['size']} membranes): F1 {plain_scores.f1:.3f}, "
            f"{1e4 * plain['seconds'] / plain['vertices']:.2f} s per 10k vertices, "
            f"peak {plain['peak_mib']:.0f} MiB"
        )
    print("\nF1 at 6.3 nm (pooled over test tomograms) vs training membranes:")
    for r in results:
        print(f"  {r['size']:>2} membrane(s): F1 {r['scores'].f1:.3f} (one-to-one {r['scores'].f1_one_to_one:.3f})")
    summary = {
        "shape_zyx": shape,
        "segmentation": args.segmentation,
        "epochs": epochs,
        "threads": args.threads,
        "results": [
            {
                "size": r["size"],
                **{k: float(r["scores"][k]) for k in ("precision", "recall", "f1", "f1_one_to_one")},
                **r["trained"],
                "prediction": {k: v for k, v in r["predicted"].items() if k != "stars"},
            }
            for r in results
        ],
    }
    (work / f"summary_{args.segmentation}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
