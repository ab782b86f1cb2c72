"""Synthetic cryo-ET tomograms with exact ground truth (``cryomem simulate``).

Membranes (spheres, ellipsoids, tori, open sheets, thylakoid-like stacks, double membranes) with a
two-leaflet bilayer profile, membrane proteins on their mid-surfaces, cytosolic proteins and
filaments as distractors, then a tilt series with CTF, noise and misalignment, reconstructed by
weighted back-projection.
"""

from cryomem.simulate._config import (
    CytosolConfig,
    HardNegativeConfig,
    MembraneConfig,
    MembraneProteinConfig,
    MicroscopeConfig,
    SimulationConfig,
    load_config,
    merge_config,
)
from cryomem.simulate._dataset import DatasetConfig, simulate_dataset
from cryomem.simulate._phantom import Phantom, SimulationError
from cryomem.simulate._tomogram import SimulatedTomogram, simulate_tomogram
from cryomem.simulate._write import particles_table, simulate_to_folder, write_simulated_tomogram

__all__ = [
    "CytosolConfig",
    "DatasetConfig",
    "HardNegativeConfig",
    "MembraneConfig",
    "MembraneProteinConfig",
    "MicroscopeConfig",
    "Phantom",
    "SimulatedTomogram",
    "SimulationConfig",
    "SimulationError",
    "load_config",
    "merge_config",
    "particles_table",
    "simulate_dataset",
    "simulate_to_folder",
    "simulate_tomogram",
    "write_simulated_tomogram",
]
