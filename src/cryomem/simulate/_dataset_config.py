"""The settings of a training-set simulation (``cryomem simulate dataset``) and the draw of each tomogram's.

Kept apart from :mod:`cryomem.simulate._dataset` (which simulates and writes) so that the CLI can read
the defaults for its help text without importing the simulator.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator, model_validator

from cryomem.simulate._config import Range, SimulationConfig, _check_range, _Frozen, merge_config

__all__ = ["Choice", "DatasetConfig", "Varied", "tomogram_config"]


class Choice(_Frozen):
    """One of several values, drawn with equal probability (``{choices: [wbp, sirt]}`` in YAML)."""

    choices: tuple[bool | int | float | str, ...] = Field(..., min_length=1)


Varied = tuple[float, float] | Choice


class DatasetConfig(_Frozen):
    """Ranges the tomograms of a training set are drawn from (uniformly, per tomogram)."""

    n_tomograms: int = Field(8, ge=1, le=10000)
    val_fraction: float = Field(0.25, ge=0.0, lt=1.0)
    seed: int = Field(0, ge=0)
    shape_zyx: tuple[int, int, int] = (96, 192, 192)
    patch_size: int = Field(64, ge=16, le=512)
    patches_per_tomogram: int = Field(4, ge=1, le=1000)
    membrane_patch_fraction: float = Field(0.8, ge=0.0, le=1.0, description="patches centred on a membrane voxel")
    ignore_shell_voxels: int = Field(1, ge=0, le=10)
    ignore_border_voxels: int = Field(2, ge=0, le=32)
    keep_tomograms: bool = False
    voxel_size_ang: Range = (8.0, 20.0)
    snr: Range = (0.15, 1.5)
    tilt_max_deg: Range = (40.0, 70.0)
    defocus_um: Range = (1.5, 6.0)
    thickness_nm: Range = (3.5, 5.0)
    membrane_occupancy: Range = (0.01, 0.05)
    membrane_protein_occupancy: Range = (0.0, 0.4)
    cytosolic_occupancy: Range = (0.0, 0.06)
    vary: dict[str, Varied] = Field(
        default_factory=dict,
        description="any other setting drawn per tomogram, by its dotted name: [low, high] (integers when both "
        "are integers) or {choices: [...]}; e.g. cytosol.microtubules: [0, 4], microscope.phase_flip: {choices: "
        "[true, false]}",
    )
    base: SimulationConfig = SimulationConfig()

    @field_validator("voxel_size_ang", "snr", "tilt_max_deg", "defocus_um", "thickness_nm")
    @classmethod
    def _positive(cls, v: Range, info) -> Range:
        limits = {"tilt_max_deg": (1.0, 89.0), "thickness_nm": (1.0, 10.0)}.get(info.field_name, (1e-6, 1e4))
        return _check_range(v, info.field_name, *limits)

    @field_validator("membrane_occupancy", "membrane_protein_occupancy", "cytosolic_occupancy")
    @classmethod
    def _fraction(cls, v: Range, info) -> Range:
        return _check_range(v, info.field_name, 0.0, 0.6)

    @model_validator(mode="after")
    def _patch_fits(self) -> DatasetConfig:
        if self.patch_size > min(self.shape_zyx):
            raise ValueError(
                f"patch_size {self.patch_size} is larger than the tomogram shape {self.shape_zyx}; "
                "use a smaller patch or a larger shape"
            )
        if 2 * self.ignore_border_voxels >= self.patch_size:
            raise ValueError("ignore_border_voxels leaves no labelled voxel in a patch; lower it")
        for key, value in self.vary.items():
            if not isinstance(value, Choice) and value[0] > value[1]:
                raise ValueError(f"vary.{key}: low {value[0]} is above high {value[1]}")
        if self.vary:
            tomogram_config(self, 0)  # every varied name must be a setting, every value valid
        return self


def tomogram_config(config: DatasetConfig, index: int) -> SimulationConfig:
    """The simulation settings of tomogram ``index``, drawn from the dataset's ranges."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, index]))

    def draw(r: Range) -> float:
        return float(rng.uniform(r[0], r[1]))

    config_fixed = merge_config(
        config.base,
        shape_zyx=config.shape_zyx,
        seed=int(rng.integers(2**31)),
        voxel_size_ang=draw(config.voxel_size_ang),
        **{
            "microscope.snr": draw(config.snr),
            "microscope.tilt_min_deg": -draw(config.tilt_max_deg),
            "microscope.tilt_max_deg": draw(config.tilt_max_deg),
            "microscope.defocus_um": draw(config.defocus_um),
            "membranes.thickness_nm": config.thickness_nm,
            "membranes.occupancy": draw(config.membrane_occupancy),
            "membrane_proteins.occupancy": draw(config.membrane_protein_occupancy),
            "cytosol.occupancy": draw(config.cytosolic_occupancy),
        },
    )
    if not config.vary:
        return config_fixed
    current = config_fixed.model_dump()
    varied = {}
    for key in sorted(config.vary):  # drawn after the fixed ranges, in name order
        value = config.vary[key]
        node = current
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(value, Choice):
            varied[key] = value.choices[int(rng.integers(len(value.choices)))]
        elif isinstance(node, int) and not isinstance(node, bool):  # a count: whole numbers from low to high
            varied[key] = int(rng.integers(round(value[0]), round(value[1]) + 1))
        else:
            varied[key] = draw(value)
    try:
        return merge_config(config_fixed, **varied)
    except (KeyError, ValueError) as err:
        raise ValueError(f"dataset setting vary: {err}") from None
