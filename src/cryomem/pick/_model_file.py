"""Self-describing picking-model files: weights plus the card that says how to use them.

A model file is a ``torch.save`` dict ``{"format", "format_version", "architecture", "state_dict",
"card"}`` (weights-only loadable). The card holds the feature window the model expects along the
normal (``window_offsets_ang``, Å), ``k_eig`` and the patch size, how inputs are normalised, what
the output means (distance / ``max_distance_ang``; ``units`` "Å"), the voxel size of the training
data, the training membranes and configuration, validation metrics and the code version.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cryomem.io import atomic_write_path
from cryomem.pick._diffusion_net import DiffusionNetConfig, PickNet, parameter_count

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


def save_pick_model(path: str | Path, model: PickNet, card: dict) -> Path:
    """Write weights and card atomically; the card gains the architecture and parameter count.

    Raises
    ------
    ValueError
        The card lacks one of ``window_offsets_ang``, ``max_distance_ang``, ``k_eig``.
    """
    missing = [k for k in _REQUIRED_CARD_KEYS if k not in card]
    if missing:
        raise ValueError(f"model card lacks {missing}; a picking model must say its window, scale and k_eig")
    path = Path(path)
    architecture = model.config.model_dump(mode="json")
    card = {**card, "architecture": architecture, "parameter_count": parameter_count(model), "units": "Å"}
    payload = {
        "format": PICK_MODEL_FORMAT,
        "format_version": PICK_MODEL_FORMAT_VERSION,
        "architecture": architecture,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "card": card,
    }
    with atomic_write_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_pick_model_card(path: str | Path) -> dict:
    """The card of a picking-model file, without building the network."""
    return _load_payload(Path(path))["card"]


def load_pick_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[PickNet, dict]:
    """Build the network of a model file in eval mode on ``device``; return it with its card.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a cryomem picking model, a newer format, or weights that do not fit the architecture.
    """
    path = Path(path)
    payload = _load_payload(path)
    try:
        model = PickNet(DiffusionNetConfig(**payload["architecture"]))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        raise ValueError(f"model file {path} does not match its architecture ({err}); retrain it") from None
    return model.to(device).eval(), payload["card"]


def _load_payload(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist; give a model saved by `cryomem pick train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign files
        raise ValueError(
            f"{path} is not a cryomem picking model ({type(err).__name__}); give a file written by `cryomem pick train`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != PICK_MODEL_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(
            f"{path} is not a cryomem picking model (format {found!r}); give a file written by `cryomem pick train`"
        )
    if payload.get("format_version", 0) > PICK_MODEL_FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer cryomem (format {payload['format_version']}); upgrade cryomem")
    missing = [k for k in _REQUIRED_CARD_KEYS if k not in payload.get("card", {})]
    if missing:
        raise ValueError(
            f"{path} has an incomplete model card (missing {missing}); retrain it with `cryomem pick train`"
        )
    return payload
