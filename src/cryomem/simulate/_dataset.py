"""Segmentation training data: many varied tomograms cut into labelled patches.

Layout (MemBrain-seg / nnU-Net style, one MRC per patch, same file name for image and label)::

    OUT/imagesTr/synth0003_p01.mrc   OUT/labelsTr/synth0003_p01.mrc
    OUT/imagesVal/...                OUT/labelsVal/...
    OUT/previews/synth0003.png       OUT/dataset.json
    OUT/tomograms/synth0003/...      (full tomograms with ground truth, if kept)

Labels: 0 background, 1 membrane, 2 ignore (a thin shell around each membrane, where the boundary
is ambiguous, and the patch border). Validation patches come from tomograms never used for training.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator, model_validator
from scipy import ndimage

import cryomem
from cryomem.io import TRAINING_SPLITS, atomic_directory, training_data_folders, write_mrc
from cryomem.simulate._config import Range, SimulationConfig, _check_range, _Frozen, merge_config
from cryomem.simulate._preview import write_preview
from cryomem.simulate._tomogram import simulate_tomogram
from cryomem.simulate._write import check_output_folder, write_simulated_tomogram

LABEL_IGNORE = 2


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


def training_labels(membrane_mask_zyx: np.ndarray, shell_voxels: int) -> np.ndarray:
    """0 background, 1 membrane, 2 ignore in a shell of ``shell_voxels`` around each membrane."""
    labels = membrane_mask_zyx.astype(np.uint8)
    if shell_voxels > 0:
        shell = ndimage.binary_dilation(membrane_mask_zyx, iterations=shell_voxels) & ~membrane_mask_zyx
        labels[shell] = LABEL_IGNORE
    return labels


def patch_origins(
    membrane_mask_zyx: np.ndarray, config: DatasetConfig, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """Corner voxels of the patches: most centred on a random membrane voxel, the rest anywhere."""
    size = config.patch_size
    limits = np.array(membrane_mask_zyx.shape) - size
    membrane_voxels = np.flatnonzero(membrane_mask_zyx)
    origins = []
    for _ in range(config.patches_per_tomogram):
        if len(membrane_voxels) and rng.random() < config.membrane_patch_fraction:
            centre = np.array(
                np.unravel_index(membrane_voxels[rng.integers(len(membrane_voxels))], membrane_mask_zyx.shape)
            )
            corner = np.clip(centre - size // 2, 0, limits)
        else:
            corner = np.array([rng.integers(0, lim + 1) for lim in limits])
        origins.append(tuple(int(c) for c in corner))
    return origins


def simulate_dataset(
    config: DatasetConfig,
    out_dir: Path,
    *,
    overwrite: bool = False,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Simulate ``config.n_tomograms`` tomograms and write training/validation patches into ``out_dir``.

    ``workers`` > 1 simulates tomograms in that many processes; every tomogram has its own seed, so the
    output does not depend on ``workers``. The folder appears only when complete. Returns the dataset
    summary (also saved as dataset.json).
    """
    out_dir = Path(out_dir)
    check_output_folder(out_dir, None, overwrite=overwrite)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    order = np.random.default_rng(config.seed).permutation(config.n_tomograms)
    n_val = int(round(config.val_fraction * config.n_tomograms))
    validation = set(order[:n_val].tolist())
    summary: dict = {
        "cryomem_version": cryomem.__version__,
        "labels": {"0": "background", "1": "membrane", "2": "ignore"},
        "config": config.model_dump(mode="json"),
        "tomograms": [],
    }
    with atomic_directory(out_dir, overwrite=True) as tmp:
        tmp = Path(tmp)
        for split in TRAINING_SPLITS:
            for folder in training_data_folders(tmp, split):
                folder.mkdir()
        (tmp / "previews").mkdir()
        jobs = [(config, index, index in validation, tmp) for index in range(config.n_tomograms)]
        if workers == 1:
            results = map(_write_tomogram_patches, *zip(*jobs))
            entries = []
            for done, entry in enumerate(results, start=1):
                entries.append(entry)
                if progress:
                    progress(done, config.n_tomograms)
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed
            from multiprocessing import get_context

            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_write_tomogram_patches, *job) for job in jobs]
                for done, future in enumerate(as_completed(futures), start=1):
                    future.result()
                    if progress:
                        progress(done, config.n_tomograms)
            entries = [future.result() for future in futures]
        summary["tomograms"] = entries
        (tmp / "dataset.json").write_text(json.dumps(summary, indent=2))
    return summary


def _write_tomogram_patches(config: DatasetConfig, index: int, is_validation: bool, tmp: Path) -> dict:
    """Simulate tomogram ``index`` of the dataset, write its patches and preview, return its summary entry."""
    name = f"synth{index:04d}"
    sim_config = tomogram_config(config, index)
    sim = simulate_tomogram(sim_config)
    split = "Val" if is_validation else "Tr"
    mask = sim.phantom.membrane_ids_zyx > 0
    labels = training_labels(mask, config.ignore_shell_voxels)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, index, 1]))
    patches = []
    for p, (z, y, x) in enumerate(patch_origins(mask, config, rng)):
        window = np.s_[z : z + config.patch_size, y : y + config.patch_size, x : x + config.patch_size]
        patch_labels = labels[window].copy()
        b = config.ignore_border_voxels
        if b:
            border = np.ones(patch_labels.shape, bool)
            border[b:-b, b:-b, b:-b] = False
            patch_labels[border] = LABEL_IGNORE
        file_name = f"{name}_p{p:02d}.mrc"
        images_dir, labels_dir = training_data_folders(tmp, split)
        write_mrc(images_dir / file_name, sim.tomogram_zyx[window], voxel_size_ang=sim_config.voxel_size_ang)
        write_mrc(labels_dir / file_name, patch_labels, voxel_size_ang=sim_config.voxel_size_ang)
        patches.append(
            {"file": file_name, "origin_zyx": [z, y, x], "membrane_fraction": float((patch_labels == 1).mean())}
        )
    write_preview(
        tmp / "previews" / f"{name}.png",
        sim.tomogram_zyx,
        sim.phantom.semantic_labels(),
        sim_config.voxel_size_ang,
        name,
    )
    if config.keep_tomograms:
        folder = tmp / "tomograms" / name
        folder.mkdir(parents=True)
        write_simulated_tomogram(sim, folder, name)
    micro = sim_config.microscope
    return {
        "name": name,
        "split": "validation" if is_validation else "training",
        "seed": sim_config.seed,
        "voxel_size_ang": sim_config.voxel_size_ang,
        "snr": micro.snr,
        "tilt_range_deg": [micro.tilt_min_deg, micro.tilt_max_deg],
        "defocus_um": micro.defocus_um,
        "membranes": len(sim.phantom.membranes),
        "membrane_proteins": len(sim.phantom.membrane_proteins),
        "cytosolic_proteins": len(sim.phantom.cytosolic_proteins),
        "patches": patches,
    }
