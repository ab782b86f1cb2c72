"""The fine-tuning recipe of the MemBrain v2 paper ("Model Fine-tuning"), the defaults of `segment finetune`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FinetuneSettings(BaseModel):
    """Defaults of ``cryomem segment finetune`` on top of the starting model's recipe.

    The paper limits fine-tuning to 100 epochs at a learning rate of 1e-5 and validates on the
    original validation set as well, stopping when the performance there deviates too far from
    the starting model's. Patience and the share of original training patches are ours.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    learning_rate: float = Field(1e-5, gt=0.0, le=1.0)
    epochs: int = Field(100, ge=1, le=100)
    early_stop_tolerance: float | None = Field(0.05, ge=0.0, le=1.0)
    early_stopping_patience: int | None = Field(
        10, ge=1, le=100, description="epochs without a better validation Surface-Dice before fine-tuning stops"
    )
    keep_original: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="share of the starting model's training patches (its card's training.data_dir) mixed into "
        "the fine-tuning data; its validation patches are scored too (0: the user's data only)",
    )
