"""Validated, frozen settings of a ``cryomem stats`` run (saved in its JSON summary)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cryomem.stats._edges import EdgeSettings

__all__ = ["ANALYSES", "StatsConfig"]

ANALYSES = ("concentration", "neighbours", "ripley", "orientation", "edges", "chains")
Classes = tuple[int, ...] | None


class StatsConfig(BaseModel):
    """Every setting of the statistics; lengths in nm unless the name says otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voxel_size_ang: float | None = Field(None, gt=0, description="voxel size of STAR pixel coordinates / voxel meshes")
    mesh_unit: Literal["ang", "voxel"] = Field("ang", description="unit of .obj/.ply/.vtp vertex coordinates")
    mesh_tolerance_nm: float = Field(10.0, gt=0, description="largest particle-to-mesh distance accepted")
    method: Literal["heat", "exact"] = Field("heat", description="geodesic distance method")
    classes: Classes = Field(None, description="classes counted for concentration and edges (None = all)")
    start_classes: Classes = Field(None, description="classes of start particles (None = all)")
    target_classes: Classes = Field(None, description="classes of target particles (None = all)")
    side: Literal["both", "half", "single"] = Field("both", description="membrane sides counted in the area")
    exclude_edges_nm: float | None = Field(None, ge=0, description="band around edges left out")
    edge_smoothing_radius_nm: float = Field(2.0, gt=0)
    edge_top_fraction: float = Field(0.05, gt=0, le=1)
    edge_bend_radius_nm: float = Field(10.0, gt=0)
    edge_bin_nm: float = Field(5.0, gt=0, description="band width for concentration vs distance to the edge")
    edge_max_nm: float = Field(50.0, gt=0, description="largest distance to the edge binned")
    k: int = Field(1, ge=1, le=100, description="nearest neighbours per particle")
    bin_size_nm: float = Field(2.0, gt=0, description="Ripley radius bin (ring width)")
    max_radius_nm: float = Field(50.0, gt=0, description="largest Ripley radius")
    n_simulations: int = Field(20, ge=0, le=1000, description="CSR simulations for Ripley envelopes")
    pool_factor: int = Field(4, ge=2, le=100, description="CSR pool size per membrane, times its particles")
    seed: int = Field(0, ge=0)
    workers: int = Field(1, ge=1, le=256, description="processes for Ripley's geodesic searches (same result)")
    orientation_k: int = Field(3, ge=1, le=20, description="neighbours compared for in-plane angles and chains")
    angle_bin_deg: float = Field(10.0, gt=0, le=180)
    chain_distance_nm: float = Field(40.0, gt=0)
    chain_inplane_deg: float = Field(60.0, gt=0, le=180)
    chain_turn_deg: float = Field(80.0, gt=0, le=180)
    chain_min_length: int = Field(3, ge=2)

    @model_validator(mode="after")
    def _consistent(self) -> StatsConfig:
        if self.max_radius_nm < self.bin_size_nm:
            raise ValueError(
                f"max_radius_nm (--max-radius-nm) {self.max_radius_nm:g} nm must be at least one bin "
                f"(--bin-size-nm {self.bin_size_nm:g} nm)"
            )
        if self.edge_max_nm < self.edge_bin_nm:
            raise ValueError(
                f"edge_max_nm (--max-nm) {self.edge_max_nm:g} nm must be at least one bin "
                f"(--bin-nm {self.edge_bin_nm:g} nm)"
            )
        if self.side == "single" and self.exclude_edges_nm is None:
            raise ValueError(
                "side 'single' isolates one side by removing a band around the edges: give exclude_edges_nm "
                "(--exclude-edges-nm) too"
            )
        if self.mesh_unit == "voxel" and self.voxel_size_ang is None:
            raise ValueError(
                "mesh_unit 'voxel' (--mesh-unit voxel) needs voxel_size_ang (--voxel-size) to convert meshes to Å"
            )
        return self

    @property
    def edges(self) -> EdgeSettings:
        return EdgeSettings(self.edge_smoothing_radius_nm, self.edge_top_fraction, self.edge_bend_radius_nm)
