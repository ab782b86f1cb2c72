"""The report's pictures: a tomogram slice with membranes and particles, and the membrane meshes.

Drawn with matplotlib's object API (no pyplot, no global state), small enough to inline.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from cryomem.io import read_membrane_h5, read_mrc, read_particles_star, read_volume

__all__ = ["mesh_figure", "slice_figure"]

_MAX_PIXELS = 420
_MAX_POINTS = 12000
_SLAB_VOXELS = 3
DISTANCE_KEY = "predicted_distance_ang"


def _particles_xyz_ang(path: str | os.PathLike[str] | None) -> np.ndarray:
    if path is None or not Path(path).is_file():
        return np.zeros((0, 3))
    table = read_particles_star(path)
    return table[["x_ang", "y_ang", "z_ang"]].to_numpy(dtype=np.float64)


def slice_figure(
    tomogram_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str] | None = None,
    particles_path: str | os.PathLike[str] | None = None,
    *,
    voxel_size_ang: float | None = None,
):
    """The xy slice with the most membrane: the tomogram, and it with membranes and particles overlaid.

    Parameters
    ----------
    tomogram_path : path
        Tomogram MRC.
    labels_path : path, optional
        Segmentation or instance map on the same grid (0 = background).
    particles_path : path, optional
        Particle STAR; particles within 3 voxels of the slice are circled.
    voxel_size_ang : float, optional
        Overrides the headers' voxel size, Å.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    tomogram = read_volume(tomogram_path, voxel_size_ang=voxel_size_ang)
    nz, ny, nx = tomogram.data_zyx.shape
    labels = None
    z = nz // 2
    if labels_path is not None:
        labels = read_mrc(labels_path, voxel_size_ang=tomogram.voxel_size_ang, mmap=True).data_zyx
        if labels.shape == tomogram.data_zyx.shape:
            per_slice = np.array([np.count_nonzero(labels[i]) for i in range(nz)])
            if per_slice.max() > 0:
                z = int(np.argmax(per_slice))
        else:
            labels = None
    step = max(1, math.ceil(max(ny, nx) / _MAX_PIXELS))
    lo, hi = max(0, z - 2), min(nz, z + 3)
    image = np.asarray(tomogram.data_zyx[lo:hi, ::step, ::step], dtype=np.float32).mean(axis=0)
    vmin, vmax = np.percentile(image, [1, 99])
    height = 3.6
    fig = Figure(figsize=(2 * height * image.shape[1] / image.shape[0] + 0.4, height + 0.4))
    axes = fig.subplots(1, 2)
    extent = (-0.5 * step, (image.shape[1] - 0.5) * step, (image.shape[0] - 0.5) * step, -0.5 * step)
    for ax in axes:
        ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title(f"tomogram, z = {z}", fontsize=9)
    title = "membranes"
    if labels is not None:
        overlay = np.asarray(labels[z, ::step, ::step]).astype(np.int64)
        colours = np.array([[0.9, 0.1, 0.1], [0.1, 0.6, 0.9], [0.2, 0.8, 0.2], [1.0, 0.7, 0.0], [0.7, 0.3, 0.9],
                            [0.0, 0.8, 0.8], [0.9, 0.4, 0.6], [0.6, 0.6, 0.1]])  # fmt: skip
        masked = np.ma.masked_equal(overlay, 0)
        axes[1].imshow((masked - 1) % len(colours), cmap=ListedColormap(colours), vmin=0, vmax=len(colours) - 1,
                       alpha=0.45, extent=extent, interpolation="nearest")  # fmt: skip
    points = _particles_xyz_ang(particles_path)
    if len(points):
        index = (points - np.asarray(tomogram.origin_xyz_ang)) / tomogram.voxel_size_ang  # x, y, z in voxels
        near = np.abs(index[:, 2] - z) <= _SLAB_VOXELS
        axes[1].scatter(index[near, 0], index[near, 1], s=40, facecolors="none", edgecolors="yellow", linewidths=1.0)
        title += f" and particles within {_SLAB_VOXELS} voxels ({int(near.sum())})"
    axes[1].set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def mesh_figure(
    membrane_paths: Sequence[str | os.PathLike[str]],
    particles_path: str | os.PathLike[str] | None = None,
    *,
    concentration_per_um2: Mapping[int, float] | None = None,
    seed: int = 0,
):
    """The membrane meshes in 3D, coloured by the predicted distance to the nearest particle (nm).

    Parameters
    ----------
    membrane_paths : sequence of path
        Membrane h5 files; those with point data ``predicted_distance_ang`` are coloured by it,
        otherwise by membrane id.
    particles_path : path, optional
        Particle STAR, drawn as black points.
    concentration_per_um2 : mapping of membrane id to float, optional
        Adds a second view coloured by each membrane's particle concentration.
    seed : int, default 0
        Seed of the vertex subsample (at most 12,000 points are drawn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    surfaces = [read_membrane_h5(p) for p in membrane_paths]
    if not surfaces:
        raise ValueError("no membrane files to draw")
    vertices = np.concatenate([s.vertices_xyz_ang for s in surfaces]) / 10.0  # nm
    ids = np.concatenate([np.full(len(s.vertices_xyz_ang), s.membrane_id) for s in surfaces])
    has_distance = all(DISTANCE_KEY in s.point_data for s in surfaces)
    if has_distance:
        values = np.concatenate([np.asarray(s.point_data[DISTANCE_KEY], dtype=np.float64) for s in surfaces]) / 10.0
    else:
        values = ids.astype(np.float64)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.permutation(len(vertices))[:_MAX_POINTS])
    points = _particles_xyz_ang(particles_path) / 10.0
    views = [("predicted distance to nearest particle, nm" if has_distance else "membrane id", values,
              "magma" if has_distance else "tab10")]  # fmt: skip
    if concentration_per_um2:
        per_vertex = np.array([concentration_per_um2.get(int(i), np.nan) for i in ids])
        views.append(("membrane concentration, particles/µm²", per_vertex, "viridis"))
    fig = Figure(figsize=(5.8 * len(views), 5.2))
    span = np.ptp(vertices, axis=0)
    for k, (label, colour, cmap) in enumerate(views, start=1):
        ax = fig.add_subplot(1, len(views), k, projection="3d")
        drawn = ax.scatter(*vertices[keep].T, c=colour[keep], s=0.6, cmap=cmap, depthshade=False, linewidths=0)
        if len(points):
            ax.scatter(*points.T, c="black", s=6, depthshade=False)
        ax.set_box_aspect(np.maximum(span, 1e-6))
        ax.set_xlabel("x, nm", fontsize=8)
        ax.set_ylabel("y, nm", fontsize=8)
        ax.set_zlabel("z, nm", fontsize=8)
        ax.tick_params(labelsize=6)
        fig.colorbar(drawn, ax=ax, shrink=0.6, pad=0.1).set_label(label, fontsize=8)
    fig.suptitle(f"{len(surfaces)} membranes, {len(points)} particles", fontsize=9)
    return fig
