"""``cryomem run`` on simulated tomograms: 2 workers vs 1, per-stage costs, and a kill-and-resume test.

1. Simulates ``--n`` small tomograms (demo recipe, seeds 990101... used nowhere else).
2. Runs the whole pipeline (segmentation without TTA, demo picking model, concentration and
   neighbour statistics) on a local dask cluster of 1 worker (torch on all cores) and of 2 workers
   (torch on half the cores each), each into a fresh run folder; prints wall times, their ratio and
   the median per-stage task time from the manifest (the figures behind docs/scaling.md).
3. Resume: starts the 2-worker run in a child process, SIGKILLs its whole process group (client,
   scheduler and workers) once half of the tasks are recorded as done, runs again, and checks that
   exactly the unrecorded tasks ran and that every output equals the uninterrupted run's.

    python benchmarks/bench_run.py                      # 8 x 64x128x128, ~10-15 min on 2 cores
    python benchmarks/bench_run.py --n 4 --shape 48,96,96 --work /tmp/br   # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED_BASE = 990101
STAGES = ("segment", "instances", "surfaces", "pick", "stats")


def config(workers: int):
    from cryomem.pipeline import ClusterSettings, PickSettings, RunConfig, SegmentSettings, StatsSettings

    return RunConfig(
        segment=SegmentSettings(tta=False),
        pick=PickSettings(model=str(_demo_model()), tta=False),
        stats=StatsSettings(analyses=("concentration", "neighbours"), pooled_analyses=("concentration",)),
        cluster=ClusterSettings(workers=workers),
    )


def _demo_model() -> Path:
    from cryomem.pipeline import DEMO_PICK_MODEL_PATH

    return DEMO_PICK_MODEL_PATH


def simulate(work: Path, n: int, shape: tuple[int, int, int]) -> Path:
    from cryomem.pipeline import demo_simulation_config
    from cryomem.simulate import simulate_to_folder

    inputs = work / "tomograms"
    inputs.mkdir(parents=True, exist_ok=True)
    (work / "sim").mkdir(exist_ok=True)
    for i in range(n):
        name = f"br{i}"
        if not (inputs / f"{name}.mrc").is_file():
            recipe = demo_simulation_config(SEED_BASE + i, shape)
            folder, _, _ = simulate_to_folder(recipe, work / "sim" / name, name=name, overwrite=True)
            os.replace(folder / f"{name}.mrc", inputs / f"{name}.mrc")
    return inputs


def timed_run(inputs: Path, out: Path, workers: int) -> tuple[float, object]:
    from cryomem.pipeline import run_pipeline

    started = time.perf_counter()
    result = run_pipeline([inputs], out, config(workers), write_report=False)
    return time.perf_counter() - started, result


def stage_seconds(run_dir: Path) -> dict[str, float]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    seconds = {s: [] for s in STAGES}
    for entry in manifest["tomograms"].values():
        for stage, record in entry["stages"].items():
            if record.get("status") == "done":
                seconds[stage].append(record["seconds"])
    pooled = (manifest.get("pooled") or {}).get("seconds")
    out = {s: float(np.median(v)) for s, v in seconds.items() if v}
    if pooled is not None:
        out["pooled"] = pooled
    return out


def unit_costs(run_dir: Path) -> dict[str, float]:
    """Per-stage costs in the units they scale with (the inputs of docs/scaling.md)."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    sums = {"segment_s": 0.0, "mvoxels": 0.0, "surfaces_s": 0.0, "pick_s": 0.0, "vertices": 0.0, "stats_s": 0.0,
            "particles": 0.0, "mesh_um2": 0.0}  # fmt: skip
    for entry in manifest["tomograms"].values():
        stages = entry["stages"]
        if not all(stages.get(s, {}).get("status") == "done" for s in STAGES):
            continue
        sums["segment_s"] += stages["segment"]["seconds"]
        sums["mvoxels"] += float(np.prod(entry["shape_zyx"])) / 1e6
        sums["surfaces_s"] += stages["surfaces"]["seconds"] + stages["instances"]["seconds"]
        sums["vertices"] += stages["surfaces"]["summary"]["vertices"]
        sums["mesh_um2"] += stages["surfaces"]["summary"]["mesh_area_um2"]
        sums["pick_s"] += stages["pick"]["seconds"]
        sums["stats_s"] += stages["stats"]["seconds"]
        sums["particles"] += stages["pick"]["summary"]["particles"]
    return {
        "segment_s_per_mvoxel": sums["segment_s"] / max(sums["mvoxels"], 1e-9),
        "surfaces_s_per_10k_vertices": 1e4 * sums["surfaces_s"] / max(sums["vertices"], 1),
        "pick_s_per_10k_vertices": 1e4 * sums["pick_s"] / max(sums["vertices"], 1),
        "stats_s_per_100_particles": 100 * sums["stats_s"] / max(sums["particles"], 1),
        "vertices_per_um2_of_mesh": sums["vertices"] / max(sums["mesh_um2"], 1e-9),
    }


def done_records(run_dir: Path) -> set[tuple[str, str]]:
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return set()
    return {(name, stage) for name, entry in manifest["tomograms"].items()
            for stage, record in entry.get("stages", {}).items() if record.get("status") == "done"}  # fmt: skip


