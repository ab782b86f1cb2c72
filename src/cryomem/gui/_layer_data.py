"""cryomem files as napari layer data, and napari layers back as files (pure: no napari import).

Every layer lives in world coordinates in Å, axes (z, y, x): a volume gets ``scale`` = its voxel
size and ``translate`` = its origin, membrane vertices and particle positions are their xyz Å
reversed. So a tomogram, its segmentation, its membranes and its particles line up whatever their
voxel sizes.

A layer-data tuple is ``(data, keyword arguments of the napari ``add_*`` method, layer type)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cryomem.io import (
    MESH_SUFFIXES,
    MembraneSurface,
    derived_volume_kind,
    euler_zyz_deg_to_matrix,
    is_mrc_path,
    read_membrane_h5,
    read_mesh,
    read_mrc,
    read_mrc_header,
    read_particles_star,
    validate_voxel_size_ang,
    write_particles_star,
)

__all__ = [
    "LayerData",
    "PREDICTED_DISTANCE_COLOURING",
    "labels_to_mrc",
    "membrane_layer",
    "particle_layers",
    "points_to_particles",
    "read_layers",
    "surface_colourings",
    "tomogram_placement",
    "write_points_star",
    "volume_layer",
]

LayerData = tuple[Any, dict[str, Any], str]
PREDICTED_DISTANCE_COLOURING = "predicted distance (Å)"
_LABEL_KINDS = ("seg", "instances", "skeleton", "labels", "membrane_instances")
_CONTRAST_SAMPLE = 2_000_000  # voxels read to choose an image's contrast limits
_ARROW_LENGTH_ANG = 60.0


def volume_layer(path: str | os.PathLike[str], *, voxel_size_ang: float | None = None) -> LayerData:
    """An MRC volume as an image layer, or a labels layer for a segmentation or instance map.

    The volume is memory-mapped (napari reads the slices it shows). ``voxel_size_ang`` overrides
    the header (required when the header says 0 or 1 Å).
    """
    path = Path(path)
    volume = read_mrc(path, voxel_size_ang=voxel_size_ang, mmap=True)
    placement = {
        "scale": (volume.voxel_size_ang,) * 3,
        "translate": tuple(float(v) for v in volume.origin_xyz_ang[::-1]),
        "metadata": {
            "path": str(path),
            "voxel_size_ang": volume.voxel_size_ang,
            "origin_xyz_ang": tuple(volume.origin_xyz_ang),
        },  # fmt: skip
    }
    kind = derived_volume_kind(path)
    if kind in _LABEL_KINDS or (kind is None and volume.data_zyx.dtype.kind in "iu" and _few_values(volume.data_zyx)):
        return np.asarray(volume.data_zyx), {"name": path.stem, **placement, "opacity": 0.5}, "labels"
    if kind in ("scores", "uncertainty"):
        style = {"colormap": "magma", "contrast_limits": (0.0, 1.0), "blending": "additive", "visible": False}
        return volume.data_zyx, {"name": path.stem, **placement, **style}, "image"
    style = {"colormap": "gray", "contrast_limits": _contrast_limits(volume.data_zyx)}
    return volume.data_zyx, {"name": path.stem, **placement, **style}, "image"


def _few_values(data: np.ndarray) -> bool:
    """Whether an integer volume looks like a label map (at most 1000 distinct values in a sample)."""
    sample = data.reshape(-1)[:: max(1, data.size // _CONTRAST_SAMPLE)]
    return len(np.unique(sample)) <= 1000


def _contrast_limits(data: np.ndarray) -> tuple[float, float]:
    """Robust display range: the 0.5th and 99.5th percentiles of a strided sample."""
    sample = np.asarray(data.reshape(-1)[:: max(1, data.size // _CONTRAST_SAMPLE)], dtype=np.float32)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    return (low, high) if high > low else (low, low + 1.0)


def surface_colourings(surface: MembraneSurface) -> dict[str, np.ndarray]:
    """Per-vertex values a surface can be coloured by: predicted distance, point data, the density at
    each sampled offset along the normal (``"density at +5 Å"``...)."""
    colourings: dict[str, np.ndarray] = {}
    point_data = dict(surface.point_data)
    if "predicted_distance_ang" in point_data:
        colourings[PREDICTED_DISTANCE_COLOURING] = np.asarray(point_data.pop("predicted_distance_ang"), np.float32)
    for name, values in point_data.items():
        values = np.asarray(values)
        if values.ndim == 1 and values.dtype.kind in "biuf":
            colourings[name] = values.astype(np.float32)
    if surface.features is not None:
        order = np.argsort(np.abs(surface.feature_offsets_ang), kind="stable")  # the mid-plane first
        for column in order:
            offset = float(surface.feature_offsets_ang[column])
            colourings[f"density at {offset:+g} Å"] = np.asarray(surface.features[:, column], np.float32)
    return colourings


def membrane_layer(path: str | os.PathLike[str]) -> LayerData:
    """A membrane (``.h5`` container or ``.obj/.ply/.vtp`` mesh in Å) as a surface layer.

    Coloured by the predicted distance if the file has one, else by the density on the membrane's
    mid-plane; every colouring is in ``metadata["colourings"]`` for a widget to switch between.
    """
    path = Path(path)
    if path.suffix.lower() == ".h5":
        surface = read_membrane_h5(path)
        name = surface.label
    else:
        mesh = read_mesh(path)
        surface = MembraneSurface(mesh.vertices_xyz_ang, mesh.faces, _normals(mesh), 1, None, source=str(path))
        name = path.stem
    colourings = surface_colourings(surface)
    default = next(iter(colourings), None)
    values = colourings[default] if default else np.zeros(len(surface.vertices_xyz_ang), np.float32)
    style = {"colormap": "magma" if default == PREDICTED_DISTANCE_COLOURING else "gray"}
    metadata = {"path": str(path), "colourings": colourings, "colouring": default}
    data = (surface.vertices_xyz_ang[:, ::-1].copy(), surface.faces, values)
    return data, {"name": name, "metadata": metadata, **style}, "surface"


def _normals(mesh) -> np.ndarray:
    from cryomem.geometry import vertex_normals

    return mesh.normals_xyz if mesh.normals_xyz is not None else vertex_normals(mesh.vertices_xyz_ang, mesh.faces)


def tomogram_placement(path: str | os.PathLike[str], voxel_size_ang: float | None = None) -> dict[str, Any]:
    """``voxel_size_ang``, ``shape_zyx`` and ``origin_xyz_ang`` of a tomogram (from its header), which a
    STAR file needs for its pixel and centred coordinates."""
    shape, raw_voxel, origin = read_mrc_header(path)
    explicit = voxel_size_ang is not None
    source = "--voxel-size" if explicit else f"the header of {Path(path).name}"
    voxel = validate_voxel_size_ang(voxel_size_ang if explicit else raw_voxel, source, explicit=explicit)
    return {"voxel_size_ang": voxel, "shape_zyx": tuple(int(v) for v in shape),
            "origin_xyz_ang": tuple(float(v) for v in origin)}  # fmt: skip


def particle_layers(
    path: str | os.PathLike[str],
    *,
    tomogram: dict[str, Any] | None = None,
    voxel_size_ang: float | None = None,
    arrow_length_ang: float = _ARROW_LENGTH_ANG,
) -> list[LayerData]:
    """Particles of a STAR file as a points layer and a vectors layer of their normals (particle z axes).

    The points carry ``tomo_name``, ``membrane_id``, ``score`` and the three Euler angles as features,
    so writing them back keeps every particle's orientation; ``tomogram`` (:func:`tomogram_placement`
    of their tomogram) goes into the layer's metadata so the STAR writer can write pixel coordinates.
    """
    path = Path(path)
    if tomogram is not None:
        voxel_size_ang = voxel_size_ang or tomogram["voxel_size_ang"]
    table = read_particles_star(path, voxel_size_ang=voxel_size_ang)
    xyz = table[["x_ang", "y_ang", "z_ang"]].to_numpy(np.float64)
    angles = table[["rot_deg", "tilt_deg", "psi_deg"]].to_numpy(np.float64)
    normals_xyz = euler_zyz_deg_to_matrix(angles)[:, :, 2] if len(table) else np.zeros((0, 3))
    features = table[["tomo_name", "membrane_id", "score", "rot_deg", "tilt_deg", "psi_deg"]].reset_index(drop=True)
    metadata = {"path": str(path), "tomogram": tomogram}
    points = (xyz[:, ::-1].copy(), {"name": path.stem, "features": features, "metadata": metadata, "size": 60.0,
                                    "face_color": "orange", "border_color": "black", "out_of_slice_display": True,
                                    "blending": "translucent_no_depth"},
              "points")  # fmt: skip
    arrows = (
        np.stack([xyz[:, ::-1], normals_xyz[:, ::-1] * arrow_length_ang], axis=1) if len(xyz) else np.zeros((0, 2, 3))
    )
    vectors = (arrows, {"name": f"{path.stem} normals", "edge_color": "orange", "edge_width": 6.0,
                        "metadata": metadata, "blending": "translucent_no_depth"}, "vectors")  # fmt: skip
    return [points, vectors]


def points_to_particles(
    points_zyx_ang: np.ndarray, features: pd.DataFrame | None, *, tomo_name: str | None = None
) -> pd.DataFrame:
    """The particle table of a points layer (positions in Å, zyx) for :func:`write_particles_star`.

    Points read by :func:`particle_layers` keep their tomogram, membrane, score and angles (from the
    layer's features); points added by hand get ``tomo_name`` and angles 0.

    Raises
    ------
    ValueError
        A point has no tomogram name (pass ``tomo_name``) or a non-finite position.
    """
    points = np.asarray(points_zyx_ang, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(points).all():
        raise ValueError("a point has a non-finite position; delete it before saving")
    n = len(points)
    table = pd.DataFrame({"x_ang": points[:, 2], "y_ang": points[:, 1], "z_ang": points[:, 0]})
    known = features.reset_index(drop=True) if features is not None and len(features) == n else pd.DataFrame()
    names = known["tomo_name"] if "tomo_name" in known else pd.Series([None] * n)
    names = names.where(names.notna() & (names.astype(str) != "nan"), tomo_name)
    if n and (names.isna().any() or (names.astype(str) == "").any()):
        raise ValueError("points without a tomogram name; pass tomo_name (the tomogram's file stem)")
    table.insert(0, "tomo_name", names.astype(str).to_numpy() if n else [])
    for column, default in (("rot_deg", 0.0), ("tilt_deg", 0.0), ("psi_deg", 0.0), ("membrane_id", -1),
                            ("score", np.nan)):  # fmt: skip
        values = known[column] if column in known else pd.Series([default] * n)
        table[column] = values.fillna(default).to_numpy() if column != "score" else values.to_numpy()
    return table


def write_points_star(
    path: str | os.PathLike[str],
    points_zyx_ang: np.ndarray,
    features: pd.DataFrame | None,
    *,
    voxel_size_ang: float,
    shape_zyx: Sequence[int],
    origin_xyz_ang: Sequence[float] = (0.0, 0.0, 0.0),
    tomo_name: str | None = None,
) -> Path:
    """Write a points layer as a RELION-5 STAR file (pixel and centred-Å coordinates), atomically."""
    table = points_to_particles(points_zyx_ang, features, tomo_name=tomo_name)
    return write_particles_star(path, table, voxel_size_ang=voxel_size_ang, shape_zyx=shape_zyx,
                                origin_xyz_ang=origin_xyz_ang)  # fmt: skip


def labels_to_mrc(
    path: str | os.PathLike[str],
    labels_zyx: np.ndarray,
    *,
    scale_zyx: Sequence[float],
    translate_zyx: Sequence[float] = (0.0, 0.0, 0.0),
) -> Path:
    """Write a labels layer as an MRC whose voxel size and origin are the layer's scale and translate.

    Raises
    ------
    ValueError
        Not a 3D integer array, or an anisotropic scale (MRC maps here have cubic voxels).

    Ids are stored as :func:`cryomem.gui._instance_edit.save_instances` stores them.
    """
    from cryomem.gui._instance_edit import save_instances

    scale = [float(v) for v in scale_zyx]
    if not np.allclose(scale, scale[0], rtol=1e-6):
        raise ValueError(f"the labels layer has an anisotropic scale {scale} (z, y, x); MRC voxels are cubic")
    labels = np.asarray(labels_zyx)
    labels = labels.astype(np.uint8) if labels.dtype.kind == "b" else labels
    origin_xyz = tuple(float(v) for v in translate_zyx)[::-1]
    return save_instances(path, labels, voxel_size_ang=scale[0], origin_xyz_ang=origin_xyz)  # type: ignore[arg-type]


def read_layers(path: str | os.PathLike[str], *, tomogram: dict[str, Any] | None = None) -> list[LayerData]:
    """Every layer of one file (MRC volume, membrane ``.h5`` or mesh, particle STAR; ``tomogram``: the
    placement of the particles' tomogram, see :func:`particle_layers`).

    Raises
    ------
    ValueError
        A file cryomem does not read (the message lists what it reads).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if is_mrc_path(path):
        return [volume_layer(path)]
    if suffix == ".h5" or suffix in MESH_SUFFIXES:
        return [membrane_layer(path)]
    if suffix == ".star":
        return particle_layers(path, tomogram=tomogram)
    raise ValueError(
        f"{path.name}: cryomem opens .mrc/.rec/.map volumes, membrane .h5 files, .obj/.ply/.vtp meshes "
        "and .star particles"
    )
