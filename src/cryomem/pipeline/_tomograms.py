"""The tomograms of a run: found in the given files and folders, headers checked before any work."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryomem.io import (
    MRC_SUFFIXES,
    is_derived_volume,
    is_mrc_path,
    is_zarr_path,
    read_volume_header,
    validate_voxel_size_ang,
    volume_stem,
)
from cryomem.pipeline._manifest import file_fingerprint
from cryomem.pipeline._settings import RunConfig

__all__ = ["MRC_SUFFIXES", "Tomogram", "find_tomograms", "read_tomograms", "resolve_tomogram", "tomogram_name"]

_VOXEL_RTOL = 1e-3


@dataclass(frozen=True)
class Tomogram:
    """One input tomogram as the run sees it.

    Attributes
    ----------
    path : pathlib.Path
        The MRC file (absolute).
    name : str
        Its stem (or the name the run gave it, e.g. a copick run's): the name of its run folder and
        of every output (``rlnTomoName``).
    voxel_size_ang : float or None
        From the header or the run's override; None if the header is unusable.
    shape_zyx : tuple of int or None
        Volume shape, (z, y, x) voxels.
    fingerprint : dict
        Size and modification time (or content hash) of the file.
    error : str or None
        Why the tomogram cannot be processed (unreadable header, bad voxel size), else None.
    origin_xyz_ang : (float, float, float)
        Origin from the header, Å, xyz.

    Every stage of the run receives this object, so the header and the voxel-size override are
    resolved once per run (:func:`resolve_tomogram`).
    """

    path: Path
    name: str
    voxel_size_ang: float | None
    shape_zyx: tuple[int, int, int] | None
    fingerprint: dict
    error: str | None = None
    origin_xyz_ang: tuple[float, float, float] = (0.0, 0.0, 0.0)


def tomogram_name(path: str | os.PathLike[str], names: Mapping[Path, str] | None = None) -> str:
    """The run's name for a tomogram: ``names[path]`` (resolved path) when given, else the file stem."""
    if names:
        named = names.get(Path(path).resolve())
        if named is not None:
            return named
    return volume_stem(path)


def _checked_names(names: Mapping[str | os.PathLike[str], str] | None) -> dict[Path, str]:
    """Explicit tomogram names by resolved path; each must be usable as a folder name."""
    checked: dict[Path, str] = {}
    for path, name in (names or {}).items():
        text = str(name)
        if not text or text.startswith(".") or any(c in text for c in '/\\:*?"<>|') or text != text.strip():
            raise ValueError(f"tomogram name {text!r} (for {path}) cannot name a folder; use letters, digits, - and _")
        checked[Path(path).resolve()] = text
    return checked


def find_tomograms(
    inputs: Sequence[str | os.PathLike[str]], names: Mapping[str | os.PathLike[str], str] | None = None
) -> tuple[list[Path], list[Path]]:
    """MRC files given or inside given folders (sorted), and the other files that were skipped.

    ``names`` gives some tomograms (by path) their own names instead of their file stems (copick runs,
    whose tomograms are all called e.g. ``wbp.zarr``).

    Raises
    ------
    FileNotFoundError
        An input does not exist.
    ValueError
        No tomogram at all, or two tomograms with the same stem (their outputs would collide).
    """
    found: list[Path] = []
    ignored: list[Path] = []
    if not inputs:
        raise ValueError("no tomograms given; pass MRC files or folders of them")
    for item in map(Path, inputs):
        if item.is_dir() and is_zarr_path(item):
            found.append(item)  # an OME-Zarr image is a folder
        elif item.is_dir():
            for entry in sorted(item.iterdir()):
                if entry.is_dir() and is_zarr_path(entry) and not entry.name.startswith("."):
                    found.append(entry)
                elif entry.is_file() and not entry.name.startswith("."):
                    tomogram = is_mrc_path(entry) and not is_derived_volume(entry)
                    (found if tomogram else ignored).append(entry)  # our own outputs are never tomograms
        elif item.is_file():
            (found if is_mrc_path(item) else ignored).append(item)
        else:
            raise FileNotFoundError(f"tomogram {item} does not exist")
    if not found:
        where = ", ".join(str(p) for p in inputs)
        raise ValueError(
            f"no .mrc/.rec/.map/.zarr tomograms in {where}; pass MRC files, OME-Zarr images or folders holding them"
        )
    given = _checked_names(names)
    taken: dict[str, Path] = {}
    for path in found:
        stem = tomogram_name(path, given)
        if stem in taken and taken[stem].resolve() != path.resolve():
            raise ValueError(
                f"two tomograms are named {stem!r} ({taken[stem]} and {path}); outputs are named by "
                "file stem, so rename one of them"
            )
        taken[stem] = path
    unique = {p.resolve(): p for p in found}
    return [Path(p) for p in unique], ignored


def resolve_tomogram(
    path: str | os.PathLike[str], voxel_size_ang: float | None = None, name: str | None = None
) -> Tomogram:
    """Read a tomogram's header once: voxel size (``voxel_size_ang`` overrides it), shape and origin.

    ``name`` defaults to the file stem. Never raises for a bad file: an unreadable header or
    unusable voxel size goes to ``error``.
    """
    path = Path(path).resolve()
    name = name or volume_stem(path)
    fingerprint = file_fingerprint(path, content=False)
    try:
        shape, raw_voxel, origin = read_volume_header(path)  # MRC, or level 0 of an OME-Zarr image
        if voxel_size_ang is not None:
            voxel = validate_voxel_size_ang(voxel_size_ang, "--voxel-size", explicit=True)
        else:
            voxel = validate_voxel_size_ang(raw_voxel, f"the header of {path.name}")
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"{path.name} is not a 3D volume (shape {tuple(shape)})")
    except (ValueError, OSError) as err:
        return Tomogram(path, name, None, None, fingerprint, str(err))
    return Tomogram(
        path,
        name,
        float(voxel),
        tuple(int(v) for v in shape),  # type: ignore[arg-type]
        fingerprint,
        origin_xyz_ang=tuple(float(v) for v in origin),  # type: ignore[arg-type]
    )