def kill_half_way(inputs: Path, out: Path, total: int) -> set[tuple[str, str]]:
    """Run in a child process; SIGKILL its process group once half the tasks are recorded."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from bench_run import config; "
        f"from cryomem.pipeline import run_pipeline; run_pipeline([{str(inputs)!r}], {str(out)!r}, config(2), "
        "write_report=False)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    while child.poll() is None and len(done_records(out)) < total // 2:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    time.sleep(1.0)
    return done_records(out)


def compare_outputs(a: Path, b: Path, tolerance_ang: float = 1e-3) -> dict[str, str]:
    """Per output kind: 'identical', 'equal within float rounding (max difference)', or what differs.

    MRC data, meshes and tables are compared exactly; predicted distances (h5 point data) and particle
    coordinates within ``tolerance_ang``, because torch's threaded CPU reductions make inference
    reproducible only to the last float32 bit (two uninterrupted runs differ the same way).
    """
    import pandas as pd

    from cryomem.io import read_membrane_h5, read_mrc, read_particles_star

    differs: dict[str, list[str]] = {}
    largest: dict[str, float] = {}
    for path in sorted((a / "tomograms").rglob("*")):
        if not path.is_file():
            continue
        other = b / path.relative_to(a)
        kind = path.suffix
        differs.setdefault(kind, [])
        if not other.is_file():
            differs[kind].append(f"missing {other}")
            continue
        diff = 0.0
        if kind == ".mrc":
            same = np.array_equal(read_mrc(path).data_zyx, read_mrc(other).data_zyx)
        elif kind == ".h5":
            x, y = read_membrane_h5(path), read_membrane_h5(other)
            same = all(np.array_equal(getattr(x, f), getattr(y, f)) for f in ("vertices_xyz_ang", "faces", "features"))
            same = same and set(x.point_data) == set(y.point_data)
            for key in x.point_data if same else ():
                diff = max(diff, float(np.abs(x.point_data[key] - y.point_data[key]).max(initial=0.0)))
            same = same and diff <= tolerance_ang
        elif kind == ".star":
            x, y = read_particles_star(path), read_particles_star(other)
            xyz = ["x_ang", "y_ang", "z_ang"]
            same = len(x) == len(y) and x.drop(columns=xyz + ["score"]).equals(y.drop(columns=xyz + ["score"]))
            if same and len(x):
                diff = float(np.abs(x[xyz].to_numpy() - y[xyz].to_numpy()).max())
            same = same and diff <= tolerance_ang
        elif kind == ".csv":
            same = pd.read_csv(path).equals(pd.read_csv(other))
        elif kind in (".json", ".png", ".vtp"):  # timestamps / renderer bytes; their data is in the CSV and h5
            same = True
        else:
            same = path.read_bytes() == other.read_bytes()
        largest[kind] = max(largest.get(kind, 0.0), diff)
        if not same:
            differs[kind].append(str(path.relative_to(a)))
    verdict = {}
    for kind, bad in differs.items():
        if bad:
            verdict[kind] = f"{len(bad)} differ: {bad[:3]}"
        elif largest.get(kind, 0.0) > 0:
            verdict[kind] = f"equal within float rounding (max {largest[kind]:.1e} Å)"
        else:
            verdict[kind] = "identical"
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("bench_run_work"))
    parser.add_argument("--n", type=int, default=8, help="tomograms")
    parser.add_argument("--shape", default="64,128,128", help="z,y,x at 10 Å")
    parser.add_argument("--skip-scaling", action="store_true", help="only the resume test")
    args = parser.parse_args()
    work = args.work.resolve()
    shape = tuple(int(v) for v in args.shape.split(","))
    print(f"{args.n} tomograms {shape} at 10 Å in {work}; {os.cpu_count()} CPU cores", flush=True)
    inputs = simulate(work, args.n, shape)
    import shutil

    runs = {}
    for workers in (1, 2) if not args.skip_scaling else (2,):
        out = work / f"run_{workers}w"
        shutil.rmtree(out, ignore_errors=True)
        seconds, result = timed_run(inputs, out, workers)
        runs[workers] = (seconds, out)
        print(f"{workers} worker(s): {seconds:.1f} s, {result.n_executed} tasks, failures: {result.failures}",
              flush=True)  # fmt: skip
        print("  median seconds per task: " + ", ".join(f"{k} {v:.2f}" for k, v in stage_seconds(out).items()))
        print("  unit costs: " + ", ".join(f"{k} {v:.3g}" for k, v in unit_costs(out).items()), flush=True)
    if 1 in runs:
        print(f"speed-up 2 workers vs 1: {runs[1][0] / runs[2][0]:.2f}x")
    total = args.n * len(STAGES)
    resumed = work / "run_killed"
    shutil.rmtree(resumed, ignore_errors=True)
    before = kill_half_way(inputs, resumed, total)
    print(f"killed after {len(before)} of {total} stage tasks were recorded as done", flush=True)
    left_over = sorted(p.name for p in resumed.rglob(".*.tmp-*"))
    print(f"temporary leftovers of killed tasks (cleaned on the next run): {len(left_over)}")
    seconds, result = timed_run(inputs, resumed, 2)
    executed = sum(result.executed.get(s, 0) for s in STAGES)
    print(f"re-run: {seconds:.1f} s, executed {executed} stage tasks {dict(result.executed)} (unfinished at the "
          f"kill: {total - len(before)}); up to date {dict(result.up_to_date)}")  # fmt: skip
    assert sum(result.up_to_date.get(s, 0) for s in STAGES) == len(before), "a finished stage ran again"
    assert executed == total - len(before), "the re-run did not run exactly the unfinished stages"
    verdict = compare_outputs(runs[2][1], resumed)
    print("outputs of the resumed run vs the uninterrupted 2-worker run: "
          + ", ".join(f"{k} {v}" for k, v in verdict.items()))  # fmt: skip


if __name__ == "__main__":
    main()
