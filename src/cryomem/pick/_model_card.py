"""The card of a picking model: the features it reads, what its output means, how it was trained.

The card owns the checks of whether a membrane surface (or a run's surface settings) can feed the
model: the window along the normal and the feature low-pass it was trained with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryomem.io import CardSection, MembraneSurface, ModelCard
from cryomem.pick._dataset import check_feature_lowpass, window_columns

__all__ = ["PickCalibration", "PickModelCard", "PickTraining", "as_pick_card"]

_LOWPASS_TOLERANCE_ANG = 1e-3


class PickTraining(CardSection):
    """How a picking model was trained (the card's ``training``).

    Attributes
    ----------
    membranes, validation_membranes : list of str
        Membrane files trained and validated on.
    particles, validation_particles : int or None
        Annotated particles on them.
    vertices : int or None
        Training vertices.
    voxel_sizes_ang : list of float
        Voxel sizes of the training data, Å.
    epochs_done : int or None
        Epochs trained.
    config : dict
        The training recipe (:class:`cryomem.pick.PickTrainConfig` as JSON).
    """

    membranes: list[str] = []
    validation_membranes: list[str] = []
    particles: int | None = None
    validation_particles: int | None = None
    vertices: int | None = None
    voxel_sizes_ang: list[float] = []
    epochs_done: int | None = None
    config: dict[str, Any] = {}


class PickCalibration(CardSection):
    """Mean-shift settings chosen on the validation membranes (the card's ``calibration``).

    Attributes
    ----------
    bandwidth_ang, seed_threshold_ang : float
        The chosen mean-shift bandwidth and seed threshold, Å.
    f1_one_to_one, f1, precision, recall : float or None
        Their scores on the validation membranes.
    radius_nm : float or None
        Matching radius of those scores, nm.
    n_true : int or None
        Annotated particles they were scored against.
    rule : str
        How the settings were chosen.
    sweep : list of dict
        Every setting tried, with its scores.
    """

    bandwidth_ang: float
    seed_threshold_ang: float
    f1_one_to_one: float | None = None
    f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    radius_nm: float | None = None
    n_true: int | None = None
    rule: str = ""
    sweep: list[dict[str, Any]] = []


class PickModelCard(ModelCard):
    """Typed card of a picking-model file (:func:`cryomem.pick.load_pick_model`).

    Attributes
    ----------
    window_offsets_ang : list of float
        Offsets along the normal (Å, evenly spaced) of the density window the model reads per vertex.
    max_distance_ang : float
        Distance scale of the output: the network predicts distance / ``max_distance_ang``, clipped at 1.
    k_eig : int
        Laplacian eigenpairs per patch.
    patch_vertices : int, default 2000
        Vertices per geodesic patch at inference.
    patch_overlap : float, default 0.3
        Overlap of neighbouring patches.
    feature_lowpass_ang : float, default 0.0
        Low-pass of the training surfaces' density features, Å (0: none, the cards of older models).
    feature_step_ang, voxel_size_ang : float or None
        Step of the window and median voxel size of the training data, Å.
    architecture : dict
        Keyword arguments of :class:`cryomem.pick.DiffusionNetConfig`.
    training : PickTraining
        Training membranes, particles and configuration.
    validation : dict of str to float
        Validation loss and RMSE (Å).
    calibration : PickCalibration or None
        Mean-shift settings chosen on the validation membranes, if any.

    Other keys (``task``, ``normalisation``, ``output``, ``units``, ``target_sides``, ``code_version``...)
    are kept as they are.
    """

    window_offsets_ang: list[float]
    max_distance_ang: float
    k_eig: int
    patch_vertices: int = 2000
    patch_overlap: float = 0.3
    feature_lowpass_ang: float = 0.0
    feature_step_ang: float | None = None
    voxel_size_ang: float | None = None
    architecture: dict[str, Any] = {}
    parameter_count: int | None = None
    training: PickTraining = PickTraining()
    validation: dict[str, float] = {}
    calibration: PickCalibration | None = None

    def check_surface(self, surface: MembraneSurface, *, where: str, shifts: Sequence[int] = (0,)) -> None:
        """Refuse a membrane surface whose features cannot feed the model.

        Raises
        ------
        ValueError
            The surface has no features, its feature offsets cannot provide the window at every
            shift in ``shifts`` (whole window steps), or they were low-passed otherwise than the
            model's training surfaces.
        """
        for shift in shifts:
            window_columns(surface.feature_offsets_ang, self.window_offsets_ang, shift_samples=shift, where=where)
        check_feature_lowpass(surface, self.feature_lowpass_ang, where=where)

    def check_feature_lowpass_setting(self, feature_lowpass_ang: float, *, model_name: str) -> None:
        """Refuse a run that would build surfaces with another feature low-pass (Å) than the model was trained on."""
        trained = self.feature_lowpass_ang
        if abs(trained - feature_lowpass_ang) > _LOWPASS_TOLERANCE_ANG:
            raise ValueError(
                f"pick model {model_name} was trained on surfaces with a {trained:g} Å feature "
                f"low-pass but the run builds them with {feature_lowpass_ang:g} Å; set "
                f"surfaces.feature_lowpass_ang: {trained:g} in the run config"
            )


def as_pick_card(card: PickModelCard | Mapping[str, Any]) -> PickModelCard:
    """``card`` as a :class:`PickModelCard` (a plain dict card is validated)."""
    return card if isinstance(card, PickModelCard) else PickModelCard.model_validate(dict(card))
