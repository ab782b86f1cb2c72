"""What `cryomem preprocess` buys the default model on unlike data, and what each step costs.

(a) Quality (default): tomograms drawn like the default model's training data
(``configs/default_segmentation_dataset_v3.yaml``, tomogram indices 2000+, never trained on) with one
factor pushed out of the training domain, segmented by the shipped model (no TTA, threshold 0.5) raw
and after the matching preprocessing step:

- ``voxel-size``: voxels of ``--far-voxel-size`` Å (default 5; training: 7-22 Å; the simulator's
  templates vanish from 28 Å on, so 26 Å is the coarsest choice), on a grid enlarged to the physical
  extent the shape has at 10 Å -> ``pixel-size`` to the model's voxel size. Raw means the model's own
  window rescaling (trilinear, what `cryomem segment` does).
  The prediction on the resampled grid is mapped back to the tomogram's grid (linear interpolation
  of the probabilities at the same physical positions, voxel 0 aligned) and scored there.
- ``coloured-noise``: noise power ∝ 1/f^1.5 (training: white) -> ``match-spectrum`` to the shipped
  reference (the training data's spectrum).
- ``no-phase-flip``: CTF not phase-flipped (training: flipped) -> ``deconvolve`` with the simulated
  defocus (signed CTF, which also flips the phases).

Dice and Surface-Dice are pooled over the tomograms of a case, against the simulator's membrane
labels (bilayer, no ignore shell).

(b) ``--speed``: wall time and peak memory of each step on a random 200x512x512 float32 tomogram,
each step in its own process. ``maxrss`` is the process's peak resident size (VmHWM of
/proc/self/status; ru_maxrss would inherit the parent's across exec), which includes the pages of
memory-mapped files it touched (reclaimable); ``heap`` is the peak of
numpy/Python allocations (tracemalloc). ``import only`` is the cost of Python + numpy + scipy.

With ``--membrain BIN`` (the ``bin`` folder of a throw-away environment holding MemBrain-seg's
``tomo_preprocessing``; never a dependency of ours) the same input also goes through MemBrain's
four commands and ours, each command line timed end to end in its own process (start-up
included) with its peak resident size from ``wait4``:

    python -m venv /tmp/mb && /tmp/mb/bin/pip install torch==2.13.0 membrain-seg==0.0.10 click
    python benchmarks/bench_preprocess.py --speed --membrain /tmp/mb/bin

    python benchmarks/bench_preprocess.py --quick [--n 2] [--shape 64,128,128]
    python benchmarks/bench_preprocess.py --speed [--speed-shape 200,512,512]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy import ndimage

from cryomem.io import read_mrc, write_mrc
from cryomem.segment import Segmenter
from cryomem.segment._metrics import dice_counts, surface_dice_counts
from cryomem.simulate import SimulationConfig, simulate_tomogram
from cryomem.simulate._dataset import DatasetConfig, tomogram_config

FIRST_INDEX = 2000
CASES = ("voxel-size", "coloured-noise", "no-phase-flip")

_CHILD = """
import json, sys, time, tracemalloc
import numpy, scipy.fft, mrcfile
import cryomem.segment as s
from cryomem.segment import _preprocess_deconvolve, _preprocess_match, _preprocess_pixel
tracemalloc.start()
step, tomo, out = sys.argv[1:4]
start = time.perf_counter()
if step == "pixel-size":
    s.match_pixel_size(tomo, out, 14.0)
elif step == "spectrum":
    s.spectrum_file(tomo, out)
elif step == "match-spectrum":
    s.match_spectrum_file(tomo, out)
