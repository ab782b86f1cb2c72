"""The settings of particle picking (``cryomem pick predict``, the pick stage of ``cryomem run``).

One frozen, validated model owns each setting's default, range and description: the library
(:func:`cryomem.pick.predict_membranes`) reads its defaults from it, the CLI builds it from its flags
(defaults and help text read from here), and :class:`cryomem.pipeline.RunConfig` composes it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = ["PickSettings"]


class PickSettings(BaseModel):
    """Particle picking (:func:`cryomem.pick.predict_membranes`); skipped without a model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Path | tuple[Path, ...] | None = Field(
        None,
        description="picking model file, or a list of them for an ensemble (predicted distances averaged); "
        "None: no picking, no statistics",
    )
    tta: bool = Field(True, description="average 5 feature windows shifted along the normal")
    bandwidth_ang: float | None = Field(
        None,
        description="mean-shift bandwidth, Å (None: the model card's calibrated one, else 0.5 x its max distance)",
    )
    seed_threshold_ang: float | None = Field(
        None,
        description="predicted distance, Å, below which vertices seed the mean shift (None: the model card's "
        "calibrated one, else 0.5 x its max distance)",
    )
    seed: int = Field(0, ge=0, description="seed of the random in-plane angles")

    @field_validator("bandwidth_ang", "seed_threshold_ang")
    @classmethod
    def _positive_distance(cls, value: float | None, info: ValidationInfo) -> float | None:
        """A distance > 0 Å (NaN and inf refused), with the message of :func:`cryomem.pick.predict_membranes`."""
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{info.field_name} must be a positive distance in Å, got {value}")
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _one_or_several(cls, value: object) -> object:
        """Paths of one model or an ensemble; a list of one model is that model (same fingerprint as before)."""
        if value is None:
            return None
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise ValueError(
                "an empty list of picking models; give a model file, a list of them for an ensemble, "
                "or leave pick.model out to stop after the surfaces"
            )
        if not all(isinstance(item, (str, os.PathLike)) for item in items):
            raise ValueError(f"must be a picking model file or a list of them, got {value!r}")
        paths = tuple(Path(item) for item in items)
        return paths[0] if len(paths) == 1 else paths

    @property
    def model_paths(self) -> tuple[Path, ...]:
        """The picking model files: none, one, or the members of an ensemble."""
        if self.model is None:
            return ()
        return self.model if isinstance(self.model, tuple) else (self.model,)
