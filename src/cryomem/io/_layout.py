"""File layout: every name and suffix cryomem reads or writes, and its progress-callback types.

One owner for each convention, so a stage that writes a file and a stage that finds it again
cannot disagree:

- tomograms are MRC files (``.mrc``, ``.rec``, ``.map``, any case) or OME-Zarr image folders
  (``.zarr``, including ``.ome.zarr``);
- volumes derived from tomogram ``<stem>`` are ``<stem>_seg.mrc``, ``_scores``, ``_instances``,
  ``_uncertainty`` (``cryomem segment``), ``_skel`` (skeletons) and the simulator's ``_labels`` and
  ``_membranes``; they are never taken for tomograms;
- membrane ``N`` of tomogram ``<tomo>`` is ``<tomo>_mb<N>`` (unpadded, as ``cryomem surface``
  writes it); readers also accept the zero-padded ``<tomo>_mb001`` of older simulator outputs;
- picked particles are ``<tomo>_particles.star``; statistics are ``<table>.csv``, ``<plot>.png``,
  ``<name>_summary.json`` and ``meshes/<tomo>_mb<N>_<name>.vtp``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from cryomem.io._mesh import MESH_SUFFIXES

__all__ = [
    "DERIVED_VOLUME_SUFFIXES",
    "MEMBRANE_SUFFIXES",
    "MRC_SUFFIXES",
    "ZARR_SUFFIXES",
    "SEGMENT_OUTPUTS",
    "SKELETON_SUFFIX",
    "STATS_MESH_FOLDER",
    "MORPH_VERTEX_FOLDER",
    "DYNAMO_TABLE",
    "RELION5_PARTICLES",
    "RELION5_TOMOGRAMS",
    "STOPGAP_MOTL",
    "TOMOGRAM_INDEX",
    "TRAINING_SPLITS",
    "CountProgress",
    "FractionProgress",
    "is_derived_volume",
    "is_mrc_path",
    "is_volume_path",
    "is_zarr_path",
    "membrane_files_in",
    "membrane_stem",
    "parse_membrane_stem",
    "particles_star_name",
    "segment_output_name",
    "segment_output_paths",
    "simulation_file_names",
    "skeleton_path",
    "stats_mesh_name",
    "stats_plot_name",
    "stats_summary_name",
    "stats_table_name",
    "training_data_folders",
    "CORRECTION_PATCHES_JSON",
    "correction_label_name",
    "correction_patch_names",
    "is_correction_label",
]

FractionProgress = Callable[[str, float], None]
"""``progress(stage, fraction)``: how far one piece of work is, ``fraction`` in [0, 1]."""

CountProgress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: how many items (tomograms, tasks) of a stage are done."""

MRC_SUFFIXES = (".mrc", ".rec", ".map")
"""File suffixes taken for MRC volumes (compared lower-case)."""

ZARR_SUFFIXES = (".zarr",)
"""Folder suffixes taken for OME-Zarr images (compared lower-case; ``.ome.zarr`` ends in ``.zarr``)."""

MEMBRANE_SUFFIXES = (".h5", *MESH_SUFFIXES)
"""Membrane files in order of preference: the h5 container of ``cryomem surface``, then plain meshes."""

SEGMENT_OUTPUTS: dict[str, str] = {
    "seg": "_seg.mrc",
    "scores": "_scores.mrc",
    "instances": "_instances.mrc",
    "uncertainty": "_uncertainty.mrc",
    "sheet_filter": "_sheet_filter.csv",
}
"""Every output of ``cryomem segment`` for one tomogram: kind -> suffix after the tomogram's stem."""

SKELETON_SUFFIX = "_skel"
"""Stem ending of a skeletonized segmentation (``<stem>_skel.mrc``)."""

