"""Validated, frozen settings of a ``cryomem run`` (saved in the run's manifest).

Each stage owns its settings model (:class:`cryomem.segment.SegmentSettings`,
:class:`cryomem.geometry.SurfaceSettings`, :class:`cryomem.pick.PickSettings`,
:class:`cryomem.stats.StatsConfig`); :class:`RunConfig` only composes them. They are re-exported
here so ``from cryomem.pipeline import SegmentSettings`` keeps working.

Each stage reads only its own section; the manifest stores a hash of that section per stage, so
changing, say, the picking bandwidth re-runs picking and statistics but not segmentation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cryomem.geometry import DEFAULT_FEATURE_OFFSETS_ANG, SurfaceSettings
from cryomem.io import read_yaml_mapping
from cryomem.morph import MorphConfig
from cryomem.pick import PickSettings
from cryomem.segment import SegmentSettings
from cryomem.stats import ANALYSES, StatsConfig

__all__ = [
    "STAGES",
    "ClusterSettings",
    "MorphSettings",
    "PickSettings",
    "RunConfig",
    "SegmentSettings",
    "SlurmSettings",
    "StatsSettings",
    "SurfaceSettings",
    "load_run_config",
]

STAGES = ("segment", "instances", "surfaces", "pick", "stats", "morph")
"""Per-tomogram stages, in order; each reads the outputs of the ones before. Without a picking
model, pick and stats are left out; with ``morph.enabled`` false, morph."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatsSettings(_Frozen):
    """Statistics per tomogram and pooled over all of them (:func:`cryomem.stats.run_stats`)."""

    analyses: tuple[str, ...] = Field(
        ("concentration", "neighbours", "ripley", "orientation"), description="analyses per tomogram"
    )
    pooled_analyses: tuple[str, ...] = Field(
        ("concentration", "neighbours", "orientation"),
        description="analyses over all tomograms together (keep cheap ones for thousands of tomograms)",
    )
    config: StatsConfig = Field(
        StatsConfig(side="half"),
        description="statistics settings; side 'half' because meshes cover both faces of a membrane",
    )

    @field_validator("analyses", "pooled_analyses")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [a for a in value if a not in ANALYSES]
        if unknown or not value:
            raise ValueError(f"unknown or no analyses {unknown}; choose from {', '.join(ANALYSES)}")
        return value


class MorphSettings(_Frozen):
    """Membrane morphometrics per tomogram (:func:`cryomem.morph.run_morph`), with the picked particles
    when there is a picking model."""

    enabled: bool = Field(True, description="run the morph stage")
    config: MorphConfig = Field(MorphConfig(), description="morphometrics settings (voxel size: the run's)")


class SlurmSettings(_Frozen):
    """A SLURM cluster through dask-jobqueue (one worker process per job)."""

    jobs: int = Field(4, ge=1, le=10000, description="SLURM jobs, one dask worker each")
    cores: int = Field(8, ge=1, description="CPU cores per job")
    memory: str = Field("32GB", description="memory per job")
    gpus: int = Field(1, ge=0, le=16, description="GPUs per job (--gres=gpu:N)")
    walltime: str = Field("04:00:00", description="job time limit")
    queue: str | None = Field(None, description="partition")
    account: str | None = Field(None, description="account to charge")
    job_extra_directives: tuple[str, ...] = Field((), description="extra #SBATCH lines, e.g. '--constraint=a100'")


class ClusterSettings(_Frozen):
    """Where the tasks run; does not change any result, so it is not part of the stage hashes."""

    workers: int | None = Field(None, ge=1, description="local workers (None: one per GPU, else one per core)")
    scheduler: str | None = Field(None, description="address of a running dask scheduler to join")
    slurm: SlurmSettings | None = Field(None, description="start a SLURM cluster instead of a local one")
    processes: bool = Field(True, description="local workers as processes (False: threads of this process)")


class RunConfig(_Frozen):
    """Every setting of ``cryomem run``; the stage sections are hashed into the manifest."""

    voxel_size_ang: float | None = Field(
        None, gt=0.0, description="voxel size of every tomogram, Å (overrides headers)"
    )
    allow_mixed_voxel_sizes: bool = Field(False, description="process tomograms of different voxel sizes together")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="torch device of segment and pick")
    segment: SegmentSettings = SegmentSettings()
    surfaces: SurfaceSettings = SurfaceSettings()
    pick: PickSettings = PickSettings()
    stats: StatsSettings = StatsSettings()
    morph: MorphSettings = MorphSettings()
    cluster: ClusterSettings = ClusterSettings()

    def stage_settings(self, stage: str) -> dict:
        """The settings that define a stage's outputs, as JSON-ready data (paths resolved)."""
        data = self.model_dump(mode="json")
        voxel = {"voxel_size_ang": data["voxel_size_ang"]}
        if stage == "segment":
            section = {k: v for k, v in data["segment"].items() if k != "model"}
            return {**section, **voxel, "device": data["device"]}
        if stage == "instances":
            return {"min_voxels": data["surfaces"]["min_voxels"]}
        if stage == "surfaces":
            # the sampling along the normal is the code's, not a setting: a new default rebuilds old surfaces
            offsets = [round(float(v), 6) for v in DEFAULT_FEATURE_OFFSETS_ANG]
            return {**data["surfaces"], **voxel, "feature_offsets_ang": offsets}
        if stage == "pick":
            return {k: v for k, v in data["pick"].items() if k != "model"}
        if stage == "stats":
            return {"analyses": data["stats"]["analyses"], "config": data["stats"]["config"]}
        if stage == "morph":
            return {**data["morph"], **voxel, "with_particles": bool(self.pick.model_paths)}
        if stage == "pooled":
            return {"analyses": data["stats"]["pooled_analyses"], "config": data["stats"]["config"]}
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join((*STAGES, 'pooled'))}")

    def stages(self) -> tuple[str, ...]:
        """The per-tomogram stages this run executes, in order (see :data:`STAGES`)."""
        picked = STAGES if self.pick.model_paths else tuple(s for s in STAGES if s not in ("pick", "stats"))
        return tuple(s for s in picked if s != "morph" or self.morph.enabled)

    def upstream_stage(self, stage: str) -> str | None:
        """The stage whose outputs ``stage`` reads (its record's token decides whether it is fresh): the
        one before it, except morph, which reads the membranes (and the picks) and not the statistics."""
        stages = self.stages()
        if stage == "morph":
            return "pick" if "pick" in stages else "surfaces"
        index = stages.index(stage)
        return stages[index - 1] if index else None

    def settings_hash(self, stage: str) -> str:
        """Short SHA-256 of :meth:`stage_settings` (model files are tracked as inputs, not here)."""
        text = json.dumps(self.stage_settings(stage), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_run_config(path: str | Path | None = None, **overrides: object) -> RunConfig:
    """Read a YAML run config (or the defaults) and apply dotted overrides such as ``pick.model=...``.

    Overrides whose value is None are ignored, so CLI options left unset keep the file's values.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not valid YAML, not a mapping, or an unknown / out-of-range setting.
    """
    data: dict = {}
    if path is not None:
        data = read_yaml_mapping(path, "run config")
    for key, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"run config: {part} must be a mapping of settings")
        node[leaf] = value
    return RunConfig.model_validate(data)
