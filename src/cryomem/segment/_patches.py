"""Correction patches: cut image + current-label patches out of a tomogram for a person to correct.

The MemBrain v2 paper builds its training set iteratively: the network segments, a person corrects
patches where it struggles, the corrected patches join the training data (section "Iterative
Dataset Generation"). :func:`extract_correction_patches` writes those patches; each label patch is
the current segmentation as 0 background / 1 membrane with a border of 2 (ignore), where a patch
lacks the context to judge. :mod:`cryomem.segment._patches_merge` adds corrected patches to a
training data folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cryomem.io import (
    CORRECTION_PATCHES_JSON,
    atomic_file_set,
    correction_patch_names,
    created_folders,
    read_mrc,
    read_mrc_header,
    read_particles_star,
    write_mrc,
    xyz_ang_to_zyx_index,
)

Strategy = Literal["uncertain", "random", "points"]
STRATEGIES: tuple[str, ...] = ("uncertain", "random", "points")
LABEL_IGNORE = 2


@dataclass(frozen=True)
class PatchSource:
    """Where one correction patch came from (one entry of ``patches.json``)."""

    image: str
    labels: str
    start_zyx: tuple[int, int, int]
    size_zyx: tuple[int, int, int]
    score: float | None


def check_same_grid(tomogram: Path, other: Path, flag: str) -> tuple[int, int, int]:
    """The tomogram's shape; a one-line error when ``other`` (a segmentation or scores) has another."""
    shape = read_mrc_header(tomogram).shape_zyx
    other_shape = read_mrc_header(other).shape_zyx
    if tuple(other_shape) != tuple(shape):
        raise ValueError(
            f"{flag} {other} has shape (z, y, x) {tuple(other_shape)} but the tomogram {tomogram} has {tuple(shape)}; "
            "pass the segmentation made from this tomogram"
        )
    return tuple(shape)


def _check_size(size: int, shape_zyx: tuple[int, ...], n: int, border_ignore_voxels: int) -> None:
    if n < 1:
        raise ValueError(f"--n must be at least 1 patch, got {n}")
    if not 8 <= size <= min(shape_zyx):
        raise ValueError(
            f"--size {size} voxels does not fit: it must be between 8 and the tomogram's smallest edge "
            f"{min(shape_zyx)} (shape z, y, x {tuple(shape_zyx)}); choose a size in that range"
        )
    if border_ignore_voxels < 0 or 2 * border_ignore_voxels >= size:
        raise ValueError(
            f"--border-ignore {border_ignore_voxels} voxels leaves no labelled voxel in a {size}-voxel patch; "
            f"choose 0 to {(size - 1) // 2}"
        )


def _overlaps(corner: np.ndarray, chosen: list[np.ndarray], size: int) -> bool:
    return any(bool(np.all(np.abs(corner - c) < size)) for c in chosen)


