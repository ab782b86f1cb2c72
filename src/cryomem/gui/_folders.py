"""What to open for a path given to ``cryomem view`` or dropped on napari: a file, a run, a demo.

A run folder (``cryomem run --out``) is laid out from its manifest: the tomogram, its segmentation,
instances, membranes (the pick stage's copies, which carry the predicted distances) and particles. A
demo folder holds ``data/`` and ``run/``. Any other folder opens the files cryomem reads in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryomem.gui._layer_data import LayerData, read_layers, tomogram_placement
from cryomem.io import MEMBRANE_SUFFIXES, MRC_SUFFIXES, derived_volume_kind, is_mrc_path, particles_star_name
from cryomem.pipeline import MANIFEST_NAME, Manifest, TomogramFolders

__all__ = ["READABLE_SUFFIXES", "ViewPlan", "layers_of", "plan_view"]

READABLE_SUFFIXES = (*MRC_SUFFIXES, ".star", *MEMBRANE_SUFFIXES)


@dataclass(frozen=True)
class ViewPlan:
    """The files to open, in drawing order (volumes first), and notes for the user.

    Attributes
    ----------
    files : tuple of pathlib.Path
        Files to open.
    notes : tuple of str
        One-line notes (e.g. the other tomograms of a run that were not opened).
    """

    files: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    tomogram: Path | None = None


def plan_view(path: str | os.PathLike[str], tomogram: str | None = None) -> ViewPlan:
    """The files to show for ``path`` (a file, a run or demo folder, or a folder of files).

    Parameters
    ----------
    path : path-like
        What the user gave.
    tomogram : str, optional
        For a run with several tomograms: which one (its name); default the first.

    The plan's ``tomogram`` is the tomogram the particles belong to (for their pixel coordinates):
    the run's, or the one MRC tomogram of a folder.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        A folder with nothing cryomem reads, or an unknown ``tomogram`` name.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a tomogram, a run folder or a demo folder")
    if path.is_file():
        return ViewPlan((path,), tomogram=path if _is_tomogram(path) else None)
    if (path / "run" / MANIFEST_NAME).is_file():
        path = path / "run"
    if (path / MANIFEST_NAME).is_file():
        return _run_plan(path, tomogram)
    files = tuple(sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES),
                         key=lambda p: (not is_mrc_path(p), p.name)))  # fmt: skip
    files = _without_duplicate_meshes(files)
    if not files:
        raise ValueError(f"{path} holds no file cryomem reads (.mrc, .h5, .obj/.ply/.vtp, .star)")
    tomograms = [p for p in files if _is_tomogram(p)]
    return ViewPlan(files, tomogram=tomograms[0] if len(tomograms) == 1 else None)


def _is_tomogram(path: Path) -> bool:
    return is_mrc_path(path) and derived_volume_kind(path) is None


def _without_duplicate_meshes(files: tuple[Path, ...]) -> tuple[Path, ...]:
    """A membrane saved as ``.h5`` and ``.obj`` (as ``cryomem surface`` writes it) is opened once, from the h5."""
    h5_stems = {p.stem for p in files if p.suffix.lower() == ".h5"}
    return tuple(p for p in files if p.suffix.lower() not in MEMBRANE_SUFFIXES[1:] or p.stem not in h5_stems)


def _run_plan(run_dir: Path, tomogram: str | None) -> ViewPlan:
    tomograms = Manifest.load(run_dir).tomograms
    if not tomograms:
        raise ValueError(f"the run in {run_dir} has no tomograms yet; run `cryomem run` first")
    names = sorted(tomograms)
    name = tomogram or names[0]
    if name not in tomograms:
        raise ValueError(f"the run in {run_dir} has no tomogram {name!r}; choose one of {', '.join(names)}")
    folders = TomogramFolders(run_dir / "tomograms" / name, name)
    picked = folders.membrane_files(picked=True)
    candidates = [
        Path(tomograms[name].get("path", "")),
        folders.seg_path,
        folders.instances_path,
        *(picked or folders.membrane_files()),
        folders.picks / particles_star_name(name),
    ]
    files = tuple(p for p in candidates if p.is_file())
    notes = []
    tomogram_path = Path(tomograms[name].get("path", ""))
    if not tomogram_path.is_file():
        notes.append(f"note: the tomogram {tomograms[name].get('path')} of the run is gone; showing its outputs only")
    others = [n for n in names if n != name]
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        notes.append(f"note: showing {name}; the run also holds {shown} (open one with --tomogram NAME)")
    return ViewPlan(files, tuple(notes), tomogram_path if tomogram_path.is_file() else None)


def layers_of(plan: ViewPlan) -> list[LayerData]:
    """The napari layer data of every file of ``plan``, in order."""
    placement = tomogram_placement(plan.tomogram) if plan.tomogram is not None else None
    return [layer for path in plan.files for layer in read_layers(path, tomogram=placement)]