_SIMULATION_FILES: dict[str, str] = {
    "tomogram": ".mrc",
    "labels": "_labels.mrc",
    "membrane_instances": "_membranes.mrc",
    "membrane_proteins": "_membrane_proteins.star",
    "cytosolic_proteins": "_cytosolic_proteins.star",
    "meshes": "_meshes",
    "ground_truth": "_ground_truth.json",
    "preview": "_preview.png",
}
_SIMULATION_DENSITY = {"density": "_density.mrc"}
_SIMULATION_TILT_SERIES = {"tilt_series": "_tilt_series.mrc", "tilt_angles": ".tlt"}


def _stem_ending(suffix: str) -> str:
    return suffix.rsplit(".", 1)[0]


DERIVED_VOLUME_SUFFIXES: tuple[str, ...] = (
    *(_stem_ending(s) for s in SEGMENT_OUTPUTS.values() if s.endswith(".mrc")),
    SKELETON_SUFFIX,
    *(_stem_ending(_SIMULATION_FILES[k]) for k in ("labels", "membrane_instances")),
)
"""Stem endings of volumes cryomem derives from a tomogram (segment, skeletonize, simulate's labels)."""

TRAINING_SPLITS = ("Tr", "Val")
"""Splits of a segmentation training folder: ``images<split>/`` and ``labels<split>/`` (nnU-Net style)."""

CORRECTION_PATCHES_JSON = "patches.json"
"""Record of ``cryomem segment patches extract``: where each correction patch came from."""

_CORRECTION_LABEL_ENDING = "_labels"

STATS_MESH_FOLDER = "meshes"
"""Sub-folder of a statistics (or morphometrics) output folder holding the per-membrane ``.vtp`` meshes."""

RELION5_PARTICLES = "particles.star"
"""``cryomem export relion5``: the particle set RELION 5 imports."""
RELION5_TOMOGRAMS = "tomograms.star"
"""``cryomem export relion5``: the tomogram list (pixel size, size) beside the particles."""
STOPGAP_MOTL = "allmotl_1.star"
"""``cryomem export stopgap``: STOPGAP reads ``<motive list name>_<iteration>.star``."""
DYNAMO_TABLE = "particles.tbl"
"""``cryomem export dynamo``: the Dynamo table."""
TOMOGRAM_INDEX = "tomograms.tsv"
"""``cryomem export stopgap|dynamo``: tomogram number -> name, for the way back."""

MORPH_VERTEX_FOLDER = "vertices"
"""Sub-folder of a morphometrics output folder holding the per-vertex ``.csv`` tables (one per membrane)."""

_MEMBRANE_STEM = re.compile(r"^(?P<tomo>.+)_mb(?P<id>\d+)(?P<tail>_.*)?$")


def is_mrc_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has an MRC suffix (:data:`MRC_SUFFIXES`, any case)."""
    return Path(path).suffix.lower() in MRC_SUFFIXES


def is_zarr_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has an OME-Zarr suffix (:data:`ZARR_SUFFIXES`, any case); the folder need not exist."""
    return Path(path).suffix.lower() in ZARR_SUFFIXES


