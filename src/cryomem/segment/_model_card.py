"""The card of a segmentation model: what it expects, what it was trained on, how it scored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryomem.io import ModelCard

__all__ = ["SegmentModelCard", "as_segment_card"]


class SegmentModelCard(ModelCard):
    """Typed card of a segmentation model file (:func:`cryomem.segment.load_model`).

    Attributes
    ----------
    voxel_size_ang : float or None
        Voxel size the network works at, Å; tomograms are rescaled to it.
    inference_window : int or None
        Side of the sliding window at inference, voxels at ``voxel_size_ang``.
    architecture : dict
        Keyword arguments of :class:`cryomem.segment.UNetConfig`.
    parameter_count : int or None
        Number of trainable parameters.
    name : str or None
        Model name (the shipped model's, or None for a fresh training run).
    training : dict
        Training data and run: ``data_dir``, ``voxel_size_range_ang``, ``config`` (the training
        recipe), ``epochs_done``, ``selected``, ``fine_tuned_from``, ``starting_model_validation``...
    validation : dict
        Validation scores (``dice``, ``surface_dice``).

    Other keys (``task``, ``normalisation``, ``output``, ``code_version``, ``created``, ``note``)
    are kept as they are.
    """

    voxel_size_ang: float | None = None
    inference_window: int | None = None
    architecture: dict[str, Any] = {}
    parameter_count: int | None = None
    name: str | None = None
    training: dict[str, Any] | None = None
    validation: dict[str, Any] = {}

    @property
    def training_config(self) -> dict[str, Any]:
        """The training recipe (``training.config``), empty if the card does not say."""
        return dict((self.training or {}).get("config") or {})

    def trained_voxel_range_ang(self) -> tuple[float, float] | None:
        """Smallest and largest voxel size (Å) of the training data, or None if the card does not say.

        Read from ``training.voxel_size_range_ang`` (written by :func:`cryomem.segment.train`) or, for
        models trained on ``cryomem simulate dataset`` output before that field existed, from the
        dataset settings ``training.dataset_config.voxel_size_ang``.
        """
        training = self.training or {}
        found = training.get("voxel_size_range_ang") or (training.get("dataset_config") or {}).get("voxel_size_ang")
        try:
            low, high = (float(v) for v in found)
        except (TypeError, ValueError):
            return None
        return (low, high) if 0.0 < low <= high else None

    def voxel_size_note(self, voxel_size_ang: float, name: str = "the tomogram") -> str | None:
        """A one-line warning when ``voxel_size_ang`` lies outside the training voxel sizes, else None.

        The windows are rescaled to the model's voxel size either way, but the model has never seen
        how membranes look at such a sampling, so its quality there is not known (the shipped model
        is measured on simulated tomograms of 7-22 Å only, ``benchmarks/bench_segment_quality.py``).
        """
        trained = self.trained_voxel_range_ang()
        if trained is None or trained[0] <= voxel_size_ang <= trained[1]:
            return None
        return (
            f"note: {name} has voxels of {voxel_size_ang:.1f} Å, outside the {trained[0]:.1f}-{trained[1]:.1f} Å "
            "the model was trained on; check its segmentation, or fine-tune the model on annotations at this "
            "voxel size (`cryomem segment finetune`)"
        )


def as_segment_card(card: SegmentModelCard | Mapping[str, Any]) -> SegmentModelCard:
    """``card`` as a :class:`SegmentModelCard` (a plain dict card is validated)."""
    return card if isinstance(card, SegmentModelCard) else SegmentModelCard.model_validate(dict(card))
