"""Validated, frozen configuration of the simulator.

Every length carries its unit in its name (``_nm``, ``_ang``, ``_um``); ranges are ``(low, high)``
pairs from which a value is drawn uniformly per object. A configuration is saved next to whatever
it produced, so a tomogram can always be regenerated from its JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cryomem.io import read_yaml_mapping

Range = tuple[float, float]

MEMBRANE_KINDS = ("sphere", "ellipsoid", "torus", "sheet", "stack", "double", "small_vesicle")
MembraneKind = Literal["sphere", "ellipsoid", "torus", "sheet", "stack", "double", "small_vesicle"]
MIN_AXIS_VOXELS = 32
DistractorKind = Literal["pseudo_atomic", "symmetric", "cage", "ring", "rod"]


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
            "small_vesicle": 0.0,
        },
        description="relative weight of each membrane kind",
    )
    radius_nm: Range = Field((25.0, 110.0), description="vesicle radius / ellipsoid semi-axis / torus major radius")
    sheet_radius_nm: Range = Field((150.0, 600.0), description="radius of curvature of open sheets")
    sheet_extent_nm: Range = Field((80.0, 300.0), description="arc radius of open sheets along the surface")
    stack_count: tuple[int, int] = Field((2, 4), description="sheets per thylakoid-like stack")
    small_vesicle_radius_nm: Range = Field((15.0, 25.0), description="radius of small (synaptic-like) vesicles")
    stack_spacing_nm: Range = Field(
        (10.0, 20.0),
        description="mid-surface spacing of stacked sheets (>= 5 nm; raised where neighbouring bilayers would touch)",
    )
    double_spacing_nm: Range = Field((10.0, 30.0), description="mid-surface spacing of double membranes")
    thickness_nm: Range = Field((3.5, 5.0), description="leaflet centre-to-centre distance of the bilayer")
    leaflet_sigma_nm: Range = Field((0.5, 0.9), description="Gaussian width of each leaflet (the inner one)")
    leaflet_sigma_ratio: Range = Field((1.0, 1.0), description="outer-leaflet σ / inner-leaflet σ (1 = symmetric)")
    leaflet_peak_ratio: Range = Field(
        (1.0, 1.0), description="outer-leaflet peak / inner-leaflet peak; the stronger leaflet peaks at 1"
    )
    density_factor: Range = Field((1.0, 1.0), description="per-membrane contrast factor multiplying `density`")
    min_gap_nm: float = Field(4.0, ge=0.0, description="free space kept between two membranes")
    density: float = Field(1.0, gt=0.0, description="peak leaflet density (protein = 1)")
    max_failures: int = Field(200, ge=1, description="stop after this many consecutive failed insertions")

    @field_validator("radius_nm", "sheet_radius_nm", "sheet_extent_nm", "double_spacing_nm")
    @classmethod
    def _positive_range(cls, v: Range, info) -> Range:
        return _check_range(v, info.field_name, 1.0, 1e5)

    @field_validator("thickness_nm")
    @classmethod
    def _thickness(cls, v: Range) -> Range:
        return _check_range(v, "thickness_nm", 1.0, 10.0)

    @field_validator("small_vesicle_radius_nm")
    @classmethod
    def _small_vesicle(cls, v: Range) -> Range:
        return _check_range(v, "small_vesicle_radius_nm", 5.0, 100.0)

    @field_validator("stack_spacing_nm")
    @classmethod
    def _stack_spacing(cls, v: Range) -> Range:
        return _check_range(v, "stack_spacing_nm", 5.0, 1e3)

    @field_validator("leaflet_sigma_ratio")
    @classmethod
    def _sigma_ratio(cls, v: Range) -> Range:
        return _check_range(v, "leaflet_sigma_ratio", 0.3, 3.0)

    @field_validator("leaflet_peak_ratio")
    @classmethod
    def _peak_ratio(cls, v: Range) -> Range:
        return _check_range(v, "leaflet_peak_ratio", 0.2, 5.0)

    @field_validator("density_factor")
    @classmethod
    def _density_factor(cls, v: Range) -> Range:
        return _check_range(v, "density_factor", 0.1, 5.0)

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
    atomic_model_files: tuple[Path, ...] = Field(
        (), description="user PDB/mmCIF models (z = membrane normal, mass centre on the mid-plane)"
    )
    clustered_fraction: float = Field(0.3, ge=0.0, le=1.0, description="fraction of proteins placed in SAWLC clusters")
    cluster_size: tuple[int, int] = Field((4, 20), description="proteins per cluster")
    max_failures: int = Field(300, ge=1, description="stop after this many consecutive failed insertions")


class CytosolConfig(_Frozen):
    """Soluble distractors: cytosolic proteins (ribosome-like in clusters) and filaments."""

    occupancy: float = Field(0.03, ge=0.0, le=0.4, description="target volume fraction of cytosolic proteins")
    classes: tuple[str, ...] | None = Field(None, description="procedural template names (None = all)")
    ribosome_cluster_size: tuple[int, int] = Field((3, 12), description="ribosomes per polysome-like cluster")
    atomic_model_files: tuple[Path, ...] = Field((), description="user PDB/mmCIF models of cytosolic proteins")
    procedural_classes: int = Field(
        6, ge=0, le=50, description="random distractor templates generated per tomogram (0 = off)"
    )
    procedural_size_nm: Range = Field((3.0, 40.0), description="size (max extent) of random distractors, log-uniform")
    procedural_kinds: dict[DistractorKind, float] = Field(
        default_factory=lambda: {"pseudo_atomic": 3.0, "symmetric": 2.0, "cage": 1.0, "ring": 1.0, "rod": 1.0},
        description="relative weight of each random distractor architecture",
    )
    cluster_fraction: float = Field(
        0.2, ge=0.0, le=1.0, description="fraction of non-ribosome cytosolic proteins placed in clusters"
    )
    cluster_size: tuple[int, int] = Field((2, 8), description="proteins per cluster of non-ribosome classes")
    microtubules: int = Field(1, ge=0, le=50)
    actin_filaments: int = Field(3, ge=0, le=200)
    # --- filament variety (see _filament_insert / _filament_network) ---
    microtubule_protofilaments: tuple[int, int] = Field(
        (13, 13), description="protofilaments per microtubule, 11-16; sets the diameter (13 -> 25 nm)"
    )
    actin_diameter_nm: Range = Field((7.0, 7.0), description="actin filament diameter, 5-9 nm")
    intermediate_filaments: int = Field(0, ge=0, le=200, description="smooth intermediate-filament-like rods")
    intermediate_diameter_nm: Range = Field((9.0, 11.0), description="intermediate filament diameter")
    filament_bundles: int = Field(0, ge=0, le=50, description="bundles of parallel actin filaments")
    bundle_size: tuple[int, int] = Field((3, 7), description="filaments per bundle (hexagonal packing)")
    bundle_spacing_nm: Range = Field(
        (8.0, 15.0), description="axis-to-axis distance of neighbouring bundled filaments (>= diameter + 1 nm)"
    )
    actin_networks: int = Field(0, ge=0, le=50, description="branched (Arp2/3-like) actin networks")
    network_branches: tuple[int, int] = Field((4, 12), description="daughter filaments per branched network")
    branch_angle_deg: Range = Field((63.0, 77.0), description="angle between mother and daughter filament")
    branch_length_nm: Range = Field((40.0, 200.0), description="length of each daughter filament")

    @field_validator("microtubule_protofilaments")
    @classmethod
    def _protofilaments(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, "microtubule_protofilaments", 11, 16)

    @field_validator("actin_diameter_nm")
    @classmethod
    def _actin_diameter(cls, v: Range) -> Range:
        return _check_range(v, "actin_diameter_nm", 4.0, 10.0)

    @field_validator("intermediate_diameter_nm")
    @classmethod
    def _intermediate_diameter(cls, v: Range) -> Range:
        return _check_range(v, "intermediate_diameter_nm", 6.0, 15.0)

    @field_validator("bundle_size")
    @classmethod
    def _bundle_size(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, "bundle_size", 2, 19)

    @field_validator("bundle_spacing_nm")
    @classmethod
    def _bundle_spacing(cls, v: Range) -> Range:
        return _check_range(v, "bundle_spacing_nm", 5.0, 40.0)

    @field_validator("network_branches")
    @classmethod
    def _network_branches(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, "network_branches", 1, 200)

    @field_validator("branch_angle_deg")
    @classmethod
    def _branch_angle(cls, v: Range) -> Range:
        return _check_range(v, "branch_angle_deg", 10.0, 90.0)

    @field_validator("branch_length_nm")
    @classmethod
    def _branch_length(cls, v: Range) -> Range:
        return _check_range(v, "branch_length_nm", 10.0, 5000.0)

    # --- end of filament variety ---
    max_failures: int = Field(300, ge=1, description="stop after this many consecutive failed insertions")

    @field_validator("procedural_size_nm")
    @classmethod
    def _procedural_size(cls, v: Range) -> Range:
        return _check_range(v, "procedural_size_nm", 2.0, 100.0)

    @field_validator("procedural_kinds")
    @classmethod
    def _procedural_kinds(cls, v: dict) -> dict:
        if any(w < 0 for w in v.values()) or (v and sum(v.values()) <= 0):
            raise ValueError(f"procedural_kinds weights must be >= 0 with a positive sum, got {v}")
        return v

    @field_validator("cluster_size")
    @classmethod
    def _cluster_size(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _check_range(v, "cluster_size", 1, 100)


class HardNegativeConfig(_Frozen):
    """Dense non-membrane objects: gold fiducials, ice contamination, carbon edges, dense granules.

    Counts are per tomogram (0 = none). Densities are relative to protein (= 1).
    """

    gold_fiducials: int = Field(0, ge=0, le=500, description="gold beads, half of them near the top/bottom surface")
    gold_diameter_nm: Range = Field((5.0, 15.0), description="gold bead diameter")
    gold_density: Range = Field((6.0, 10.0), description="gold density (protein = 1)")
    ice_crystals: int = Field(0, ge=0, le=50, description="faceted ice contaminants cut by the top/bottom surface")
    ice_size_nm: Range = Field((20.0, 60.0), description="ice crystal size (across the facets)")
    ice_density: Range = Field((1.5, 3.0), description="ice crystal density (protein = 1)")
    carbon_edges: int = Field(0, ge=0, le=3, description="carbon-film / lamella-edge slabs with an edge in view")
    carbon_thickness_nm: Range = Field((10.0, 30.0), description="slab thickness")
    carbon_density: Range = Field((0.6, 1.2), description="slab density (protein = 1)")
    granules: int = Field(0, ge=0, le=50, description="dense roundish granules")
    granule_diameter_nm: Range = Field((20.0, 80.0), description="granule diameter")
    granule_density: Range = Field((1.5, 3.0), description="granule density (protein = 1)")
    max_failures: int = Field(100, ge=1, description="tries per object before giving up on it")

    @field_validator("gold_diameter_nm", "ice_size_nm", "carbon_thickness_nm", "granule_diameter_nm")
    @classmethod
    def _size(cls, v: Range, info) -> Range:
        return _check_range(v, info.field_name, 1.0, 500.0)

    @field_validator("gold_density", "ice_density", "carbon_density", "granule_density")
    @classmethod
    def _density(cls, v: Range, info) -> Range:
        return _check_range(v, info.field_name, 0.05, 50.0)


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
    # --- imaging variety (defaults reproduce the plain WBP simulation) ---
    reconstruction: Literal["wbp", "sirt"] = Field("wbp", description="weighted back-projection or iterative SIRT")
    sirt_iterations: int = Field(10, ge=1, le=200, description="SIRT iterations (reconstruction: sirt)")
    defocus_gradient: bool = Field(False, description="defocus varies across each tilted image (x·sin tilt)")
    total_dose_e_per_ang2: float = Field(
        0.0, ge=0.0, le=500.0, description="total exposure of the series; 0 = no radiation damage (dose off)"
    )
    dose_split: Literal["uniform", "inverse_cosine"] = Field(
        "uniform", description="how the dose is split over tilts (inverse_cosine: more at high tilt)"
    )
    tilt_scheme: Literal["dose_symmetric", "sequential"] = Field(
        "dose_symmetric", description="acquisition order, which sets the accumulated dose of each tilt"
    )
    detector_mtf: bool = Field(False, description="blur images by a detector MTF sinc(f/2)·exp(-mtf_decay·f²)")
    mtf_decay: float = Field(0.5, ge=0.0, le=5.0, description="MTF exponential decay; f = fraction of Nyquist")
    noise_exponent: float = Field(
        0.0, ge=0.0, le=3.0, description="noise power ∝ 1/f^exponent: 0 white, 1 pink, 2 brown"
    )
    denoise: Literal["none", "lowpass", "diffusion"] = Field(
        "none", description="post-reconstruction smoothing that mimics denoised (cryoCARE/IsoNet-like) tomograms"
    )
    denoise_strength: float = Field(
        1.0, gt=0.0, le=5.0, description="lowpass: Gaussian σ in voxels; diffusion: 8 × strength steps"
    )


class SimulationConfig(_Frozen):
    """Everything that defines one synthetic tomogram; same config, same files."""

    shape_zyx: tuple[int, int, int] = (96, 256, 256)
    voxel_size_ang: float = Field(10.0, gt=0.0, le=100.0)
    seed: int = Field(0, ge=0)
    membranes: MembraneConfig = MembraneConfig()
    membrane_proteins: MembraneProteinConfig = MembraneProteinConfig()
    cytosol: CytosolConfig = CytosolConfig()
    hard_negatives: HardNegativeConfig = HardNegativeConfig()
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
    data = read_yaml_mapping(path)
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