elif step == "deconvolve":
    s.deconvolve_file(tomo, out, defocus_um=3.0)
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1]
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
hwm_mib = int(status["VmHWM"].split()[0]) / 1024
print(json.dumps({"s": seconds, "maxrss_mib": hwm_mib, "heap_mib": peak / 2**20}))
"""


def case_config(dataset: DatasetConfig, case: str, index: int, shape: tuple[int, int, int], far_voxel: float):
    drawn = tomogram_config(dataset, FIRST_INDEX + 100 * CASES.index(case) + index).model_dump()
    drawn["shape_zyx"] = shape
    if case == "voxel-size":
        drawn["voxel_size_ang"] = far_voxel
        drawn["shape_zyx"] = tuple(round(n * max(1.0, 10.0 / far_voxel)) for n in shape)  # same extent as at 10 Å
    elif case == "coloured-noise":
        drawn["microscope"]["noise_exponent"] = 1.5
    else:
        drawn["microscope"]["phase_flip"] = False
    return SimulationConfig.model_validate(drawn)


def preprocess(case: str, tomo: Path, work: Path, config: SimulationConfig, model_voxel: float, args) -> Path:
    from cryomem.segment import deconvolve_file, match_pixel_size, match_spectrum_file

    out = work / f"{case}_pre.mrc"
    if case == "voxel-size":
        return match_pixel_size(tomo, out, model_voxel, overwrite=True)
    if case == "coloured-noise":
        return match_spectrum_file(tomo, out, overwrite=True)
    return deconvolve_file(
        tomo,
        out,
        defocus_um=config.microscope.defocus_um,
        strength=args.deconvolve_strength,
        snr_falloff=args.snr_falloff,
        overwrite=True,
    )


def back_to_grid(probabilities: np.ndarray, shape_zyx: tuple[int, ...]) -> np.ndarray:
    """Probabilities on a resampled grid, read at the positions of the original grid's voxels."""
    scale = [m / n for m, n in zip(probabilities.shape, shape_zyx)]
    coords = np.meshgrid(*[np.arange(n) * f for n, f in zip(shape_zyx, scale)], indexing="ij")
    return ndimage.map_coordinates(probabilities.astype(np.float32), coords, order=1, mode="nearest")


def quality(args: argparse.Namespace) -> None:
    dataset = DatasetConfig.model_validate(yaml.safe_load(Path(args.dataset_config).read_text()))
    shape = tuple(int(v) for v in args.shape.split(","))
    segmenter = Segmenter.load(None, "cpu")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for case in args.cases.split(","):
            totals: dict[str, list] = {}
            start = time.perf_counter()
            for index in range(args.n):
                config = case_config(dataset, case, index, shape, args.far_voxel_size)
                sim = simulate_tomogram(config)
                truth = (sim.phantom.membrane_ids_zyx > 0).astype(np.uint8)
                tomo = write_mrc(work / "tomo.mrc", sim.tomogram_zyx, voxel_size_ang=config.voxel_size_ang)
                pre = read_mrc(preprocess(case, tomo, work, config, segmenter.voxel_size_ang, args))
                for variant, volume in (("none", sim.tomogram_zyx), (case_step(case), pre)):
                    data, voxel = (volume, config.voxel_size_ang) if variant == "none" else (
                        volume.data_zyx, volume.voxel_size_ang
                    )  # fmt: skip
                    probabilities = segmenter.probabilities(data, voxel, tta=False, batch_size=2)
                    if probabilities.shape != truth.shape:
                        probabilities = back_to_grid(probabilities, truth.shape)
                    seg = probabilities > 0.5
                    d, s = dice_counts(seg, truth), surface_dice_counts(seg, truth)
                    entry = totals.setdefault(variant, [None, None])
                    entry[0] = d if entry[0] is None else entry[0] + d
                    entry[1] = s if entry[1] is None else entry[1] + s
            seconds = time.perf_counter() - start
            for variant, (d, s) in totals.items():
                print(
                    f"{case:<16} preprocessing {variant:<15} Dice {d.value:.3f}  Surface-Dice {s.value:.3f}  "
                    f"({args.n} tomograms {shape}, case total {seconds:.0f} s)",
                    flush=True,
                )


def case_step(case: str) -> str:
    return {"voxel-size": "pixel-size", "coloured-noise": "match-spectrum", "no-phase-flip": "deconvolve"}[case]


def speed(args: argparse.Namespace) -> None:
    shape = tuple(int(v) for v in args.speed_shape.split(","))
    with tempfile.TemporaryDirectory(dir=args.scratch) as folder:
        work = Path(folder)
        data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        tomo = write_mrc(work / "tomo.mrc", data, voxel_size_ang=10.0)
        del data
        print(f"input {shape} float32, {np.prod(shape) * 4 / 2**20:.0f} MiB, 1 thread", flush=True)
        steps = [("import only", "none.mrc"), ("pixel-size", "p.mrc"), ("spectrum", "s.tsv")]
        steps += [("match-spectrum", "m.mrc"), ("deconvolve", "d.mrc")]
        for step, out in [(step, out) for step, out in steps if step in args.steps.split(",") + ["import only"]]:
            env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
            result = subprocess.run(
                [sys.executable, "-c", _CHILD, step, str(tomo), str(work / out)],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            label = "pixel-size 10->14 Å" if step == "pixel-size" else step
            print(
                f"{label:<20} {figures['s']:7.1f} s   maxrss {figures['maxrss_mib']:7.0f} MiB   "
                f"heap {figures['heap_mib']:7.0f} MiB",
                flush=True,
            )
        if args.membrain:
            against_membrain(tomo, work, Path(args.membrain))


_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(process.pid, 0)
seconds = time.perf_counter() - start
print(json.dumps({"s": seconds, "mib": usage.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status),
                  "stderr": process.stderr.read().decode()[-2000:]}))
