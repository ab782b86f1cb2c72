"""Training the picking network on annotated membranes (``cryomem pick train``).

Membranes are split into training and validation sets by membrane; each is cut into geodesic
patches with cached operators. An epoch visits every training patch once in random order (features
normalised per patch, then augmented: the nine feature augmentations plus a random shift of the
window along the normal by whole samples, matching the test-time shifts), with MSE between the
predicted and the true distance to the nearest particle (both divided by ``max_distance_ang``),
Adam and a cosine learning-rate decay. After each epoch: validation MSE on whole validation
patches and a checkpoint. At the end, together or not at all: the best model by validation loss
(training loss without validation membranes) as ``model.pt`` with its card (and the mean-shift
settings calibrated on the validation membranes), the final weights, the log, the learning curves
and the settings. Training stops with an error at the first non-finite loss.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

import cryomem
from cryomem.io import FractionProgress, atomic_file_set, atomic_write_path, write_rows_csv
from cryomem.pick._augment import PickAugmentConfig, augment_features
from cryomem.pick._calibrate import calibrate_mean_shift
from cryomem.pick._dataset import (
    SurfacePatch,
    TrainingMembrane,
    feature_lowpass_ang,
    load_training_membranes,
    normalise_window,
)
from cryomem.pick._diffusion_net import DiffusionNetConfig, PickNet, operators_to_torch
from cryomem.pick._inference import predict_distances_ang
from cryomem.pick._model_card import as_pick_card
from cryomem.pick._model_file import save_pick_model
from cryomem.pick._operators import OperatorCache

__all__ = ["PickTrainConfig", "train_pick_model"]

_FINAL_NAMES = ("model.pt", "model_final.pt", "training_log.csv", "learning_curves.png", "train_config.json")
_DEFAULT_WINDOW = tuple(round(-50.0 + 2.5 * i, 6) for i in range(41))  # ±50 Å (see DEFAULT_FEATURE_OFFSETS_ANG)


class PickTrainConfig(BaseModel):
    """Everything that defines a picking-model training run; saved in the model card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_offsets_ang: tuple[float, ...] = Field(
        _DEFAULT_WINDOW, description="offsets along the normal the model reads, Å, evenly spaced"
    )
    k_eig: int = Field(128, ge=8, le=1024, description="Laplacian eigenpairs per patch")
    width: int = Field(32, ge=4, le=512)
    n_blocks: int = Field(4, ge=1, le=16)
    conv_channels: int = Field(8, ge=1, le=128)
    conv_kernel: int = Field(5, ge=1, le=31)
    conv_layers: int = Field(2, ge=1, le=8)
    mlp_hidden: int = Field(32, ge=4, le=1024)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    patch_vertices: int = Field(2000, ge=50, le=100000, description="vertices per geodesic patch")
    patch_overlap: float = Field(0.3, ge=0.0, lt=1.0)
    max_distance_ang: float = Field(100.0, gt=0.0, le=10000.0, description="target clip distance, Å (10 nm)")
    epochs: int = Field(60, ge=1, le=100000)
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    batch_patches: int = Field(1, ge=1, le=1024, description="patches per optimiser step")
    validation_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share of membranes held out")
    augment: bool = True
    augmentation: PickAugmentConfig = PickAugmentConfig()
    max_shift_samples: int = Field(
        2, ge=0, le=16, description="augmentation: window shifted along the normal by up to this many samples"
    )
    use_particle_angles: bool = Field(True, description="side of a particle from its STAR angles (z = normal)")
    target_sides: Literal["both", "particle"] = Field(
        "both", description="a particle's target on both faces of the membrane (transmembrane) or its own side only"
    )
    target_measure: Literal["in_plane", "euclidean"] = Field(
        "in_plane", description="distance to the particle's axis along its normal, or straight distance"
    )
    seed: int = Field(0, ge=0)
    threads: int | None = Field(
        1,
        ge=1,
        description="torch CPU threads while training (None: torch's default); one is fastest for per-patch work",
    )

    @field_validator("window_offsets_ang")
    @classmethod
    def _even_window(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        steps = np.diff(np.asarray(value, dtype=np.float64))
        if len(value) < 3 or np.any(steps <= 0) or np.ptp(steps) > 1e-6:
            raise ValueError(f"window_offsets_ang must be >= 3 increasing, evenly spaced offsets, got {value}")
        return value

    def architecture(self) -> DiffusionNetConfig:
        return DiffusionNetConfig(
            in_samples=len(self.window_offsets_ang),
            width=self.width,
            n_blocks=self.n_blocks,
            conv_channels=self.conv_channels,
            conv_kernel=self.conv_kernel,
            conv_layers=self.conv_layers,
            mlp_hidden=self.mlp_hidden,
            dropout=self.dropout,
            k_eig=self.k_eig,
        )


def _split(n: int, config: PickTrainConfig) -> np.ndarray:
    """Boolean mask of validation membranes (none with a single membrane)."""
    n_val = 0
    if n >= 2 and config.validation_fraction > 0:
        n_val = min(max(1, int(round(config.validation_fraction * n))), n - 1)
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(config.seed).permutation(n)[:n_val]] = True
    return mask


