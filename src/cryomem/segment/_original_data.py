"""Fine-tuning "so the model does not forget": part of the starting model's own data beside the user's.

The MemBrain v2 paper fine-tunes on the user's patches and keeps "the original, full validation
dataset" as a second validation set, stopping when the performance there deviates too far from the
starting model's (section "Model Fine-tuning"). :func:`original_patches` gives a seeded fraction of
the original training patches (mixed into the fine-tuning data) and the original validation patches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cryomem.segment._data import Patch, load_split


@dataclass(frozen=True)
class OriginalData:
    """The starting model's data kept for fine-tuning: a share of its training and its validation patches."""

    data_dir: Path
    train: list[Patch] = field(default_factory=list)
    val: list[Patch] = field(default_factory=list)

    def summary(self) -> dict:
        return {"data_dir": str(self.data_dir), "training_patches_mixed_in": len(self.train),
                "validation_patches": len(self.val)}  # fmt: skip


def original_patches(
    data_dir: Path | str, fraction: float, seed: int, max_validation_patches: int | None
) -> OriginalData:
    """``fraction`` of ``data_dir``'s training patches (seeded, at least one when > 0) and its validation patches.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`cryomem.segment._data.load_split` for a folder that is not training data.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"--keep-original must be a fraction in [0, 1], got {fraction}")
    data_dir = Path(data_dir)
    train = load_split(data_dir, "Tr") if fraction > 0 else []
    keep = min(len(train), max(1, round(fraction * len(train)))) if train else 0
    chosen = sorted(np.random.default_rng(np.random.SeedSequence([seed, 7])).choice(len(train), keep, replace=False))
    val = load_split(data_dir, "Val", required=False)[:max_validation_patches]
    return OriginalData(data_dir, [train[i] for i in chosen], val)


def not_forgotten(row: dict, start: dict | None, tolerance: float) -> bool:
    """False when the epoch's original validation Surface-Dice fell more than ``tolerance`` below the start's."""
    if not start or "original_surface_dice" not in start or "original_val_surface_dice" not in row:
        return True
    return row["original_val_surface_dice"] >= start["original_surface_dice"] - tolerance
