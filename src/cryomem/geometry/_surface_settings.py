"""The settings of the surface stage (``cryomem surface``, the instances and surfaces stages of ``cryomem run``).

One frozen, validated model owns each setting's default, range and description: the library
(:func:`cryomem.geometry.surfaces_from_files`, :func:`cryomem.geometry.membrane_surfaces`) reads its
defaults from it, the CLI builds it from its flags (defaults and help text read from here), and
:class:`cryomem.pipeline.RunConfig` composes it. It imports nothing but pydantic, so the CLI can read
it without loading the rest of the package.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_MIN_VOXELS", "SurfaceSettings"]


class SurfaceSettings(BaseModel):
    """Membrane instances and surfaces (:func:`cryomem.geometry.surfaces_from_files`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_voxels: int = Field(1000, ge=1, description="smallest connected membrane kept, voxels")
    spacing_ang: float | None = Field(None, gt=0.0, description="target vertex spacing, Å (None: 1.5 voxels)")
    smoothing_sigma_vox: float = Field(
        1.0, ge=0.0, description="Gaussian sigma, voxels, applied to each membrane mask before meshing"
    )
    feature_lowpass_ang: float = Field(
        15.0,  # why 15 Å: DEFAULT_FEATURE_LOWPASS_ANG in cryomem.geometry._sampling
        ge=0.0,
        description="Gaussian low-pass (sigma, Å) of the tomogram before sampling the density profiles "
        "(0: raw densities); a picking model accepts only surfaces built with its own value",
    )


DEFAULT_MIN_VOXELS = SurfaceSettings().min_voxels
"""Smallest connected membrane kept, voxels (for callers that must not load the surface code)."""
