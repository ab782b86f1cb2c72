"""Self-describing picking-model files: weights plus the card that says how to use them.

A model file is a ``torch.save`` dict ``{"format", "format_version", "architecture", "state_dict",
"card"}`` (weights-only loadable). The card holds the feature window the model expects along the
normal (``window_offsets_ang``, Å), ``k_eig`` and the patch size, how inputs are normalised, what
the output means (distance / ``max_distance_ang``; ``units`` "Å"), the voxel size of the training
data, the training membranes and configuration, validation metrics and the code version.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cryomem.io import card_dict, load_model_file, save_model_file
from cryomem.pick._diffusion_net import DiffusionNetConfig, PickNet, parameter_count
from cryomem.pick._model_card import PickModelCard

__all__ = [
    "PICK_MODEL_FORMAT",
    "PICK_MODEL_FORMAT_VERSION",
    "load_pick_model",
    "read_pick_model_card",
    "save_pick_model",
]

PICK_MODEL_FORMAT = "cryomem-pick-model"
PICK_MODEL_FORMAT_VERSION = 1
_REQUIRED_CARD_KEYS = ("window_offsets_ang", "max_distance_ang", "k_eig")
_TRAIN_COMMAND = "cryomem pick train"


def save_pick_model(path: str | Path, model: PickNet, card: PickModelCard | Mapping[str, Any]) -> Path:
    """Write weights and card atomically; the card gains the architecture and parameter count.

    Raises
    ------
    ValueError
        The card lacks one of ``window_offsets_ang``, ``max_distance_ang``, ``k_eig``.
    """
    card = card_dict(card)
    missing = [k for k in _REQUIRED_CARD_KEYS if k not in card]
    if missing:
        raise ValueError(f"model card lacks {missing}; a picking model must say its window, scale and k_eig")
    architecture = model.config.model_dump(mode="json")
    card = {**card, "architecture": architecture, "parameter_count": parameter_count(model), "units": "Å"}
    return save_model_file(
        path,
        format_name=PICK_MODEL_FORMAT,
        format_version=PICK_MODEL_FORMAT_VERSION,
        architecture=architecture,
        state_dict=model.state_dict(),
        card=card,
    )


def read_pick_model_card(path: str | Path) -> PickModelCard:
    """The card of a picking-model file, without building the network."""
    return _card(Path(path), _load_payload(Path(path)))


def load_pick_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[PickNet, PickModelCard]:
    """Build the network of a model file in eval mode on ``device``; return it with its typed card.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a cryomem picking model, a newer format, an incomplete card, or weights that do not fit
        the architecture.
    """
    path = Path(path)
    payload = _load_payload(path)
    card = _card(path, payload)
    try:
        model = PickNet(DiffusionNetConfig(**payload["architecture"]))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        raise ValueError(f"model file {path} does not match its architecture ({err}); retrain it") from None
    return model.to(device).eval(), card


def _load_payload(path: Path) -> dict:
    payload = load_model_file(
        path,
        format_name=PICK_MODEL_FORMAT,
        format_version=PICK_MODEL_FORMAT_VERSION,
        kind="picking model",
        command=_TRAIN_COMMAND,
    )
    missing = [k for k in _REQUIRED_CARD_KEYS if k not in payload.get("card", {})]
    if missing:
        raise ValueError(f"{path} has an incomplete model card (missing {missing}); retrain it with `{_TRAIN_COMMAND}`")
    return payload


def _card(path: Path, payload: dict) -> PickModelCard:
    return PickModelCard.from_file(payload["card"], path=path, command=_TRAIN_COMMAND)
