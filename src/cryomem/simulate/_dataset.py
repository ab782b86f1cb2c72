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
from scipy import ndimage

import cryomem
from cryomem.io import TRAINING_SPLITS, atomic_directory, training_data_folders, write_mrc
from cryomem.simulate._dataset_config import DatasetConfig, tomogram_config
from cryomem.simulate._preview import write_preview
from cryomem.simulate._tomogram import simulate_tomogram
from cryomem.simulate._write import check_output_folder, write_simulated_tomogram

LABEL_IGNORE = 2


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
