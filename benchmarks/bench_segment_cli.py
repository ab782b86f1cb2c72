"""`cryomem segment` end to end on the CPU: throughput and peak memory of the whole process.

Runs the real command (``python -m cryomem segment TOMO``, shipped model) in a child process per
case and reads the child's own resource usage (``os.wait4``): wall time, voxels per second, CPU
time split into user and system, and peak resident memory, also as a multiple of the input
tomogram in float32. A 96³ tomogram (one full window) is segmented first: its peak is the fixed
cost (interpreter, torch, model, one window's activations), and ``peak - fixed`` is the part that
grows with the tomogram (the input's pages read through the memory map count in it).

    python benchmarks/bench_segment_cli.py                          # 200 x 512 x 512, no TTA then TTA
    python benchmarks/bench_segment_cli.py --tomogram my.mrc --modes no-tta
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def simulate(path: Path, shape: tuple[int, int, int]) -> Path:
    from cryomem.simulate import SimulationConfig, simulate_to_folder

    if not path.is_file():
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        config = SimulationConfig.model_validate({"shape_zyx": shape, "voxel_size_ang": 10.0, "seed": 515151})
        simulate_to_folder(config, path.parent, name=path.stem, overwrite=True)
    return path


def run(tomogram: Path, out_dir: Path, tta: bool) -> dict:
    command = [sys.executable, "-m", "cryomem", "segment", str(tomogram), "--out", str(out_dir), "--overwrite"]
    command.append("--tta" if tta else "--no-tta")
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()[-2000:]}")
    return {"seconds": seconds, "user": usage.ru_utime, "system": usage.ru_stime, "peak": usage.ru_maxrss * 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tomogram", type=Path, help="MRC to segment (default: simulate one of --shape)")
    parser.add_argument("--shape", default="200,512,512", help="simulated tomogram shape z,y,x (10 Å voxels)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cryomem_bench_segment_cli")
    parser.add_argument("--modes", default="no-tta,tta", help="comma-separated: no-tta, tta")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    work = args.work
    tomogram = args.tomogram or simulate(work / f"sim_{'x'.join(map(str, shape))}" / "tomo.mrc", shape)
    tiny = simulate(work / "sim_one_window" / "tomo.mrc", (96, 96, 96))
    import mrcfile

    with mrcfile.mmap(tomogram, mode="r") as mrc:
        voxels = mrc.data.size
        shape = mrc.data.shape
    input_bytes = 4 * voxels
    fixed = run(tiny, work / "out_tiny", tta=False)["peak"]
    print(f"tomogram {tomogram} {shape}: {voxels / 1e6:.1f} Mvoxel, {input_bytes / 2**20:.0f} MiB as float32")
    print(f"fixed cost (peak on a 96³ tomogram = one full window, no TTA): {fixed / 2**30:.2f} GiB")
    for mode in args.modes.split(","):
        result = run(tomogram, work / f"out_{mode}", tta=mode == "tta")
        print(
            f"{mode:>6}: {result['seconds']:.0f} s wall = {voxels / result['seconds'] / 1e6:.3f} Mvoxel/s "
            f"(CPU user {result['user']:.0f} s, system {result['system']:.0f} s); peak RSS "
            f"{result['peak'] / 2**30:.2f} GiB = {result['peak'] / input_bytes:.1f}x the input; "
            f"peak - fixed = {(result['peak'] - fixed) / input_bytes:.1f}x the input",
            flush=True,
        )


if __name__ == "__main__":
    main()
