"""Training and fine-tuning of the segmentation U-Net.

SGD with Nesterov momentum and a polynomial learning rate (0.01 -> 0, as in the MemBrain-seg
paper), batches of random crops rescaled to the model's voxel size, augmented and normalised per
patch; deep supervision; validation Dice and Surface-Dice after each epoch on whole validation
patches. Each epoch ends with a resumable checkpoint, a CSV row and a PNG of the learning curves;
the best model by validation Surface-Dice is written with its card.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

import cryomem
from cryomem.io import atomic_write_path, write_rows_csv
from cryomem.segment._augment import AugmentationConfig, augment
from cryomem.segment._data import Patch, load_split, normalise, random_crop, whole_patch
from cryomem.segment._losses import SegmentationLoss
from cryomem.segment._malloc import reuse_freed_memory
from cryomem.segment._metrics import dice_counts, surface_dice_counts
from cryomem.segment._model_file import load_model, save_model, trained_voxel_range_ang
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
    batch_size: int = Field(2, ge=1, le=64)
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
    loader_workers: int = Field(
        0, ge=0, le=64, description="processes preparing augmented batches (0: in the training process)"
    )
    early_stop_tolerance: float | None = Field(
        None, ge=0.0, le=1.0, description="fine-tuning: stop when validation Dice falls this far below the start"
    )

    def architecture(self) -> UNetConfig:
        return UNetConfig(
            base_channels=self.base_channels,
            max_channels=self.max_channels,
            depth=self.depth,
            deep_supervision_levels=min(self.deep_supervision_levels, self.depth - 1),
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


def train(
    data_dir: Path | str,
    out_dir: Path | str,
    config: TrainConfig,
    *,
    init_model: Path | str | None = None,
    resume: bool = False,
    report: EpochReport | None = None,
) -> Path:
    """Train (or fine-tune from ``init_model``) and return the path of the best model file.

    ``out_dir`` receives ``checkpoint_last.pt`` (resumable), ``training_log.csv``,
    ``learning_curves.png``, ``train_config.json``, ``model.pt`` (best validation Surface-Dice) and
    ``model_final.pt`` (the weights after the last epoch).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    reuse_freed_memory()
    train_patches, val_patches = load_split(data_dir, "Tr"), load_split(data_dir, "Val")
    val_patches = val_patches[: config.max_validation_patches]
    if not train_patches:
        raise ValueError(f"{data_dir}/imagesTr holds no patches; add training data")
    rank, local_rank, world = _distributed_rank()
    main_process = rank == 0
    if main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = _device(local_rank)
    if world > 1:  # multi-GPU (or multi-process CPU) data parallelism through torch DDP, launched by torchrun
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(
            data_dir, out_dir, config, train_patches, val_patches, device, rank, world, init_model, resume, report
        )
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


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
    resume: bool,
    report: EpochReport | None,
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
    start_epoch, best, history = 0, -1.0, []
    validating = bool(val_patches) and main_process
    # the starting model's scores, measured before a resumed run loads its later weights
    baseline = validate(model, val_patches, config.voxel_size_ang, device) if validating and init_model else None
    checkpoint = out_dir / "checkpoint_last.pt"
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best, history = state["epoch"], state["best"], state["history"]
        if world == 1:
            rng.bit_generator.state = state["rng"]
    if baseline and report and start_epoch == 0:
        report({"epoch": 0, **{f"val_{k}": v for k, v in baseline.items()}})  # the starting model's scores
    augmentation = AugmentationConfig() if config.augment else None
    if main_process:
        with atomic_write_path(out_dir / "train_config.json") as tmp:
            tmp.write_text(json.dumps(config.model_dump(mode="json"), indent=2))
    total_iterations = config.epochs * config.iterations_per_epoch
    use_amp = device.type == "cuda"
    torch.backends.cudnn.benchmark = use_amp  # fixed crop shapes: let cuDNN pick its fastest kernels
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    model.train()
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
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 12.0)
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
        stop = False
        if main_process:
            row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "learning_rate": lr}
            if validating:
                scores = validate(model, val_patches, config.voxel_size_ang, device)
                row.update({f"val_{k}": v for k, v in scores.items()})
            row["seconds"] = time.perf_counter() - started
            history.append(row)
            score = row.get("val_surface_dice", -row["train_loss"])
            if score > best:
                best = score
                card = _card(config, data_dir, train_patches, val_patches, row, init_card, world, baseline)
                save_model(out_dir / "model.pt", model, card)
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch + 1,
                    "best": best,
                    "history": history,
                    "rng": rng.bit_generator.state,
                },
                checkpoint,
            )
            _write_log(out_dir, history)
            if report:
                report(row)
            if baseline and config.early_stop_tolerance is not None and "val_dice" in row:
                stop = row["val_dice"] < baseline["dice"] - config.early_stop_tolerance
        if world > 1:  # every process learns rank 0's early-stop decision
            flag = torch.tensor([float(stop)], device=device)
            torch.distributed.broadcast(flag, src=0)
            stop = bool(flag.item())
        if stop:
            break
    if main_process:
        final = _card(config, data_dir, train_patches, val_patches, history[-1], init_card, world, baseline)
        save_model(out_dir / "model_final.pt", model, final)
    if world > 1:
        torch.distributed.barrier()
    return out_dir / "model.pt"


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
    dataset_json = data_dir / "dataset.json"
    dataset = json.loads(dataset_json.read_text()) if dataset_json.is_file() else {}
    voxel_sizes = [p.voxel_size_ang for p in train]
    voxel_range = [min(voxel_sizes), max(voxel_sizes)]
    start_range = trained_voxel_range_ang(init_card) if init_card else None
    if start_range:  # a fine-tuned model also knows what its starting model saw
        voxel_range = [min(voxel_range[0], start_range[0]), max(voxel_range[1], start_range[1])]
    return {
        "task": "membrane segmentation",
        "voxel_size_ang": config.voxel_size_ang,
        "inference_window": config.inference_window,
        "normalisation": "per window: zero mean, unit standard deviation",
        "output": "logit of membrane probability",
        "training": {
            "data_dir": str(data_dir),
            "dataset_seed": dataset.get("config", {}).get("seed"),
            "training_patches": len(train),
            "voxel_size_range_ang": voxel_range,
            "validation_patches": len(val),
            "config": config.model_dump(mode="json"),
            "epochs_done": row["epoch"],
            "data_parallel_processes": processes,
            "fine_tuned_from": init_card.get("name") if init_card else None,
            "starting_model_validation": start_scores,
        },
        "validation": {k.removeprefix("val_"): v for k, v in row.items() if k.startswith("val_")},
        "code_version": cryomem.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _write_log(out_dir: Path, history: list[dict]) -> None:
    write_rows_csv(out_dir / "training_log.csv", history)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5))
    left, right = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    left.plot(epochs, [r["train_loss"] for r in history], label="training loss")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    for key in ("val_dice", "val_surface_dice"):
        if key in history[-1]:
            right.plot(epochs, [r.get(key, np.nan) for r in history], label=key.removeprefix("val_").replace("_", "-"))
    right.set_xlabel("epoch")
    right.set_ylabel("validation score")
    right.set_ylim(0, 1)
    right.legend()
    fig.tight_layout()
    with atomic_write_path(out_dir / "learning_curves.png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
