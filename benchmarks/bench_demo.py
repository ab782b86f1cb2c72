"""``cryomem demo``: wall time, peak memory and its ground-truth comparison (issue 6 measures).

Runs ``python -m cryomem demo`` in a child process (as a user would) and reads its peak resident
memory from the operating system; then prints the comparison the demo wrote.

    python benchmarks/bench_demo.py                     # the real demo (<= 3 min on 2 cores)
    python benchmarks/bench_demo.py --fast --seeds 0,1  # the test mode, several seeds
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("bench_demo_work"))
    parser.add_argument("--seeds", default="0", help="demo seeds, comma separated (0 is what users see)")
    parser.add_argument("--fast", action="store_true", help="the hidden test mode")
    args = parser.parse_args()
    rows = []
    for seed in (int(v) for v in args.seeds.split(",")):
        out = args.work.resolve() / f"demo_{seed}"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, "-m", "cryomem", "demo", str(out), "--seed", str(seed)] + (
            ["--fast"] if args.fast else []
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_mib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit(f"demo failed with exit code {done.returncode}")
        comparison = json.loads((out / "run" / "ground_truth_comparison.json").read_text())
        manifest = json.loads((out / "run" / "manifest.json").read_text())
        stages = {s: r["seconds"] for s, r in manifest["tomograms"]["demo"]["stages"].items()}
        seg, picks, conc = comparison["segmentation"], comparison["picking"], comparison["concentration"]
        rows.append((seed, seconds, peak_mib, seg, picks, conc))
        print(f"seed {seed}: {seconds:.0f} s wall, peak {peak_mib:.0f} MiB; stages (s): "
              + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()), flush=True)  # fmt: skip
        print(f"  segmentation Dice {seg['dice']:.3f}, Surface-Dice {seg['surface_dice']:.3f}; picking at "
              f"{picks['radius_nm']} nm: P {picks['precision']:.3f} R {picks['recall']:.3f} F1 {picks['f1']:.3f} "
              f"({picks['n_predicted']} picked / {picks['n_ground_truth']} true); concentration "
              f"{conc['predicted_per_um2']:.0f} vs {conc['true_per_um2']:.0f} per µm² "
              f"({conc['relative_error_percent']:+.1f} %)", flush=True)  # fmt: skip
    if len(rows) > 1:
        mean = lambda i, k: sum(r[i][k] for r in rows) / len(rows)  # noqa: E731
        wall = sum(r[1] for r in rows) / len(rows)
        print(f"mean over {len(rows)} seeds: wall {wall:.0f} s, Dice {mean(3, 'dice'):.3f}, "
              f"F1 {mean(4, 'f1'):.3f}, |concentration error| "
              f"{sum(abs(r[5]['relative_error_percent']) for r in rows) / len(rows):.1f} %")  # fmt: skip


if __name__ == "__main__":
    main()
