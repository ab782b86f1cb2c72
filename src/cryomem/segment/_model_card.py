"""The card of a segmentation model: what it expects, what it was trained on, how it scored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from cryomem.io import CardSection, ModelCard

__all__ = ["SegmentModelCard", "SegmentTraining", "as_segment_card"]


class SegmentTraining(CardSection):
    """How a segmentation model was trained (the card's ``training``).

    Attributes
    ----------
    data_dir : str or None
        The training-data folder.
    training_patches, validation_patches : int or None
        Patches trained and validated on.
    voxel_size_range_ang : list of two floats or None
        Smallest and largest voxel size of the training patches, Å (a fine-tuned model's range
        includes its starting model's).
    dataset_config : dict or None
        Settings of the ``cryomem simulate dataset`` run, for models older than ``voxel_size_range_ang``.
    config : dict
        The training recipe (:class:`cryomem.segment.TrainConfig` as JSON).
    epochs_done : int or None
        Epochs trained.
    selected : str
        Which epoch's weights were kept and why.
    data_parallel_processes : int or None
        Processes of a data-parallel run.
    fine_tuned_from : str or None
        Name of the starting model of a fine-tuning run.
    starting_model_validation : dict or None
        The starting model's validation scores, measured before fine-tuning.

    Other keys (``dataset_seed``, ``stages``...) are kept as they are.
    """

    data_dir: str | None = None
    training_patches: int | None = None
    validation_patches: int | None = None
    voxel_size_range_ang: list[float] | None = None
    dataset_config: dict[str, Any] | None = None
    config: dict[str, Any] = {}
    epochs_done: int | None = None
    selected: str = ""
    data_parallel_processes: int | None = None
    fine_tuned_from: str | None = None
    starting_model_validation: dict[str, float] | None = None


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
    training : SegmentTraining
        Training data and run.
    validation : dict of str to float
        Validation scores (``dice``, ``surface_dice``).

    Other keys (``task``, ``normalisation``, ``output``, ``code_version``, ``created``, ``note``)
    are kept as they are.
    """

    voxel_size_ang: float | None = None
    inference_window: int | None = None
    architecture: dict[str, Any] = {}
    parameter_count: int | None = None
    name: str | None = None
    training: SegmentTraining = SegmentTraining()
    validation: dict[str, float] = {}

    @field_validator("training", mode="before")
    @classmethod
    def _no_training_record(cls, value: object) -> object:
        return {} if value is None else value

    @property
    def training_config(self) -> dict[str, Any]:
        """The training recipe (``training.config``), empty if the card does not say."""
        return dict(self.training.config)

    def trained_voxel_range_ang(self) -> tuple[float, float] | None:
        """Smallest and largest voxel size (Å) of the training data, or None if the card does not say.

        Read from ``training.voxel_size_range_ang`` (written by :func:`cryomem.segment.train`) or, for
        models trained on ``cryomem simulate dataset`` output before that field existed, from the
        dataset settings ``training.dataset_config.voxel_size_ang``.
        """
        training = self.training
        found = training.voxel_size_range_ang or (training.dataset_config or {}).get("voxel_size_ang")
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
