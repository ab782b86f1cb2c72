"""Training and fine-tuning of the segmentation U-Net.

SGD with Nesterov momentum and a polynomial learning rate (0.01 -> 0, as in the MemBrain-seg
paper), batches of random crops rescaled to the model's voxel size, augmented and normalised per
patch; deep supervision; validation Dice and Surface-Dice after each epoch on whole validation
patches. Each epoch ends with a resumable checkpoint; the finished run's files (the best model by
validation Surface-Dice, or the last epoch's without validation patches, with its card, the final
weights, the log and learning curves) appear together at the end (:mod:`cryomem.segment._train_files`).
Training stops with an error at the first non-finite loss.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from cryomem.segment._augment import AugmentationConfig, augment
from cryomem.segment._data import Patch, load_split, normalise, random_crop, whole_patch
from cryomem.segment._losses import SegmentationLoss
from cryomem.segment._malloc import reuse_freed_memory
from cryomem.segment._metrics import dice_counts, surface_dice_counts
from cryomem.segment._model_file import load_model
from cryomem.segment._original_data import OriginalData, not_forgotten, original_patches
from cryomem.segment._train_files import (
    check_out_dir,
    load_checkpoint_weights,
    read_checkpoint,
    training_card,
    write_checkpoint,
    write_final_set,
)
from cryomem.segment._unet import UNet3D, UNetConfig

EpochReport = Callable[[dict], None]


class TrainConfig(BaseModel):
    """Everything that defines a training run; saved in the model card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_channels: int = Field(16, ge=1, le=128)
    max_channels: int = Field(256, ge=1, le=1024)
    depth: int = Field(5, ge=2, le=7)
    deep_supervision_levels: int = Field(3, ge=1, le=6)
    voxel_size_ang: float = Field(10.0, gt=0.0, le=100.0, description="voxel size the model works at")
    patch_size: int = Field(64, ge=16, le=256, description="training crop edge in voxels at the model voxel size")
    inference_window: int = Field(96, ge=16, le=512, description="sliding-window edge used at inference")
    batch_size: int | None = Field(None, ge=1, le=64, description="crops per step (None: 2 on a CPU, 8 on a GPU)")
    epochs: int = Field(100, ge=1, le=10000)
    iterations_per_epoch: int = Field(50, ge=1, le=100000)
    learning_rate: float = Field(0.01, gt=0.0, le=1.0)
    momentum: float = Field(0.99, ge=0.0, lt=1.0)
    weight_decay: float = Field(3e-5, ge=0.0)
    poly_exponent: float = Field(0.9, ge=0.0)
    surface_dice_weight: float = Field(0.0, ge=0.0, le=10.0)
    augment: bool = True
    max_validation_patches: int | None = Field(16, ge=1, description="validate on the first N validation patches")
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's default)")
    loader_workers: int | None = Field(
        None,
        ge=0,
        le=64,
        description="processes preparing augmented batches (0: in the training process; None: 0 on a CPU, "
        "up to 8 on a GPU); never more than the available cores - 1",
    )
    early_stop_tolerance: float | None = Field(
        None, ge=0.0, le=1.0, description="fine-tuning: stop when validation Dice falls this far below the start"
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, le=10000, description="epochs without a better validation Surface-Dice before training stops"
    )
    keep_original: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="fine-tuning: share of the starting model's training patches mixed into the training data",
    )
    forgetting_tolerance: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="fine-tuning: never select an epoch whose Surface-Dice on the original validation patches "
        "fell more than this below the starting model's",
    )

    def architecture(self) -> UNetConfig:
        return UNetConfig(
            base_channels=self.base_channels,
            max_channels=self.max_channels,
            depth=self.depth,
            deep_supervision_levels=min(self.deep_supervision_levels, self.depth - 1),
        )


DEVICE_SETTINGS = ("batch_size", "loader_workers", "threads")  # follow the machine, not the model


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def for_device(config: TrainConfig, device: torch.device | str) -> TrainConfig:
    """``config`` with its machine settings filled in for ``device``.

    Batch size 2 on a CPU and 8 on a GPU unless set; loader workers 0 on a CPU (augmentation in the
    training process, which has the cores) and up to 8 on a GPU unless set, and never more than
    the available cores - 1 (more only costs memory and time).
    """
    gpu = torch.device(device).type == "cuda"
    cores = _available_cores()
    workers = config.loader_workers if config.loader_workers is not None else (min(8, cores - 1) if gpu else 0)
    return config.model_copy(
        update={
            "batch_size": config.batch_size or (8 if gpu else 2),
            "loader_workers": max(0, min(workers, cores - 1)),
        }
    )