def uncertain_corners(probability_zyx: np.ndarray, size: int, n: int) -> list[tuple[np.ndarray, float]]:
    """Up to ``n`` non-overlapping ``size``³ boxes, greedily by smallest mean ``|p - 0.5|``.

    Box means are evaluated on a grid of corners with a step of ``size // 8`` voxels (block sums
    and an integral image), so a whole tomogram is scored in seconds. Returns ``(corner_zyx,
    mean |p - 0.5|)`` pairs, most uncertain first.
    """
    step = max(1, size // 8)
    distance = np.abs(probability_zyx.astype(np.float32) - 0.5)
    blocks = [n_vox // step for n_vox in distance.shape]
    coarse = distance[: blocks[0] * step, : blocks[1] * step, : blocks[2] * step]
    coarse = coarse.reshape(blocks[0], step, blocks[1], step, blocks[2], step).sum(axis=(1, 3, 5), dtype=np.float64)
    integral = np.pad(coarse.cumsum(0).cumsum(1).cumsum(2), ((1, 0), (1, 0), (1, 0)))
    k = size // step
    sums = _box_sums(integral, k)
    means = sums / float((k * step) ** 3)
    order = np.argsort(means, axis=None, kind="stable")
    chosen: list[np.ndarray] = []
    found = []
    for flat in order:
        corner = np.array(np.unravel_index(flat, means.shape)) * step
        corner = np.minimum(corner, np.array(probability_zyx.shape) - size)
        if _overlaps(corner, chosen, size):
            continue
        chosen.append(corner)
        found.append((corner, float(means.flat[flat])))
        if len(found) == n:
            break
    return found


def _box_sums(integral: np.ndarray, k: int) -> np.ndarray:
    """Sums of every ``k``³ box of the array whose zero-padded integral image is ``integral``."""
    i = integral
    return (
        i[k:, k:, k:] - i[:-k, k:, k:] - i[k:, :-k, k:] - i[k:, k:, :-k]
        + i[:-k, :-k, k:] + i[:-k, k:, :-k] + i[k:, :-k, :-k] - i[:-k, :-k, :-k]
    )  # fmt: skip


def random_corners(shape_zyx: tuple[int, ...], size: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` random corners of ``size``³ boxes; non-overlapping where 200 tries per box find room."""
    limits = np.array(shape_zyx) - size + 1
    chosen: list[np.ndarray] = []
    for _ in range(200 * n):
        corner = rng.integers(0, limits)
        if not _overlaps(corner, chosen, size):
            chosen.append(corner)
            if len(chosen) == n:
                return chosen
    while len(chosen) < n:  # no room left: overlapping boxes rather than fewer
        chosen.append(rng.integers(0, limits))
    return chosen


def point_corners(
    star: Path, tomogram: Path, size: int, n: int, voxel_size_ang: float, origin_xyz_ang, shape_zyx
) -> list[tuple[np.ndarray, float]]:
    """Boxes centred on the first ``n`` points of ``star`` inside the tomogram (score: the point's row)."""
    table = read_particles_star(star, voxel_size_ang=voxel_size_ang, shape_zyx=shape_zyx, origin_xyz_ang=origin_xyz_ang)
    named = table["tomo_name"].astype(str)
    if (named == tomogram.stem).any():  # a file of several tomograms: only this one's points
        table = table[named == tomogram.stem]
    centres = np.rint(
        xyz_ang_to_zyx_index(table[["x_ang", "y_ang", "z_ang"]].to_numpy(), voxel_size_ang, origin_xyz_ang)
    )
    inside = np.all((centres >= 0) & (centres < np.array(shape_zyx)), axis=1)
    if not inside.any():
        raise ValueError(
            f"--points {star}: none of its {len(table)} point(s) lies inside the tomogram {tomogram.name}; "
            "pass the points of this tomogram (pixel coordinates at its voxel size)"
        )
    limits = np.array(shape_zyx) - size
    rows = np.flatnonzero(inside)[:n]
    return [(np.clip(centres[r].astype(int) - size // 2, 0, limits), float(table.index[r])) for r in rows]


def label_patch(segmentation_zyx: np.ndarray, border_ignore_voxels: int) -> np.ndarray:
    """0 background, 1 membrane (segmentation > 0), 2 ignore in a border of ``border_ignore_voxels``."""
    labels = (segmentation_zyx > 0).astype(np.uint8)
    b = border_ignore_voxels
    if b:
        border = np.ones(labels.shape, bool)
        border[b:-b, b:-b, b:-b] = False
        labels[border] = LABEL_IGNORE
    return labels


def extract_correction_patches(
    tomogram: Path | str,
    segmentation: Path | str,
    out_dir: Path | str,
    *,
    n: int,
    size: int,
    strategy: Strategy,
    scores: Path | str | None = None,
    points: Path | str | None = None,
    seed: int = 0,
    border_ignore_voxels: int = 4,
    overwrite: bool = False,
) -> list[PatchSource]:
    """Write ``n`` image patches with their current labels, and ``patches.json``, into ``out_dir``.

    Parameters
    ----------
    tomogram, segmentation : path
        The tomogram and its segmentation (membrane > 0), same shape.
    out_dir : path
        Created if missing. Receives ``<tomo>_patch<k>.mrc`` (float32, the tomogram's voxel size,
        origin at the patch's physical position), ``<tomo>_patch<k>_labels.mrc`` (uint8 0/1/2)
        and ``patches.json``, all together or none.
    n, size : int
        Number of patches and their edge in voxels.
    strategy : {"uncertain", "random", "points"}
        ``uncertain``: boxes with the smallest mean ``|p - 0.5|`` of ``scores`` (membrane
        probabilities), greedily, non-overlapping; ``random``: seeded, non-overlapping where
        possible; ``points``: centred on the first ``n`` points of the STAR file ``points``.
        ``uncertain`` and ``points`` may give fewer than ``n`` (no room without overlap, fewer
        points inside the tomogram).
    border_ignore_voxels : int
        Width of the ignore (2) border of each label patch.

    Raises
    ------
    ValueError
        Shapes that differ, a size that does not fit, a strategy without its input, outputs
        that exist without ``overwrite``.
    """
    tomogram, segmentation, out_dir = Path(tomogram), Path(segmentation), Path(out_dir)
    if strategy not in STRATEGIES:
        raise ValueError(f"--strategy {strategy!r} is unknown; use one of {', '.join(STRATEGIES)}")
    if strategy == "uncertain" and scores is None:
        raise ValueError("--strategy uncertain needs --scores (the <tomo>_scores.mrc of `cryomem segment --scores`)")
    if strategy == "points" and points is None:
        raise ValueError("--strategy points needs --points (a STAR file of positions in this tomogram)")
    if points is not None and not Path(points).is_file():
        raise FileNotFoundError(f"--points {points} does not exist; pass a STAR file of positions in this tomogram")
    shape = check_same_grid(tomogram, segmentation, "--segmentation")
    if scores is not None:
        check_same_grid(tomogram, Path(scores), "--scores")
    _check_size(size, shape, n, border_ignore_voxels)
    targets = [out_dir / name for k in range(n) for name in correction_patch_names(tomogram.stem, k)]
    targets.append(out_dir / CORRECTION_PATCHES_JSON)
    if not overwrite and any(t.exists() for t in targets):
        raise FileExistsError(
            f"{out_dir} already holds correction patches of {tomogram.stem}; pass --overwrite or another --out"
        )
    volume = read_mrc(tomogram)
    voxel = volume.voxel_size_ang
    if strategy == "uncertain":
        picked = uncertain_corners(np.asarray(read_mrc(scores, voxel_size_ang=voxel).data_zyx), size, n)
    elif strategy == "random":
        picked = [(c, None) for c in random_corners(shape, size, n, np.random.default_rng(seed))]
    else:
        picked = point_corners(Path(points), tomogram, size, n, voxel, volume.origin_xyz_ang, shape)
    seg = read_mrc(segmentation, voxel_size_ang=voxel).data_zyx
    sources = []
    with created_folders(out_dir), atomic_file_set(targets[: 2 * len(picked)] + targets[-1:]) as tmps:
        for k, (corner, score) in enumerate(picked):
            window = tuple(slice(int(c), int(c) + size) for c in corner)
            origin = np.asarray(volume.origin_xyz_ang) + corner[::-1] * voxel
            placement = {"voxel_size_ang": voxel, "origin_xyz_ang": tuple(float(v) for v in origin)}
            write_mrc(tmps[2 * k], np.asarray(volume.data_zyx[window], np.float32), **placement)
            write_mrc(tmps[2 * k + 1], label_patch(np.asarray(seg[window]), border_ignore_voxels), **placement)
            image, labels = correction_patch_names(tomogram.stem, k)
            start = tuple(int(c) for c in corner)
            sources.append(PatchSource(image, labels, start, (size,) * 3, score))
        record = {
            "tomogram": str(tomogram.resolve()),
            "segmentation": str(segmentation.resolve()),
            "scores": str(Path(scores).resolve()) if scores is not None else None,
            "points": str(Path(points).resolve()) if points is not None else None,
            "voxel_size_ang": voxel,
            "strategy": strategy,
            "score": "mean |p - 0.5| (uncertain), STAR row (points), none (random)",
            "seed": seed,
            "border_ignore_voxels": border_ignore_voxels,
            "patches": [asdict(s) for s in sources],
        }
        tmps[-1].write_text(json.dumps(record, indent=2))
    return sources
