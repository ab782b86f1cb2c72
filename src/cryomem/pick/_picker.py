"""A loaded picking model (or an ensemble of them): networks, cards and device in one object.

The :class:`Picker` owns what every caller of a picking model needs: the ensemble checks (members
must mean the same distances from the same features), the check that a membrane surface can feed
every member, the calibrated mean-shift settings, and the per-vertex distance prediction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryomem.io import FractionProgress, MembraneSurface
from cryomem.pick._inference import predict_distances_ang
from cryomem.pick._model_card import PickCalibration, PickModelCard, as_pick_card
from cryomem.pick._model_file import load_pick_model

__all__ = ["Picker", "check_ensemble_cards"]

_ENSEMBLE_TOLERANCE_ANG = 1e-3


def check_ensemble_cards(names: Sequence[str], cards: Sequence[PickModelCard | Mapping[str, Any]]) -> None:
    """Refuse an ensemble whose models would not mean the same distances from the same features.

    Parameters
    ----------
    names : sequence of str
        The models' names (file names), for the message.
    cards : sequence of PickModelCard or dict
        Their model cards (:func:`cryomem.pick.read_pick_model_card`).

    Raises
    ------
    ValueError
        The models differ in ``max_distance_ang`` or ``feature_lowpass_ang``.
    """
    for key in ("max_distance_ang", "feature_lowpass_ang"):
        values = [float(getattr(as_pick_card(card), key)) for card in cards]
        if values and max(values) - min(values) > _ENSEMBLE_TOLERANCE_ANG:
            members = ", ".join(f"{name}: {value:g} Å" for name, value in zip(names, values, strict=True))
            raise ValueError(
                f"the picking models differ in {key} ({members}); an ensemble averages models trained "
                "with the same settings: retrain them alike or pass only those that match"
            )


@dataclass(frozen=True, eq=False)
class Picker:
    """One picking network, or an ensemble whose predicted distances are averaged per vertex.

    Attributes
    ----------
    networks : tuple of PickNet
        The members, in eval mode.
    cards : tuple of PickModelCard
        Their cards, in the same order; all share ``max_distance_ang`` and ``feature_lowpass_ang``.
    paths : tuple of pathlib.Path
        Their model files (recorded in the outputs), empty for networks built in memory.
    """

    networks: tuple
    cards: tuple[PickModelCard, ...]
    paths: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.networks or len(self.networks) != len(self.cards):
            raise ValueError("a Picker needs one card per network and at least one network")
        names = [p.name for p in self.paths] or [f"model {i + 1}" for i in range(len(self.cards))]
        check_ensemble_cards(names, self.cards)

    @classmethod
    def load(cls, paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], device: str = "cpu") -> Picker:
        """Load one model file or the members of an ensemble onto ``device``.

        Raises
        ------
        FileNotFoundError, ValueError
            No model given, a missing or foreign file (as :func:`cryomem.pick.load_pick_model`), or
            members trained with other distances or feature low-pass.
        """
        files = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
        if not files:
            raise ValueError("no model given; pass a model file from `cryomem pick train`")
        loaded = [load_pick_model(path, device=device) for path in files]
        return cls(tuple(n for n, _ in loaded), tuple(c for _, c in loaded), tuple(files))

    @property
    def max_distance_ang(self) -> float:
        """Distance scale of the output, Å: predictions lie in [0, max_distance_ang]."""
        return self.cards[0].max_distance_ang

    @property
    def calibration(self) -> PickCalibration | None:
        """Mean-shift settings calibrated on the validation membranes; None for an ensemble, whose
        averaged map is sharper than any one model's, and for models without them."""
        return self.cards[0].calibration if len(self.cards) == 1 else None

    def check_surface(self, surface: MembraneSurface, *, where: str, shifts: Sequence[int] = (0,)) -> None:
        """Refuse a surface that cannot feed every member (see :meth:`PickModelCard.check_surface`)."""
        for card in self.cards:
            card.check_surface(surface, where=where, shifts=shifts)

    def check_feature_lowpass_setting(self, feature_lowpass_ang: float) -> None:
        """Refuse a run that would build surfaces with another feature low-pass (Å) than the members saw."""
        names = [str(p) for p in self.paths] or [f"model {i + 1}" for i in range(len(self.cards))]
        for name, card in zip(names, self.cards, strict=True):
            card.check_feature_lowpass_setting(feature_lowpass_ang, model_name=name)

    def distances_ang(
        self,
        surface: MembraneSurface,
        *,
        tta_shifts: Sequence[int] = (0,),
        progress: FractionProgress | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> np.ndarray:
        """Predicted distance (Å, float32) from every vertex to the nearest particle, averaged over the members.

        See :func:`cryomem.pick.predict_distances_ang` for the shifts, progress and cache.
        """
        return np.mean(
            [
                predict_distances_ang(
                    network, card, surface, tta_shifts=tta_shifts, progress=progress, cache_dir=cache_dir
                )
                for network, card in zip(self.networks, self.cards, strict=True)
            ],
            axis=0,
        )