def _patch_loss(
    model: PickNet,
    membrane: TrainingMembrane,
    patch: SurfacePatch,
    config: PickTrainConfig,
    rng: np.random.Generator | None,
) -> tuple[torch.Tensor, int]:
    columns = membrane.columns
    if rng is not None and len(membrane.shifted_columns) > 1:
        columns = membrane.shifted_columns[int(rng.integers(len(membrane.shifted_columns)))]
    features = normalise_window(membrane.surface.features[patch.vertex_ids][:, columns])
    if rng is not None:
        features = augment_features(
            features, membrane.surface.vertices_xyz_ang[patch.vertex_ids], rng, config.augmentation
        )
    target = torch.from_numpy(membrane.targets_ang[patch.vertex_ids] / np.float32(config.max_distance_ang))
    prediction = model(torch.from_numpy(features), operators_to_torch(patch.operators))
    return torch.mean((prediction - target) ** 2), len(patch.vertex_ids)


def _validate(model: PickNet, membranes: list[TrainingMembrane], config: PickTrainConfig) -> dict[str, float]:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for membrane in membranes:
            for patch in membrane.patches:
                loss, n = _patch_loss(model, membrane, patch, config, None)
                total += float(loss) * n
                count += n
    model.train()
    mse = total / max(count, 1)
    return {"val_loss": mse, "val_rmse_ang": math.sqrt(mse) * config.max_distance_ang}


def _epoch(
    model: PickNet,
    optimizer: torch.optim.Optimizer,
    items: list[tuple[TrainingMembrane, SurfacePatch]],
    config: PickTrainConfig,
    rng: np.random.Generator,
    epoch: int = 0,
) -> float:
    """One pass over all training patches in random order; returns the vertex-weighted mean loss.

    Raises ``ValueError`` at the first non-finite loss, before it reaches the weights.
    """
    total, count = 0.0, 0
    order = rng.permutation(len(items))
    optimizer.zero_grad(set_to_none=True)
    for step, item in enumerate(order):
        membrane, patch = items[item]
        loss, n = _patch_loss(model, membrane, patch, config, rng if config.augment else None)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise ValueError(
                f"training stopped: the loss became {value} at epoch {epoch + 1} (membrane {membrane.path.name}), "
                "so no model was written; lower learning_rate with --config, or rebuild the membranes with "
                "`cryomem surface`"
            )
        (loss / config.batch_patches).backward()
        total, count = total + value * n, count + n
        if (step + 1) % config.batch_patches == 0 or step + 1 == len(order):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return total / max(count, 1)


