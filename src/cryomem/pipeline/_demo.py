"""``cryomem demo``: simulate a tomogram with membrane proteins, run the whole pipeline on it with the
shipped models, and compare every result with the simulator's exact ground truth.

The pipeline runs through :func:`run_pipeline` on a one-worker in-process dask cluster (one
tomogram gains nothing from worker processes, and starts in a second instead of several).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.io import (
    CountProgress,
    atomic_write_path,
    json_ready,
    read_mrc,
    read_particles_star,
    simulation_file_names,
    stats_table_name,
)
from cryomem.pipeline._runner import RunResult, run_pipeline
from cryomem.pipeline._settings import PickSettings, RunConfig, SegmentSettings, StatsSettings
from cryomem.pipeline._stages import TomogramFolders

__all__ = [
    "COMPARISON_NAME",
    "DEMO_NAME",
    "DEMO_PICK_MODEL_PATH",
    "DEMO_SHAPE_ZYX",
    "FAST_SHAPE_ZYX",
    "DemoResult",
    "compare_with_ground_truth",
    "demo_run_config",
    "demo_simulation_config",
    "run_demo",
]

DEMO_NAME = "demo"
DEMO_SHAPE_ZYX = (64, 160, 160)
FAST_SHAPE_ZYX = (48, 96, 96)
DEMO_PICK_MODEL_PATH = Path(__file__).resolve().parents[1] / "pick" / "models" / "demo_pick.pt"
COMPARISON_NAME = "ground_truth_comparison.json"
MATCH_RADIUS_NM = 6.3


def demo_simulation_config(seed: int = 0, shape_zyx: tuple[int, int, int] = DEMO_SHAPE_ZYX):
    """The demo's simulated tomogram (10 Å voxels): small vesicles and sheets densely set with proteins.

    The demo picking model was trained on tomograms from this same recipe with other seeds
    (``benchmarks/train_demo_pick_model.py``).
    """
    from cryomem.simulate import SimulationConfig

    return SimulationConfig.model_validate(
        {
            "shape_zyx": tuple(shape_zyx),
            "voxel_size_ang": 10.0,
            "seed": seed,
            "membranes": {
                "occupancy": 0.08,
                "max_count": 8,
                "radius_nm": (20.0, 45.0),
                "sheet_extent_nm": (60.0, 150.0),
                "kinds": {"sphere": 3.0, "ellipsoid": 2.0, "sheet": 1.0},
            },
            "membrane_proteins": {"occupancy": 0.3},
            # the recipe the demo picking model was trained on: no random distractor templates
            "cytosol": {"procedural_classes": 0, "cluster_fraction": 0.0},
        }
    )


def demo_run_config(
    pick_model: str | os.PathLike[str] | None = DEMO_PICK_MODEL_PATH, *, fast: bool = False
) -> RunConfig:
    """Pipeline settings of the demo: no segmentation TTA (CPU time), picking with TTA, statistics
    without Ripley's envelopes in ``fast`` mode."""
    analyses = ("concentration", "neighbours") if fast else ("concentration", "neighbours", "ripley", "orientation")
    return RunConfig(
        segment=SegmentSettings(tta=False),
        pick=PickSettings(model=Path(pick_model) if pick_model is not None else None, tta=not fast),
        stats=StatsSettings(analyses=analyses, pooled_analyses=("concentration", "neighbours")),
    )


@dataclass
class DemoResult:
    """Where the demo wrote what, and how it compares with the ground truth."""

    out_dir: Path
    data_dir: Path
    run: RunResult
    comparison: dict
    report: Path | None


