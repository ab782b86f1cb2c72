"""A loaded segmentation model: the network, its card and the device it runs on, in one object.

Everything that needs the card's numbers (voxel size, inference window, input divisor) asks the
:class:`Segmenter` instead of reading them from the card itself: the CLI, the pipeline's segment
stage and the benchmarks all run a model the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cryomem.io import FractionProgress
from cryomem.segment._inference import default_batch_size, predict_probabilities, select_device
from cryomem.segment._model_card import SegmentModelCard
from cryomem.segment._model_file import DEFAULT_MODEL_PATH, load_model
from cryomem.segment._settings import SegmentSettings

__all__ = ["Segmenter"]

_DEFAULT = SegmentSettings()


@dataclass(frozen=True, eq=False)
class Segmenter:
    """A segmentation network ready to run: weights on a device, with the card that says how.

    Attributes
    ----------
    network : torch.nn.Module
        Maps (B, 1, z, y, x) float windows to membrane logits of the same shape; in eval mode on
        ``device``.
    card : SegmentModelCard
        The model file's card; must give ``voxel_size_ang`` and ``inference_window``.
    divisor : int
        Network input sides must be multiples of this (default: ``network.config.divisor``).
    device : torch.device
        Where the network runs.
    path : pathlib.Path or None
        The model file, if loaded from one.
    """

    network: torch.nn.Module
    card: SegmentModelCard
    divisor: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    path: Path | None = None

    def __post_init__(self) -> None:
        divisor = self.divisor or getattr(getattr(self.network, "config", None), "divisor", 0)
        where = self.path or "the model card"
        if not divisor:
            raise ValueError("the network does not say its input divisor; pass Segmenter(..., divisor=...)")
        if not self.card.voxel_size_ang or not self.card.inference_window:
            raise ValueError(
                f"{where} does not give the model's voxel size and inference window; re-save it with "
                "`cryomem segment train`"
            )
        object.__setattr__(self, "divisor", int(divisor))
        object.__setattr__(self, "device", torch.device(self.device))
        self.network.to(self.device).eval()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, device: str | torch.device = "auto") -> Segmenter:
        """Load a model file (None: the shipped default model) onto ``device`` (see :func:`select_device`).

        Raises
        ------
        FileNotFoundError, ValueError
            As :func:`cryomem.segment.load_model`; an unknown or unavailable device.
        """
        target = select_device(device)
        network, card = load_model(path, target)
        return cls(network, card, device=target, path=Path(path) if path is not None else DEFAULT_MODEL_PATH)

    @property
    def voxel_size_ang(self) -> float:
        """Voxel size the network works at, Å; windows are rescaled to it."""
        return float(self.card.voxel_size_ang)  # type: ignore[arg-type]  # checked in __post_init__

    @property
    def window(self) -> int:
        """Side of the sliding window, voxels at :attr:`voxel_size_ang`."""
        return int(self.card.inference_window)  # type: ignore[arg-type]  # checked in __post_init__

    def voxel_size_note(self, voxel_size_ang: float, name: str = "the tomogram") -> str | None:
        """A one-line warning when ``voxel_size_ang`` lies outside the training voxel sizes, else None."""
        return self.card.voxel_size_note(voxel_size_ang, name)

    def probabilities(
        self,
        volume_zyx: np.ndarray,
        voxel_size_ang: float,
        *,
        overlap: float = _DEFAULT.overlap,
        adaptive_windows: bool = _DEFAULT.adaptive_windows,
        tta: bool = _DEFAULT.tta,
        batch_size: int | None = _DEFAULT.batch_size,
        uncertainty: bool = False,
        scratch_dir: str | os.PathLike[str] | None = None,
        progress: FractionProgress | None = None,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Membrane probability (float16) of every voxel of a tomogram with voxels of ``voxel_size_ang`` Å.

        ``batch_size`` None: :func:`default_batch_size` of the device. The other parameters and the
        result are those of :func:`cryomem.segment.predict_probabilities`.
        """
        return predict_probabilities(
            volume_zyx,
            self.network,
            input_voxel_size_ang=voxel_size_ang,
            model_voxel_size_ang=self.voxel_size_ang,
            window=self.window,
            divisor=self.divisor,
            overlap=overlap,
            adaptive_windows=adaptive_windows,
            tta=tta,
            batch_size=default_batch_size(self.device) if batch_size is None else batch_size,
            device=self.device,
            uncertainty=uncertainty,
            scratch_dir=scratch_dir,
            progress=progress,
        )
