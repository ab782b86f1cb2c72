"""PNG figures of the morphometrics: histograms, maps and the particle-patch comparison."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.io import new_figure, save_png

__all__ = ["plot_histograms", "plot_maps", "plot_particle_patches"]

_MAP_POINTS = 60_000

LABELS = {
    "mean_curvature_per_nm": "mean curvature H (1/nm)",
    "gaussian_curvature_per_nm2": "Gaussian curvature K (1/nm²)",
    "curvedness_per_nm": "curvedness (1/nm)",
    "shape_index": "shape index",
    "bilayer_thickness_nm": "bilayer thickness (nm)",
    "distance_out_nm": "distance to the next membrane (nm)",
    "spacing_nm": "mid-surface spacing to the next membrane (nm)",
    "self_out_nm": "distance across the membrane's own fold (nm)",
    "normal_to_z_deg": "normal to z (beam) axis (°)",
}


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def _range(data: np.ndarray, low_pct: float, high_pct: float) -> tuple[float, float]:
    """A robust value range, widened to at least 2% of the typical magnitude (no zero-width bins)."""
    low, high = (float(v) for v in np.percentile(data, [low_pct, high_pct]))
    half = max((high - low) / 2, 0.01 * float(np.median(np.abs(data))), 1e-12)
    centre = (low + high) / 2
    return centre - half, centre + half


def _with_values(values: Mapping[str, np.ndarray], names) -> list[str]:
    return [n for n in names if n in values and np.isfinite(np.asarray(values[n], dtype=np.float64)).any()]


def plot_histograms(values: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """One histogram per quantity in ``values`` with any value (pooled over vertices)."""
    names = _with_values(values, LABELS)
    columns = min(4, max(1, len(names)))
    rows = -(-len(names) // columns)
    figure, axes = new_figure(rows, columns, width=3.6, height=2.9, layout=None)
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.9, wspace=0.3, hspace=0.45)
    for axis, name in zip(axes.ravel(), names):
        data = _finite(values[name])
        axis.hist(data, bins=60, range=_range(data, 0.5, 99.5), color="C0", histtype="stepfilled")
        axis.axvline(float(np.median(data)), color="k", lw=1, ls="--", label=f"median {np.median(data):.3g}")
        axis.legend(fontsize=7)
        axis.ticklabel_format(axis="x", useOffset=False)
        axis.set_xlabel(LABELS[name], fontsize=8)
        axis.set_ylabel("vertices", fontsize=8)
    for axis in axes.ravel()[len(names) :]:
        axis.set_axis_off()
    figure.suptitle("Membrane morphometrics, all vertices")
    return save_png(figure, path)


def plot_maps(vertices_xyz_ang: np.ndarray, values: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """Top views (x, y in nm) of the vertices coloured by each quantity (robust colour range); at most
    ``_MAP_POINTS`` vertices are drawn (an even subset), which a figure this size cannot tell apart."""
    names = _with_values(values, ("curvedness_per_nm", "bilayer_thickness_nm", "distance_out_nm"))
    figure, axes = new_figure(1, len(names), width=4.2, height=3.9)
    order = np.argsort(vertices_xyz_ang[:, 2])  # draw the top last
    order = order[:: max(1, -(-len(order) // _MAP_POINTS))]
    xy_nm = vertices_xyz_ang[order, :2] / 10.0
    for axis, name in zip(axes[0], names):
        data = np.asarray(values[name], dtype=np.float64)[order]
        finite = np.isfinite(data)
        axis.scatter(xy_nm[~finite, 0], xy_nm[~finite, 1], s=0.5, color="0.85", rasterized=True)
        if finite.any():
            low, high = _range(data[finite], 2, 98)
            dots = axis.scatter(
                xy_nm[finite, 0], xy_nm[finite, 1], c=data[finite], s=0.8, cmap="viridis", vmin=low, vmax=high,
                rasterized=True,
            )  # fmt: skip
            bar = figure.colorbar(dots, ax=axis, shrink=0.8)
            bar.set_label(LABELS[name], fontsize=8)
            bar.formatter.set_useOffset(False)
        axis.set_aspect("equal")
        axis.set_xlabel("x (nm)")
        axis.set_ylabel("y (nm)")
        axis.set_title(LABELS[name].split(" (")[0], fontsize=9)
    figure.suptitle("Top view (grey: no value)")
    return save_png(figure, path)


def plot_particle_patches(
    particle_patches: pd.DataFrame, null_patches: pd.DataFrame, comparison: pd.DataFrame, path: str | os.PathLike[str]
) -> Path:
    """Per quantity, the patch means around particles against around random positions (box plots)."""
    present = {**{n: particle_patches[n].to_numpy() for n in particle_patches}}
    names = [n for n in _with_values(present, comparison["quantity"]) if n in LABELS]
    columns = min(4, max(1, len(names)))
    rows = -(-len(names) // columns)
    figure, axes = new_figure(rows, columns, width=3.2, height=3.0, layout=None)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.88, wspace=0.45, hspace=0.4)
    for axis, name in zip(axes.ravel(), names):
        data = [_finite(particle_patches[name]), _finite(null_patches[name])]
        if all(len(d) for d in data):
            axis.boxplot(data, showfliers=False)
            axis.set_xticks([1, 2], ["particles", "random"])
        else:
            axis.text(0.5, 0.5, "no values", ha="center", va="center", transform=axis.transAxes)
        axis.ticklabel_format(axis="y", useOffset=False)
        p = comparison.loc[comparison["quantity"] == name, "mann_whitney_p"].iloc[0]
        axis.set_title(f"p = {p:.2g}" if np.isfinite(p) else "p: too few values", fontsize=8)
        axis.set_ylabel(LABELS[name], fontsize=8)
    for axis in axes.ravel()[len(names) :]:
        axis.set_axis_off()
    figure.suptitle("Membrane patches around particles against random patches")
    return save_png(figure, path)
