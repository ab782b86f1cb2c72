"""Helpers of the pipeline tests: tiny MRC files and fake stages that only write files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cryomem.io import atomic_directory, write_mrc
from cryomem.pipeline import STAGES, TomogramFolders


def save_tiny_pick_model(path: Path, seed: int = 0, **card: object) -> Path:
    """An untrained picking model file (max distance 100 Å, 15 Å feature low-pass unless ``card`` says otherwise)."""
    import torch

    from cryomem.pick import DiffusionNetConfig, PickNet, save_pick_model

    torch.manual_seed(seed)
    window = [-25.0 + 2.5 * i for i in range(21)]
    model = PickNet(DiffusionNetConfig(width=4, n_blocks=1, conv_channels=2, mlp_hidden=4, k_eig=8))
    defaults = {"window_offsets_ang": window, "max_distance_ang": 100.0, "k_eig": 8, "feature_lowpass_ang": 15.0}
    return save_pick_model(path, model, {**defaults, **card})


def fake_tomograms(folder: Path, names=("a", "b", "c"), voxel_size_ang: float = 10.0) -> list[Path]:
    """Small random MRC volumes (fake stages never read them)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for name in names:
        path = folder / f"{name}.mrc"
        write_mrc(path, rng.normal(size=(8, 8, 8)).astype(np.float32), voxel_size_ang=voxel_size_ang)
        paths.append(path)
    return paths


class FakeStage:
    """A stage that writes ``<stage folder>/out.txt`` atomically, logs its call, and can be told to fail."""

    def __init__(self, stage: str, log: Path, fail: dict | None = None) -> None:
        self.stage, self.log, self.fail = stage, log, fail or {}

    def __call__(self, tomogram, folders: TomogramFolders, config) -> dict:
        with open(self.log, "a") as handle:
            handle.write(f"{folders.name} {self.stage}\n")
        error = self.fail.get(folders.name)
        if error == "exit":
            os._exit(17)  # the worker process dies mid-task
        if error is not None:
            raise error
        folders.root.mkdir(parents=True, exist_ok=True)
        folder = folders.folder(self.stage)
        with atomic_directory(folder, overwrite=True) as tmp:
            (tmp / "out.txt").write_text(f"{folders.name} {self.stage} {config.pick.seed}")
        return {"outputs": [str((folder / "out.txt").relative_to(folders.root))], "answer": 42}


class FakePooled:
    def __init__(self, log: Path) -> None:
        self.log = log

    def __call__(self, tomogram_folders, out_dir, config) -> dict:
        with open(self.log, "a") as handle:
            handle.write("* pooled\n")
        out_dir = Path(out_dir)
        with atomic_directory(out_dir, overwrite=True) as tmp:
            (tmp / "pooled.txt").write_text(" ".join(f.name for f in tomogram_folders))
        return {"outputs": ["pooled/pooled.txt"]}


def fake_functions(log: Path, fail: dict | None = None, fail_stage: str = "surfaces") -> dict:
    functions = {stage: FakeStage(stage, log, fail if stage == fail_stage else None) for stage in STAGES}
    functions["pooled"] = FakePooled(log)
    return functions


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.is_file() else []
