"""Self-describing model files: weights plus the card that says how to use them.

A model file is a ``torch.save`` dict ``{"format", "format_version", "architecture", "state_dict",
"card"}``. The card holds the voxel size the model works at, its inference window, how inputs are
normalised, the training data and seed, validation scores and the code version — inference needs
nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cryomem.io import card_dict, load_model_file, save_model_file
from cryomem.segment._model_card import SegmentModelCard
from cryomem.segment._unet import UNet3D, UNetConfig, parameter_count

MODEL_FORMAT = "cryomem-segmentation-model"
MODEL_FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default_membrane_seg.pt"


def save_model(path: Path | str, model: UNet3D, card: SegmentModelCard | Mapping[str, Any]) -> Path:
    """Write weights and card atomically; the card gains the architecture and parameter count."""
    card = {**card_dict(card), "architecture": model.config.to_dict(), "parameter_count": parameter_count(model)}
    return save_model_file(
        path,
        format_name=MODEL_FORMAT,
        format_version=MODEL_FORMAT_VERSION,
        architecture=model.config.to_dict(),
        state_dict=model.state_dict(),
        card=card,
    )


def read_model_card(path: Path | str) -> SegmentModelCard:
    """The card of a model file, without building the network."""
    return _card(Path(path), _load_payload(Path(path)))


def load_model(path: Path | str | None = None, device: torch.device | str = "cpu") -> tuple[UNet3D, SegmentModelCard]:
    """Build the network of a model file (default: the shipped model) in eval mode on ``device``.

    Returns the network and its typed card (which also reads like the dict card it replaces).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a cryomem segmentation model (the message says what it is instead).
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    payload = _load_payload(path)
    card = _card(path, payload)
    try:
        model = UNet3D(UNetConfig(**payload["architecture"]))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        raise ValueError(
            f"model file {path} does not match its architecture ({err}); re-export or retrain it"
        ) from None
    return model.to(device).eval(), card


def _load_payload(path: Path) -> dict:
    return load_model_file(
        path,
        format_name=MODEL_FORMAT,
        format_version=MODEL_FORMAT_VERSION,
        kind="segmentation model",
        command="cryomem segment train",
    )


def _card(path: Path, payload: dict) -> SegmentModelCard:
    return SegmentModelCard.from_file(payload.get("card", {}), path=path, command="cryomem segment train")
