"""The settings of membrane segmentation (``cryomem segment``, the segment stage of ``cryomem run``).

One frozen, validated model owns each setting's default, range and description: the library
(:func:`cryomem.segment.segment_file`) reads its defaults from it, the CLI builds it from its flags
(defaults and help text read from here), and :class:`cryomem.pipeline.RunConfig` composes it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SegmentSettings"]


class SegmentSettings(BaseModel):
    """Membrane segmentation (:func:`cryomem.segment.segment_file`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Path | None = Field(None, description="segmentation model file (None: the shipped default model)")
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="membrane probability in [0, 1] above which a voxel is membrane"
    )
    tta: bool = Field(True, description="8-fold flip test-time augmentation (8x slower)")
    overlap: float = Field(
        0.25, ge=0.0, lt=1.0, description="overlap of the sliding windows, as a fraction of the model's window"
    )
    adaptive_windows: bool = Field(
        True,
        description="window sides chosen per axis (at most the model window's volume) to cover the tomogram "
        "with the fewest network voxels; false: cubic windows",
    )
    batch_size: int | None = Field(
        None,
        ge=1,
        le=256,
        description="windows per network call (default: 1 on the CPU, where more only costs memory; 4 on a GPU)",
    )
    sheet_filter: bool = Field(
        True,
        description="keep only sheet-like pieces (the sheet prior: drop filaments, protein clusters, specks); "
        "decisions in <stem>_sheet_filter.csv",
    )