def read_tomograms(
    paths: Sequence[Path], config: RunConfig, names: Mapping[str | os.PathLike[str], str] | None = None
) -> list[Tomogram]:
    """Headers of all tomograms (named by ``names`` or their stems); one with an unusable header carries its ``error``.

    Raises
    ------
    ValueError
        No tomogram has a usable header (nothing could run).
    ValueError
        The readable tomograms have different voxel sizes and ``config.allow_mixed_voxel_sizes`` is
        False (the message lists them).
    """
    given = _checked_names(names)
    tomograms = [resolve_tomogram(path, config.voxel_size_ang, tomogram_name(path, given)) for path in paths]
    broken = [t for t in tomograms if t.error is not None]
    if tomograms and len(broken) == len(tomograms):
        more = f" (and {len(broken) - 1} more unusable)" if len(broken) > 1 else ""
        raise ValueError(f"no tomogram can be used: {broken[0].error}{more}; fix or replace the tomograms")
    sizes = sorted({t.voxel_size_ang for t in tomograms if t.error is None})
    distinct = [s for i, s in enumerate(sizes) if i == 0 or not math.isclose(s, sizes[i - 1], rel_tol=_VOXEL_RTOL)]
    if len(distinct) > 1 and not config.allow_mixed_voxel_sizes:
        groups = []
        for size in distinct:
            members = [
                t.path.name
                for t in tomograms
                if t.error is None and math.isclose(t.voxel_size_ang, size, rel_tol=_VOXEL_RTOL)
            ]
            groups.append(
                f"{len(members)} at {size:g} Å ({', '.join(members[:3])}{', ...' if len(members) > 3 else ''})"
            )
        raise ValueError(
            "the tomograms have different voxel sizes: " + "; ".join(groups) + ". Run each voxel size separately, "
            "or pass --allow-mixed-voxel-sizes if that is intended"
        )
    return tomograms
