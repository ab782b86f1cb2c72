"""Peak host memory of sliding-window membrane prediction, as multiples of the input.

Budget (issue): peak host memory <= 3x the input tomogram in float32, with or without TTA.
Each case runs ``predict_probabilities`` in a fresh process (so ``ru_maxrss`` is its own) with
a small stand-in conv model on a float32 tomogram (default 200 x 512 x 512 = 200 MiB).

    python benchmarks/bench_segment_memory.py                      # all cases
    python benchmarks/bench_segment_memory.py --shape 100 256 256 --window 64

Printed per case, as multiples of the input's float32 size:

- ``peak RSS``: the process's whole peak (interpreter, torch, model, everything);
- ``tomogram part``: peak minus the peak of a warm-up forward pass of one batch of windows,
  i.e. what scales with the tomogram (input, output, ring, window buffers). The budget applies
  to this. The model's own workspace (CPU conv3d unfolds each window: ~27 x channels x window
  voxels) depends only on the window and batch size and is printed in MiB.

"memmap" reads the input from a memory-mapped .npy file: the pages the windows touch are
page cache (reclaimable) but still count in RSS. Wall time is on the CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "no TTA": {"tta": False},
    "TTA (8 flips)": {"tta": True},
    "TTA + uncertainty": {"tta": True, "uncertainty": True},
    "no TTA, rescaled 8 -> 10 Å": {"tta": False, "input_voxel_size_ang": 8.0},
    "no TTA, memmap input": {"tta": False, "memmap": True},
}


def _rss_now_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def run_case(shape: tuple[int, int, int], window: int, case: dict, scratch: str) -> dict:
    """One prediction; runs inside the child process."""
    import numpy as np
    import torch

    from cryomem.segment._inference import predict_probabilities

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(4, 1, 3, padding=1)
    ).eval()
    before_model = _rss_now_bytes()
    with torch.inference_mode():
        model(torch.zeros(2, 1, window, window, window))  # one batch: the model's workspace
    baseline = _peak_rss_bytes()
    rng = np.random.default_rng(0)
    if case.get("memmap"):
        path = Path(scratch) / "tomo.npy"
        stored = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        for z in range(shape[0]):
            stored[z] = rng.standard_normal(shape[1:], dtype=np.float32)
        stored.flush()
        del stored
        volume = np.load(path, mmap_mode="r")
    else:
        volume = rng.standard_normal(shape, dtype=np.float32)
    input_bytes = int(np.prod(shape)) * 4
    start = time.perf_counter()
    predict_probabilities(
        volume,
        model,
        input_voxel_size_ang=case.get("input_voxel_size_ang", 10.0),
        model_voxel_size_ang=10.0,
        window=window,
        divisor=16,
        tta=case["tta"],
        uncertainty=case.get("uncertainty", False),
        batch_size=2,
        device="cpu",
    )
    seconds = time.perf_counter() - start
    peak = _peak_rss_bytes()
    return {
        "peak_x_input": peak / input_bytes,
        "tomogram_x_input": (peak - baseline) / input_bytes,
        "model_workspace_mib": (baseline - before_model) / 2**20,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(200, 512, 512), metavar=("NZ", "NY", "NX"))
    parser.add_argument("--window", type=int, default=96, help="model window side, voxels (multiple of 16)")
    parser.add_argument("--cases", nargs="*", type=int, help="indices of the cases to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = tuple(args.shape)
    if args.child:
        case = json.loads(args.child)
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(run_case(shape, args.window, case, scratch)))
        return
    input_mib = 4 * shape[0] * shape[1] * shape[2] / 2**20
    size = " x ".join(map(str, shape))
    print(f"input {size} float32 = {input_mib:.0f} MiB; window {args.window}; budget 3.0x (tomogram part)")
    print(f"{'case':<30}{'peak RSS':>10}{'tomogram part':>15}{'model MiB':>11}{'time s':>9}")
    for index, (name, case) in enumerate(CASES.items()):
        if args.cases is not None and index not in args.cases:
            continue
        command = [sys.executable, __file__, "--shape", *map(str, shape), "--window", str(args.window)]
        done = subprocess.run([*command, "--child", json.dumps(case)], capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{name:<30}{r['peak_x_input']:>9.2f}x{r['tomogram_x_input']:>14.2f}x"
            f"{r['model_workspace_mib']:>11.0f}{r['seconds']:>9.1f}"
        )


if __name__ == "__main__":
    main()
