"""Density templates: the :class:`Template` type, MRC loading and the procedural catalog.

This module is the one place to import templates from. :class:`Template` and the rasteriser live
in :mod:`cryomem.simulate._template_base`, the smooth solids in :mod:`cryomem.simulate._solids`
and the procedural membrane-protein, cytosolic and filament-unit templates in
:mod:`cryomem.simulate._catalog`; their public names are re-exported here. This module adds
:func:`load_template_mrc`, which reads a template from a density map.

Frames. Arrays are ``(z, y, x)``; the anchor is the centre voxel of an odd, cubic box. For
membrane templates ``+z`` is the outward membrane normal.
"""

from __future__ import annotations

import math
from pathlib import Path

import mrcfile
import numpy as np
from scipy import ndimage

from cryomem.simulate._catalog import (
    ACTIN_RISE_ANG,
    ACTIN_TWIST_DEG,
    MICROTUBULE_RISE_ANG,
    actin_unit,
    cytosolic_templates,
    membrane_protein_templates,
    microtubule_unit,
)
from cryomem.simulate._solids import EDGE_SIGMA_ANG, trim_cube
from cryomem.simulate._template_base import SUPPORT_LEVEL, Template, TemplateKind, measure_density

__all__ = [
    "ACTIN_RISE_ANG",
    "ACTIN_TWIST_DEG",
    "EDGE_SIGMA_ANG",
    "MICROTUBULE_RISE_ANG",
    "Template",
    "TemplateKind",
    "actin_unit",
    "cytosolic_templates",
    "load_template_mrc",
    "membrane_protein_templates",
    "microtubule_unit",
]


def load_template_mrc(
    path: str | Path,
    voxel_size_ang: float,
    *,
    kind: TemplateKind = "membrane",
    threshold_fraction: float = 0.5,
    map_voxel_size_ang: float | None = None,
    invert: bool = False,
    name: str | None = None,
) -> Template:
    """Read a density map (MRC) as a template at ``voxel_size_ang``.

    The centre of the input box (index ``(n - 1) / 2`` on each axis) is the anchor; for membrane
    templates the map's z axis must be the outward membrane normal. The map is low-pass filtered
    when it is downsampled, resampled (trilinear) onto a cubic odd grid centred on the anchor,
    negative values are clipped to 0 and the maximum is scaled to 1.

    Parameters
    ----------
    path : str or Path
        MRC file holding a 3D map.
    voxel_size_ang : float
        Voxel size (Å) of the returned template.
    kind : {"membrane", "cytosolic", "filament_unit"}
        What the template is.
    threshold_fraction : float
        Mask level as a fraction of the (normalised) maximum, in (0, 1).
    map_voxel_size_ang : float, optional
        Voxel size of the map; overrides the header (required when the header says 0 or 1 Å).
    invert : bool
        Set when matter is dark (negative) in the map.
    name : str, optional
        Template name; defaults to the file stem.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a readable 3D MRC, its voxel size is missing (0 or 1 Å) without an
        override, or a parameter is out of range.
    """
    path = Path(path)
    if not voxel_size_ang > 0:
        raise ValueError(f"voxel_size_ang must be > 0, got {voxel_size_ang}")
    if not 0.0 < threshold_fraction < 1.0:
        raise ValueError(f"threshold_fraction must be in (0, 1), got {threshold_fraction}")
    if kind not in ("membrane", "cytosolic", "filament_unit"):
        raise ValueError(f"kind must be 'membrane', 'cytosolic' or 'filament_unit', got {kind!r}")
    if not path.is_file():
        raise FileNotFoundError(f"template map not found: {path}")
    try:
        with mrcfile.open(path, mode="r") as mrc:
            data = np.asarray(mrc.data, dtype=np.float64)
            vs = mrc.voxel_size
            header_vs_xyz = np.array([float(vs.x), float(vs.y), float(vs.z)])
    except ValueError as exc:
        raise ValueError(f"{path} is not a readable MRC file: {exc}") from exc
    if data.ndim != 3 or min(data.shape) < 2:
        raise ValueError(f"{path} must hold a 3D map, got data of shape {data.shape}")
    if map_voxel_size_ang is not None:
        if not map_voxel_size_ang > 0:
            raise ValueError(f"map_voxel_size_ang must be > 0, got {map_voxel_size_ang}")
        map_vs_zyx = np.full(3, float(map_voxel_size_ang))
    else:
        if np.any(header_vs_xyz <= 0) or np.allclose(header_vs_xyz, 1.0):
            raise ValueError(
                f"{path} has voxel size {tuple(header_vs_xyz)} Å in its header, which looks "
                "unset; pass map_voxel_size_ang= with the map's real voxel size"
            )
        map_vs_zyx = header_vs_xyz[::-1]
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path} contains NaN or infinite values")
    if invert:
        data = -data

    # Anti-alias before downsampling (sigma in input voxels, as in skimage.transform.rescale).
    factor = voxel_size_ang / map_vs_zyx
    sigma = np.maximum(0.0, (factor - 1.0) / 2.0)
    if np.any(sigma > 0):
        data = ndimage.gaussian_filter(data, sigma=sigma, mode="constant", cval=0.0)

    centre_in = (np.array(data.shape) - 1) / 2.0
    half_ang = (centre_in * map_vs_zyx).max()
    half = int(math.floor(half_ang / voxel_size_ang + 1e-9))
    ax = np.arange(-half, half + 1, dtype=np.float64) * voxel_size_ang
    coords = [centre_in[i] + ax / map_vs_zyx[i] for i in range(3)]
    grid = np.meshgrid(*coords, indexing="ij")
    density = ndimage.map_coordinates(data, grid, order=1, mode="constant", cval=0.0)
    np.clip(density, 0.0, None, out=density)
    peak = density.max()
    if not peak > 0:
        raise ValueError(f"{path} has no positive density after resampling; pass invert=True if matter is dark")
    density /= peak
    density = trim_cube(density, 0.05 * threshold_fraction, margin=2).astype(np.float32)
    density[density < SUPPORT_LEVEL] = 0.0
    threshold = float(threshold_fraction)
    radius, inplane, z_extent = measure_density(density, voxel_size_ang, threshold)
    return Template(
        name=name if name is not None else path.stem,
        density_zyx=density,
        voxel_size_ang=float(voxel_size_ang),
        radius_ang=radius,
        inplane_radius_ang=inplane,
        z_extent_ang=z_extent,
        threshold=threshold,
        kind=kind,
    )