def _device(local_rank: int = 0) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def _distributed_rank() -> tuple[int, int, int]:
    """(rank, local rank, world size) under ``torchrun``; (0, 0, 1) in a plain process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 0, 1
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world


def _batch(
    patches: list[Patch], config: TrainConfig, rng: np.random.Generator, augmentation: AugmentationConfig | None
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for _ in range(config.batch_size):
        image, label = random_crop(
            patches[int(rng.integers(len(patches)))], config.patch_size, config.voxel_size_ang, rng
        )
        if augmentation is not None:
            image, label = augment(image, label, rng, augmentation)
        images.append(normalise(image))
        labels.append(label)
    return torch.from_numpy(np.stack(images)[:, None]), torch.from_numpy(np.stack(labels)[:, None])


class _BatchStream(torch.utils.data.IterableDataset):
    """``n_batches`` augmented batches, shared out among DataLoader workers, each with its own seed."""

    def __init__(self, patches, config: TrainConfig, augmentation, seed_words: list[int], n_batches: int) -> None:
        self.patches, self.config, self.augmentation = patches, config, augmentation
        self.seed_words, self.n_batches = seed_words, n_batches

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info else (0, 1)
        torch.set_num_threads(1)
        rng = np.random.default_rng(np.random.SeedSequence([*self.seed_words, worker]))
        for _ in range(worker, self.n_batches, n_workers):
            yield _batch(self.patches, self.config, rng, self.augmentation)


def _epoch_batches(patches, config: TrainConfig, rng: np.random.Generator, augmentation, epoch: int, device):
    """The epoch's batches: made here from ``rng``, or by ``config.loader_workers`` processes seeded by epoch."""
    if config.loader_workers == 0:
        return (_batch(patches, config, rng, augmentation) for _ in range(config.iterations_per_epoch))
    stream = _BatchStream(patches, config, augmentation, [config.seed, epoch], config.iterations_per_epoch)
    return torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=config.loader_workers, pin_memory=device.type == "cuda", prefetch_factor=4
    )


@torch.no_grad()
def validate(model: UNet3D, patches: list[Patch], voxel_size_ang: float, device: torch.device) -> dict[str, float]:
    """Dice and Surface-Dice pooled over whole validation patches (from summed counts; no TTA)."""
    model.eval()
    dice_total = surface_total = None
    for patch in patches:
        image, label = whole_patch(patch, voxel_size_ang, model.config.divisor)
        logits = model(torch.from_numpy(normalise(image))[None, None].to(device))
        prediction = (logits[0, 0] > 0).cpu().numpy()
        d, s = dice_counts(prediction, label), surface_dice_counts(prediction, label)
        dice_total = d if dice_total is None else dice_total + d
        surface_total = s if surface_total is None else surface_total + s
    model.train()
    return {"dice": float(dice_total.value), "surface_dice": float(surface_total.value)}


def _validation_scores(model, val_patches, original: OriginalData | None, voxel_size_ang, device) -> dict:
    """Flat scores: ``dice``, ``surface_dice`` on the user's patches, ``original_*`` on the original ones."""
    scores = validate(model, val_patches, voxel_size_ang, device) if val_patches else {}
    if original is not None and original.val:
        scores |= {f"original_{k}": v for k, v in validate(model, original.val, voxel_size_ang, device).items()}
    return scores


def _log_keys(scores: dict) -> dict:
    """``dice`` -> ``val_dice``, ``original_dice`` -> ``original_val_dice`` (the log's columns)."""
    return {(f"original_val_{k.removeprefix('original_')}" if k.startswith("original_") else f"val_{k}"): v
            for k, v in scores.items()}  # fmt: skip


def _selection_key(row: dict) -> str | None:
    """The log column the best epoch is chosen by: the user's validation Surface-Dice, else the original one."""
    return next((k for k in ("val_surface_dice", "original_val_surface_dice") if k in row), None)


def _stop_reason(row: dict, best_row: dict | None, baseline: dict | None, config: TrainConfig) -> str:
    """Why training stops after this epoch ("" to go on)."""
    if baseline and config.early_stop_tolerance is not None and "val_dice" in row and "dice" in baseline:
        if row["val_dice"] < baseline["dice"] - config.early_stop_tolerance:
            return f"validation Dice fell more than {config.early_stop_tolerance:g} below the starting model's"
    patience = config.early_stopping_patience
    if patience is not None and _selection_key(row) is not None:
        since = row["epoch"] - (best_row["epoch"] if best_row else 0)
        if since >= patience:
            return f"no better validation Surface-Dice for {patience} epoch(s)"
    return ""


