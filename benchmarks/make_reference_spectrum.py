"""Make the shipped reference spectrum of ``cryomem preprocess match-spectrum``: the default model's training data.

Simulates ``--n`` tomograms drawn like the default model's training data (``--dataset-config``, the
recipe of ``configs/default_segmentation_dataset_v3.yaml``; every draw kept except the voxel size,
which is set to the model's), measures each one's radially averaged amplitude spectrum
(:func:`cryomem.segment.radial_amplitude_spectrum`: Welch average of Hann-windowed 64³ tiles) and
writes their mean, with a header saying how it was made.

    python benchmarks/make_reference_spectrum.py [--n 8] [--shape 96,160,160] [--out PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from cryomem.segment import DEFAULT_MODEL_PATH, read_model_card
from cryomem.segment._preprocess_spectrum import (
    DEFAULT_REFERENCE_SPECTRUM_PATH,
    RadialSpectrum,
    radial_amplitude_spectrum,
    write_spectrum_tsv,
)
from cryomem.simulate import SimulationConfig, simulate_tomogram
from cryomem.simulate._dataset import DatasetConfig, tomogram_config

FIRST_INDEX = 1000
"""Tomogram indices from here on: drawn like, but not equal to, the training tomograms (0..n_tomograms-1)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-config", type=Path, default=Path("configs/default_segmentation_dataset_v3.yaml"))
    parser.add_argument("--n", type=int, default=8, help="tomograms to simulate")
    parser.add_argument("--shape", default="96,160,160", help="tomogram shape z,y,x")
    parser.add_argument("--out", type=Path, default=DEFAULT_REFERENCE_SPECTRUM_PATH)
    args = parser.parse_args()
    dataset = DatasetConfig.model_validate(yaml.safe_load(args.dataset_config.read_text()))
    voxel_size_ang = float(read_model_card(DEFAULT_MODEL_PATH).voxel_size_ang)
    shape = tuple(int(v) for v in args.shape.split(","))
    amplitudes, frequency = [], None
    for index in range(FIRST_INDEX, FIRST_INDEX + args.n):
        start = time.perf_counter()
        drawn = tomogram_config(dataset, index).model_dump()
        config = SimulationConfig.model_validate({**drawn, "voxel_size_ang": voxel_size_ang, "shape_zyx": shape})
        tomogram = simulate_tomogram(config).tomogram_zyx
        spectrum = radial_amplitude_spectrum(tomogram, voxel_size_ang)
        amplitudes.append(spectrum.amplitude)
        frequency = spectrum.frequency_per_ang
        print(f"tomogram {index}: {time.perf_counter() - start:.0f} s", flush=True)
    mean = RadialSpectrum(frequency, np.mean(amplitudes, axis=0), voxel_size_ang)
    note = (
        f"mean of {args.n} tomograms simulated like the default model's training data "
        f"({args.dataset_config.as_posix()}, tomogram indices {FIRST_INDEX}..{FIRST_INDEX + args.n - 1}, "
        f"shape {shape}, voxel size set to the model's {voxel_size_ang:g} Å)\n"
        "Welch average over Hann-windowed 64^3 tiles; made by benchmarks/make_reference_spectrum.py"
    )
    print(write_spectrum_tsv(args.out, mean, note=note))


if __name__ == "__main__":
    main()
