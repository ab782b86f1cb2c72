"""PNG figures of the statistics (matplotlib's object API; no global pyplot state, written atomically)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cryomem.io import membrane_stem, new_figure, save_png

__all__ = [
    "plot_concentration",
    "plot_edge_profile",
    "plot_min_angles",
    "plot_neighbour_histogram",
    "plot_ripley",
]


def _figure(columns: int = 1, width: float = 5.0):
    figure, axes = new_figure(1, columns, width=width)
    return figure, axes[0]


def plot_ripley(table: pd.DataFrame, path: str | os.PathLike[str], *, title: str = "") -> Path:
    """Ripley's L(r) and O(r) (with CSR envelopes when present) side by side."""
    figure, (left, right) = _figure(2)
    centres = (table["r_lo_nm"] + table["r_nm"]) / 2
    for axis, name, x, label in (
        (left, "L_nm", table["r_nm"], "L(r) (nm)"),
        (right, "O_per_um2", centres, "O(r) (particles/µm²)"),
    ):
        if f"{name}_csr_low" in table:
            axis.fill_between(x, table[f"{name}_csr_low"], table[f"{name}_csr_high"], color="0.8", label="CSR envelope")
            axis.plot(x, table[f"{name}_csr_mean"], color="0.5", lw=1, ls="--", label="CSR mean")
        axis.plot(x, table[name], color="C0", marker="o", ms=3, label="observed")
        axis.set_xlabel("geodesic distance r (nm)")
        axis.set_ylabel(label)
        axis.legend(fontsize=8)
    left.axhline(0.0, color="k", lw=0.5)
    figure.suptitle(title or "Ripley's functions on the membranes")
    return save_png(figure, path)


def plot_neighbour_histogram(per_particle: pd.DataFrame, path: str | os.PathLike[str], *, k: int = 1) -> Path:
    """Histogram of the geodesic distance to the 1st..k-th nearest neighbour."""
    figure, (axis,) = _figure()
    columns = [f"nn{j + 1}_distance_nm" for j in range(k)]
    values = [per_particle[c].dropna().to_numpy() for c in columns if c in per_particle]
    finite = np.concatenate(values) if values else np.zeros(0)
    bins = np.linspace(0.0, float(finite.max()) if finite.size else 1.0, 31)
    for j, data in enumerate(values):
        mean = f"mean {np.mean(data):.1f} nm" if data.size else "none"  # one particle: no neighbour
        axis.hist(data, bins=bins, histtype="step", lw=1.5, label=f"neighbour {j + 1} ({mean})")
    axis.set_xlabel("geodesic nearest-neighbour distance (nm)")
    axis.set_ylabel("particles")
    axis.legend(fontsize=8)
    return save_png(figure, path)


def plot_concentration(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Bar chart of particles per µm² for every membrane (all classes), with the pooled value."""
    figure, (axis,) = _figure(width=max(5.0, 0.35 * len(table)))
    rows = table[(table["scope"] == "membrane") & (table["class"] == "all")]
    labels = [membrane_stem(t, m) for t, m in zip(rows["tomo_name"], rows["membrane_id"])]
    axis.bar(np.arange(len(rows)), rows["concentration_per_um2"], color="C0")
    pooled = table[(table["scope"] == "all") & (table["class"] == "all")]["concentration_per_um2"]
    if len(pooled):
        axis.axhline(float(pooled.iloc[0]), color="C1", ls="--", label=f"pooled {float(pooled.iloc[0]):.0f} /µm²")
        axis.legend(fontsize=8)
    axis.set_xticks(np.arange(len(rows)), labels, rotation=60, ha="right", fontsize=7)
    axis.set_ylabel("particles per µm²")
    return save_png(figure, path)


def plot_edge_profile(profile: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Concentration (and mean nearest-neighbour distance) against the distance to the membrane edge."""
    figure, axes = _figure(2)
    pooled = profile[profile["scope"] == "all"]
    centres = (pooled["edge_lo_nm"] + pooled["edge_hi_nm"]) / 2
    axes[0].bar(centres, pooled["concentration_per_um2"], width=pooled["edge_hi_nm"] - pooled["edge_lo_nm"])
    axes[0].set_ylabel("particles per µm²")
    axes[1].plot(centres, pooled["nn1_mean_nm"], marker="o")
    axes[1].set_ylabel("mean nearest-neighbour distance (nm)")
    for axis in axes:
        axis.set_xlabel("geodesic distance to the membrane edge (nm)")
    return save_png(figure, path)


def plot_min_angles(histogram: pd.DataFrame, path: str | os.PathLike[str], *, k: int) -> Path:
    """Minimum in-plane angle to the k nearest neighbours against uniformly random angles."""
    figure, (axis,) = _figure()
    centres = (histogram["angle_lo_deg"] + histogram["angle_hi_deg"]) / 2
    widths = histogram["angle_hi_deg"] - histogram["angle_lo_deg"]
    axis.bar(centres, histogram["density_per_deg"], width=widths, color="C0", alpha=0.7, label="observed")
    axis.plot(centres, histogram["uniform_density_per_deg"], color="C1", marker="o", label="uniform random")
    axis.set_xlabel(f"minimum in-plane angle to {k} nearest neighbours (degrees)")
    axis.set_ylabel("density (1/degree)")
    axis.legend(fontsize=8)
    return save_png(figure, path)
