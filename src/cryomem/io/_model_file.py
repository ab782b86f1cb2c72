"""Model files: a network's weights and the card that says how to use them, in one file.

A model file is a ``torch.save`` dict ``{"format", "format_version", "architecture", "state_dict",
"card"}`` that loads with ``weights_only=True`` (plain tensors, numbers, strings, lists and dicts).
Segmentation and picking models share this one save/load path; each stage owns the typed card of
its kind (:class:`ModelCard` subclasses) and builds its own network. torch is imported only when a
file is written or read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from cryomem.io._atomic import atomic_write_path

__all__ = ["CardSection", "ModelCard", "card_dict", "load_model_file", "save_model_file"]


class CardSection(BaseModel):
    """A nested part of a model card (training record, scores, calibration): typed fields for what the
    code reads, every other key kept as it was (frozen)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    def to_dict(self) -> dict[str, Any]:
        """The section as the file stores it (defaults left out, extras included)."""
        return self.model_dump(exclude_unset=True)


class ModelCard(BaseModel):
    """A model file's card: typed fields for what the code reads, every other key kept as it was.

    Frozen; unknown keys of older or newer files survive a load/save round trip. Cards are read by
    attribute (``card.voxel_size_ang``); :meth:`to_dict` gives the stored form.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    @classmethod
    def from_file(cls, card: Mapping[str, Any], *, path: str | os.PathLike[str], command: str) -> ModelCard:
        """Validate the card read from model file ``path``; a malformed card is a one-line ``ValueError``."""
        try:
            return cls.model_validate(dict(card))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "card"
            raise ValueError(
                f"{path} has a malformed model card ({where}: {first['msg']}); re-save it with `{command}`"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The card as the file stores it: the keys it was made from (defaults left out), extras included."""
        return self.model_dump(exclude_unset=True)


def card_dict(card: ModelCard | Mapping[str, Any]) -> dict[str, Any]:
    """A card (typed, or a plain dict of one being built) as the dict a model file stores."""
    return card.to_dict() if isinstance(card, ModelCard) else dict(card)


def save_model_file(
    path: str | os.PathLike[str],
    *,
    format_name: str,
    format_version: int,
    architecture: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    card: Mapping[str, Any],
) -> Path:
    """Write weights, architecture and card atomically as one model file; return the path.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; its folder must exist.
    format_name, format_version : str, int
        What kind of model this is (checked by :func:`load_model_file`).
    architecture : mapping
        Keyword arguments that rebuild the network.
    state_dict : mapping of str to tensor
        The network's weights (moved to the CPU here).
    card : mapping
        How to use the model (a plain dict or a :class:`ModelCard`).
    """
    import torch

    path = Path(path)
    payload = {
        "format": format_name,
        "format_version": format_version,
        "architecture": dict(architecture),
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "card": card_dict(card),
    }
    with atomic_write_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_model_file(
    path: str | os.PathLike[str], *, format_name: str, format_version: int, kind: str, command: str
) -> dict[str, Any]:
    """Read a model file written by :func:`save_model_file`; return its payload dict.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    format_name, format_version : str, int
        The expected format and the newest version this code reads.
    kind : str
        What the model is, for messages (``"segmentation model"``).
    command : str
        The command that writes such files, for messages (``"cryomem segment train"``).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a model file of this kind (the message says what it is instead), or a newer format.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist; give a model saved by `{command}`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign files
        raise ValueError(
            f"{path} is not a cryomem {kind} ({type(err).__name__}); give a file written by `{command}`"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != format_name:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a cryomem {kind} (format {found!r}); give a file written by `{command}`")
    if payload.get("format_version", 0) > format_version:
        raise ValueError(f"{path} was written by a newer cryomem (format {payload['format_version']}); upgrade cryomem")
    if not isinstance(payload.get("card", {}), dict) or "state_dict" not in payload or "architecture" not in payload:
        raise ValueError(
            f"{path} is an incomplete cryomem {kind} (no weights, architecture or card); re-save it with `{command}`"
        )
    return payload
