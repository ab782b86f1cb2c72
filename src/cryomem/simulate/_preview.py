"""PNG preview: central xy / xz / yz slices of a tomogram and its labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryomem.io import atomic_write_path

LABEL_NAMES = ("background", "membrane", "membrane protein", "cytosolic protein", "filament", "hard negative")
LABEL_COLOURS = ("#00000000", "#f2c12e", "#e8412c", "#3a8fd9", "#4cc26a", "#b04fd6")


def central_slices(volume_zyx: np.ndarray) -> dict[str, np.ndarray]:
    """The three central orthogonal slices, each oriented for display (rows down, columns right)."""
    nz, ny, nx = volume_zyx.shape
    return {
        "xy": np.asarray(volume_zyx[nz // 2]),
        "xz": np.asarray(volume_zyx[:, ny // 2, :]),
        "yz": np.asarray(volume_zyx[:, :, nx // 2]),
    }


def write_preview(
    path: Path, tomogram_zyx: np.ndarray, labels_zyx: np.ndarray | None, voxel_size_ang: float, title: str = ""
) -> Path:
    """Write a PNG with the central slices of the tomogram (top) and labels over it (bottom)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    tomo = central_slices(tomogram_zyx)
    labels = central_slices(labels_zyx) if labels_zyx is not None else None
    rows = 2 if labels is not None else 1
    widths = [tomo["xy"].shape[1], tomo["xz"].shape[1], tomo["yz"].shape[1]]
    fig = Figure(figsize=(15, 5.2 * rows))
    axes = fig.subplots(rows, 3, gridspec_kw={"width_ratios": widths}, squeeze=False)
    lo, hi = np.percentile(tomo["xy"], [1, 99])
    cmap = ListedColormap(LABEL_COLOURS)
    for col, name in enumerate(("xy", "xz", "yz")):
        axes[0, col].imshow(tomo[name], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        axes[0, col].set_title(f"tomogram, central {name} slice")
        if labels is not None:
            axes[1, col].imshow(tomo[name], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            axes[1, col].imshow(
                labels[name], cmap=cmap, vmin=-0.5, vmax=len(LABEL_COLOURS) - 0.5, alpha=0.6, interpolation="nearest"
            )
            axes[1, col].set_title(f"labels, central {name} slice")
        for row in range(rows):
            axes[row, col].set_xlabel(name[0] + " (voxels)")
            axes[row, col].set_ylabel(name[1] + " (voxels)")
    if labels is not None:
        handles = [Patch(color=c, label=n) for c, n in zip(LABEL_COLOURS[1:], LABEL_NAMES[1:])]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(f"{title}  (voxel {voxel_size_ang:g} Å, shape z,y,x = {tomogram_zyx.shape})")
    fig.tight_layout(rect=(0, 0.04 if labels is not None else 0, 1, 0.97))
    path = Path(path)
    with atomic_write_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    return path