def is_volume_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a volume cryomem reads: an MRC file or an OME-Zarr folder (by suffix)."""
    return is_mrc_path(path) or is_zarr_path(path)


def is_derived_volume(path: str | os.PathLike[str]) -> bool:
    """True for a cryomem output volume (``tomo_seg.mrc``, ``tomo_scores.mrc``...), never a tomogram to segment."""
    return Path(path).stem.lower().endswith(DERIVED_VOLUME_SUFFIXES)


def derived_volume_kind(path: str | os.PathLike[str]) -> str | None:
    """Which cryomem output volume ``path`` is by its name: a :data:`SEGMENT_OUTPUTS` kind (``"seg"``,
    ``"scores"``, ``"instances"``, ``"uncertainty"``), ``"skeleton"``, the simulator's ``"labels"`` or
    ``"membrane_instances"``; None for anything else (a tomogram)."""
    stem = Path(path).stem.lower()
    endings = {_stem_ending(s): k for k, s in SEGMENT_OUTPUTS.items() if s.endswith(".mrc")}
    endings[SKELETON_SUFFIX] = "skeleton"
    endings.update({_stem_ending(_SIMULATION_FILES[k]): k for k in ("labels", "membrane_instances")})
    return next((kind for ending, kind in endings.items() if stem.endswith(ending)), None)


def volume_stem(path: str | os.PathLike[str]) -> str:
    """The name outputs are named after: the file stem, without ``.ome`` for ``tomo.ome.zarr``."""
    stem = Path(path).stem
    return stem[: -len(".ome")] if is_zarr_path(path) and stem.lower().endswith(".ome") else stem


def source_stem(path: str | os.PathLike[str]) -> str:
    """The tomogram stem of a derived volume (``tomo_scores.mrc`` -> ``tomo``); other files: their
    :func:`volume_stem`."""
    stem = volume_stem(path)
    kind = derived_volume_kind(path)
    if kind is None:
        return stem
    ending = (
        SKELETON_SUFFIX
        if kind == "skeleton"
        else _stem_ending(SEGMENT_OUTPUTS[kind] if kind in SEGMENT_OUTPUTS else _SIMULATION_FILES[kind])
    )
    return stem[: len(stem) - len(ending)]


def segment_output_name(stem: str, kind: str) -> str:
    """``<stem><suffix>`` of one ``cryomem segment`` output, ``kind`` a key of :data:`SEGMENT_OUTPUTS`."""
    if kind not in SEGMENT_OUTPUTS:
        raise ValueError(f"unknown segment output {kind!r}; use one of {', '.join(SEGMENT_OUTPUTS)}")
    return f"{stem}{SEGMENT_OUTPUTS[kind]}"


def segment_output_paths(
    path: str | os.PathLike[str], out_dir: str | os.PathLike[str], stem: str | None = None
) -> dict[str, Path]:
    """Every output ``cryomem segment`` may write for tomogram ``path`` (named ``stem``, default its
    file stem) into ``out_dir``, by kind."""
    stem = stem or volume_stem(path)
    return {kind: Path(out_dir) / segment_output_name(stem, kind) for kind in SEGMENT_OUTPUTS}


def skeleton_path(segmentation: str | os.PathLike[str]) -> Path:
    """``<stem>_skel.mrc`` next to a segmentation file."""
    segmentation = Path(segmentation)
    return segmentation.with_name(segmentation.name.rsplit(".", 1)[0] + f"{SKELETON_SUFFIX}.mrc")


def membrane_stem(tomo_name: str, membrane_id: int) -> str:
    """``<tomo_name>_mb<N>``, the stem of every file of one membrane (``tomo_mb1.h5``, ``tomo_mb1.obj``)."""
    return f"{tomo_name}_mb{int(membrane_id)}"


def parse_membrane_stem(stem: str, *, allow_tail: bool = False) -> tuple[str, int] | None:
    """``(tomo_name, membrane_id)`` of a ``<tomo>_mb<N>`` stem, else None.

    Accepts the unpadded ``tomo_mb7`` and the zero-padded ``tomo_mb007`` (older simulator outputs)
    alike. The last ``_mb<N>`` counts, so a tomogram name may itself contain ``_mb``.

    Parameters
    ----------
    stem : str
        File name without its suffix.
    allow_tail : bool, default False
        Also accept ``<tomo>_mb<N>_<anything>`` (e.g. ``tomo_mb1_stats``).
    """
    match = _MEMBRANE_STEM.match(stem)
    if match is None or (match["tail"] and not allow_tail):
        return None
    return match["tomo"], int(match["id"])


def membrane_files_in(folder: str | os.PathLike[str], tomo_name: str, suffix: str = ".h5") -> list[Path]:
    """The ``<tomo_name>_mb<N><suffix>`` files of ``folder`` (either spelling of ``N``), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        parsed = parse_membrane_stem(path.stem) if path.suffix == suffix else None
        if parsed is not None and parsed[0] == tomo_name and path.is_file():
            found.append(path)
    return sorted(found)


