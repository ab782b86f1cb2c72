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
    import torch

    from cryomem.pick import DiffusionNetConfig, PickNet, save_pick_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny_pick.pt"
    window = [-25.0 + 2.5 * i for i in range(21)]
    model = PickNet(DiffusionNetConfig(width=4, n_blocks=1, conv_channels=2, mlp_hidden=4, k_eig=8))
    card = {"window_offsets_ang": window, "max_distance_ang": 100.0, "k_eig": 8, "feature_lowpass_ang": 15.0}
    return save_pick_model(path, model, card)


@pytest.fixture()
def inproc_client():
    """A two-worker dask cluster of threads in this process (starts in well under a second)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client