def compare_with_ground_truth(data_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str], name: str) -> dict:
    """Segmentation Dice and Surface-Dice, picking precision/recall/F1 at 6.3 nm, concentration error.

    Parameters
    ----------
    data_dir : path
        Folder written by :func:`cryomem.simulate.simulate_to_folder` (``<name>_membranes.mrc``,
        ``<name>_membrane_proteins.star``, ``<name>_ground_truth.json``).
    run_dir : path
        Run folder of :func:`run_pipeline` on ``<name>.mrc``.
    name : str
        Tomogram name.

    Returns
    -------
    dict
        ``segmentation`` (dice, surface_dice), ``picking`` (precision, recall, f1, counts,
        radius_nm), ``concentration`` (predicted and true per µm², relative error in %); a section
        is None where its stage did not finish.
    """
    from cryomem.pick import evaluate_picks
    from cryomem.segment import dice, surface_dice

    data_dir, run_dir = Path(data_dir), Path(run_dir)
    folders = TomogramFolders(run_dir / "tomograms" / name, name)
    files = simulation_file_names(name)
    truth = json.loads((data_dir / files["ground_truth"]).read_text())
    result: dict = {"tomogram": name, "segmentation": None, "picking": None, "concentration": None}
    if folders.seg_path.is_file():
        predicted = read_mrc(folders.seg_path).data_zyx > 0
        labels = (read_mrc(data_dir / files["membrane_instances"]).data_zyx > 0).astype(np.uint8)
        result["segmentation"] = {"dice": float(dice(predicted, labels)),
                                  "surface_dice": float(surface_dice(predicted, labels))}  # fmt: skip
    if folders.particles_path.is_file():
        picked = read_particles_star(folders.particles_path)
        true = read_particles_star(data_dir / files["membrane_proteins"])
        row = evaluate_picks(picked, true, radius_nm=MATCH_RADIUS_NM).iloc[-1]
        result["picking"] = {
            "radius_nm": MATCH_RADIUS_NM,
            "n_predicted": int(row["n_predicted"]),
            "n_ground_truth": int(row["n_ground_truth"]),
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1"]),
        }
    table_path = folders.stats / stats_table_name("concentration")
    if table_path.is_file():
        table = pd.read_csv(table_path)
        pooled = table[(table["scope"] == "all") & (table["class"].astype(str) == "all")].iloc[0]
        predicted_c = float(pooled["concentration_per_um2"])
        true_c = float(truth["concentration_per_um2"])
        result["concentration"] = {
            "predicted_per_um2": predicted_c,
            "true_per_um2": true_c,
            "relative_error_percent": 100.0 * (predicted_c - true_c) / true_c if true_c else float("nan"),
            "predicted_area_um2": float(pooled["area_um2"]),
            "true_area_um2": float(truth["membrane_area_um2"]),
        }
    return result


def run_demo(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    shape_zyx: tuple[int, int, int] | None = None,
    fast: bool = False,
    pick_model: str | os.PathLike[str] | None = DEMO_PICK_MODEL_PATH,
    overwrite: bool = False,
    progress: CountProgress | None = None,
) -> DemoResult:
    """Simulate ``<out>/data/demo.mrc``, run the pipeline into ``<out>/run/`` and compare with the truth.

    Parameters
    ----------
    out_dir : path
        Demo folder; an existing folder must be empty or an earlier demo unless ``overwrite``.
    seed : int, default 0
        Seed of the simulated tomogram.
    shape_zyx : tuple of int, optional
        Tomogram shape (default :data:`DEMO_SHAPE_ZYX`, or :data:`FAST_SHAPE_ZYX` with ``fast``).
    fast : bool, default False
        Small tomogram, no picking TTA, no Ripley statistics (for tests).
    pick_model : path, optional
        Picking model (default: the shipped demo model).
    overwrite : bool, default False
        Replace a folder that does not hold an earlier demo.
    progress : callable ``(stage, done, total)``, optional
        Progress of the simulation (``"simulate"``) and of the pipeline stages.

    Returns
    -------
    DemoResult
    """
    from distributed import Client, LocalCluster

    from cryomem.pipeline._report import write_report
    from cryomem.simulate import simulate_to_folder

    out = Path(out_dir)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the demo's seed (--seed) must be a whole number >= 0, got {seed!r}")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file; give a folder for the demo output")
    files = simulation_file_names(DEMO_NAME)
    earlier = (out / "data" / files["ground_truth"]).is_file()
    if out.is_dir() and any(out.iterdir()) and not (earlier or overwrite):
        raise FileExistsError(f"{out} is not empty and holds no earlier demo; choose a new folder or pass --overwrite")
    if pick_model is not None and not Path(pick_model).is_file():
        raise FileNotFoundError(f"demo pick model {pick_model} is missing; reinstall cryomem")
    shape = tuple(shape_zyx) if shape_zyx is not None else (FAST_SHAPE_ZYX if fast else DEMO_SHAPE_ZYX)
    config = demo_simulation_config(seed, shape)
    out.mkdir(parents=True, exist_ok=True)
    report_simulation = None
    if progress:
        progress("simulate", 0, 1)

        def report_simulation(stage: str, fraction: float) -> None:
            progress("simulate", 0, 1)

    data_dir, _, _ = simulate_to_folder(config, out / "data", name=DEMO_NAME, overwrite=True,
                                        progress=report_simulation)  # fmt: skip
    if progress:
        progress("simulate", 1, 1)
    run_dir = out / "run"
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        run = run_pipeline(
            [data_dir / files["tomogram"]], run_dir, demo_run_config(pick_model, fast=fast), client=client,
            progress=progress, write_report=False,
        )  # fmt: skip
    comparison = compare_with_ground_truth(data_dir, run_dir, DEMO_NAME)
    comparison["seed"] = seed
    comparison["shape_zyx"] = list(shape)
    with atomic_write_path(run_dir / COMPARISON_NAME) as tmp:
        tmp.write_text(json.dumps(json_ready(comparison), indent=2))
    report = write_report(run_dir)
    return DemoResult(out, data_dir, run, comparison, report)