"""
"""Runs a command and reports its wall time and peak resident size (``wait4``). The command is
forked from this small fresh process, not from the benchmark: a child's ``ru_maxrss`` starts at the
resident size of the process it was forked from."""


def timed_command(command: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one command line run to the end."""
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], env=env, capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["rc"] != 0:
        raise RuntimeError(f"{command[0]} failed: {figures['stderr']}")
    return figures["s"], figures["mib"]


def against_membrain(tomo: Path, work: Path, membrain_bin: Path) -> None:
    """The same four steps through MemBrain-seg's CLI and ours, each command line end to end."""
    theirs = str(membrain_bin / "tomo_preprocessing")
    ours = shutil.which("cryomem") or str(Path(sys.executable).parent / "cryomem")
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": f"{membrain_bin}:/usr/bin:/bin", "COLUMNS": "200"}
    mb_spectrum, our_spectrum = work / "mb_spectrum.tsv", work / "c_spectrum.tsv"
    steps = {
        "pixel-size 10->14 Å": (
            [theirs, "match_pixel_size", "--input-tomogram", tomo, "--output-path", work / "mb_p.mrc",
             "--pixel-size-out", "14", "--pixel-size-in", "10"],
            [ours, "preprocess", "pixel-size", tomo, work / "c_p.mrc", "--voxel-size-out", "14", "--smooth"],
        ),
        "spectrum": (
            [theirs, "extract_spectrum", "--input-path", tomo, "--output-path", mb_spectrum],
            [ours, "preprocess", "spectrum", tomo, "--out", our_spectrum],
        ),
        "match-spectrum": (
            [theirs, "match_spectrum", "--input", tomo, "--target", mb_spectrum, "--output", work / "mb_m.mrc"],
            [ours, "preprocess", "match-spectrum", tomo, work / "c_m.mrc", "--reference", our_spectrum],
        ),
        "deconvolve": (
            [theirs, "deconvolve", "--input", tomo, "--output", work / "mb_d.mrc", "--pixel-size", "10",
             "--df", "30000"],
            [ours, "preprocess", "deconvolve", tomo, work / "c_d.mrc", "--defocus-um", "3"],
        ),
    }  # fmt: skip
    print("\nend to end, command line, 1 thread:   MemBrain-seg 0.0.10          cryomem", flush=True)
    for label, (their_command, our_command) in steps.items():
        their_s, their_mib = timed_command([str(part) for part in their_command], env)
        our_s, our_mib = timed_command([str(part) for part in our_command], env)
        print(
            f"{label:<20} {their_s:7.1f} s  {their_mib:7.0f} MiB    {our_s:7.1f} s  {our_mib:7.0f} MiB",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small tomograms (the default shape), 2 per case")
    parser.add_argument("--speed", action="store_true", help="time each step on a large random tomogram instead")
    parser.add_argument("--n", type=int, default=2, help="tomograms per case")
    parser.add_argument("--shape", default=None, help="tomogram shape z,y,x (quick: 64,128,128; else 96,192,192)")
    parser.add_argument("--far-voxel-size", type=float, default=5.0, help="voxel size of the voxel-size case, Å")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--deconvolve-strength", type=float, default=1.0, help="deconvolve --strength")
    parser.add_argument("--snr-falloff", type=float, default=1.0, help="deconvolve --snr-falloff")
    parser.add_argument("--dataset-config", default="configs/default_segmentation_dataset_v3.yaml")
    parser.add_argument("--speed-shape", default="200,512,512")
    parser.add_argument("--steps", default="pixel-size,spectrum,match-spectrum,deconvolve", help="--speed steps")
    parser.add_argument("--scratch", default=None, help="folder for the speed test's files (default: system temp)")
    parser.add_argument("--membrain", default=None, help="--speed: bin folder with MemBrain-seg's tomo_preprocessing")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the network")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.speed:
        speed(args)
        return
    args.shape = args.shape or ("64,128,128" if args.quick else "96,192,192")
    quality(args)


if __name__ == "__main__":
    main()
