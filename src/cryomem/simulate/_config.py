"""Validated, frozen configuration of the simulator.

Every length carries its unit in its name (``_nm``, ``_ang``, ``_um``); ranges are ``(low, high)``
pairs from which a value is drawn uniformly per object. A configuration is saved next to whatever
it produced, so a tomogram can always be regenerated from its JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Range = tuple[float, float]

MEMBRANE_KINDS = ("sphere", "ellipsoid", "torus", "sheet", "stack", "double")
MembraneKind = Literal["sphere", "ellipsoid", "torus", "sheet", "stack", "double"]
MIN_AXIS_VOXELS = 32


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_range(value: Range, name: str, low: float, high: float) -> Range:
    lo, hi = value
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name} must satisfy {low} <= low <= high <= {high}, got {value}")
    return value


class MembraneConfig(_Frozen):
    """Which membranes, how many, and their bilayer profile."""

    occupancy: float = Field(0.04, ge=0.0, le=0.3, description="target fraction of the volume labelled membrane")
    max_count: int = Field(40, ge=0, le=500, description="never more membranes than this")
    kinds: dict[MembraneKind, float] = Field(
        default_factory=lambda: {
            "sphere": 3.0,
            "ellipsoid": 2.0,
            "torus": 1.0,
            "sheet": 1.0,
            "stack": 1.0,
            "double": 1.0,
        },
        description="relative weight of each membrane kind",
    )
    radius_nm: Range = Field((25.0, 110.0), description="vesicle radius / ellipsoid semi-axis / torus major radius")
    sheet_radius_nm: Range = Field((150.0, 600.0), description="radius of curvature of open sheets")
    sheet_extent_nm: Range = Field((80.0, 300.0), description="arc radius of open sheets along the surface")
    stack_count: tuple[int, int] = Field((2, 4), description="sheets per thylakoid-like stack")
    stack_spacing_nm: Range = Field((10.0, 20.0), description="mid-surface spacing of stacked sheets")
    double_spacing_nm: Range = Field((10.0, 30.0), description="mid-surface spacing of double membranes")
    thickness_nm: Range = Field((3.5, 5.0), description="leaflet centre-to-centre distance of the bilayer")
    leaflet_sigma_nm: Range = Field((0.5, 0.9), description="Gaussian width of each leaflet")
    min_gap_nm: float = Field(4.0, ge=0.0, description="free space kept between two membranes")
    density: float = Field(1.0, gt=0.0, description="peak leaflet density (protein = 1)")
    max_failures: int = Field(200, ge=1, description="stop after this many consecutive failed insertions")

    @field_validator("radius_nm", "sheet_radius_nm", "sheet_extent_nm", "stack_spacing_nm", "double_spacing_nm")
    @classmethod
    def _positive_range(cls, v: Range, info) -> Range:
        return _check_range(v, info.field_name, 1.0, 1e5)

    @field_validator("thickness_nm")
    @classmethod
    def _thickness(cls, v: Range) -> Range:
        return _check_range(v, "thickness_nm", 1.0, 10.0)

    @field_validator("leaflet_sigma_nm")
    @classmethod
    def _sigma(cls, v: Range) -> Range:
        return _check_range(v, "leaflet_sigma_nm", 0.1, 3.0)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: dict) -> dict:
        if any(w < 0 for w in v.values()) or (v and sum(v.values()) <= 0):
            raise ValueError(f"kinds weights must be >= 0 with a positive sum, got {v}")
        return v


class MembraneProteinConfig(_Frozen):
    """Proteins embedded in the membranes."""

    occupancy: float = Field(0.15, ge=0.0, le=0.6, description="target fraction of membrane area covered by footprints")
    concentration_per_um2: float | None = Field(
        None, ge=0.0, le=5000.0, description="target proteins per µm² of membrane (overrides occupancy)"
    )
    classes: tuple[str, ...] | None = Field(None, description="procedural template names (None = all)")
    template_files: tuple[Path, ...] = Field((), description="user MRC templates (z = membrane normal)")
    clustered_fraction: float = Field(0.3, ge=0.0, le=1.0, description="fraction of proteins placed in SAWLC clusters")
    cluster_size: tuple[int, int] = Field((4, 20), description="proteins per cluster")
    max_failures: int = Field(300, ge=1, description="stop after this many consecutive failed insertions")


class CytosolConfig(_Frozen):
    """Soluble distractors: cytosolic proteins (ribosome-like in clusters) and filaments."""

    occupancy: float = Field(0.03, ge=0.0, le=0.4, description="target volume fraction of cytosolic proteins")
    classes: tuple[str, ...] | None = Field(None, description="procedural template names (None = all)")
    ribosome_cluster_size: tuple[int, int] = Field((3, 12), description="ribosomes per polysome-like cluster")
    microtubules: int = Field(1, ge=0, le=50)
    actin_filaments: int = Field(3, ge=0, le=200)
    max_failures: int = Field(300, ge=1, description="stop after this many consecutive failed insertions")


class MicroscopeConfig(_Frozen):
    """Tilt series acquisition and reconstruction."""

    tilt_min_deg: float = Field(-60.0, ge=-89.0, le=0.0)
    tilt_max_deg: float = Field(60.0, ge=0.0, le=89.0)
    tilt_step_deg: float = Field(3.0, gt=0.0, le=30.0)
    defocus_um: float = Field(3.0, gt=0.0, le=15.0, description="underfocus, positive")
    voltage_kv: float = Field(300.0, gt=0.0)
    cs_mm: float = Field(2.7, ge=0.0)
    amplitude_contrast: float = Field(0.07, ge=0.0, le=1.0)
    phase_flip: bool = True
    snr: float = Field(0.5, gt=0.0, le=1000.0, description="signal-to-noise ratio of each tilt image")
    misalignment_px: float = Field(0.5, ge=0.0, le=20.0, description="per-tilt random shift, standard deviation")


class SimulationConfig(_Frozen):
    """Everything that defines one synthetic tomogram; same config, same files."""

    shape_zyx: tuple[int, int, int] = (96, 256, 256)
    voxel_size_ang: float = Field(10.0, gt=0.0, le=100.0)
    seed: int = Field(0, ge=0)
    membranes: MembraneConfig = MembraneConfig()
    membrane_proteins: MembraneProteinConfig = MembraneProteinConfig()
    cytosol: CytosolConfig = CytosolConfig()
    microscope: MicroscopeConfig = MicroscopeConfig()

    @field_validator("shape_zyx")
    @classmethod
    def _shape(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(v) < MIN_AXIS_VOXELS:
            raise ValueError(
                f"shape_zyx {v} is too small: every axis needs >= {MIN_AXIS_VOXELS} voxels to hold a membrane "
                "with its proteins; enlarge the shape"
            )
        if v[0] * v[1] * v[2] > 2_000_000_000:
            raise ValueError(f"shape_zyx {v} has more than 2e9 voxels; simulate smaller tomograms")
        return v

    @model_validator(mode="after")
    def _membrane_fits(self) -> SimulationConfig:
        extent_nm = [n * self.voxel_size_ang / 10.0 for n in self.shape_zyx]
        bilayer_nm = self.membranes.thickness_nm[0] + 4 * self.membranes.leaflet_sigma_nm[0]
        if min(extent_nm) < 4 * bilayer_nm:
            raise ValueError(
                f"the volume ({' x '.join(f'{e:.0f}' for e in extent_nm)} nm) is smaller than one membrane with its "
                "surroundings; enlarge shape_zyx or voxel_size_ang"
            )
        if self.cytosol.occupancy > 0 and self.membranes.occupancy + self.cytosol.occupancy > 0.5:
            raise ValueError(
                f"membrane occupancy {self.membranes.occupancy:g} plus cytosolic occupancy "
                f"{self.cytosol.occupancy:g} exceeds half the volume and cannot fit; lower one of them"
            )
        if self.microscope.tilt_min_deg >= self.microscope.tilt_max_deg:
            raise ValueError("microscope.tilt_min_deg must be below tilt_max_deg")
        return self


def load_config(path: Path | str, **overrides: object) -> SimulationConfig:
    """Read a YAML (or JSON) simulation config and apply top-level overrides.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is not valid YAML or holds unknown or out-of-range settings.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist; pass an existing YAML file to --config")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of settings, got {type(data).__name__}")
    return merge_config(SimulationConfig.model_validate(data), **overrides)


def merge_config(config: SimulationConfig, **overrides: object) -> SimulationConfig:
    """Return a copy of ``config`` with dotted overrides (``membranes.occupancy=0.05``) applied and validated."""
    data = config.model_dump()
    for key, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        if leaf not in node:
            raise ValueError(f"unknown setting {key!r}")
        node[leaf] = value
    return SimulationConfig.model_validate(data)