def training_data_folders(data_dir: str | os.PathLike[str], split: str) -> tuple[Path, Path]:
    """``(<data_dir>/images<split>, <data_dir>/labels<split>)``; an image and its label share a file name."""
    if split not in TRAINING_SPLITS:
        raise ValueError(f"unknown training split {split!r}; use one of {', '.join(TRAINING_SPLITS)}")
    return Path(data_dir) / f"images{split}", Path(data_dir) / f"labels{split}"


GUI_OUTPUT_FOLDERS: dict[str, str] = {
    "pick_model": "pick_model_napari",
    "picks": "picks_napari",
    "stats": "stats_napari",
}
"""Folders the napari widgets write into, beside a run's ``membranes/`` folder (kind -> folder name)."""


def accepted_star_name(star_path: str | os.PathLike[str]) -> str:
    """``<stem>_accepted.star``: the picks of a STAR file that a user kept in the napari pick widget."""
    return f"{Path(star_path).stem}_accepted.star"


def annotation_star_name(membrane_label: str) -> str:
    """``<tomo>_mb<N>_annotations.star``: particles annotated by hand on one membrane (the napari annotator)."""
    return f"{membrane_label}_annotations.star"


def particles_star_name(tomo_name: str) -> str:
    """``<tomo_name>_particles.star``, the particles picked in one tomogram."""
    return f"{tomo_name}_particles.star"


def simulation_file_names(name: str, *, density: bool = False, tilt_series: bool = False) -> dict[str, str]:
    """Files of one simulated tomogram by role, relative to its folder (``meshes`` is a folder).

    Membrane ``N``'s mesh is ``<meshes>/`` :func:`membrane_stem` ``(name, N) + ".obj"``.
    """
    roles = dict(_SIMULATION_FILES)
    roles.update(_SIMULATION_DENSITY if density else {})
    roles.update(_SIMULATION_TILT_SERIES if tilt_series else {})
    return {role: f"{name}{suffix}" for role, suffix in roles.items()}


def stats_table_name(table: str) -> str:
    """``<table>.csv`` of a statistics table (``concentration``, ``neighbours_per_membrane``...)."""
    return f"{table}.csv"


def stats_plot_name(plot: str) -> str:
    """``<plot>.png`` of a statistics plot (``concentration``, ``ripley``...)."""
    return f"{plot}.png"


def stats_summary_name(name: str) -> str:
    """``<name>_summary.json``, the summary of one statistics run."""
    return f"{name}_summary.json"


def stats_mesh_name(membrane_label: str, name: str) -> str:
    """``<membrane_label>_<name>.vtp`` (label ``<tomo>_mb<N>``): a membrane mesh with a statistics run's values."""
    return f"{membrane_label}_{name}.vtp"


def correction_patch_names(tomo_stem: str, index: int) -> tuple[str, str]:
    """``(<tomo>_patch<k>.mrc, <tomo>_patch<k>_labels.mrc)``: a correction patch's image and its 0/1/2 labels."""
    stem = f"{tomo_stem}_patch{index:03d}"
    return f"{stem}.mrc", f"{stem}{_CORRECTION_LABEL_ENDING}.mrc"


def correction_label_name(image_name: str) -> str:
    """The label file name that goes with a correction patch's image file name (same suffix)."""
    stem, dot, suffix = image_name.rpartition(".")
    return f"{stem}{_CORRECTION_LABEL_ENDING}{dot}{suffix}" if dot else f"{image_name}{_CORRECTION_LABEL_ENDING}"


def is_correction_label(name: str) -> bool:
    """True for a correction patch's label file name (``..._labels.mrc``)."""
    return name.rpartition(".")[0].endswith(_CORRECTION_LABEL_ENDING)
