"""What a segmentation training run writes: a resumable checkpoint while it runs, one final set at the end.

While training, the output folder holds only ``checkpoint_last.pt`` (written atomically after each
epoch; it carries the log so far and the best weights, so ``--resume`` loses nothing). The files a
user takes for a finished run — ``model.pt``, ``model_final.pt``, ``training_log.csv``,
``learning_curves.png``, ``train_config.json`` — appear together at the end or not at all
(:func:`cryomem.io.atomic_file_set`): an interrupted or failed run never leaves a model without its
log, or a log without its model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

import cryomem
from cryomem.io import atomic_file_set, atomic_write_path, write_rows_csv
from cryomem.segment._model_card import SegmentModelCard, as_segment_card
from cryomem.segment._model_file import save_model
from cryomem.segment._unet import UNet3D

CHECKPOINT_NAME = "checkpoint_last.pt"
FINAL_NAMES = ("model.pt", "model_final.pt", "training_log.csv", "learning_curves.png", "train_config.json")
_CHECKPOINT_KEYS = ("model", "optimizer", "epoch", "history")


def check_out_dir(out_dir: Path, *, resume: bool) -> None:
    """Refuse an output path that is a file, and ``resume`` without a checkpoint to resume from."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output folder {out_dir} is a file; choose a folder for the training outputs (--out)")
    if resume and not (out_dir / CHECKPOINT_NAME).is_file():
        raise FileNotFoundError(
            f"cannot resume: {out_dir} holds no {CHECKPOINT_NAME}; drop --resume to start a new training"
        )


def read_checkpoint(out_dir: Path) -> dict:
    """The state saved by :func:`write_checkpoint`; a clear error for a damaged or foreign file."""
    path = out_dir / CHECKPOINT_NAME
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise ValueError(
            f"checkpoint {path} cannot be read ({type(err).__name__}); delete it and drop --resume to start again"
        ) from None
    if not isinstance(state, dict) or any(key not in state for key in _CHECKPOINT_KEYS):
        raise ValueError(f"{path} is not a cryomem training checkpoint; delete it and drop --resume to start again")
    return state


def load_checkpoint_weights(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Put a checkpoint's weights into ``model`` and ``optimizer``; a clear error when they do not fit."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(
            f"checkpoint {path / CHECKPOINT_NAME} does not fit this model ({first}); resume with the settings "
            "of that run (same --config), or drop --resume to start again"
        ) from None


def write_checkpoint(out_dir: Path, state: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write_path(out_dir / CHECKPOINT_NAME) as tmp:
        torch.save(state, tmp)


def write_final_set(
    out_dir: Path,
    best: tuple[UNet3D, dict],
    final: tuple[UNet3D, dict],
    history: list[dict],
    config_json: dict,
) -> Path:
    """Write the finished run's files together (or none of them); return the path of ``model.pt``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_file_set([out_dir / name for name in FINAL_NAMES]) as (model, model_final, log, curves, config):
        save_model(model, *best)
        save_model(model_final, *final)
        write_rows_csv(log, history)
        _plot(curves, history)
        config.write_text(json.dumps(config_json, indent=2))
    return out_dir / "model.pt"


def training_card(
    config_json: dict,
    data_dir: Path,
    train: list,
    val: list,
    row: dict,
    init_card: SegmentModelCard | Mapping[str, Any] | None,
    processes: int = 1,
    start_scores: dict[str, float] | None = None,
    selected: str = "",
) -> dict:
    """The card of a trained model: what it expects, what it was trained on, how it scored."""
    dataset_json = data_dir / "dataset.json"
    dataset = json.loads(dataset_json.read_text()) if dataset_json.is_file() else {}
    voxel_sizes = [p.voxel_size_ang for p in train]
    voxel_range = [min(voxel_sizes), max(voxel_sizes)]
    init_card = as_segment_card(init_card) if init_card is not None else None
    start_range = init_card.trained_voxel_range_ang() if init_card else None
    if start_range:  # a fine-tuned model also knows what its starting model saw
        voxel_range = [min(voxel_range[0], start_range[0]), max(voxel_range[1], start_range[1])]
    return {
        "task": "membrane segmentation",
        "voxel_size_ang": config_json["voxel_size_ang"],
        "inference_window": config_json["inference_window"],
        "normalisation": "per window: zero mean, unit standard deviation",
        "output": "logit of membrane probability",
        "training": {
            "data_dir": str(data_dir),
            "dataset_seed": dataset.get("config", {}).get("seed"),
            "training_patches": len(train),
            "voxel_size_range_ang": voxel_range,
            "validation_patches": len(val),
            "config": config_json,
            "epochs_done": row["epoch"],
            "selected": selected,
            "data_parallel_processes": processes,
            "fine_tuned_from": init_card.name if init_card else None,
            "starting_model_validation": start_scores,
        },
        "validation": {k.replace("val_", "", 1): v for k, v in row.items() if k.startswith(("val_", "original_val_"))},
        "code_version": cryomem.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _plot(path: Path, history: list[dict]) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5))
    left, right = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    left.plot(epochs, [r["train_loss"] for r in history], label="training loss")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    scored = [key for key in ("val_dice", "val_surface_dice", "original_val_surface_dice") if key in history[-1]]
    for key in scored:
        label = key.replace("val_", "", 1).replace("_", "-")
        right.plot(epochs, [r.get(key, np.nan) for r in history], label=label)
    right.set_xlabel("epoch")
    right.set_ylabel("validation score")
    right.set_ylim(0, 1)
    if scored:
        right.legend()
    else:
        right.text(0.5, 0.5, "no validation patches", ha="center", va="center", transform=right.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
