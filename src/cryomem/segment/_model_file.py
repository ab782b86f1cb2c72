"""Self-describing model files: weights plus the card that says how to use them.

A model file is a ``torch.save`` dict ``{"format", "format_version", "architecture", "state_dict",
"card"}``. The card holds the voxel size the model works at, its inference window, how inputs are
normalised, the training data and seed, validation scores and the code version — inference needs
nothing else.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cryomem.io import atomic_write_path
from cryomem.segment._unet import UNet3D, UNetConfig, parameter_count

MODEL_FORMAT = "cryomem-segmentation-model"
MODEL_FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default_membrane_seg.pt"


def save_model(path: Path | str, model: UNet3D, card: dict) -> Path:
    """Write weights and card atomically; the card gains the architecture and parameter count."""
    path = Path(path)
    card = {**card, "architecture": model.config.to_dict(), "parameter_count": parameter_count(model)}
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "architecture": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "card": card,
    }
    with atomic_write_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_model_card(path: Path | str) -> dict:
    """The card of a model file, without building the network."""
    return _load_payload(Path(path))["card"]


def load_model(path: Path | str | None = None, device: torch.device | str = "cpu") -> tuple[UNet3D, dict]:
    """Build the network of a model file (default: the shipped model) in eval mode on ``device``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a cryomem segmentation model (the message says what it is instead).
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    payload = _load_payload(path)
    try:
        model = UNet3D(UNetConfig(**payload["architecture"]))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        raise ValueError(
            f"model file {path} does not match its architecture ({err}); re-export or retrain it"
        ) from None
    return model.to(device).eval(), payload["card"]


def trained_voxel_range_ang(card: dict) -> tuple[float, float] | None:
    """Smallest and largest voxel size (Å) of the model's training data, or None if the card does not say.

    Read from ``training.voxel_size_range_ang`` (written by :func:`cryomem.segment.train`) or, for
    models trained on ``cryomem simulate dataset`` output before that field existed, from the
    dataset settings ``training.dataset_config.voxel_size_ang``.
    """
    training = card.get("training") or {}
    found = training.get("voxel_size_range_ang") or (training.get("dataset_config") or {}).get("voxel_size_ang")
    try:
        low, high = (float(v) for v in found)
    except (TypeError, ValueError):
        return None
    return (low, high) if 0.0 < low <= high else None


def voxel_size_note(card: dict, voxel_size_ang: float, name: str = "the tomogram") -> str | None:
    """A one-line warning when ``voxel_size_ang`` lies outside the model's training voxel sizes, else None.

    The windows are rescaled to the model's voxel size either way, but the model has never seen how
    membranes look at such a sampling, so its quality there is not known (the shipped model is
    measured on simulated tomograms of 7-22 Å only, ``benchmarks/bench_segment_quality.py``).
    """
    trained = trained_voxel_range_ang(card)
    if trained is None or trained[0] <= voxel_size_ang <= trained[1]:
        return None
    return (
        f"note: {name} has voxels of {voxel_size_ang:.1f} Å, outside the {trained[0]:.1f}-{trained[1]:.1f} Å the model "
        "was trained on; check its segmentation, or fine-tune the model on annotations at this voxel size "
        "(`cryomem segment finetune`)"
    )


def _load_payload(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist; give a model saved by `cryomem segment train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign files
        raise ValueError(
            f"{path} is not a cryomem segmentation model ({type(err).__name__}); "
            "give a file written by `cryomem segment train`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a cryomem segmentation model; give a file written by `cryomem segment train`")
    if payload.get("format_version", 0) > MODEL_FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer cryomem (format {payload['format_version']}); upgrade cryomem")
    return payload
