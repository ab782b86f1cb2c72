"""Synthetic cryo-ET tomograms with exact ground truth (``cryomem simulate``).

Membranes (spheres, ellipsoids, tori, open sheets, thylakoid-like stacks, double membranes) with a
two-leaflet bilayer profile, membrane proteins on their mid-surfaces, cytosolic proteins and
filaments as distractors, then a tilt series with CTF, noise and misalignment, reconstructed by
weighted back-projection.
"""

from typing import TYPE_CHECKING

from cryomem.io._lazy import lazy_exports

if TYPE_CHECKING:
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
    from cryomem.simulate._dataset import simulate_dataset
    from cryomem.simulate._dataset_config import DatasetConfig
    from cryomem.simulate._phantom import Phantom, SimulationError
    from cryomem.simulate._tomogram import SimulatedTomogram, simulate_tomogram
    from cryomem.simulate._write import particles_table, simulate_to_folder, write_simulated_tomogram

_EXPORTS = {
    "CytosolConfig": "cryomem.simulate._config",
    "HardNegativeConfig": "cryomem.simulate._config",
    "MembraneConfig": "cryomem.simulate._config",
    "MembraneProteinConfig": "cryomem.simulate._config",
    "MicroscopeConfig": "cryomem.simulate._config",
    "SimulationConfig": "cryomem.simulate._config",
    "load_config": "cryomem.simulate._config",
    "merge_config": "cryomem.simulate._config",
    "DatasetConfig": "cryomem.simulate._dataset_config",
    "simulate_dataset": "cryomem.simulate._dataset",
    "Phantom": "cryomem.simulate._phantom",
    "SimulationError": "cryomem.simulate._phantom",
    "SimulatedTomogram": "cryomem.simulate._tomogram",
    "simulate_tomogram": "cryomem.simulate._tomogram",
    "particles_table": "cryomem.simulate._write",
    "simulate_to_folder": "cryomem.simulate._write",
    "write_simulated_tomogram": "cryomem.simulate._write",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