def train(
    data_dir: Path | str,
    out_dir: Path | str,
    config: TrainConfig,
    *,
    init_model: Path | str | None = None,
    resume: bool = False,
    report: EpochReport | None = None,
    started: Callable[[TrainConfig, torch.device], None] | None = None,
    original_data: Path | str | None = None,
) -> Path:
    """Train (or fine-tune from ``init_model``) and return the path of the model file.

    While training, ``out_dir`` holds ``checkpoint_last.pt`` (resumable, written after each
    epoch). At the end, together: ``model.pt`` (best validation Surface-Dice; the last epoch's
    weights when there are no validation patches), ``model_final.pt`` (the weights after the last
    epoch), ``training_log.csv``, ``learning_curves.png`` and ``train_config.json``.

    Validation patches (``imagesVal``/``labelsVal``) are optional. Machine settings left as None
    follow the device (:func:`for_device`). ``report`` receives each epoch's log row (epoch 0: the
    starting model's validation scores); ``started`` the settings used, once every input is checked.

    ``original_data`` (fine-tuning: the starting model's training data folder) adds
    ``config.keep_original`` of its training patches to the training data and validates on its
    validation patches too (log columns ``original_val_dice``, ``original_val_surface_dice``).
    The best epoch is chosen by the user's validation Surface-Dice (the original one without
    user validation patches), never one whose original Surface-Dice fell more than
    ``config.forgetting_tolerance`` below the starting model's. ``config.early_stopping_patience``
    stops training after that many epochs without a better Surface-Dice.

    Raises
    ------
    FileNotFoundError
        No data folder or training patches; ``resume`` without a checkpoint in ``out_dir``.
    ValueError
        Bad data (unpaired, NaN/inf, bad labels), a damaged checkpoint, or a non-finite loss
        (training stops; earlier epochs stay in the checkpoint, no model is written).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    check_out_dir(out_dir, resume=resume)
    checkpoint = read_checkpoint(out_dir) if resume else None
    train_patches = load_split(data_dir, "Tr")
    val_patches = load_split(data_dir, "Val", required=False)[: config.max_validation_patches]
    original = None
    if original_data is not None:
        original = original_patches(original_data, config.keep_original, config.seed, config.max_validation_patches)
        train_patches = train_patches + original.train
    reuse_freed_memory()
    rank, local_rank, world = _distributed_rank()
    device = _device(local_rank)
    config = for_device(config, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    if world > 1:  # multi-GPU (or multi-process CPU) data parallelism through torch DDP, launched by torchrun
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(
            data_dir, out_dir, config, train_patches, val_patches, device, rank, world, init_model, checkpoint,
            report, started, original,
        )  # fmt: skip
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def _any_process(flag: bool, world: int, device: torch.device) -> bool:
    """True if ``flag`` is true in any process (the flag itself in a plain process)."""
    if world == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def _non_finite_loss(value: float, epoch: int, iteration: int) -> ValueError:
    return ValueError(
        f"training stopped: the loss became {value} at epoch {epoch + 1}, iteration {iteration + 1}, so no model was "
        "written (the last good epoch is in checkpoint_last.pt); lower learning_rate with --config and --resume, "
        "or check the training data"
    )


def _train(
    data_dir: Path,
    out_dir: Path,
    config: TrainConfig,
    train_patches: list[Patch],
    val_patches: list[Patch],
    device: torch.device,
    rank: int,
    world: int,
    init_model: Path | str | None,
    checkpoint: dict | None,
    report: EpochReport | None,
    started: Callable[[TrainConfig, torch.device], None] | None,
    original: OriginalData | None = None,
) -> Path:
    main_process = rank == 0
    if init_model is not None:
        model, init_card = load_model(init_model, device)
        model.train()
    else:
        model, init_card = UNet3D(config.architecture()).to(device), None
    network = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        network = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.learning_rate,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay,
    )
    loss_fn = SegmentationLoss(surface_dice_weight=config.surface_dice_weight)
    rng = np.random.default_rng([config.seed, rank] if world > 1 else config.seed)
    start_epoch, best, history, best_weights, best_row = 0, -math.inf, [], None, None
    validating = bool(val_patches or (original and original.val)) and main_process
    # the starting model's scores, measured before a resumed run loads its later weights
    baseline = None
    if validating and init_model:
        baseline = _validation_scores(model, val_patches, original, config.voxel_size_ang, device)
    if checkpoint is not None:
        load_checkpoint_weights(out_dir, model, optimizer, checkpoint)
        start_epoch, history = checkpoint["epoch"], checkpoint["history"]
        best, best_weights = checkpoint.get("best", best), checkpoint.get("best_model")
        best_row = checkpoint.get("best_row")
        if world == 1 and "rng" in checkpoint:
            rng.bit_generator.state = checkpoint["rng"]
    if started and main_process:
        started(config, device)
    if baseline and report and start_epoch == 0:
        report({"epoch": 0, **_log_keys(baseline)})  # the starting model's scores
    augmentation = AugmentationConfig() if config.augment else None
    total_iterations = config.epochs * config.iterations_per_epoch
    use_amp = device.type == "cuda"
    torch.backends.cudnn.benchmark = use_amp  # fixed crop shapes: let cuDNN pick its fastest kernels
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    model.train()
    stopped = ""
    for epoch in range(start_epoch, config.epochs):
        started, losses = time.perf_counter(), []
        seed_epoch = epoch * world + rank
        batches = _epoch_batches(train_patches, config, rng, augmentation, seed_epoch, device)
        for it, (images, labels) in enumerate(batches):
            step = epoch * config.iterations_per_epoch + it
            lr = config.learning_rate * (1.0 - step / total_iterations) ** config.poly_exponent
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, enabled=use_amp):
                loss = loss_fn(network(images.to(device, non_blocking=True)), labels.to(device, non_blocking=True))
            value = float(loss.detach())
            if _any_process(not math.isfinite(value), world, device):
                raise _non_finite_loss(value, epoch, it)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 12.0)
            scaler.step(optimizer)
            scaler.update()
            losses.append(value)
        stop = False
        if main_process:
            row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "learning_rate": lr}
            if validating:
                row.update(_log_keys(_validation_scores(model, val_patches, original, config.voxel_size_ang, device)))
            row["seconds"] = time.perf_counter() - started
            history.append(row)
            key = _selection_key(row)
            if key and row[key] > best and not_forgotten(row, baseline, config.forgetting_tolerance):
                best, best_row = row[key], row
                best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1}
            state |= {"best": best, "best_model": best_weights, "best_row": best_row, "history": history}
            write_checkpoint(out_dir, {**state, "rng": rng.bit_generator.state, "config": config.model_dump()})
            if report:
                report(row)
            stopped = _stop_reason(row, best_row, baseline, config)
            stop = bool(stopped)
        if world > 1:  # every process learns rank 0's early-stop decision
            flag = torch.tensor([float(stop)], device=device)
            torch.distributed.broadcast(flag, src=0)
            stop = bool(flag.item())
        if stop:
            break
    path = out_dir / "model.pt"
    if main_process:

        def card(row: dict, selected: str) -> dict:
            why = f"; stopped after epoch {history[-1]['epoch']}: {stopped}" if stopped else ""
            made = training_card(
                config.model_dump(mode="json"), data_dir, train_patches, val_patches, row, init_card, world, baseline,
                selected + why,
            )  # fmt: skip
            if original is not None:
                made["training"]["original_data"] = original.summary()
            return made

        path = _write_results(out_dir, config, model, history, best_weights, best_row, card, validating)
    if world > 1:
        torch.distributed.barrier()
    return path


def _write_results(out_dir, config, model, history, best_weights, best_row, card, validated: bool) -> Path:
    """The finished run's files, together: best (or, without validation, last) model, final model, log."""
    last = history[-1]
    final = (model, card(last, f"the last epoch: {last['epoch']}"))
    if best_weights is None:  # no validation patches, or no epoch kept the original Surface-Dice
        why = (
            ", none kept the original validation Surface-Dice within forgetting_tolerance "
            f"{config.forgetting_tolerance:g}"
            if validated
            else ", no validation patches to choose the best one"
        )
        best = (model, card(last, f"the last epoch: {last['epoch']}{why}"))
    else:
        best_model = UNet3D(model.config)
        best_model.load_state_dict(best_weights)
        which = "validation" if "val_surface_dice" in best_row else "original validation"
        best = (best_model, card(best_row, f"the best epoch by {which} Surface-Dice: {best_row['epoch']}"))
    return write_final_set(out_dir, best, final, history, config.model_dump(mode="json"))


def _card(
    config: TrainConfig,
    data_dir: Path,
    train: list[Patch],
    val: list[Patch],
    row: dict,
    init_card: dict | None,
    processes: int = 1,
    start_scores: dict[str, float] | None = None,
) -> dict:
    """The model card for ``config`` (see :func:`cryomem.segment._train_files.training_card`)."""
    return training_card(config.model_dump(mode="json"), data_dir, train, val, row, init_card, processes, start_scores)