def train_pick_model(
    membrane_paths: Sequence[str | Path],
    particles: pd.DataFrame,
    out_dir: str | Path,
    config: PickTrainConfig | None = None,
    *,
    progress: FractionProgress | None = None,
    cache_dir: str | Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> Path:
    """Train a picking model on annotated membranes; return the path of the best model file.

    Parameters
    ----------
    membrane_paths : sequence of paths
        Membrane ``.h5`` files (``cryomem surface``) with features along the normals.
    particles : pandas.DataFrame
        Annotated particles (:func:`cryomem.io.read_particles_star`), matched to membranes by
        ``tomo_name`` == the stem of each membrane's tomogram; each particle belongs to the
        membrane with the nearest vertex (if within ``max_distance_ang``).
    out_dir : str or Path
        Folder (created) for ``checkpoint_last.pt`` (after each epoch) and, together at the end,
        ``model.pt`` (best validation loss; with validation membranes its card also holds the
        mean-shift settings calibrated on them, see :func:`cryomem.pick.calibrate_mean_shift`),
        ``model_final.pt``, ``training_log.csv``, ``learning_curves.png``, ``train_config.json``.
    config : PickTrainConfig, optional
        Settings (defaults if omitted).
    progress : callable ``(stage, fraction)``, optional
        Progress report (stages "operators", "training", "calibration").
    cache_dir : str or Path, optional
        Operator cache folder (default ``~/.cache/cryomem/operators``).
    on_epoch : callable(row), optional
        Receives each epoch's log row (``epoch``, ``train_loss``, ``val_loss``, ``val_rmse_ang``...)
        as it finishes, e.g. for a live learning curve.

    Raises
    ------
    FileNotFoundError
        A membrane file is missing.
    ValueError
        No membranes, membranes without features, with NaN/inf features or with another feature
        sampling, particles without (finite) coordinates, or no particle near any membrane: nothing
        is written then. A non-finite loss: training stops, no model is written.
    """
    config = config or PickTrainConfig()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output folder {out_dir} is a file; choose a folder for the training outputs (--out)")
    membranes = load_training_membranes(
        membrane_paths,
        particles,
        window_offsets_ang=config.window_offsets_ang,
        max_distance_ang=config.max_distance_ang,
        use_particle_angles=config.use_particle_angles,
        target_sides=config.target_sides,
        target_measure=config.target_measure,
        patch_vertices=config.patch_vertices,
        patch_overlap=config.patch_overlap,
        k_eig=config.k_eig,
        seed=config.seed,
        max_shift_samples=config.max_shift_samples if config.augment else 0,
        cache=OperatorCache(cache_dir),
        progress=progress,
    )
    is_val = _split(len(membranes), config)
    train_set = [m for m, v in zip(membranes, is_val) if not v]
    val_set = [m for m, v in zip(membranes, is_val) if v]
    threads = torch.get_num_threads()
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        model, history, best_weights = _fit(train_set, val_set, out_dir, config, progress, on_epoch)
        best = PickNet(config.architecture())
        best.load_state_dict(best_weights)
        best_row = min(history, key=lambda row: row.get("val_loss", row["train_loss"]))
        best_card = _card(config, train_set, val_set, best_row)
        if val_set:
            best_card = _calibrated(best.eval(), best_card, val_set, cache_dir)
            if progress:
                progress("calibration", 1.0)
        final = (model, _card(config, train_set, val_set, history[-1]))
        _write_final_set(out_dir, (best, best_card), final, history, config)
    finally:
        torch.set_num_threads(threads)
    return out_dir / "model.pt"


def _fit(
    train_set: list[TrainingMembrane],
    val_set: list[TrainingMembrane],
    out_dir: Path,
    config: PickTrainConfig,
    progress: FractionProgress | None,
    on_epoch: Callable[[dict], None] | None = None,
) -> tuple[PickNet, list[dict], dict]:
    """Train; return the model after the last epoch, the log rows and the best epoch's weights."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = PickNet(config.architecture())
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    items = [(m, p) for m in train_set for p in m.patches]
    history: list[dict] = []
    best, best_weights = math.inf, {}
    for epoch in range(config.epochs):
        started = time.perf_counter()
        lr = config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = _epoch(model, optimizer, items, config, rng, epoch)
        row = {"epoch": epoch + 1, "train_loss": loss, "learning_rate": lr}
        if val_set:
            row.update(_validate(model, val_set, config))
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        score = row.get("val_loss", row["train_loss"])
        if score < best:
            best, best_weights = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1}
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write_path(out_dir / "checkpoint_last.pt") as tmp:
            torch.save({**state, "history": history}, tmp)
        if on_epoch:
            on_epoch(dict(row))
        if progress:
            progress("training", (epoch + 1) / config.epochs)
    return model, history, best_weights


def _calibrated(model: PickNet, card: dict, val_set: list[TrainingMembrane], cache_dir: str | Path | None) -> dict:
    """``card`` with the mean-shift settings that pick best on the validation membranes (if any)."""
    predicted = [predict_distances_ang(model, card, m.surface, cache_dir=cache_dir) for m in val_set]  # with TTA
    calibration = calibrate_mean_shift(
        [m.surface for m in val_set],
        predicted,
        [m.tomo_name for m in val_set],
        [m.particles_xyz_ang for m in val_set],
        max_distance_ang=as_pick_card(card).max_distance_ang,
    )
    if calibration is None:
        return card
    calibration["data"] = f"{len(val_set)} validation membrane(s), predicted with TTA"
    return {**card, "calibration": calibration}


def _write_final_set(out_dir: Path, best: tuple, final: tuple, history: list[dict], config: PickTrainConfig) -> None:
    """The finished run's files, together or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_file_set([out_dir / name for name in _FINAL_NAMES]) as (model, model_final, log, curves, settings):
        save_pick_model(model, *best)
        save_pick_model(model_final, *final)
        write_rows_csv(log, history)
        _write_plot(curves, history, config.max_distance_ang)
        settings.write_text(json.dumps(config.model_dump(mode="json"), indent=2))


def _card(config: PickTrainConfig, train: list[TrainingMembrane], val: list[TrainingMembrane], row: dict) -> dict:
    voxel_sizes = sorted({m.surface.voxel_size_ang for m in train + val})
    window = [float(v) for v in config.window_offsets_ang]
    return {
        "task": "membrane particle picking: per-vertex distance to the nearest particle",
        "window_offsets_ang": window,
        "feature_step_ang": window[1] - window[0],
        "k_eig": config.k_eig,
        "patch_vertices": config.patch_vertices,
        "patch_overlap": config.patch_overlap,
        "max_distance_ang": config.max_distance_ang,
        "feature_lowpass_ang": feature_lowpass_ang((train + val)[0].surface),
        "voxel_size_ang": float(np.median(voxel_sizes)),
        "normalisation": "per patch: densities of the window minus their mean, divided by their standard deviation",
        "output": "distance to the nearest particle, divided by max_distance_ang",
        "target_sides": config.target_sides,
        "target_measure": config.target_measure,
        "training": {
            "membranes": [str(m.path) for m in train],
            "validation_membranes": [str(m.path) for m in val],
            "particles": int(sum(m.n_particles for m in train)),
            "validation_particles": int(sum(m.n_particles for m in val)),
            "vertices": int(sum(len(m.targets_ang) for m in train)),
            "voxel_sizes_ang": voxel_sizes,
            "epochs_done": row["epoch"],
            "config": config.model_dump(mode="json"),
        },
        "validation": {k.removeprefix("val_"): v for k, v in row.items() if k.startswith("val_")},
        "final_train_loss": row["train_loss"],
        "code_version": cryomem.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _write_plot(path: Path, history: list[dict], max_distance_ang: float) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5))
    left, right = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    left.plot(epochs, [r["train_loss"] for r in history], label="training")
    if "val_loss" in history[-1]:
        left.plot(epochs, [r.get("val_loss", np.nan) for r in history], label="validation")
    right.plot(epochs, [math.sqrt(r["train_loss"]) * max_distance_ang for r in history], label="training")
    if "val_rmse_ang" in history[-1]:
        right.plot(epochs, [r.get("val_rmse_ang", np.nan) for r in history], label="validation")
    left.set_xlabel("epoch")
    left.set_ylabel("MSE (distance / max distance)²")
    left.set_yscale("log")
    left.legend()
    right.set_xlabel("epoch")
    right.set_ylabel("RMSE of predicted distance, Å")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
