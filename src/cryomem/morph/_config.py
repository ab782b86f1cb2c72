"""Validated, frozen settings of a ``cryomem morph`` run (saved in its JSON summary)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MorphConfig"]


class MorphConfig(BaseModel):
    """Every setting of the morphometrics; lengths in nm unless the name says otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voxel_size_ang: float | None = Field(None, gt=0, description="voxel size of STAR pixel coordinates / voxel meshes")
    mesh_unit: Literal["ang", "voxel"] = Field("ang", description="unit of .obj/.ply/.vtp vertex coordinates")
    curvature_scale_nm: float = Field(8.0, gt=0, le=1000, description="radius of the surface fit for curvature")
    thickness_patch_radius_nm: float = Field(
        10.0, gt=0, le=1000, description="radius of the surface patch whose density profiles are averaged"
    )
    dark_membrane: bool = Field(True, description="membranes are darker than the background (not inverted)")
    defocus_um: float | None = Field(
        None, gt=0, le=20, description="underfocus of the tilt series, µm: fit leaflets through the CTF (no bias)"
    )
    phase_flipped: bool = Field(True, description="the tomogram was CTF-corrected (phase-flipped); with defocus_um")
    max_distance_nm: float = Field(50.0, gt=0, le=5000, description="longest ray cast for inter-membrane distances")
    particle_patch_radius_nm: float = Field(
        15.0, gt=0, le=1000, description="radius of the membrane patch around each particle"
    )
    particle_tolerance_nm: float = Field(
        15.0, gt=0, le=1000, description="largest particle-to-membrane distance accepted"
    )
    null_patches_per_particle: int = Field(
        10, ge=1, le=1000, description="random patches on the same membranes per particle (null model)"
    )
    seed: int = Field(0, ge=0, description="seed of the null model's random positions")
