"""The plugin's reader and writers, as napari's plugin engine (npe2) calls them (no napari import)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryomem.gui._folders import READABLE_SUFFIXES, layers_of, plan_view
from cryomem.gui._layer_data import LayerData, labels_to_mrc, write_points_star

__all__ = ["get_reader", "write_labels", "write_points"]


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """The reader of a path napari was asked to open, or None when cryomem does not read it."""
    paths = [Path(p) for p in (path if isinstance(path, list) else [path])]
    if all(p.is_dir() or p.suffix.lower() in READABLE_SUFFIXES for p in paths):
        return read
    return None


def read(path: str | list[str]) -> list[LayerData]:
    """Layers of files, run folders (laid out from their manifest), demo folders or folders of files."""
    paths = path if isinstance(path, list) else [path]
    return [layer for p in paths for layer in layers_of(plan_view(p))]


def write_points(path: str, data: Any, meta: dict) -> list[str]:
    """Write a points layer as a RELION-5 STAR file (pixel and centred-Å coordinates of its tomogram).

    Raises
    ------
    ValueError
        The points do not know their tomogram (voxel size, shape, origin): open them with their
        tomogram (``cryomem view RUN``) or save them from the annotator.
    """
    tomogram = (meta.get("metadata") or {}).get("tomogram")
    if not tomogram:
        raise ValueError(
            "these points do not know their tomogram's voxel size and shape; open them with their tomogram "
            "(cryomem view RUN_FOLDER) or save them from the cryomem annotator"
        )
    names = (meta.get("metadata") or {}).get("tomo_name")
    written = write_points_star(path, data, meta.get("features"), tomo_name=names, **tomogram)
    return [str(written)]


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write a labels layer as MRC with the layer's scale as voxel size and its translate as origin."""
    written = labels_to_mrc(path, data, scale_zyx=meta.get("scale", (1.0, 1.0, 1.0)),
                            translate_zyx=meta.get("translate", (0.0, 0.0, 0.0)))  # fmt: skip
    return [str(written)]
