"""Shared inputs of the pipeline tests: tiny simulated tomograms, a tiny pick model, a dask client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TINY_SHAPE = (48, 96, 96)


@pytest.fixture(scope="session")
def simulated_pair(tmp_path_factory) -> tuple[Path, list[Path]]:
    """Two tiny simulated tomograms (demo recipe, 48 x 96 x 96 at 10 Å) in one folder, with ground truth."""
    from cryomem.pipeline import demo_simulation_config
    from cryomem.simulate import simulate_to_folder

    root = tmp_path_factory.mktemp("simulated")
    inputs = root / "tomograms"
    inputs.mkdir()
    truth = []
    for name, seed in (("ta", 11), ("tb", 12)):
        folder, _, _ = simulate_to_folder(demo_simulation_config(seed, TINY_SHAPE), root / name, name=name)
        os.link(folder / f"{name}.mrc", inputs / f"{name}.mrc")
        truth.append(folder)
    return inputs, truth


@pytest.fixture(scope="session")
def tiny_pick_model(tmp_path_factory) -> Path:
    """An untrained picking model file (fake runs only check that it is a picking model)."""
    from pipeline_helpers import save_tiny_pick_model

    return save_tiny_pick_model(tmp_path_factory.mktemp("models") / "tiny_pick.pt")


@pytest.fixture()
def inproc_client():
    """A two-worker dask cluster of threads in this process (starts in well under a second)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client
