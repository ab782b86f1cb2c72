"""Add corrected patches (image + 0/1/2 labels) to a segmentation training data folder.

Every pair is checked before anything is written: the label file exists, shapes match, labels are
the integers 0, 1, 2, and voxel sizes agree with the data folder's when all its patches share one
(a folder whose patches already differ accepts any: the trainer rescales each patch). The pairs go
into ``imagesTr/labelsTr`` or ``imagesVal/labelsVal`` under names no patch there has, together with
an updated ``dataset.json``, all at once (:func:`cryomem.io.atomic_file_set`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cryomem.io import (
    TRAINING_SPLITS,
    atomic_file_set,
    correction_label_name,
    created_folders,
    is_correction_label,
    is_mrc_path,
    read_mrc,
    read_mrc_header,
    training_data_folders,
    write_mrc,
)

Split = Literal["train", "val", "auto"]
_SPLIT_FOLDER = {"train": "Tr", "val": "Val"}
AUTO_VALIDATION_EVERY = 5
"""``--split auto``: every 5th corrected patch with membrane (by name; at least one of two or more) validates."""


@dataclass(frozen=True)
class CorrectedPair:
    image: Path
    labels: Path
    voxel_size_ang: float
    data_zyx: np.ndarray
    labels_zyx: np.ndarray


def corrected_pairs(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """(image, labels) paths from files or folders of correction patches; a one-line error for a lone file."""
    images: list[Path] = []
    for path in inputs:
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if is_mrc_path(p) and not is_correction_label(p.name))
        elif not path.exists():
            raise FileNotFoundError(f"corrected patch {path} does not exist; pass patch files or their folder")
        elif is_correction_label(path.name):
            images.append(path.with_name(path.name.replace("_labels.", ".")))
        else:
            images.append(path)
    images = list(dict.fromkeys(images))
    if not images:
        raise ValueError(f"no corrected patches (*.mrc with a *_labels.mrc beside) in {', '.join(map(str, inputs))}")
    pairs = []
    for image in images:
        labels = image.with_name(correction_label_name(image.name))
        if not image.is_file() or not labels.is_file():
            missing = labels if image.is_file() else image
            raise FileNotFoundError(
                f"corrected patch {image.name} has no {missing.name} beside it; add it or leave the patch out"
            )
        pairs.append((image, labels))
    return pairs


def _read_pair(image: Path, labels: Path) -> CorrectedPair:
    volume = read_mrc(image)
    label_data = np.asarray(read_mrc(labels, voxel_size_ang=volume.voxel_size_ang).data_zyx)
    if label_data.shape != volume.data_zyx.shape:
        raise ValueError(
            f"{labels} has shape {label_data.shape} but its image {image.name} has {volume.data_zyx.shape}; "
            "labels must match the image voxel for voxel"
        )
    label_voxel = read_mrc_header(labels).voxel_size_ang_raw
    if label_voxel > 1.0 and not math.isclose(label_voxel, volume.voxel_size_ang, rel_tol=1e-3):
        raise ValueError(
            f"{labels} has voxel size {label_voxel:g} Å but its image {image.name} has {volume.voxel_size_ang:g} Å; "
            "save the labels with the image's voxel size"
        )
    values = np.unique(label_data)
    bad = values[~np.isin(values, (0, 1, 2))]
    if bad.size:
        shown = ", ".join(f"{float(v):g}" for v in bad[:5])
        raise ValueError(
            f"{labels} holds label values other than the integers 0, 1, 2 (background, membrane, ignore): {shown}; "
            "relabel it"
        )
    if not np.all(np.isfinite(volume.data_zyx)):
        raise ValueError(f"{image} holds NaN or infinite voxel values; fix the image or leave the patch out")
    return CorrectedPair(image, labels, volume.voxel_size_ang, np.asarray(volume.data_zyx, np.float32),
                         label_data.astype(np.uint8))  # fmt: skip


def dataset_voxel_sizes(dataset: Path) -> list[float]:
    """Voxel sizes (Å) of the image patches already in ``dataset``, from their headers."""
    sizes = []
    for split in TRAINING_SPLITS:
        images, _ = training_data_folders(dataset, split)
        if images.is_dir():
            sizes += [read_mrc_header(p).voxel_size_ang_raw for p in sorted(images.iterdir()) if is_mrc_path(p)]
    return sizes


def _check_voxel_sizes(pairs: list[CorrectedPair], dataset: Path) -> None:
    existing = dataset_voxel_sizes(dataset)
    if not existing or max(existing) - min(existing) > 1e-3 * max(existing):
        return
    for pair in pairs:
        if not math.isclose(pair.voxel_size_ang, existing[0], rel_tol=1e-3):
            raise ValueError(
                f"{pair.image} has voxel size {pair.voxel_size_ang:g} Å but the patches of {dataset} have "
                f"{existing[0]:g} Å; rescale the patch (or extract it again from a tomogram at {existing[0]:g} Å)"
            )


def _splits(names: list[str], split: Split, has_membrane: list[bool]) -> list[str]:
    """Split folder per patch; ``auto`` validates on patches with membrane (Surface-Dice is 0 without)."""
    if split != "auto":
        return [_SPLIT_FOLDER[split]] * len(names)
    candidates = [i for i in range(len(names)) if has_membrane[i]] or list(range(len(names)))
    order = sorted(candidates, key=names.__getitem__)
    chosen = {order[i] for i in range(AUTO_VALIDATION_EVERY - 1, len(order), AUTO_VALIDATION_EVERY)}
    if len(names) >= 2 and not chosen:
        chosen = {order[-1]}
    return ["Val" if i in chosen else "Tr" for i in range(len(names))]


def _unique_name(stem: str, taken: set[str]) -> str:
    name, k = f"{stem}.mrc", 2
    while name in taken:
        name, k = f"{stem}_{k}.mrc", k + 1
    taken.add(name)
    return name


def _taken_names(dataset: Path) -> set[str]:
    taken = set()
    for split in TRAINING_SPLITS:
        for folder in training_data_folders(dataset, split):
            if folder.is_dir():
                taken |= {p.name for p in folder.iterdir()}
    return taken


def merge_corrected_patches(inputs: list[Path | str], dataset: Path | str, *, split: Split = "auto") -> list[dict]:
    """Check every corrected pair, then add them all to the training data folder ``dataset``.

    Returns one entry per pair: ``{"source", "file", "split"}`` (also appended to the folder's
    ``dataset.json`` under ``"corrections"``). Existing patches are never overwritten.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing label file, shapes that differ, labels other than 0/1/2, a voxel size that
        does not match; nothing is written then.
    """
    dataset = Path(dataset)
    if split not in ("train", "val", "auto"):
        raise ValueError(f"--split {split!r} is unknown; use train, val or auto")
    if dataset.exists() and not dataset.is_dir():
        raise NotADirectoryError(f"--into {dataset} is a file; pass a training data folder")
    pairs = [_read_pair(image, labels) for image, labels in corrected_pairs([Path(p) for p in inputs])]
    _check_voxel_sizes(pairs, dataset)
    taken = _taken_names(dataset)
    names = [_unique_name(p.image.name.rpartition(".")[0], taken) for p in pairs]
    splits = _splits(names, split, [bool(np.any(p.labels_zyx == 1)) for p in pairs])
    folders = {s: training_data_folders(dataset, s) for s in set(splits)}
    targets = [folder / name for name, s in zip(names, splits) for folder in folders[s]]
    summary_path = dataset / "dataset.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    entries = [
        {"source": str(p.image.resolve()), "file": name, "split": "validation" if s == "Val" else "training"}
        for p, name, s in zip(pairs, names, splits)
    ]
    summary["corrections"] = [*summary.get("corrections", []), *entries]
    all_folders = [dataset, *(f for s in sorted(folders) for f in folders[s])]
    with created_folders(*all_folders), atomic_file_set([*targets, summary_path]) as tmps:
        for k, pair in enumerate(pairs):
            write_mrc(tmps[2 * k], pair.data_zyx, voxel_size_ang=pair.voxel_size_ang)
            write_mrc(tmps[2 * k + 1], pair.labels_zyx, voxel_size_ang=pair.voxel_size_ang)
        tmps[-1].write_text(json.dumps(summary, indent=2))
    return entries
